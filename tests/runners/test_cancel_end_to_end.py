"""Cancellations after booking, end to end: the workers wired from a
configuration file, talking to the loopback Shopify and partner simulators.

An order is booked, then cancelled in the Shopify simulator; intake reads
the cancellation and the cancel step asks the partner, or a person."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order, OrderState, TrackingStatus
from fulfilment.core.ports import AttentionItem
from fulfilment.core.workers.cancel_bookings import CancelReport, cancel_bookings
from fulfilment.runners.config import load_config
from fulfilment.runners.plugins import Registry
from fulfilment.runners.sandbox.seed import seed_orders
from fulfilment.runners.sandbox.server import Fault
from fulfilment.runners.sandbox.world import SandboxWorld
from fulfilment.runners.toml_writer import dumps
from fulfilment.runners.wiring import App, build_app
from fulfilment.testing.builders import T0

S = OrderState
# Intake reads up to its run's start minus a lag of two minutes.
PAST_THE_LAG = timedelta(minutes=5)
PARTNER_OF = {
    "shemsiworld": "aramex",
    "shemsi-egypt": "flextock",
    "shemsi-uae": "farfill",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxWorld]:
    # One world per module: stopping its servers costs half a second each.
    folder = tmp_path_factory.mktemp("cancel")
    sandbox = SandboxWorld(folder / "sandbox", clock=ManualClock(T0))
    with sandbox:
        yield sandbox


class Shop:
    """One store of the sandbox with its only order, and a runner wired
    to the whole world."""

    def __init__(self, world: SandboxWorld, store: str, folder: Path) -> None:
        self.world = world
        self.store = store
        self.clock: ManualClock = world.clock  # type: ignore[assignment]
        node = _first_plain_order(store, self.clock)
        world.shopify.load_orders({store: [node]})
        self.order_id = str(node["legacyResourceId"])
        registry = Registry.discover()
        path = folder / "fulfilment.toml"
        path.write_text(dumps(world.config(database=str(folder / "db.sqlite3"))))
        config = load_config(path, registry.adapters())
        self.app: App = build_app(config, registry, clock=self.clock)

    @property
    def partner(self) -> str:
        return PARTNER_OF[self.store]

    def book(self) -> Order:
        self.app.run("fetch-new-orders")
        self.app.run("create-fulfilment-requests")
        booked = self.order()
        assert booked.state is S.BOOKED
        return booked

    def cancel_in_shopify(self) -> None:
        self.world.shopify.cancel_order(self.store, self.order_id)
        self.clock.advance(PAST_THE_LAG)
        self.app.run("fetch-new-orders")

    def cancel_step(self) -> CancelReport:
        storage = self.app.storage
        return cancel_bookings(
            orders=storage.orders,
            partners=self.app.partners,
            ledger=storage.ledger,
            attention=storage.attention,
            clock=self.app.clock,
        )

    def order(self) -> Order:
        [found] = self.app.storage.orders.list(store=self.store)
        return found

    def items(self) -> list[AttentionItem]:
        return self.app.storage.attention.open_items()

    def statuses_at_partner(self, reference: str) -> set[TrackingStatus]:
        """What the partner's own tracking answer says about the parcel."""
        batch = self.app.partners[self.partner].track([reference])
        return {event.status for event in batch.events[reference]}

    def cancel_requests(self) -> int:
        route = {"flextock": "cancel-order", "farfill": "update-order"}[self.partner]
        simulator = self.world.simulators[self.partner]
        return sum(1 for name, _ in simulator.requests if name == route)


def _first_plain_order(store: str, clock: ManualClock) -> dict[str, Any]:
    """The store's first seeded order that is neither cancelled nor
    edited: a bookable one."""
    nodes = seed_orders(clock.now())[store]
    return next(n for n in nodes if n.get("cancelledAt") is None)


@pytest.fixture
def shop(
    world: SandboxWorld, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Shop]:
    world.clock.set(T0)  # type: ignore[attr-defined]
    for simulator in world.simulators.values():
        simulator.reset()
    opened = Shop(world, request.param, tmp_path)
    yield opened
    opened.app.close()


@pytest.mark.parametrize("shop", ["shemsi-egypt", "shemsi-uae"], indirect=True)
def test_a_parcel_cancelled_in_shopify_is_cancelled_at_its_partner(
    shop: Shop,
) -> None:
    booked = shop.book()
    assert booked.shipment is not None
    reference = booked.shipment.reference

    shop.cancel_in_shopify()
    report = shop.cancel_step()

    assert report.counts == {"cancelled": 1}
    assert TrackingStatus.CANCELLED in shop.statuses_at_partner(reference)
    cancelled = shop.order()
    assert cancelled.state is S.CANCELLED
    assert booked.shipment is not None
    assert cancelled.shipment == attrs.evolve(
        booked.shipment, status=TrackingStatus.CANCELLED
    )
    assert shop.items() == []


@pytest.mark.parametrize("shop", ["shemsi-egypt", "shemsi-uae"], indirect=True)
def test_a_parcel_the_courier_has_goes_to_a_person_in_the_partners_words(
    shop: Shop,
) -> None:
    booked = shop.book()
    assert booked.shipment is not None
    reference = booked.shipment.reference
    shop.clock.advance(timedelta(hours=7))  # collected after five or six

    shop.cancel_in_shopify()
    report = shop.cancel_step()
    asked = shop.cancel_requests()
    again = shop.cancel_step()

    words = {
        "flextock": "Order cannot be canceled: a driver has it.",
        "farfill": "cannot be cancelled once collected",
    }[shop.partner]
    [item] = shop.items()
    assert report.counts == {"refused": 1}
    assert again.outcomes == ()
    assert words in item.message
    assert (
        f"ask {shop.partner} to return shipment {reference} to the sender"
        in item.message
    )
    assert TrackingStatus.CANCELLED not in shop.statuses_at_partner(reference)
    assert shop.order().state is S.BOOKED
    assert shop.cancel_requests() == asked


@pytest.mark.parametrize("shop", ["shemsiworld"], indirect=True)
def test_aramex_parcels_are_left_to_a_person_with_what_to_do(shop: Shop) -> None:
    booked = shop.book()
    assert booked.shipment is not None

    shop.cancel_in_shopify()
    first = shop.cancel_step()
    second = shop.cancel_step()

    [item] = shop.items()
    assert first.counts == {"by_hand": 1}
    assert second.with_a_person == 1
    assert f"ask aramex to cancel shipment {booked.shipment.reference}" in (
        item.message
    )


@pytest.mark.parametrize("shop", ["shemsi-egypt", "shemsi-uae"], indirect=True)
def test_a_lost_answer_is_settled_next_run_and_never_asked_again(
    shop: Shop,
) -> None:
    booked = shop.book()
    assert booked.shipment is not None
    simulator = shop.world.simulators[shop.partner]
    route = {"flextock": "cancel-order", "farfill": "update-order"}[shop.partner]
    # Every attempt the retry policy makes in this run loses its answer.
    simulator.faults.add(route, *[Fault(drop_after=True)] * 3)

    shop.cancel_in_shopify()
    lost = shop.cancel_step()
    between = shop.order()
    settled = shop.cancel_step()
    asked = shop.cancel_requests()
    shop.clock.advance(PAST_THE_LAG)
    shop.app.run("fetch-new-orders")
    later = shop.cancel_step()

    assert lost.counts == {"retry_later": 1}
    assert between.state is S.BOOKED
    assert settled.counts == {"cancelled": 1}
    assert shop.order().state is S.CANCELLED
    assert later.outcomes == ()
    assert shop.cancel_requests() == asked == 4
    assert shop.items() == []
