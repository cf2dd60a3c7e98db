"""Store fulfilments: queued by tracking, reported to the store once."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fulfilment.adapters.oms.memory import LOST_REPLY, MemoryOrderSource
from fulfilment.adapters.pl3.memory import (
    CREATED_ONLY,
    DELIVERED_IN_TWO_DAYS,
    MemoryDeliveryPartner,
)
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import (
    Order,
    OrderKey,
    OrderState,
    TrackingEvent,
    TrackingStatus,
)
from fulfilment.core.errors import (
    OutcomeUnknown,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.ports import EffectStatus, ShipmentReport, StoreFulfilments
from fulfilment.core.routing import RoutingPolicy
from fulfilment.core.store_reports import (
    STORE_FULFILMENT,
    picked_up,
    store_fulfilment_key,
)
from fulfilment.core.workers.create_fulfilment_requests import (
    create_fulfilment_requests,
)
from fulfilment.core.workers.fetch_fulfilment_status import fetch_fulfilment_status
from fulfilment.core.workers.update_store_fulfilments import (
    StoreFulfilmentReport,
    StoreFulfilmentSettings,
    update_store_fulfilments,
)
from fulfilment.testing.builders import T0, make_order

S = OrderState
STORE = "shemsi-egypt"
ROUTES = RoutingPolicy.one_partner_per_store(
    {STORE: "flextock", "amazon-eg": "flextock"}
)


class Crash(BaseException):
    """The runner dies mid-call."""


class DiesAfterReporting:
    """A store whose runner dies right after the store recorded the report."""

    def __init__(self, store: MemoryOrderSource) -> None:
        self.store = store.store
        self._inner = store

    def report_shipment(self, order: Order, report: ShipmentReport) -> str:
        self._inner.report_shipment(order, report)
        raise Crash

    def find_shipment_report(self, order: Order, tracking_number: str) -> str | None:
        return self._inner.find_shipment_report(order, tracking_number)


class World:
    def __init__(self, script=DELIVERED_IN_TWO_DAYS) -> None:  # type: ignore[no-untyped-def]
        self.clock = ManualClock(T0)
        self.storage = MemoryStorage()
        self.partner = MemoryDeliveryPartner(
            "flextock", clock=self.clock, script=script
        )
        self.shop = MemoryOrderSource(STORE)
        self.stores: dict[str, StoreFulfilments] = {STORE: self.shop}

    def book(self, *orders: Order) -> None:
        for order in orders:
            self.shop.put(order)
        self.storage.orders.save_many(list(orders))
        create_fulfilment_requests(
            orders=self.storage.orders,
            partners={"flextock": self.partner},
            routing=ROUTES,
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            clock=self.clock,
            owner="runner",
        )

    def track(self, hours: int = 5) -> None:
        self.clock.advance(timedelta(hours=hours))
        fetch_fulfilment_status(
            orders=self.storage.orders,
            partners={"flextock": self.partner},
            attention=self.storage.attention,
            clock=self.clock,
            ledger=self.storage.ledger,
        )

    def report(self, **options: object) -> StoreFulfilmentReport:
        return update_store_fulfilments(
            orders=self.storage.orders,
            stores=self.stores,
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            clock=self.clock,
            settings=StoreFulfilmentSettings(**options),  # type: ignore[arg-type]
        )

    def order(self, external_id: str) -> Order:
        found = self.storage.orders.get(OrderKey("shopify", STORE, external_id))
        assert found is not None
        return found

    def reference(self, external_id: str) -> str:
        shipment = self.order(external_id).shipment
        assert shipment is not None
        return shipment.reference

    def entry_status(self, external_id: str) -> EffectStatus:
        key = store_fulfilment_key(str(self.order(external_id).key))
        entry = self.storage.ledger.get(key)
        assert entry is not None
        return entry.status


def egyptian(external_id: str) -> Order:
    return make_order(external_id, store=STORE)


def test_a_picked_up_parcel_is_reported_to_its_store_once() -> None:
    world = World()
    world.book(egyptian("1"))

    world.track()
    first = world.report()
    world.track(hours=48)
    again = world.report()

    (record,) = world.shop.fulfilments["1"]
    assert record.report == ShipmentReport(world.reference("1"), "Flextock", None)
    assert first.outcomes == {"reported": 1}
    assert first.reported == {STORE: 1}
    assert again.outcomes == {}
    assert world.shop.report_calls == 1
    assert world.shop.lookup_calls == 0
    key = store_fulfilment_key(str(world.order("1").key))
    entry = world.storage.ledger.get(key)
    assert entry is not None
    assert entry.status is EffectStatus.DONE
    assert entry.result["fulfilment_id"] == record.id


def test_tracking_queues_one_report_per_order_however_far_it_travels() -> None:
    world = World()
    world.book(egyptian("1"))

    for _ in range(12):
        world.track()

    queued = world.storage.ledger.queued(STORE_FULFILMENT, world.clock.now(), 10)
    assert world.order("1").state is S.DELIVERED
    assert [(e.key, e.result) for e in queued] == [
        (
            "store-fulfilment:shopify:shemsi-egypt:1",
            {
                "order": "shopify:shemsi-egypt:1",
                "partner": "flextock",
                "tracking_number": world.reference("1"),
            },
        )
    ]


def test_a_parcel_still_waiting_for_pickup_is_not_reported() -> None:
    world = World(script=CREATED_ONLY)
    world.book(egyptian("1"))

    world.track()
    report = world.report()

    assert report.outcomes == {}
    assert world.shop.fulfilments == {}


def test_a_parcel_seen_first_as_delivered_is_still_reported() -> None:
    world = World(script=CREATED_ONLY)
    world.book(egyptian("1"))
    world.partner.add_event(
        world.reference("1"),
        TrackingEvent("delivered", TrackingStatus.DELIVERED, "Delivered", T0),
    )

    world.track()
    world.report()

    assert world.order("1").state is S.DELIVERED
    assert len(world.shop.fulfilments["1"]) == 1


def test_the_store_shows_the_carrier_name_and_tracking_page_it_is_given() -> None:
    world = World()
    world.book(egyptian("1"))
    order = world.order("1")
    shipment = attrs.evolve(order.shipment, tracking_url="https://t.example/FLE1")
    world.storage.orders.save(attrs.evolve(order, shipment=shipment))

    world.track()
    world.report(companies={"flextock": "Flextock Egypt"})

    (record,) = world.shop.fulfilments["1"]
    assert record.report.company == "Flextock Egypt"
    assert record.report.url == "https://t.example/FLE1"


def test_a_refusal_fails_the_report_and_quotes_the_store_to_a_person() -> None:
    world = World()
    world.book(egyptian("1"))
    world.shop.put(attrs.evolve(egyptian("1"), cancelled_at=T0))

    world.track()
    report = world.report()

    assert report.outcomes == {"refused": 1}
    assert world.entry_status("1") is EffectStatus.FAILED
    (item,) = world.storage.attention.open_items()
    assert item.reason == "store_fulfilment_refused"
    assert item.subject == str(world.order("1").key)
    assert "is cancelled: nothing left to fulfil" in item.message
    assert world.reference("1") in item.message


def test_a_lost_reply_is_looked_up_and_never_reported_twice() -> None:
    world = World()
    world.book(egyptian("1"))
    world.shop.fail_next_reports(LOST_REPLY)
    world.track()

    first = world.report()
    second = world.report()

    assert first.outcomes == {"uncertain": 1}
    assert second.outcomes == {"found": 1}
    assert second.reported == {STORE: 1}
    assert len(world.shop.fulfilments["1"]) == 1
    assert (world.shop.report_calls, world.shop.lookup_calls) == (1, 1)
    assert world.entry_status("1") is EffectStatus.DONE


def test_a_store_that_did_nothing_gets_the_report_on_the_next_run() -> None:
    world = World()
    world.book(egyptian("1"), egyptian("2"))
    world.shop.fail_next_reports(TransientPartnerError("throttled", partner="shopify"))
    world.track()

    first = world.report()
    second = world.report()

    assert first.outcomes == {"retry_later": 1, "store_down": 1}
    assert first.failed_stores == {STORE: "shopify: throttled"}
    assert second.outcomes == {"reported": 2}
    assert len(world.shop.fulfilments["1"]) == len(world.shop.fulfilments["2"]) == 1
    assert world.storage.attention.open_items() == []


def test_refused_credentials_keep_the_reports_and_tell_a_person_once() -> None:
    world = World()
    world.book(egyptian("1"), egyptian("2"))
    world.shop.fail_next_reports(
        PermanentPartnerError("Invalid API key", partner="shopify", status=401)
    )
    world.track()

    report = world.report()

    assert report.outcomes == {"store_failed": 1, "store_down": 1}
    assert world.entry_status("1") is EffectStatus.QUEUED
    assert world.entry_status("2") is EffectStatus.QUEUED
    (item,) = world.storage.attention.open_items()
    assert (item.subject, item.reason) == (f"store:{STORE}", "store_unavailable")
    assert "HTTP 401" in item.message


def test_a_failed_lookup_leaves_the_report_queued_and_creates_nothing() -> None:
    world = World()
    world.book(egyptian("1"))
    world.shop.fail_next_reports(OutcomeUnknown("read timeout", partner="shopify"))
    world.shop.fail_next_lookups(TransientPartnerError("503", partner="shopify"))
    world.track()

    outcomes = [world.report().outcomes for _ in range(3)]

    assert outcomes == [{"uncertain": 1}, {"retry_later": 1}, {"reported": 1}]
    assert world.shop.report_calls == 2  # the first did nothing, as the lookup shows
    assert len(world.shop.fulfilments["1"]) == 1


def test_a_report_abandoned_by_a_dead_runner_is_looked_up_after_its_grace() -> None:
    world = World()
    world.book(egyptian("1"))
    world.track()
    world.stores = {STORE: DiesAfterReporting(world.shop)}
    with pytest.raises(Crash):
        world.report()
    world.stores = {STORE: world.shop}

    soon = world.report()
    world.clock.advance(timedelta(minutes=20))
    later = world.report()

    assert soon.outcomes == {}
    assert world.entry_status("1") is EffectStatus.DONE
    assert later.outcomes == {"abandoned": 1, "found": 1}
    assert len(world.shop.fulfilments["1"]) == 1
    assert world.shop.report_calls == 1


class Broken:
    """A store whose adapter trips over an answer it cannot read, once."""

    def __init__(self, store: MemoryOrderSource) -> None:
        self.store = store.store
        self._inner = store
        self.tripped = False

    def report_shipment(self, order: Order, report: ShipmentReport) -> str:
        if not self.tripped:
            self.tripped = True
            raise KeyError("fulfillment")
        return self._inner.report_shipment(order, report)

    def find_shipment_report(self, order: Order, tracking_number: str) -> str | None:
        return self._inner.find_shipment_report(order, tracking_number)


def test_an_unexpected_error_goes_to_a_person_and_the_batch_goes_on() -> None:
    world = World()
    world.book(egyptian("1"), egyptian("2"))
    world.stores = {STORE: Broken(world.shop)}
    world.track()

    report = world.report()
    again = world.report()

    assert report.outcomes == {"crashed": 1, "reported": 1}
    assert again.outcomes == {}
    assert world.entry_status("1") is EffectStatus.UNCERTAIN
    assert len(world.shop.fulfilments["2"]) == 1
    (item,) = world.storage.attention.open_items()
    assert (item.subject, item.reason) == (
        "shopify:shemsi-egypt:1",
        "store_fulfilment_crashed",
    )
    assert "KeyError" in item.message
    assert world.reference("1") in item.message


def test_orders_of_a_store_that_takes_no_reports_are_skipped_without_alarm() -> None:
    world = World()
    amazon = attrs.evolve(egyptian("1"), key=OrderKey("amazon", "amazon-eg", "1"))
    world.book(amazon)
    world.track()

    first = world.report()
    second = world.report()

    assert first.outcomes == {"unsupported": 1}
    assert second.outcomes == {}
    entry = world.storage.ledger.get(store_fulfilment_key("amazon:amazon-eg:1"))
    assert entry is not None
    assert entry.status is EffectStatus.FAILED
    assert entry.detail == "store amazon-eg takes no shipment reports"
    assert world.storage.attention.open_items() == []


def test_only_the_first_move_out_of_booked_counts_as_a_pickup() -> None:
    moves = [(S.BOOKED, S.IN_TRANSIT), (S.BOOKED, S.DELIVERED), (S.BOOKED, S.RETURNED)]
    not_pickups = [
        (S.BOOKED, S.BOOKED),
        (S.BOOKED, S.CANCELLED),
        (S.IN_TRANSIT, S.DELIVERED),
        (S.BOOKING, S.BOOKED),
    ]

    assert all(picked_up(a, b) for a, b in moves)
    assert not any(picked_up(a, b) for a, b in not_pickups)


# What a store call can do: work, do nothing, fail before acting with an
# unknown outcome, lose its reply after acting, or kill the runner after
# acting.  Lookups may fail too.  Failures left over run into later runs.
CALLS = st.sampled_from(["ok", "transient", "unknown_before", "lost", "crash"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(CALLS, st.booleans()), max_size=6))
def test_no_failure_sequence_ever_makes_a_second_fulfilment(
    runs: list[tuple[str, bool]],
) -> None:
    world = World()
    world.book(egyptian("1"))
    world.track()

    for call, lookup_fails in [*runs, *[("ok", False)] * 20]:
        world.stores = {STORE: _arrange(world.shop, call, lookup_fails)}
        with contextlib.suppress(Crash):
            world.report()
        world.clock.advance(timedelta(minutes=20))
        assert len(world.shop.fulfilments.get("1", [])) <= 1

    assert len(world.shop.fulfilments["1"]) == 1
    assert world.entry_status("1") is EffectStatus.DONE


def _arrange(
    shop: MemoryOrderSource, call: str, lookup_fails: bool
) -> StoreFulfilments:
    if lookup_fails:
        shop.fail_next_lookups(TransientPartnerError("503", partner="shopify"))
    if call == "transient":
        shop.fail_next_reports(TransientPartnerError("503", partner="shopify"))
    elif call == "unknown_before":
        shop.fail_next_reports(OutcomeUnknown("timeout", partner="shopify"))
    elif call == "lost":
        shop.fail_next_reports(LOST_REPLY)
    elif call == "crash":
        return DiesAfterReporting(shop)
    return shop
