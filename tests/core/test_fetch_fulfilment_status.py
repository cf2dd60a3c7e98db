"""The tracking worker against the in-memory twins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.adapters.pl3.memory import (
    CREATED_ONLY,
    DELIVERED_IN_TWO_DAYS,
    MemoryDeliveryPartner,
)
from fulfilment.adapters.storage.memory import MemoryOrderStore, MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import (
    Order,
    OrderKey,
    OrderState,
    TrackingEvent,
    TrackingStatus,
)
from fulfilment.core.errors import TransientPartnerError
from fulfilment.core.nps import NPS_SURVEY, survey_key
from fulfilment.core.ports import Effect, EffectStatus
from fulfilment.core.routing import RoutingPolicy
from fulfilment.core.workers.create_fulfilment_requests import (
    create_fulfilment_requests,
)
from fulfilment.core.workers.fetch_fulfilment_status import (
    TrackingReport,
    TrackingSettings,
    fetch_fulfilment_status,
)
from fulfilment.testing.builders import T0, make_order

S = OrderState
T = TrackingStatus
ROUTES = RoutingPolicy.one_partner_per_store({"shemsi-egypt": "flextock"})


class World:
    def __init__(self, script=DELIVERED_IN_TWO_DAYS) -> None:  # type: ignore[no-untyped-def]
        self.clock = ManualClock(T0)
        self.storage = MemoryStorage()
        self.partner = MemoryDeliveryPartner(
            "flextock", clock=self.clock, script=script
        )

    def booked(self, *ids: str) -> None:
        self.storage.orders.save_many(
            [make_order(i, store="shemsi-egypt") for i in ids]
        )
        create_fulfilment_requests(
            orders=self.storage.orders,
            partners={"flextock": self.partner},
            routing=ROUTES,
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            clock=self.clock,
            owner="runner",
        )

    def track(self) -> TrackingReport:
        return fetch_fulfilment_status(
            orders=self.storage.orders,
            partners={"flextock": self.partner},
            attention=self.storage.attention,
            clock=self.clock,
        )

    def order(self, external_id: str) -> Order:
        (found,) = [
            o for o in self.storage.orders.list() if o.key.external_id == external_id
        ]
        return found


def test_a_parcel_is_followed_to_delivery() -> None:
    world = World()
    world.booked("1")

    states = []
    for _ in range(20):
        world.clock.advance(timedelta(hours=3))
        world.track()
        states.append(world.order("1").state)

    assert states[-1] is S.DELIVERED
    assert S.OUT_FOR_DELIVERY in states
    shipment = world.order("1").shipment
    assert shipment is not None
    assert [e.status for e in shipment.events] == [
        T.CREATED,
        T.PICKED_UP,
        T.IN_TRANSIT,
        T.OUT_FOR_DELIVERY,
        T.DELIVERED,
    ]


def test_parcels_of_one_partner_are_tracked_in_one_batch() -> None:
    world = World()
    world.booked("1", "2", "3")
    world.clock.advance(timedelta(hours=1))

    world.track()

    assert len(world.partner.track_calls) == 1
    assert len(world.partner.track_calls[0]) == 3


def test_with_concurrency_every_parcel_is_tracked_once_in_full_batches() -> None:
    world = World()
    ids = [str(n) for n in range(1, 121)]
    world.booked(*ids)
    world.clock.advance(timedelta(days=3))

    report = fetch_fulfilment_status(
        orders=world.storage.orders,
        partners={"flextock": world.partner},
        attention=world.storage.attention,
        clock=world.clock,
        settings=TrackingSettings(concurrency=4),
    )

    assert report.polled == 120
    assert sorted(len(call) for call in world.partner.track_calls) == [20, 50, 50]
    asked = [ref for call in world.partner.track_calls for ref in call]
    assert len(asked) == len(set(asked)) == 120
    assert {world.order(i).state for i in ids} == {S.DELIVERED}


def test_with_concurrency_a_failing_partner_stops_after_the_calls_in_flight() -> None:
    world = World()
    world.booked(*(str(n) for n in range(1, 501)))
    world.clock.advance(timedelta(days=3))
    world.partner.fail_next_track(TransientPartnerError("busy", partner="flextock"))

    report = fetch_fulfilment_status(
        orders=world.storage.orders,
        partners={"flextock": world.partner},
        attention=world.storage.attention,
        clock=world.clock,
        settings=TrackingSettings(concurrency=3),
    )

    assert report.failed_partners == {"flextock": "flextock: busy"}
    assert len(world.partner.track_calls) <= 3 + 2
    assert report.moved.get("delivered", 0) < 500


def test_a_delivered_parcel_is_never_polled_again() -> None:
    world = World()
    world.booked("1")
    world.clock.advance(timedelta(days=3))
    world.track()

    world.clock.advance(timedelta(days=1))
    report = world.track()

    assert report.polled == 0


def test_a_parcel_is_not_polled_before_its_interval() -> None:
    world = World()
    world.booked("1")
    world.clock.advance(timedelta(minutes=1))
    world.track()

    world.clock.advance(timedelta(minutes=5))

    assert world.track().polled == 0


def test_a_late_older_event_is_kept_but_never_rewinds_the_state() -> None:
    world = World()
    world.booked("1")
    world.clock.advance(timedelta(days=3))
    world.track()
    reference = world.order("1").shipment.reference  # type: ignore[union-attr]
    world.partner.add_event(
        reference,
        TrackingEvent("late", T.IN_TRANSIT, "Scanned at hub", T0 + timedelta(hours=30)),
    )
    world.storage.orders.save(attrs.evolve(world.order("1"), state=S.OUT_FOR_DELIVERY))

    world.clock.advance(timedelta(hours=1))
    world.track()

    order = world.order("1")
    assert order.state is S.OUT_FOR_DELIVERY
    assert "late" in [e.code for e in order.shipment.events]  # type: ignore[union-attr]


def test_an_unknown_code_is_kept_raw_and_raised_once() -> None:
    world = World(script=())
    world.booked("1", "2")
    for external_id in ("1", "2"):
        reference = world.order(external_id).shipment.reference  # type: ignore[union-attr]
        world.partner.add_event(
            reference,
            TrackingEvent("X42", T.UNKNOWN, "Customs", T0 + timedelta(hours=2)),
        )
    world.clock.advance(timedelta(hours=3))

    report = world.track()

    assert report.unknown_codes == ("flextock:X42",)
    items = world.storage.attention.open_items()
    assert [(i.subject, i.reason) for i in items] == [
        ("partner:flextock", "unknown_tracking_code:X42")
    ]
    assert "reported code 'X42'" in items[0].message
    assert world.order("1").state is S.BOOKED


def test_a_parcel_with_no_news_for_days_raises_attention() -> None:
    world = World(script=())
    world.booked("1")

    world.clock.advance(timedelta(days=6))
    report = world.track()

    assert report.stale == (str(world.order("1").key),)
    assert [i.reason for i in world.storage.attention.open_items()] == [
        "tracking_stale"
    ]


def test_parcels_of_a_partner_no_longer_configured_raise_a_config_item() -> None:
    world = World(script=())
    world.booked("1")
    world.clock.advance(timedelta(hours=3))

    report = fetch_fulfilment_status(
        orders=world.storage.orders,
        partners={},
        attention=world.storage.attention,
        clock=world.clock,
    )

    assert report.failed_partners == {"flextock": "not configured"}
    (item,) = world.storage.attention.open_items()
    assert (item.subject, item.code) == ("partner:flextock", "partner_not_configured")
    assert "flextock is not configured" in item.message


def test_duplicate_events_are_stored_once() -> None:
    world = World()
    world.booked("1")
    reference = world.order("1").shipment.reference  # type: ignore[union-attr]
    world.clock.advance(timedelta(days=3))
    world.track()
    for event in list(world.partner.events.get(reference, [])):
        world.partner.add_event(reference, event)

    world.clock.advance(timedelta(hours=1))
    world.track()

    events = world.order("1").shipment.events  # type: ignore[union-attr]
    assert len(events) == len(set(events))


@given(st.lists(st.sampled_from(list(TrackingStatus)), max_size=12), st.data())
def test_tracking_moves_an_order_forward_only(
    statuses: list[TrackingStatus], data: st.DataObject
) -> None:
    world = World(script=())
    world.booked("1")
    reference = world.order("1").shipment.reference  # type: ignore[union-attr]
    rank = {
        S.BOOKED: 0,
        S.IN_TRANSIT: 1,
        S.OUT_FOR_DELIVERY: 2,
        S.DELIVERY_FAILED: 2,
        S.DELIVERED: 3,
        S.RETURNED: 4,
    }
    previous = rank[S.BOOKED]
    for n, status in enumerate(statuses):
        hours = data.draw(st.integers(1, 48))
        world.partner.add_event(
            reference,
            TrackingEvent(f"c{n}", status, status.value, T0 + timedelta(hours=hours)),
        )
        world.clock.advance(timedelta(hours=1))
        world.track()
        current = rank[world.order("1").state]
        assert current >= previous
        previous = current


def test_a_current_status_repeated_at_each_poll_is_no_news() -> None:
    world = World(script=())
    world.booked("1")
    reference = world.order("1").shipment.reference  # type: ignore[union-attr]
    for hours in (1, 2, 3):
        world.partner.add_event(
            reference,
            TrackingEvent("pending", T.CREATED, "pending", T0 + timedelta(hours=hours)),
        )
        world.clock.advance(timedelta(hours=1))
        world.track()

    world.clock.advance(timedelta(days=6))
    report = world.track()

    assert len(world.order("1").shipment.events) == 1  # type: ignore[union-attr]
    assert report.stale == (str(world.order("1").key),)


def test_a_tracking_page_learnt_from_tracking_fills_a_missing_link() -> None:
    world = World()
    world.booked("1", "2")
    first, second = (world.order(i).shipment for i in ("1", "2"))
    assert first is not None
    assert second is not None
    assert first.tracking_url is None
    world.partner.links[first.reference] = "https://courier.example/1"
    world.clock.advance(timedelta(hours=1))

    world.track()

    learnt = world.order("1").shipment
    assert learnt is not None
    assert learnt.tracking_url == "https://courier.example/1"
    assert world.order("2").shipment.tracking_url is None  # type: ignore[union-attr]
    # A link the booking gave is kept.
    world.partner.links[first.reference] = "https://courier.example/other"
    world.clock.advance(timedelta(hours=1))
    world.track()
    assert world.order("1").shipment.tracking_url == "https://courier.example/1"  # type: ignore[union-attr]


# --- the survey of a delivered order's customer ------------------------------

SURVEYS = TrackingSettings(survey_after_days=14)
RETURNED_TO_SENDER = (
    (timedelta(0), T.CREATED, "created", "Parcel registered"),
    (timedelta(hours=20), T.IN_TRANSIT, "in_transit", "Left the origin hub"),
    (timedelta(hours=44), T.DELIVERY_FAILED, "refused", "Customer refused"),
    (timedelta(hours=50), T.RETURN_TO_SENDER, "rts", "Returning to sender"),
    (timedelta(hours=70), T.RETURNED, "returned", "Back with the shipper"),
)


class LosingOrders:
    """The order store, where intake refreshes an order just before the
    tracking worker saves it, once: tracking's save loses the race."""

    def __init__(self, inner: MemoryOrderStore) -> None:
        self.inner = inner
        self.lost: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def save_many(self, orders: Sequence[Order]) -> list[OrderKey]:
        if not self.lost and orders:
            stored = self.inner.get(orders[0].key)
            assert stored is not None
            self.inner.save(attrs.evolve(stored, note="edited in the store"))
            self.lost.append(str(orders[0].key))
        return self.inner.save_many(orders)


