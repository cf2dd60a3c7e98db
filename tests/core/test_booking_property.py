"""Booking books every bookable order exactly once, whatever fails when."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from fulfilment.adapters.pl3.memory import MemoryDeliveryPartner
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import OrderState
from fulfilment.core.errors import TransientPartnerError
from fulfilment.core.ports import BookingRequest, Capabilities
from fulfilment.core.routing import RoutingPolicy
from fulfilment.core.workers.create_fulfilment_requests import (
    BookingSettings,
    create_fulfilment_requests,
)
from fulfilment.testing.builders import T0, make_order

ROUTES = RoutingPolicy.one_partner_per_store({"shemsi-egypt": "flextock"})


class Crash(BaseException):
    """The runner process dies: nothing after this line runs."""


class FlakyPartner(MemoryDeliveryPartner):
    """Fails as scripted: before acting, after acting with the reply lost,
    or by killing the runner after the parcel exists."""

    def __init__(self, script: list[str]) -> None:
        super().__init__("flextock", Capabilities(frozenset({"EGP"})))
        self.script = script

    def book(self, request: BookingRequest):  # type: ignore[no-untyped-def]
        step = self.script.pop(0) if self.script else "ok"
        if step == "refused":
            raise TransientPartnerError("503", partner=self.name, status=503)
        if step == "lost_reply":
            self.fail_next("lost_reply")
        booking = super().book(request)
        if step == "crash":
            raise Crash
        return booking


failures = st.lists(st.sampled_from(["ok", "refused", "lost_reply", "crash"]))


@given(script=failures, orders=st.integers(1, 6), runners=st.integers(1, 3))
def test_every_order_is_booked_exactly_once(
    script: list[str], orders: int, runners: int
) -> None:
    clock = ManualClock(T0)
    storage = MemoryStorage()
    partner = FlakyPartner(list(script))
    storage.orders.save_many(
        [make_order(str(n), store="shemsi-egypt") for n in range(orders)]
    )

    for round_ in range(len(script) + orders + 3):
        for runner in range(runners):
            with contextlib.suppress(Crash):
                create_fulfilment_requests(
                    orders=storage.orders,
                    partners={"flextock": partner},
                    routing=ROUTES,
                    ledger=storage.ledger,
                    attention=storage.attention,
                    clock=clock,
                    owner=f"runner-{runner}",
                    settings=BookingSettings(retry_delays=(timedelta(minutes=1),) * 9),
                )
        clock.advance(timedelta(minutes=30 + round_))

    stored = storage.orders.list()
    assert all(o.state is OrderState.BOOKED for o in stored)
    assert len(partner.parcels) == orders
    references = {o.shipment.reference for o in stored if o.shipment}
    assert references == {b.reference for b in partner.parcels.values()}
