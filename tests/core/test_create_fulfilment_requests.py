"""The booking worker against the in-memory twins."""

from __future__ import annotations

import threading
from datetime import timedelta

import attrs
import pytest

from fulfilment.adapters.pl3.memory import MemoryDeliveryPartner
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Claim, Order, OrderState, Problem
from fulfilment.core.errors import (
    PartnerRejected,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.intake import merge
from fulfilment.core.ports import BookingRequest, Capabilities, EffectStatus
from fulfilment.core.routing import RoutingPolicy, RoutingRule
from fulfilment.core.workers.create_fulfilment_requests import (
    BookingReport,
    BookingSettings,
    create_fulfilment_requests,
)
from fulfilment.testing.builders import T0, make_order

S = OrderState
ROUTES = RoutingPolicy.one_partner_per_store(
    {
        "shemsiworld": "aramex",
        "shemsi-egypt": "flextock",
        "shemsi-uae": "farfill",
        "shemsi-lebanon": None,
    }
)


class World:
    def __init__(self) -> None:
        self.clock = ManualClock(T0 + timedelta(hours=2))
        self.storage = MemoryStorage()
        self.partners = {
            "aramex": MemoryDeliveryPartner(
                "aramex",
                Capabilities(
                    cod_currencies=frozenset({"MAD"}), lookup_by_reference=False
                ),
            ),
            "flextock": MemoryDeliveryPartner(
                "flextock", Capabilities(cod_currencies=frozenset({"EGP"}))
            ),
            "farfill": MemoryDeliveryPartner(
                "farfill", Capabilities(cod_currencies=frozenset({"AED"}))
            ),
        }

    def add(self, *orders: Order) -> None:
        assert not self.storage.orders.save_many(orders)

    def book(self, owner: str = "runner-1") -> BookingReport:
        return create_fulfilment_requests(
            orders=self.storage.orders,
            partners=self.partners,
            routing=ROUTES,
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            clock=self.clock,
            owner=owner,
            settings=BookingSettings(),
        )

    def order(self, external_id: str, store: str = "shemsiworld") -> Order:
        found = [
            o
            for o in self.storage.orders.list(store=store)
            if o.key.external_id == external_id
        ]
        assert found, f"no order {external_id}"
        return found[0]

    def parcels(self) -> int:
        return sum(len(p.parcels) for p in self.partners.values())


@pytest.fixture
def world() -> World:
    return World()


def test_books_each_store_with_its_partner(world: World) -> None:
    world.add(
        make_order("1", store="shemsiworld"),
        make_order("2", store="shemsi-egypt"),
        make_order("3", store="shemsi-uae", cod=False),
    )

    report = world.book()

    assert report.booked_by_partner() == {"aramex": 1, "flextock": 1, "farfill": 1}
    booked = world.order("2", "shemsi-egypt")
    assert booked.state is S.BOOKED
    assert booked.shipment is not None
    assert booked.shipment.merchant_reference == "shemsi-egypt-2"
    effect = world.storage.ledger.get(f"book:{booked.key}")
    assert effect is not None
    assert effect.status is EffectStatus.DONE


def test_holds_lebanon_orders_without_a_partner(world: World) -> None:
    world.add(make_order("9", store="shemsi-lebanon"))

    report = world.book()

    held = world.order("9", "shemsi-lebanon")
    assert held.state is S.ON_HOLD
    assert held.hold_reason == "no_partner_for_store"
    assert held.problems[0].code == "no_partner_for_store"
    assert report.counts == {"held": 1}
    assert world.parcels() == 0


def test_a_store_without_a_partner_is_one_config_item(world: World) -> None:
    world.add(
        make_order("9", store="shemsi-lebanon"),
        make_order("10", store="shemsi-lebanon"),
    )

    world.book()
    world.clock.advance(timedelta(hours=2))
    world.book()  # the held orders are re-checked: no new item

    (item,) = world.storage.attention.open_items(store="shemsi-lebanon")
    assert (item.subject, item.reason) == (
        "store:shemsi-lebanon",
        "no_partner_for_store",
    )
    assert item.occurrence == 1
    assert "route them to a partner" in item.message
    assert "matches" in item.message  # the route explanation


def test_a_resolved_config_item_comes_back_with_the_next_held_order(
    world: World,
) -> None:
    world.add(make_order("9", store="shemsi-lebanon"))
    world.book()
    (item,) = world.storage.attention.open_items()
    world.storage.attention.resolve_id(item.id, world.clock.now(), note="expected")

    world.add(make_order("10", store="shemsi-lebanon"))
    world.book()

    (again,) = world.storage.attention.open_items()
    assert again.id != item.id
    assert "shopify:shemsi-lebanon:10" in again.message


def test_a_held_order_is_not_rechecked_before_its_time(world: World) -> None:
    world.add(make_order("9", store="shemsi-lebanon"))
    world.book()

    again = world.book()

    assert again.outcomes == ()


def test_an_unpaid_prepaid_order_waits_for_its_payment(world: World) -> None:
    world.add(make_order("4", store="shemsi-uae", cod=False, paid=False))

    world.book()

    waiting = world.order("4", "shemsi-uae")
    assert waiting.state is S.ON_HOLD
    assert waiting.hold_reason == "awaiting_payment"
    assert world.parcels() == 0


def test_a_rejection_goes_to_attention_in_the_partners_words(world: World) -> None:
    world.add(make_order("5", city="Casablanka"))

    report = world.book()

    rejected = world.order("5")
    assert rejected.state is S.NEEDS_ATTENTION
    assert "Casablanka" in rejected.problems[0].message
    assert report.counts == {"rejected": 1}
    items = world.storage.attention.open_items()
    assert [(i.subject, i.reason) for i in items] == [
        (str(rejected.key), "rejected_by_partner")
    ]
    effect = world.storage.ledger.get(f"book:{rejected.key}")
    assert effect is not None
    assert effect.status is EffectStatus.FAILED


def test_a_cod_order_for_a_partner_without_cod_needs_attention(world: World) -> None:
    world.partners["farfill"].capabilities = Capabilities(cash_on_delivery=False)
    world.add(make_order("6", store="shemsi-uae", cod=True))

    world.book()

    order = world.order("6", "shemsi-uae")
    assert order.state is S.NEEDS_ATTENTION
    assert order.problems[0].code == "cod_not_supported"
    assert world.parcels() == 0


def test_an_order_with_source_problems_is_not_booked(world: World) -> None:
    broken = attrs.evolve(
        make_order("7"),
        source_problems=(Problem("missing_city", "no city", "shippingAddress.city"),),
    )
    world.add(broken)

    world.book()

    assert world.order("7").state is S.NEEDS_ATTENTION
    assert world.parcels() == 0


def test_an_order_with_only_source_warnings_is_booked(world: World) -> None:
    warned = attrs.evolve(
        make_order("7w"),
        source_warnings=(
            Problem("unusable_email", "not one address", "customer.email"),
        ),
    )
    world.add(warned)

    world.book()

    assert world.order("7w").state is S.BOOKED
    assert world.parcels() == 1


def test_a_lost_reply_is_recovered_by_lookup_not_rebooked(world: World) -> None:
    world.add(make_order("8", store="shemsi-egypt"))
    world.partners["flextock"].fail_next("lost_reply")

    first = world.book()
    world.clock.advance(timedelta(minutes=2))
    second = world.book()

    assert first.counts == {"retry_scheduled": 1}
    assert second.counts == {"recovered": 1}
    assert world.order("8", "shemsi-egypt").state is S.BOOKED
    assert len(world.partners["flextock"].parcels) == 1
    assert world.partners["flextock"].book_calls == 1


def test_a_partner_that_cannot_be_asked_is_never_booked_blind(world: World) -> None:
    world.add(make_order("10"))
    world.partners["aramex"].fail_next("lost_reply")

    world.book()
    world.clock.advance(timedelta(minutes=2))
    second = world.book()

    assert second.counts == {"uncertain": 1}
    order = world.order("10")
    assert order.state is S.NEEDS_ATTENTION
    assert order.problems[0].code == "booking_outcome_unknown"
    assert world.partners["aramex"].book_calls == 1
    effect = world.storage.ledger.get(f"book:{order.key}")
    assert effect is not None
    assert effect.status is EffectStatus.UNCERTAIN


def test_a_transient_failure_is_retried_later_and_books_once(world: World) -> None:
    world.add(make_order("11"))
    world.partners["aramex"].fail_next(
        TransientPartnerError("503", partner="aramex", status=503)
    )

    first = world.book()
    too_soon = world.book()
    world.clock.advance(timedelta(minutes=1))
    later = world.book()

    assert first.counts == {"retry_scheduled": 1}
    assert too_soon.outcomes == ()
    assert later.counts == {"booked": 1}
    assert len(world.partners["aramex"].parcels) == 1
    assert world.order("11").attempts == 1


def test_repeated_failures_end_with_a_person(world: World) -> None:
    world.add(make_order("12"))
    settings = BookingSettings()
    for _ in range(settings.max_attempts):
        world.partners["aramex"].fail_next(
            TransientPartnerError("503", partner="aramex", status=503)
        )
        world.book()
        world.clock.advance(timedelta(hours=4))

    order = world.order("12")
    assert order.state is S.NEEDS_ATTENTION
    assert order.problems[0].code == "booking_failed_repeatedly"
    assert world.parcels() == 0


def test_bad_credentials_pause_the_partner_and_keep_the_orders(world: World) -> None:
    world.add(make_order("13"), make_order("14"))
    world.partners["aramex"].fail_next(
        PermanentPartnerError("invalid username", partner="aramex", code="ERR01")
    )

    report = world.book()

    assert report.counts == {"skipped": 2}
    assert world.partners["aramex"].book_calls == 1
    assert {world.order("13").state, world.order("14").state} == {S.NEW}
    reasons = [i.reason for i in world.storage.attention.open_items()]
    assert reasons == ["partner_unavailable"]


def test_a_crash_mid_booking_is_recovered_after_the_claim_expires(
    world: World,
) -> None:
    class CrashAfterBooking(MemoryDeliveryPartner):
        def book(self, request: BookingRequest) -> object:
            super().book(request)
            raise SystemExit("runner killed")

    crashing = CrashAfterBooking("flextock", Capabilities(frozenset({"EGP"})))
    world.partners["flextock"] = crashing
    world.add(make_order("15", store="shemsi-egypt"))

    with pytest.raises(SystemExit):
        world.book()
    stuck = world.order("15", "shemsi-egypt")
    world.clock.advance(timedelta(minutes=11))
    recovered = world.book(owner="runner-2")

    assert stuck.state is S.BOOKING
    assert recovered.counts == {"recovered": 1}
    assert world.order("15", "shemsi-egypt").state is S.BOOKED
    assert len(crashing.parcels) == 1


def test_a_live_claim_is_left_to_its_owner(world: World) -> None:
    world.add(make_order("16"))
    order = world.order("16")
    world.storage.orders.save(
        attrs.evolve(
            order,
            state=S.BOOKING,
            claim=Claim("runner-1", world.clock.now() + timedelta(minutes=5)),
        )
    )

    report = world.book(owner="runner-2")

    assert report.outcomes == ()


def test_two_runners_at_once_book_every_order_exactly_once(world: World) -> None:
    world.add(*(make_order(str(n), store="shemsi-egypt") for n in range(40)))
    start = threading.Barrier(2)
    reports: list[BookingReport] = []

    def runner(owner: str) -> None:
        start.wait()
        reports.append(world.book(owner))

    threads = [threading.Thread(target=runner, args=(f"r{n}",)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    flextock = world.partners["flextock"]
    assert len(flextock.parcels) == 40
    assert flextock.book_calls == 40
    booked = sum(r.counts.get("booked", 0) for r in reports)
    assert booked == 40


def test_a_cancelled_order_is_never_booked(world: World) -> None:
    world.add(attrs.evolve(make_order("17", cancelled=True), state=S.CANCELLED))

    report = world.book()

    assert report.outcomes == ()
    assert world.parcels() == 0


def test_a_rejected_order_fixed_in_the_store_is_booked(world: World) -> None:
    world.add(make_order("18", city="Casablanka"))
    world.book()
    rejected = world.order("18")
    fixed_address = attrs.evolve(rejected.shipping_address, city="Casablanca")
    fixed = attrs.evolve(
        rejected,
        shipping_address=fixed_address,
        source_updated_at=rejected.source_updated_at + timedelta(hours=1),
    )
    merged = merge(rejected, fixed, world.clock.now())
    assert merged.order is not None
    world.storage.orders.save(merged.order)
    report = world.book()

    assert report.counts == {"booked": 1}
    assert len(world.partners["aramex"].parcels) == 1


def test_rejection_messages_carry_every_partner_problem(world: World) -> None:
    world.partners["aramex"].fail_next(
        PartnerRejected(
            "two problems",
            partner="aramex",
            problems=(("ERR52", "City name is invalid"), ("ERR11", "Phone missing")),
        )
    )
    world.add(make_order("19"))

    world.book()

    codes = [p.code for p in world.order("19").problems]
    assert codes == ["aramex_err52", "aramex_err11"]


def test_one_order_that_breaks_an_adapter_does_not_stop_the_batch(
    world: World,
) -> None:
    class Fussy(MemoryDeliveryPartner):
        def book(self, request: BookingRequest) -> object:
            if request.order.key.external_id == "poison":
                raise ArithmeticError("amount out of range")
            return super().book(request)

    world.partners["flextock"] = Fussy("flextock", Capabilities(frozenset({"EGP"})))
    world.add(
        make_order("poison", store="shemsi-egypt"),
        make_order("fine", store="shemsi-egypt"),
    )

    report = world.book()

    assert report.counts == {"crashed": 1, "booked": 1}
    poisoned = world.order("poison", "shemsi-egypt")
    assert poisoned.state is S.NEEDS_ATTENTION
    assert poisoned.problems[0].code == "booking_crashed"
    assert "ArithmeticError" in poisoned.problems[0].message
    effect = world.storage.ledger.get(f"book:{poisoned.key}")
    assert effect is not None
    assert effect.status is EffectStatus.UNCERTAIN


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("1000000000000000000000000000000", "implausible_cod_amount"),
        ("0", "invalid_cod_amount"),
        ("570.123", "invalid_cod_amount"),
        ("-20", "invalid_total"),
    ],
)
def test_an_implausible_amount_goes_to_a_person_before_any_call(
    world: World, amount: str, code: str
) -> None:
    world.add(make_order("20", amount=amount, quantity=1))

    world.book()

    order = world.order("20")
    assert order.state is S.NEEDS_ATTENTION
    assert code in [p.code for p in order.problems]
    assert world.partners["aramex"].book_calls == 0


def test_a_partner_failing_order_after_order_is_paused_for_the_run(
    world: World,
) -> None:
    world.add(*(make_order(str(n)) for n in range(6)))
    world.partners["aramex"].fail_next(
        *(TransientPartnerError("refused", partner="aramex") for _ in range(6))
    )

    report = world.book()

    assert world.partners["aramex"].book_calls == 3
    assert report.counts == {"retry_scheduled": 3, "skipped": 3}
    assert {world.order(str(n)).state for n in range(6)} == {S.NEW}


def test_an_order_cancelled_while_its_claim_lapsed_is_never_booked(
    world: World,
) -> None:
    world.add(make_order("30", store="shemsi-uae"))
    order = world.order("30", "shemsi-uae")
    world.storage.orders.save(
        attrs.evolve(
            order,
            state=S.BOOKING,
            claim=Claim("dead-runner", world.clock.now()),
            cancelled_at=world.clock.now(),
        )
    )

    report = world.book()

    assert report.counts == {"cancelled": 1}
    assert world.order("30", "shemsi-uae").state is S.CANCELLED
    assert world.parcels() == 0


def test_a_cancellation_during_an_unsettled_booking_goes_to_a_person(
    world: World,
) -> None:
    world.add(make_order("31", store="shemsi-egypt"))
    world.partners["flextock"].fail_next("lost_reply")
    world.book()
    order = world.order("31", "shemsi-egypt")
    world.storage.orders.save(attrs.evolve(order, cancelled_at=world.clock.now()))
    world.clock.advance(timedelta(minutes=2))

    world.book()

    after = world.order("31", "shemsi-egypt")
    assert after.state is S.NEEDS_ATTENTION
    assert after.problems[0].code == "cancelled_after_booking"
    assert world.partners["flextock"].book_calls == 1


def test_an_edit_made_while_a_booking_was_unanswered_is_flagged(
    world: World,
) -> None:
    world.add(make_order("32", store="shemsi-egypt"))
    world.partners["flextock"].fail_next("lost_reply")
    world.book()
    order = world.order("32", "shemsi-egypt")
    moved = attrs.evolve(order.shipping_address, line1="99 New Street")
    world.storage.orders.save(attrs.evolve(order, shipping_address=moved))
    world.clock.advance(timedelta(minutes=2))

    report = world.book()

    assert report.counts == {"recovered": 1}
    booked = world.order("32", "shemsi-egypt")
    assert booked.state is S.BOOKED
    assert [p.code for p in booked.problems] == ["edited_after_booking"]
    reasons = [i.reason for i in world.storage.attention.open_items()]
    assert reasons == ["edited_after_booking"]


def test_a_partner_configured_under_another_name_is_recorded_by_that_name(
    world: World,
) -> None:
    world.partners["flextock"].name = "flextock-eg"
    routes = RoutingPolicy.one_partner_per_store({"shemsi-egypt": "flextock-eg"})
    world.partners = {"flextock-eg": world.partners["flextock"]}
    world.add(make_order("33", store="shemsi-egypt"))

    create_fulfilment_requests(
        orders=world.storage.orders,
        partners=world.partners,
        routing=routes,
        ledger=world.storage.ledger,
        attention=world.storage.attention,
        clock=world.clock,
        owner="runner",
    )

    shipment = world.order("33", "shemsi-egypt").shipment
    assert shipment is not None
    assert shipment.partner == "flextock-eg"


def test_new_orders_are_never_crowded_out_by_held_ones(world: World) -> None:
    world.add(*(make_order(str(n), store="shemsi-lebanon") for n in range(40, 45)))
    world.book()
    world.add(make_order("50", store="shemsi-egypt"))
    world.clock.advance(timedelta(hours=2))

    report = create_fulfilment_requests(
        orders=world.storage.orders,
        partners=world.partners,
        routing=ROUTES,
        ledger=world.storage.ledger,
        attention=world.storage.attention,
        clock=world.clock,
        owner="runner",
        settings=BookingSettings(batch_size=2),
    )

    assert report.outcomes[0].outcome == "booked"


def test_booking_an_order_closes_the_items_about_why_it_could_not_be(
    world: World,
) -> None:
    world.add(make_order("34", city="Casablanka"))
    world.book()
    rejected = world.order("34")
    fixed = attrs.evolve(
        rejected,
        shipping_address=attrs.evolve(rejected.shipping_address, city="Casablanca"),
        source_updated_at=rejected.source_updated_at + timedelta(hours=1),
    )
    merged = merge(rejected, fixed, world.clock.now())
    assert merged.order is not None
    world.storage.orders.save(merged.order)

    world.book()

    assert world.storage.attention.open_items() == []


def test_an_order_in_a_currency_the_partner_does_not_take_is_refused_unsent(
    world: World,
) -> None:
    world.partners["flextock"].capabilities = Capabilities(
        currencies=frozenset({"EGP"})
    )
    world.add(make_order("8", store="shemsi-egypt", cod=False, currency="USD"))

    world.book()

    order = world.order("8", "shemsi-egypt")
    assert order.state is S.NEEDS_ATTENTION
    assert order.problems[0].code == "currency_not_supported"
    assert "takes orders in EGP only, not USD" in order.problems[0].message
    assert world.parcels() == 0


def test_a_destination_the_partner_does_not_serve_is_refused_unsent(
    world: World,
) -> None:
    world.partners["farfill"].capabilities = Capabilities(countries=frozenset({"AE"}))
    routes = RoutingPolicy.one_partner_per_store({"shemsi-lebanon": "farfill"})
    world.add(make_order("9", store="shemsi-lebanon"))

    create_fulfilment_requests(
        orders=world.storage.orders,
        partners=world.partners,
        routing=routes,
        ledger=world.storage.ledger,
        attention=world.storage.attention,
        clock=world.clock,
        owner="runner-1",
        settings=BookingSettings(),
    )

    order = world.order("9", "shemsi-lebanon")
    assert order.problems[0].code == "destination_not_served"
    assert order.problems[0].message == "farfill does not deliver to LB"
    assert world.parcels() == 0


def test_a_cod_order_goes_to_the_next_rule_when_the_first_cannot_collect(
    world: World,
) -> None:
    world.partners["farfill"].capabilities = Capabilities(cash_on_delivery=False)
    world.partners["uae-cash"] = MemoryDeliveryPartner("uae-cash")
    routes = RoutingPolicy(
        {"shemsi-uae": (RoutingRule("farfill"), RoutingRule("uae-cash"))}
    )
    world.add(make_order("10", store="shemsi-uae", cod=True))

    create_fulfilment_requests(
        orders=world.storage.orders,
        partners=world.partners,
        routing=routes,
        ledger=world.storage.ledger,
        attention=world.storage.attention,
        clock=world.clock,
        owner="runner-1",
        settings=BookingSettings(),
    )

    order = world.order("10", "shemsi-uae")
    assert order.state is S.BOOKED
    assert order.shipment is not None
    assert order.shipment.partner == "uae-cash"