def follow(
    world: World,
    days: int = 3,
    settings: TrackingSettings = SURVEYS,
    orders: Any = None,
) -> None:
    """Poll every three hours for *days*, with the ledger."""
    for _ in range(days * 8):
        world.clock.advance(timedelta(hours=3))
        fetch_fulfilment_status(
            orders=orders or world.storage.orders,
            partners={"flextock": world.partner},
            attention=world.storage.attention,
            clock=world.clock,
            ledger=world.storage.ledger,
            settings=settings,
        )


def survey_of(world: World, external_id: str) -> Effect | None:
    return world.storage.ledger.get(survey_key(str(world.order(external_id).key)))


def test_a_first_delivery_queues_the_survey_of_its_customer() -> None:
    world = World()
    world.booked("1")

    follow(world)

    entry = survey_of(world, "1")
    key = "shopify:shemsi-egypt:1"
    assert world.order("1").state is S.DELIVERED
    assert entry is not None
    assert (entry.key, entry.kind, entry.subject) == (
        f"nps-survey:{key}",
        NPS_SURVEY,
        key,
    )
    assert (entry.status, entry.result) == (EffectStatus.QUEUED, {"order": key})
    # Placed at T0: thirteen days later, less three hours for clock changes.
    assert entry.not_before == T0 + timedelta(days=13, hours=-3)
    assert [e.key for e in world.storage.ledger.queued(NPS_SURVEY, T0, 10)] == []


