"""The discount-codes worker with the in-memory store twin and the
in-memory NPS store: what an answer earns, the monthly budget in the
store's time zone, codes that are already taken, and every way a creation
can fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from fulfilment.adapters.oms.memory import LOST_REPLY, MemoryOrderSource
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import OrderKey
from fulfilment.core.errors import (
    DiscountCodeTaken,
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.notices import NOTICE
from fulfilment.core.nps import (
    DiscountKind,
    DiscountPolicy,
    DiscountTier,
    NpsCategory,
    NpsResponse,
    discount_code_for,
)
from fulfilment.core.ports import DiscountRequest, EffectStatus
from fulfilment.core.workers.discount_codes import (
    DISCOUNT,
    DiscountReport,
    DiscountSettings,
    budget_key,
    create_discount_codes,
    discount_key,
    discount_text,
    discount_title,
)
from fulfilment.testing.builders import make_order

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # 10:00 in Casablanca, 11:00 in Cairo
MOROCCO, EGYPT = "shemsiworld", "shemsi-egypt"
ZONES = {MOROCCO: "Africa/Casablanca", EGYPT: "Africa/Cairo"}
FORM = "nps-form"
PROMOTER = DiscountTier(DiscountKind.PERCENTAGE, Decimal(15), 30)
PASSIVE = DiscountTier(DiscountKind.AMOUNT, Decimal(50), 14)
POLICY = DiscountPolicy(
    tiers={NpsCategory.PROMOTER: PROMOTER, NpsCategory.PASSIVE: PASSIVE}
)
WORTH = Decimal("68.85")  # 15 % of the builders' 459.00


@attrs.define
class World:
    """Two stores, their shops' twins, and the connector's storage."""

    clock: ManualClock = attrs.Factory(lambda: ManualClock(T0))
    storage: MemoryStorage = attrs.Factory(MemoryStorage)
    shops: dict[str, MemoryOrderSource] = attrs.Factory(
        lambda: {s: MemoryOrderSource(s) for s in (MOROCCO, EGYPT)}
    )
    policy: DiscountPolicy = POLICY

    def answer(
        self, number: int, score: int = 10, *, store: str = MOROCCO, **changes: Any
    ) -> NpsResponse:
        """Order *number* of *store*, its answer kept and its code queued."""
        order = make_order(str(number), store=store, placed_at=T0 - timedelta(days=15))
        order = attrs.evolve(order, **changes)
        self.storage.orders.save(order)
        if order.key.store in self.shops:
            self.shops[order.key.store].put(order)
        response = NpsResponse(
            f"resp-{number}", FORM, score, self.clock.now(), order_key=order.key
        )
        self.queue(response)
        return response

    def queue(self, response: NpsResponse) -> None:
        self.storage.nps.add_response(response)
        self.storage.ledger.queue(
            discount_key(response.form_id, response.response_id),
            DISCOUNT,
            str(response.order_key),
            self.clock.now(),
            payload={"form": response.form_id, "response": response.response_id},
        )

    def run(self) -> DiscountReport:
        return create_discount_codes(
            orders=self.storage.orders,
            nps=self.storage.nps,
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            stores=self.shops,
            policy=self.policy,
            time_zones=ZONES,
            clock=self.clock,
            settings=DiscountSettings(pending_grace=timedelta(minutes=15)),
        )

    def entry(self, response: NpsResponse) -> Any:
        entry = self.storage.ledger.get(discount_key(FORM, response.response_id))
        assert entry is not None
        return entry

    def notices(self) -> list[Any]:
        return self.storage.ledger.queued(NOTICE, self.clock.now(), 100)

    def reasons(self) -> list[tuple[str, str]]:
        return [(i.subject, i.reason) for i in self.storage.attention.open_items()]


@pytest.fixture
def world() -> World:
    return World()


# --- rewarding -----------------------------------------------------------------


def test_a_promoter_gets_a_code_for_one_use_by_them_in_the_store_that_sold(
    world: World,
) -> None:
    response = world.answer(1, 9)

    report = world.run()

    code = discount_code_for(response, "MERCI")
    (made,) = world.shops[MOROCCO].discounts.values()
    assert made.request == DiscountRequest(
        code=code,
        title=f"NPS {FORM}/resp-1",
        kind=DiscountKind.PERCENTAGE,
        value=Decimal(15),
        currency="MAD",
        starts_at=T0,
        # Thirty days on, to the end of that day in Casablanca (UTC+1).
        ends_at=datetime(2026, 12, 2, 22, 59, 59, tzinfo=UTC),
        customer_id="c1",
    )
    assert report == DiscountReport({"created": 1}, {MOROCCO: 1}, {MOROCCO: WORTH}, {})
    (kept,) = world.storage.nps.discounts(store=MOROCCO)
    assert (kept.code, kept.store_id, kept.worth) == (code, made.id, WORTH)
    assert kept.category is NpsCategory.PROMOTER
    entry = world.entry(response)
    assert entry.status is EffectStatus.DONE
    assert entry.result["code"] == code
    assert entry.result["store_id"] == made.id


def test_the_customer_is_told_the_code_its_worth_and_last_day_on_each_channel(
    world: World,
) -> None:
    response = world.answer(1, 10)

    world.run()

    notices = world.notices()
    assert sorted(n.result["channel"] for n in notices) == ["email", "sms"]
    for notice in notices:
        assert notice.key.endswith(f":discount:{notice.result['channel']}")
        assert notice.result["values"] == {
            "code": discount_code_for(response, "MERCI"),
            "discount": "15%",
            "expires": "2026-12-02",
        }


def test_a_passive_gets_an_amount_in_the_stores_currency(world: World) -> None:
    world.answer(1, 7, store=EGYPT)

    report = world.run()

    (made,) = world.shops[EGYPT].discounts.values()
    assert (made.request.kind, made.request.value) == (DiscountKind.AMOUNT, 50)
    assert report.worth == {EGYPT: Decimal(50)}
    values = world.notices()[0].result["values"]
    assert values["discount"] == "50.00 EGP"
    # Fourteen days on, to the end of that day in Cairo (UTC+2).
    assert made.request.ends_at == datetime(2026, 11, 16, 21, 59, 59, tzinfo=UTC)
    assert values["expires"] == "2026-11-16"


def test_the_last_day_is_counted_on_the_stores_calendar(world: World) -> None:
    world.clock.set(datetime(2026, 11, 2, 23, 30, tzinfo=UTC))  # Nov 3 in Morocco
    world.answer(1, 10)

    world.run()

    (made,) = world.shops[MOROCCO].discounts.values()
    assert made.request.ends_at == datetime(2026, 12, 3, 22, 59, 59, tzinfo=UTC)
    assert world.notices()[0].result["values"]["expires"] == "2026-12-03"


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [
        (DiscountKind.PERCENTAGE, Decimal(15), "15%"),
        (DiscountKind.PERCENTAGE, Decimal("10.00"), "10%"),
        (DiscountKind.PERCENTAGE, Decimal("12.5"), "12.5%"),
        (DiscountKind.AMOUNT, Decimal(50), "50.00 MAD"),
        (DiscountKind.AMOUNT, Decimal("19.9"), "19.90 MAD"),
    ],
)
def test_what_a_code_is_worth_reads_plainly(
    kind: DiscountKind, value: Decimal, text: str
) -> None:
    assert discount_text(kind, value, "MAD") == text


def test_a_category_without_a_reward_is_refused_with_the_reason_and_no_person(
    world: World,
) -> None:
    response = world.answer(1, 3)

    report = world.run()

    assert report.outcomes == {"no_reward": 1}
    entry = world.entry(response)
    assert (entry.status, entry.detail) == (
        EffectStatus.FAILED,
        "no reward for detractor",
    )
    assert world.shops[MOROCCO].discount_calls == 0
    assert world.reasons() == []
    assert world.notices() == []


def test_an_order_from_a_store_that_cannot_create_codes_is_refused(
    world: World,
) -> None:
    amazon = OrderKey("amazon", "amazon-uae", "405-1234567-1234567")
    response = world.answer(1, 10, key=amazon)

    report = world.run()

    assert report.outcomes == {"unsupported": 1}
    entry = world.entry(response)
    assert (entry.status, entry.detail) == (
        EffectStatus.FAILED,
        "store cannot create codes",
    )
    assert world.reasons() == []


def test_an_answer_that_names_no_order_is_dropped_with_the_reason(
    world: World,
) -> None:
    stray = NpsResponse("resp-9", FORM, 10, T0)
    world.queue(stray)

    report = world.run()

    assert report.outcomes == {"dropped": 1}
    assert world.entry(stray).detail == "the answer names no order"


# --- the budget ------------------------------------------------------------------


def budget(world: World, **amounts: str) -> None:
    monthly = {store.replace("_", "-"): Decimal(v) for store, v in amounts.items()}
    world.policy = attrs.evolve(POLICY, monthly_budget=monthly)


def test_codes_up_to_exactly_the_budget_are_all_created(world: World) -> None:
    budget(world, shemsiworld=str(2 * WORTH))
    world.answer(1)
    world.answer(2)

    report = world.run()

    assert report.outcomes == {"created": 2}
    assert report.worth == {MOROCCO: 2 * WORTH}
    assert world.reasons() == []


def test_the_code_that_would_go_one_cent_over_is_refused_and_a_person_told(
    world: World,
) -> None:
    budget(world, shemsiworld=str(2 * WORTH - Decimal("0.01")))
    world.answer(1)
    second = world.answer(2)

    report = world.run()

    assert report.outcomes == {"created": 1, "over_budget": 1}
    entry = world.entry(second)
    assert (entry.status, entry.detail) == (EffectStatus.FAILED, "over budget")
    (item,) = world.storage.attention.open_items()
    assert (item.subject, item.reason) == (
        "discounts:shemsiworld",
        "discount_budget:2026-11",
    )
    assert "68.85 MAD" in item.message
    assert "137.69 MAD" in item.message
    assert discount_code_for(second, "MERCI") not in item.message
    assert len(world.shops[MOROCCO].discounts) == 1


def test_a_person_is_told_once_per_store_and_month_even_after_resolving_it(
    world: World,
) -> None:
    budget(world, shemsiworld="1")
    world.answer(1)
    world.answer(2)
    world.run()
    world.storage.attention.resolve(
        "discounts:shemsiworld", "discount_budget:2026-11", world.clock.now()
    )

    world.answer(3)
    later = world.run()
    world.clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    world.answer(4)
    next_month = world.run()

    assert later.outcomes == {"over_budget": 1}
    assert next_month.outcomes == {"over_budget": 1}
    assert world.reasons() == [("discounts:shemsiworld", "discount_budget:2026-12")]
    told = world.storage.ledger.get(budget_key(MOROCCO, "2026-11"))
    assert told is not None
    assert told.status is EffectStatus.DONE


@pytest.mark.parametrize(
    ("second_at", "outcome"),
    [
        # 23:50 on 30 November in Cairo: still November's budget.
        (datetime(2026, 11, 30, 21, 50, tzinfo=UTC), "over_budget"),
        # 00:10 on 1 December in Cairo, though still November in UTC.
        (datetime(2026, 11, 30, 22, 10, tzinfo=UTC), "created"),
    ],
    ids=["last-minutes-of-the-local-month", "first-minutes-of-the-next"],
)
def test_the_month_of_the_budget_is_the_stores_own(
    world: World, second_at: datetime, outcome: str
) -> None:
    budget(world, shemsi_egypt="100")
    world.clock.set(datetime(2026, 11, 30, 21, 30, tzinfo=UTC))
    world.answer(1, store=EGYPT)
    world.run()

    world.clock.set(second_at)
    world.answer(2, store=EGYPT)
    report = world.run()

    assert report.outcomes == {outcome: 1}


def test_each_store_has_a_budget_of_its_own(world: World) -> None:
    budget(world, shemsiworld=str(WORTH), shemsi_egypt=str(WORTH))
    world.answer(1)
    world.answer(2, store=EGYPT)
    world.answer(3)

    report = world.run()

    assert report.created == {MOROCCO: 1, EGYPT: 1}
    assert report.outcomes == {"created": 2, "over_budget": 1}
    assert world.reasons() == [("discounts:shemsiworld", "discount_budget:2026-11")]


def test_a_store_without_a_budget_has_no_cap(world: World) -> None:
    budget(world, shemsi_egypt="1")
    for number in range(1, 6):
        world.answer(number)

    assert world.run().outcomes == {"created": 5}


# --- codes already taken ------------------------------------------------------------


def test_a_taken_code_that_is_ours_counts_as_created_and_is_made_once(
    world: World,
) -> None:
    response = world.answer(1)
    code = discount_code_for(response, "MERCI")
    earlier = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    shop = world.shops[MOROCCO]
    shop.plant_discount(
        DiscountRequest(
            code.lower(),
            discount_title(response),
            DiscountKind.PERCENTAGE,
            Decimal(15),
            "MAD",
            earlier,
            earlier + timedelta(days=30),
        )
    )

    report = world.run()

    assert report.outcomes == {"found": 1}
    assert report.created == {MOROCCO: 1}
    assert (shop.discount_calls, len(shop.discounts)) == (1, 1)
    (kept,) = world.storage.nps.discounts()
    # The store's dates, not ones worked out again.
    assert (kept.starts_at, kept.ends_at) == (earlier, earlier + timedelta(days=30))
    assert world.notices()[0].result["values"]["expires"] == "2026-12-01"


def test_a_code_someone_else_holds_is_a_clash_for_a_person(world: World) -> None:
    response = world.answer(1)
    code = discount_code_for(response, "MERCI")
    shop = world.shops[MOROCCO]
    shop.plant_discount(
        DiscountRequest(
            code, "Staff gift", DiscountKind.AMOUNT, Decimal(5), "MAD", T0, T0
        )
    )

    report = world.run()
    again = world.run()

    assert report.outcomes == {"clash": 1}
    assert again.outcomes == {}
    entry = world.entry(response)
    assert entry.status is EffectStatus.FAILED
    assert entry.detail.startswith("code clash")
    (item,) = world.storage.attention.open_items()
    assert (item.subject, item.reason) == (
        "shopify:shemsiworld:1",
        "discount_code_clash",
    )
    assert "'Staff gift'" in item.message
    assert code not in item.message
    assert world.storage.nps.discounts() == []
    assert world.notices() == []
    assert shop.discount_calls == 1


def test_a_store_that_says_taken_but_shows_nothing_is_left_to_a_person(
    world: World,
) -> None:
    world.answer(1)
    world.shops[MOROCCO].fail_next_discounts(
        DiscountCodeTaken("code taken", partner="shopify", code="TAKEN")
    )

    report = world.run()

    assert report.outcomes == {"clash": 1}
    assert "does not show" in world.storage.attention.open_items()[0].message


def test_the_code_is_the_same_whoever_runs_and_however_often(world: World) -> None:
    response = world.answer(1)
    other = World()
    other.answer(1)

    first = world.run()
    rerun = world.run()
    other.run()

    assert first.outcomes == {"created": 1}
    assert rerun.outcomes == {}
    assert world.shops[MOROCCO].discount_calls == 1
    assert set(world.shops[MOROCCO].discounts) == set(other.shops[MOROCCO].discounts)
    assert set(world.shops[MOROCCO].discounts) == {
        discount_code_for(response, "MERCI").casefold()
    }


# --- when the store fails ------------------------------------------------------------


def test_a_lost_reply_is_looked_up_never_created_twice(world: World) -> None:
    response = world.answer(1)
    shop = world.shops[MOROCCO]
    shop.fail_next_discounts(LOST_REPLY)

    first = world.run()
    world.clock.advance(timedelta(days=2))
    second = world.run()
    third = world.run()

    assert first.outcomes == {"uncertain": 1}
    assert first.failed_stores == {
        MOROCCO: "outcome unknown: shopify: reply lost after creating"
    }
    assert second.outcomes == {"found": 1}
    assert third.outcomes == {}
    assert (shop.discount_calls, shop.discount_lookups, len(shop.discounts)) == (
        1,
        1,
        1,
    )
    assert world.entry(response).status is EffectStatus.DONE
    # Announced with the dates the store holds, from the first attempt.
    assert world.notices()[0].result["values"]["expires"] == "2026-12-02"
    assert len(world.notices()) == 2


def test_an_unknown_outcome_where_nothing_was_made_is_created_after_a_look(
    world: World,
) -> None:
    world.answer(1)
    shop = world.shops[MOROCCO]
    shop.fail_next_discounts(OutcomeUnknown("read timeout", partner="shopify"))

    first = world.run()
    second = world.run()

    assert (first.outcomes, second.outcomes) == ({"uncertain": 1}, {"created": 1})
    assert (shop.discount_calls, shop.discount_lookups) == (2, 1)


def test_a_store_that_did_nothing_is_tried_next_run_and_rests_meanwhile(
    world: World,
) -> None:
    world.answer(1)
    world.answer(2)
    world.shops[MOROCCO].fail_next_discounts(
        TransientPartnerError("throttled", partner="shopify", code="THROTTLED")
    )

    first = world.run()
    second = world.run()

    assert first.outcomes == {"retry_later": 1, "store_down": 1}
    assert second.outcomes == {"created": 2}
    assert len(world.shops[MOROCCO].discounts) == 2


def test_other_stores_go_on_while_one_is_down(world: World) -> None:
    world.answer(1)
    world.answer(2, store=EGYPT)
    world.shops[MOROCCO].fail_next_discounts(
        TransientPartnerError("503", partner="shopify", status=503)
    )

    report = world.run()

    assert report.outcomes == {"retry_later": 1, "created": 1}
    assert report.created == {EGYPT: 1}


def test_refused_credentials_keep_the_answer_queued_and_tell_a_person(
    world: World,
) -> None:
    response = world.answer(1)
    world.shops[MOROCCO].fail_next_discounts(
        PermanentPartnerError("access denied", partner="shopify", status=403)
    )

    report = world.run()

    assert report.outcomes == {"store_failed": 1}
    assert world.entry(response).status is EffectStatus.QUEUED
    assert world.reasons() == [("store:shemsiworld", "discounts_unavailable")]
    assert world.run().outcomes == {"created": 1}


def test_a_refusal_fails_the_answer_with_the_stores_words_for_a_person(
    world: World,
) -> None:
    response = world.answer(1)
    world.shops[MOROCCO].fail_next_discounts(
        PartnerRejected(
            "basicCodeDiscount.customerGets: Customer gets can't be blank.",
            partner="shopify",
        )
    )

    report = world.run()

    assert report.outcomes == {"refused": 1}
    assert world.entry(response).status is EffectStatus.FAILED
    (item,) = world.storage.attention.open_items()
    assert item.reason == "discount_refused"
    assert "Customer gets can't be blank." in item.message
    assert world.notices() == []


def test_an_answer_a_runner_dropped_mid_creation_is_looked_up_after_the_grace(
    world: World,
) -> None:
    response = world.answer(1)
    key = discount_key(FORM, response.response_id)
    world.storage.ledger.take(key, world.clock.now())  # then the runner died

    during = world.run()
    world.clock.advance(timedelta(minutes=16))
    after = world.run()

    assert during.outcomes == {}
    assert after.outcomes == {"abandoned": 1, "created": 1}
    assert world.shops[MOROCCO].discount_lookups == 1


def test_an_unexpected_error_leaves_the_answer_with_a_person_and_goes_on(
    world: World,
) -> None:
    broken = world.answer(1)
    world.answer(2)
    world.shops[MOROCCO].fail_next_discounts(KeyError("codeDiscountNode"))

    report = world.run()

    assert report.outcomes == {"crashed": 1, "created": 1}
    assert world.entry(broken).status is EffectStatus.UNCERTAIN
    assert world.reasons() == [("shopify:shemsiworld:1", "discount_crashed")]


def test_a_lookup_that_fails_leaves_the_answer_queued_for_the_next_look(
    world: World,
) -> None:
    response = world.answer(1)
    shop = world.shops[MOROCCO]
    shop.fail_next_discounts(LOST_REPLY)
    shop.fail_next_discount_lookups(
        TransientPartnerError("503", partner="shopify", status=503)
    )

    runs = [world.run().outcomes for _ in range(3)]

    assert runs == [{"uncertain": 1}, {"retry_later": 1}, {"found": 1}]
    assert (shop.discount_calls, shop.discount_lookups) == (1, 2)
    assert world.entry(response).status is EffectStatus.DONE


def test_an_order_answered_twice_earns_one_code(world: World) -> None:
    first = world.answer(1, 10)
    world.clock.advance(timedelta(hours=2))
    again = attrs.evolve(first, response_id="resp-1-again", score=8)
    world.queue(again)

    report = world.run()
    world.clock.advance(timedelta(hours=1))
    world.run()  # a rerun changes nothing

    assert report.outcomes == {"created": 1, "answered_again": 1}
    assert len(world.shops[MOROCCO].discounts) == 1
    assert world.entry(again).status is EffectStatus.FAILED
    assert "answered again" in world.entry(again).detail
    assert len(world.storage.nps.discounts()) == 1
