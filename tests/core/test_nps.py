"""The feedback loop's pure rules: categories, scores, who may be asked and
when, what a code is worth, the code itself, and the monthly report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.core.domain import OrderKey, OrderState
from fulfilment.core.nps import (
    DiscountCode,
    DiscountKind,
    DiscountTier,
    NpsCategory,
    NpsResponse,
    SurveyPolicy,
    discount_code_for,
    discount_value,
    monthly_report,
    nps_score,
    survey_due_at,
    survey_refusal,
)
from fulfilment.testing.builders import make_order

KEY = OrderKey("shopify", "shemsi-egypt", "1")
POLICY = SurveyPolicy(delay_days=14, min_interval=timedelta(days=90))


def answer(
    score: int,
    at: datetime = datetime(2026, 11, 20, 12, tzinfo=UTC),
    *,
    key: OrderKey | None = KEY,
    rid: str = "r1",
) -> NpsResponse:
    return NpsResponse(rid, "form1", score, at, key)


@pytest.mark.parametrize(
    ("score", "category"),
    [
        (0, NpsCategory.DETRACTOR),
        (6, NpsCategory.DETRACTOR),
        (7, NpsCategory.PASSIVE),
        (8, NpsCategory.PASSIVE),
        (9, NpsCategory.PROMOTER),
        (10, NpsCategory.PROMOTER),
    ],
)
def test_categories_at_their_edges(score: int, category: NpsCategory) -> None:
    assert answer(score).category is category


@pytest.mark.parametrize("score", [-1, 11, True, 7.5])
def test_a_score_outside_0_to_10_is_refused(score: object) -> None:
    with pytest.raises(ValueError, match="0 to 10"):
        answer(score)  # type: ignore[arg-type]


def test_the_score_is_promoters_minus_detractors_in_percent() -> None:
    scores = [10, 9, 9, 8, 3]  # 3 promoters, 1 passive, 1 detractor

    assert nps_score([answer(s, rid=str(i)) for i, s in enumerate(scores)]) == 40
    assert nps_score([answer(0), answer(10, rid="2")]) == 0
    assert nps_score([]) is None


@given(st.lists(st.integers(0, 10), min_size=1, max_size=50))
def test_the_score_stays_between_minus_and_plus_100(scores: list[int]) -> None:
    score = nps_score([answer(s, rid=str(i)) for i, s in enumerate(scores)])

    assert score is not None
    assert -100 <= score <= 100


def delivered(placed_at: datetime, store: str = "shemsi-egypt"):  # type: ignore[no-untyped-def]
    return attrs.evolve(
        make_order("1", store=store, placed_at=placed_at), state=OrderState.DELIVERED
    )


def test_asked_from_local_midnight_fourteen_days_after_placement() -> None:
    # 23:30 in Cairo on 1 November is 21:30 UTC.
    order = delivered(datetime(2026, 11, 1, 21, 30, tzinfo=UTC))

    due = survey_due_at(order, "Africa/Cairo", POLICY)

    assert due == datetime(2026, 11, 14, 22, 0, tzinfo=UTC)  # 15 Nov 00:00 Cairo
    assert survey_refusal(order, due - timedelta(minutes=1), "Africa/Cairo", POLICY)
    assert survey_refusal(order, due, "Africa/Cairo", POLICY) is None


def test_thirteen_days_on_the_stores_calendar_is_too_early() -> None:
    order = delivered(datetime(2026, 11, 1, 10, tzinfo=UTC))
    thirteen = datetime(2026, 11, 14, 21, 59, tzinfo=UTC)  # 23:59 on the 14th

    assert survey_refusal(order, thirteen, "Africa/Cairo", POLICY) == "too_early"


def test_the_same_instant_is_a_different_day_in_casablanca_and_dubai() -> None:
    placed = datetime(2026, 11, 1, 21, 0, tzinfo=UTC)  # 22:00 Casa, 01:00 (2nd) Dubai
    order = delivered(placed)
    now = datetime(2026, 11, 15, 0, 30, tzinfo=UTC)  # 01:30 Casa 15th, 04:30 Dubai 15th

    assert survey_refusal(order, now, "Africa/Casablanca", POLICY) is None
    assert survey_refusal(order, now, "Asia/Dubai", POLICY) == "too_early"


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (OrderState.RETURNED, "not_delivered (returned)"),
        (OrderState.CANCELLED, "not_delivered (cancelled)"),
        (OrderState.IN_TRANSIT, "not_delivered (in_transit)"),
    ],
)
def test_only_delivered_orders_are_asked(state: OrderState, reason: str) -> None:
    order = attrs.evolve(delivered(datetime(2026, 10, 1, tzinfo=UTC)), state=state)

    refusal = survey_refusal(order, datetime(2026, 11, 1, tzinfo=UTC), "UTC", POLICY)

    assert refusal == reason


def test_amazon_customers_are_never_asked_directly() -> None:
    order = delivered(datetime(2026, 10, 1, tzinfo=UTC))
    amazon = attrs.evolve(order, key=attrs.evolve(order.key, channel="amazon"))

    now = datetime(2026, 11, 1, tzinfo=UTC)
    assert survey_refusal(amazon, now, "UTC", POLICY) == "no_direct_contact"


def test_a_customer_asked_recently_is_not_asked_again() -> None:
    order = delivered(datetime(2026, 10, 1, tzinfo=UTC))
    now = datetime(2026, 11, 1, tzinfo=UTC)

    recent = survey_refusal(
        order, now, "UTC", POLICY, last_asked=now - timedelta(days=89)
    )
    long_ago = survey_refusal(
        order, now, "UTC", POLICY, last_asked=now - timedelta(days=90)
    )

    assert recent == "asked_recently"
    assert long_ago is None


def test_a_customer_with_no_phone_or_email_cannot_be_asked() -> None:
    order = delivered(datetime(2026, 10, 1, tzinfo=UTC))
    unreachable = attrs.evolve(
        order,
        customer=attrs.evolve(order.customer, email=None, phone=None),  # type: ignore[arg-type]
        shipping_address=attrs.evolve(order.shipping_address, phone=None),  # type: ignore[arg-type]
    )

    now = datetime(2026, 11, 1, tzinfo=UTC)
    assert survey_refusal(unreachable, now, "UTC", POLICY) == "no_contact"


def test_a_percentage_code_is_worth_that_share_of_the_order() -> None:
    order = make_order("1", amount="459.00")

    percent = discount_value(
        DiscountTier(DiscountKind.PERCENTAGE, Decimal(15), 30), order
    )
    amount = discount_value(DiscountTier(DiscountKind.AMOUNT, Decimal(50), 30), order)

    assert percent == Decimal("68.85")
    assert amount == Decimal(50)


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_a_code_is_the_same_for_the_same_answer_and_legible(
    form: str, rid: str
) -> None:
    one = NpsResponse(rid, form, 9, datetime(2026, 11, 1, tzinfo=UTC))

    code = discount_code_for(one, "MERCI")

    assert code == discount_code_for(attrs.evolve(one, score=3), "MERCI")
    assert code.startswith("MERCI-")
    assert len(code) == len("MERCI-") + 10
    assert not set(code.removeprefix("MERCI-")) & set("01IO")


def test_different_answers_get_different_codes() -> None:
    codes = {discount_code_for(answer(9, rid=f"r{i}"), "MERCI") for i in range(2000)}

    assert len(codes) == 2000


def code(at: datetime, worth: str, store: str = "shemsi-egypt") -> DiscountCode:
    key = OrderKey("shopify", store, "1")
    return DiscountCode(
        f"MERCI-{at:%d%H%M}",
        key,
        "r",
        NpsCategory.PROMOTER,
        DiscountKind.PERCENTAGE,
        Decimal(15),
        Decimal(worth),
        "EGP",
        at,
        at + timedelta(days=30),
    )


def test_the_report_counts_each_month_on_the_stores_calendar() -> None:
    # 20:00 UTC on 31 October is 22:00 in Cairo, still October there;
    # 22:30 UTC the same evening is already 00:30 on 1 November in Cairo.
    october = datetime(2026, 10, 31, 20, 0, tzinfo=UTC)
    november = datetime(2026, 10, 31, 22, 30, tzinfo=UTC)
    responses = [
        answer(10, october, rid="a"),
        answer(3, october, key=OrderKey("shopify", "shemsi-egypt", "2"), rid="b"),
        answer(9, november, key=OrderKey("shopify", "shemsi-egypt", "3"), rid="c"),
        answer(9, november, key=None, rid="d"),  # matches no order: no store
    ]
    codes = [code(october, "50.00"), code(november, "20.50"), code(november, "1.25")]

    rows = monthly_report(responses, codes, {"shemsi-egypt": "Africa/Cairo"})

    assert [(r.store, r.month) for r in rows] == [
        ("shemsi-egypt", "2026-10"),
        ("shemsi-egypt", "2026-11"),
    ]
    oct_row, nov_row = rows
    assert (oct_row.responses, oct_row.promoters, oct_row.detractors) == (2, 1, 1)
    assert oct_row.score == 0
    assert (nov_row.responses, nov_row.score) == (1, 100)
    assert (nov_row.codes, nov_row.worth, nov_row.currency) == (
        2,
        Decimal("21.75"),
        "EGP",
    )


def test_a_second_answer_about_the_same_order_is_not_counted() -> None:
    first = answer(10, datetime(2026, 11, 20, 12, tzinfo=UTC), rid="a")
    again = answer(0, datetime(2026, 11, 21, 12, tzinfo=UTC), rid="b")
    other = answer(
        3,
        datetime(2026, 11, 22, tzinfo=UTC),
        key=OrderKey("shopify", "shemsi-egypt", "2"),
        rid="c",
    )

    (row,) = monthly_report([again, other, first], [], {"shemsi-egypt": "UTC"})

    assert (row.responses, row.promoters, row.detractors) == (2, 1, 1)