def test_no_survey_is_queued_unless_surveys_are_on() -> None:
    world = World()
    world.booked("1")

    follow(world, settings=TrackingSettings())

    assert world.order("1").state is S.DELIVERED
    assert survey_of(world, "1") is None


def test_a_parcel_returned_to_the_sender_is_never_surveyed() -> None:
    world = World(script=RETURNED_TO_SENDER)
    world.booked("1")

    follow(world, days=4)

    assert world.order("1").state is S.RETURNED
    assert survey_of(world, "1") is None
    # The ledger was in use all along: the shipped notices are queued.
    assert world.storage.ledger.with_status(EffectStatus.QUEUED, 100)


def test_an_amazon_order_is_never_queued_for_a_survey() -> None:
    world = World()
    amazon = attrs.evolve(
        make_order("1", store="shemsi-egypt"),
        key=OrderKey("amazon", "shemsi-egypt", "402-1234567-1234567"),
    )
    world.storage.orders.save(amazon)
    create_fulfilment_requests(
        orders=world.storage.orders,
        partners={"flextock": world.partner},
        routing=ROUTES,
        ledger=world.storage.ledger,
        attention=world.storage.attention,
        clock=world.clock,
        owner="runner",
    )

    follow(world)

    assert world.storage.orders.get(amazon.key).state is S.DELIVERED  # type: ignore[union-attr]
    assert world.storage.ledger.get(survey_key(str(amazon.key))) is None


