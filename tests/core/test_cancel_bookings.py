"""The cancel-bookings step against the in-memory twins: orders booked, then
cancelled in the store and read by intake, as in production."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.adapters.oms.memory import MemoryOrderSource
from fulfilment.adapters.pl3.memory import DELIVERED_IN_TWO_DAYS, MemoryDeliveryPartner
from fulfilment.adapters.storage.memory import MemoryOrderStore, MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order, OrderState, Problem, TrackingStatus
from fulfilment.core.errors import (
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.ports import AttentionItem, Capabilities, EffectStatus
from fulfilment.core.routing import RoutingPolicy
from fulfilment.core.workers.cancel_bookings import (
    CancelReport,
    CancelSettings,
    cancel_bookings,
    cancel_key,
)
from fulfilment.core.workers.create_fulfilment_requests import (
    create_fulfilment_requests,
)
from fulfilment.core.workers.fetch_new_orders import fetch_new_orders
from fulfilment.testing.builders import T0, make_order

S = OrderState
ROUTES = RoutingPolicy.one_partner_per_store(
    {"shemsiworld": "aramex", "shemsi-egypt": "flextock", "shemsi-uae": "farfill"}
)
STORES = ("shemsiworld", "shemsi-egypt", "shemsi-uae")
# Intake reads up to its run's start minus a lag of two minutes.
PAST_THE_LAG = timedelta(minutes=5)


class Crash(BaseException):
    """The runner process dies: nothing after this line runs."""


class World:
    """Three stores, each with its partner twin; parcels move on the clock
    (picked up four hours after booking)."""

    def __init__(self, orders: MemoryOrderStore | None = None) -> None:
        self.clock = ManualClock(T0)
        self.storage = MemoryStorage()
        if orders is not None:
            self.storage.orders = orders
        self.shops = {store: MemoryOrderSource(store) for store in STORES}
        twin = {"clock": self.clock, "script": DELIVERED_IN_TWO_DAYS}
        self.partners = {
            "aramex": MemoryDeliveryPartner(
                "aramex",
                Capabilities(lookup_by_reference=False, cancel=False),
                **twin,  # type: ignore[arg-type]
            ),
            "flextock": MemoryDeliveryPartner("flextock", **twin),  # type: ignore[arg-type]
            "farfill": MemoryDeliveryPartner("farfill", **twin),  # type: ignore[arg-type]
        }

    def booked(self, external_id: str, store: str = "shemsi-egypt") -> Order:
        """An order placed in *store*, read by intake and booked."""
        placed = make_order(external_id, store=store, placed_at=self.clock.now())
        self.shops[store].put(placed)
        self.clock.advance(PAST_THE_LAG)
        self.intake()
        self.book()
        booked = self.order(external_id, store)
        assert booked.state is S.BOOKED
        return booked

    def cancel_in_store(self, order: Order) -> None:
        """Cancel *order* in its shop and let intake read the change."""
        shop = self.shops[order.store]
        current = shop.orders[order.key.external_id]
        now = self.clock.now()
        shop.put(attrs.evolve(current, cancelled_at=now, source_updated_at=now))
        self.clock.advance(PAST_THE_LAG)
        self.intake()

    def intake(self) -> None:
        for shop in self.shops.values():
            fetch_new_orders(
                source=shop,
                orders=self.storage.orders,
                cursors=self.storage.cursors,
                attention=self.storage.attention,
                clock=self.clock,
            )

    def book(self) -> None:
        create_fulfilment_requests(
            orders=self.storage.orders,
            partners=self.partners,
            routing=ROUTES,
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            clock=self.clock,
            owner="runner",
        )

    def cancel(self, settings: CancelSettings | None = None) -> CancelReport:
        return cancel_bookings(
            orders=self.storage.orders,
            partners=self.partners,
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            clock=self.clock,
            settings=settings,
        )

    def order(self, external_id: str, store: str = "shemsi-egypt") -> Order:
        [found] = [
            o
            for o in self.storage.orders.list(store=store)
            if o.key.external_id == external_id
        ]
        return found

    def items(self) -> list[AttentionItem]:
        return self.storage.attention.open_items()


@pytest.fixture
def world() -> World:
    return World()


def reference_of(order: Order) -> str:
    assert order.shipment is not None
    return order.shipment.reference


# --- the partner cancels ---------------------------------------------------------


def test_a_booked_order_cancelled_in_the_store_is_cancelled_with_its_partner(
    world: World,
) -> None:
    booked = world.booked("1")
    world.cancel_in_store(booked)

    report = world.cancel()

    flextock = world.partners["flextock"]
    cancelled = world.order("1")
    assert report.counts == {"cancelled": 1}
    assert flextock.is_cancelled(reference_of(booked))
    assert cancelled.state is S.CANCELLED
    assert booked.shipment is not None
    assert cancelled.shipment == attrs.evolve(
        booked.shipment, status=TrackingStatus.CANCELLED
    )
    assert cancelled.problems == ()
    assert world.items() == []
    effect = world.storage.ledger.get(cancel_key(booked.key))
    assert effect is not None
    assert effect.status is EffectStatus.DONE
    assert effect.result == {"partner": "flextock", "reference": reference_of(booked)}


def test_each_capable_partner_is_asked_by_its_own_reference(world: World) -> None:
    egypt = world.booked("2", "shemsi-egypt")
    uae = world.booked("3", "shemsi-uae")
    world.cancel_in_store(egypt)
    world.cancel_in_store(uae)

    report = world.cancel()

    assert report.counts == {"cancelled": 2}
    assert world.partners["flextock"].cancel_calls == [reference_of(egypt)]
    assert world.partners["farfill"].cancel_calls == [reference_of(uae)]
    assert world.order("3", "shemsi-uae").state is S.CANCELLED


def test_a_cancelled_parcel_closes_the_items_it_made_moot(world: World) -> None:
    booked = world.booked("4")
    for reason in ("edited_after_booking", "tracking_stale"):
        world.storage.attention.raise_item(
            AttentionItem(str(booked.key), reason, "look", world.clock.now())
        )
    world.cancel_in_store(booked)

    world.cancel()

    assert world.items() == []


def test_orders_still_wanted_or_not_yet_booked_are_left_alone(world: World) -> None:
    world.booked("5")
    world.shops["shemsi-egypt"].put(
        make_order("6", store="shemsi-egypt", cancelled=True)
    )
    world.clock.advance(PAST_THE_LAG)
    world.intake()

    report = world.cancel()

    assert report.outcomes == ()
    assert world.partners["flextock"].cancel_calls == []
    assert world.order("5").state is S.BOOKED
    assert world.order("6").state is S.CANCELLED


def test_a_parcel_the_partner_already_shows_cancelled_is_not_asked_about(
    world: World,
) -> None:
    booked = world.booked("7")
    shipment = attrs.evolve(booked.shipment, status=TrackingStatus.CANCELLED)
    world.storage.orders.save(attrs.evolve(booked, shipment=shipment))
    world.cancel_in_store(booked)

    report = world.cancel()

    assert report.counts == {"already_cancelled": 1}
    assert world.partners["flextock"].cancel_calls == []
    assert world.order("7").state is S.CANCELLED


def test_a_parcel_out_for_delivery_is_cancelled_when_the_partner_agrees(
    world: World,
) -> None:
    booked = world.booked("8")
    world.storage.orders.save(attrs.evolve(booked, state=S.OUT_FOR_DELIVERY))
    world.cancel_in_store(booked)

    report = world.cancel()

    assert report.counts == {"cancelled": 1}
    assert world.order("8").state is S.CANCELLED


# --- a person cancels -------------------------------------------------------------


def test_a_partner_that_cannot_cancel_gets_one_item_saying_what_to_do(
    world: World,
) -> None:
    booked = world.booked("9", "shemsiworld")
    world.cancel_in_store(booked)
    awb = reference_of(booked)
    raised_at = world.clock.now()

    first = world.cancel()
    world.clock.advance(timedelta(minutes=10))
    second = world.cancel()

    [item] = world.items()
    assert first.counts == {"by_hand": 1}
    assert second.outcomes == ()
    assert second.with_a_person == 1
    assert item.reason == "cancelled_after_booking"
    assert f"ask aramex to cancel shipment {awb}" in item.message
    assert "return it to the sender" in item.message
    assert item.raised_at == raised_at
    assert world.partners["aramex"].cancel_calls == []
    kept = world.order("9", "shemsiworld")
    assert kept.state is S.BOOKED
    assert [p.code for p in kept.problems] == [
        "cancelled_after_booking",
        "cancel_by_hand",
    ]


def test_an_item_a_person_closed_is_not_raised_again(world: World) -> None:
    booked = world.booked("10", "shemsiworld")
    world.cancel_in_store(booked)
    world.cancel()
    world.storage.attention.resolve(
        str(booked.key), "cancelled_after_booking", world.clock.now()
    )

    world.cancel()

    assert world.items() == []


def test_a_parcel_the_courier_has_goes_to_a_person_in_the_partners_words(
    world: World,
) -> None:
    booked = world.booked("11")
    world.clock.advance(timedelta(hours=5))  # picked up after four
    world.cancel_in_store(booked)
    reference = reference_of(booked)

    report = world.cancel()
    again = world.cancel()

    [item] = world.items()
    assert report.counts == {"refused": 1}
    assert again.outcomes == ()
    assert f"parcel {reference} has left the warehouse" in item.message
    assert f"ask flextock to return shipment {reference} to the sender" in (
        item.message
    )
    assert Problem(
        "flextock_too_late", f"parcel {reference} has left the warehouse"
    ) in (item.problems)
    assert world.partners["flextock"].cancel_calls == [reference]
    assert not world.partners["flextock"].is_cancelled(reference)
    assert world.order("11").state is S.BOOKED
    effect = world.storage.ledger.get(cancel_key(booked.key))
    assert effect is not None
    assert effect.status is EffectStatus.FAILED


def test_an_order_a_person_cancelled_by_hand_closes_once_tracking_shows_it(
    world: World,
) -> None:
    booked = world.booked("12", "shemsiworld")
    world.cancel_in_store(booked)
    world.cancel()
    stored = world.order("12", "shemsiworld")
    shipment = attrs.evolve(stored.shipment, status=TrackingStatus.CANCELLED)
    world.storage.orders.save(attrs.evolve(stored, shipment=shipment))

    report = world.cancel()

    assert report.counts == {"already_cancelled": 1}
    assert world.order("12", "shemsiworld").state is S.CANCELLED
    assert world.items() == []


def test_a_partner_no_longer_configured_leaves_the_cancel_to_a_person(
    world: World,
) -> None:
    booked = world.booked("13", "shemsi-uae")
    world.cancel_in_store(booked)
    del world.partners["farfill"]

    report = world.cancel()

    [item] = world.items()
    assert report.counts == {"by_hand": 1}
    assert "farfill is not configured here" in item.message


def test_a_delivered_parcel_cancelled_in_the_store_goes_to_a_person(
    world: World,
) -> None:
    booked = world.booked("14")
    world.storage.orders.save(attrs.evolve(booked, state=S.DELIVERED))
    world.cancel_in_store(booked)

    report = world.cancel()

    [item] = world.items()
    assert report.outcomes == ()
    assert item.reason == "cancelled_after_delivery"
    assert world.partners["flextock"].cancel_calls == []


# --- failures ---------------------------------------------------------------------


def test_a_partner_that_did_not_answer_is_asked_again_next_run(world: World) -> None:
    booked = world.booked("15")
    world.cancel_in_store(booked)
    flextock = world.partners["flextock"]
    flextock.fail_next_cancel(TransientPartnerError("503", partner="flextock"))

    first = world.cancel()
    between = world.order("15")
    second = world.cancel()

    assert first.counts == {"retry_later": 1}
    assert between.state is S.BOOKED
    assert second.counts == {"cancelled": 1}
    assert flextock.cancel_calls == [reference_of(booked)] * 2
    effect = world.storage.ledger.get(cancel_key(booked.key))
    assert effect is not None
    assert (effect.status, effect.attempts) == (EffectStatus.DONE, 2)


def test_a_lost_answer_is_settled_by_asking_again_next_run(world: World) -> None:
    booked = world.booked("16")
    world.cancel_in_store(booked)
    flextock = world.partners["flextock"]
    flextock.fail_next_cancel("lost_reply")

    first = world.cancel()
    effect = world.storage.ledger.get(cancel_key(booked.key))
    second = world.cancel()
    third = world.cancel()

    assert first.counts == {"retry_later": 1}
    assert effect is not None
    assert effect.status is EffectStatus.PENDING
    assert second.counts == {"cancelled": 1}
    assert third.outcomes == ()
    assert flextock.cancel_calls == [reference_of(booked)] * 2
    assert world.order("16").state is S.CANCELLED


def test_one_outage_leaves_the_partner_alone_for_the_rest_of_the_run(
    world: World,
) -> None:
    orders = [world.booked(str(n)) for n in (17, 18, 19)]
    for order in orders:
        world.cancel_in_store(order)
    flextock = world.partners["flextock"]
    flextock.fail_next_cancel(TransientPartnerError("timed out", partner="flextock"))

    first = world.cancel()
    second = world.cancel()

    assert first.counts == {"retry_later": 1, "skipped": 2}
    assert len(flextock.cancel_calls) == 4
    assert second.counts == {"cancelled": 3}


def test_broken_credentials_pause_the_partner_and_name_it_once(world: World) -> None:
    for n in (20, 21):
        world.cancel_in_store(world.booked(str(n)))
    world.partners["flextock"].fail_next_cancel(
        PermanentPartnerError("login refused", partner="flextock", status=401)
    )

    report = world.cancel()

    [item] = world.items()
    assert report.counts == {"skipped": 2}
    assert (item.subject, item.reason) == ("partner:flextock", "partner_unavailable")
    assert world.order("20").state is S.BOOKED


def test_a_partner_unreachable_for_a_day_leaves_the_cancel_to_a_person(
    world: World,
) -> None:
    booked = world.booked("22")
    world.cancel_in_store(booked)
    flextock = world.partners["flextock"]
    flextock.fail_next_cancel(TransientPartnerError("503", partner="flextock"))
    world.cancel()
    world.clock.advance(timedelta(days=1))

    report = world.cancel()

    [item] = world.items()
    assert report.counts == {"by_hand": 1}
    assert "flextock could not be asked since" in item.message
    assert "503" in item.message
    assert len(flextock.cancel_calls) == 1


class DiesWhileSaving(MemoryOrderStore):
    """Once armed, the runner dies as it writes a cancelled order."""

    armed = False

    def save(self, order: Order) -> Order:
        if self.armed and order.state is S.CANCELLED:
            self.armed = False
            raise Crash
        return super().save(order)


def test_a_crash_after_the_partner_agreed_never_asks_it_again() -> None:
    store = DiesWhileSaving()
    world = World(orders=store)
    booked = world.booked("23")
    world.cancel_in_store(booked)
    store.armed = True

    with pytest.raises(Crash):
        world.cancel()
    stuck = world.order("23")
    report = world.cancel()

    assert stuck.state is S.BOOKED
    assert report.counts == {"recovered": 1}
    assert world.partners["flextock"].cancel_calls == [reference_of(booked)]
    assert world.order("23").state is S.CANCELLED


def test_a_parcel_booked_by_a_runner_that_died_is_recorded_then_cancelled() -> None:
    class DiesRecordingTheParcel(MemoryOrderStore):
        armed = True

        def save(self, order: Order) -> Order:
            if self.armed and order.state is S.BOOKED:
                self.armed = False
                raise Crash
            return super().save(order)

    world = World(orders=DiesRecordingTheParcel())
    world.shops["shemsi-uae"].put(make_order("24", store="shemsi-uae", placed_at=T0))
    world.clock.advance(PAST_THE_LAG)
    world.intake()
    with pytest.raises(Crash):
        world.book()
    stuck = world.order("24", "shemsi-uae")
    world.cancel_in_store(stuck)
    world.clock.advance(timedelta(minutes=11))  # the dead runner's claim lapses

    world.book()
    recorded = world.order("24", "shemsi-uae")
    report = world.cancel()

    farfill = world.partners["farfill"]
    assert stuck.state is S.BOOKING
    assert recorded.state is S.BOOKED
    assert report.counts == {"cancelled": 1}
    assert farfill.is_cancelled(reference_of(recorded))
    assert len(farfill.parcels) == 1
    assert world.items() == []


def test_an_order_whose_booking_failed_is_cancelled_without_a_parcel_problem(
    world: World,
) -> None:
    world.shops["shemsi-egypt"].put(make_order("25", store="shemsi-egypt"))
    world.clock.advance(PAST_THE_LAG)
    world.intake()
    order = world.order("25")
    world.storage.ledger.begin(f"book:{order.key}", "booking", "25", T0)
    world.storage.ledger.mark(
        f"book:{order.key}", EffectStatus.FAILED, "503", world.clock.now()
    )
    problem = Problem("cancelled_after_booking", "cancelled while booking")
    world.storage.orders.save(
        attrs.evolve(order, cancelled_at=world.clock.now(), problems=(problem,))
    )

    world.book()

    cancelled = world.order("25")
    assert cancelled.state is S.CANCELLED
    assert cancelled.problems == ()
    assert world.partners["flextock"].parcels == {}


# --- whatever fails when ----------------------------------------------------------


class Flaky(MemoryDeliveryPartner):
    """Fails as scripted, and checks on every call that no cancellation of
    the parcel was recorded as done before."""

    def __init__(self, world: World, script: list[str]) -> None:
        super().__init__("flextock", clock=world.clock)
        self.world = world
        self.script = script
        self.asked_after_success = 0

    def cancel(self, reference: str) -> bool:
        [order] = [
            o
            for o in self.world.storage.orders.list(store="shemsi-egypt")
            if o.shipment and o.shipment.reference == reference
        ]
        done = self.world.storage.ledger.get(cancel_key(order.key))
        if done is not None and done.status is EffectStatus.DONE:
            self.asked_after_success += 1
        step = self.script.pop(0) if self.script else "ok"
        if step == "die_saving":
            self.world.storage.orders.armed = True  # type: ignore[attr-defined]
        if step == "transient":
            raise TransientPartnerError("503", partner=self.name)
        if step == "lost_reply":
            self.fail_next_cancel("lost_reply")
        accepted = super().cancel(reference)
        if step == "crash":
            raise Crash
        return accepted


steps = st.lists(
    st.sampled_from(["ok", "transient", "lost_reply", "crash", "die_saving"])
)


@given(script=steps, orders=st.integers(1, 4), runners=st.integers(1, 2))
def test_every_cancelled_parcel_is_cancelled_and_never_asked_again_after(
    script: list[str], orders: int, runners: int
) -> None:
    world = World(orders=DiesWhileSaving())
    flaky = Flaky(world, list(script))
    world.partners["flextock"] = flaky
    booked = [world.booked(str(n)) for n in range(orders)]
    for order in booked:
        world.cancel_in_store(order)

    for _ in range(len(script) + 2):
        for _ in range(runners):
            with contextlib.suppress(Crash):
                world.cancel()
        world.clock.advance(timedelta(minutes=5))

    assert {world.order(str(n)).state for n in range(orders)} == {S.CANCELLED}
    assert all(flaky.is_cancelled(reference_of(o)) for o in booked)
    assert flaky.asked_after_success == 0
    assert world.items() == []