def test_the_survey_is_queued_before_the_order_is_saved_and_only_once() -> None:
    world = World()
    world.booked("1")
    follow(world, days=1)  # in transit, not yet delivered
    losing = LosingOrders(world.storage.orders)

    follow(world, days=1, orders=losing)
    first = survey_of(world, "1")
    follow(world, days=1)

    assert losing.lost == ["shopify:shemsi-egypt:1"]
    assert first is not None
    assert world.order("1").state is S.DELIVERED
    assert survey_of(world, "1") == first
    surveys = [
        e
        for e in world.storage.ledger.with_status(EffectStatus.QUEUED, 100)
        if e.kind == NPS_SURVEY
    ]
    assert len(surveys) == 1


def test_a_delivered_parcel_carries_no_incident_any_more() -> None:
    world = World(script=CREATED_ONLY)
    world.booked("1")
    shipment = world.order("1").shipment
    assert shipment is not None
    for hours, status, words in [
        (1, T.OUT_FOR_DELIVERY, "with the courier"),
        (2, T.DELIVERY_FAILED, "Customer not reachable"),
        (3, T.DELIVERED, "Delivered"),
    ]:
        world.partner.add_event(
            shipment.reference,
            TrackingEvent(words, status, words, T0 + timedelta(hours=hours)),
        )
        world.clock.set(T0 + timedelta(hours=hours, minutes=40))
        world.track()
        if status is T.DELIVERY_FAILED:
            assert world.order("1").shipment.incident == words  # type: ignore[union-attr]

    assert world.order("1").shipment.incident is None  # type: ignore[union-attr]
