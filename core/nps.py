"""The feedback loop's domain: NPS answers, discount codes, and the policies
that decide who is asked and what an answer earns (pure).

A customer is asked once per order, about two weeks after placing it, once
the parcel has been delivered; an answer (0 to 10) puts them in a category,
and each category earns a discount of its own, within the store's monthly
budget.  The code of a discount is derived from the answer, so whatever
retries happen, one answer can only ever name one code.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import attrs

from .domain import Order, OrderKey, OrderState, ensure_utc
from .notices import NO_DIRECT_CONTACT

__all__ = [
    "DISCOUNT",
    "NPS_SURVEY",
    "DiscountCode",
    "DiscountKind",
    "DiscountPolicy",
    "DiscountTier",
    "MonthlyNps",
    "NpsCategory",
    "NpsResponse",
    "SurveyPolicy",
    "discount_code_for",
    "discount_key",
    "discount_value",
    "earliest_survey_at",
    "monthly_report",
    "nps_score",
    "survey_contact",
    "survey_due_at",
    "survey_key",
    "survey_refusal",
]

# Ledger kind and key prefix of "this order's customer was asked".
NPS_SURVEY = "nps-survey"
# Ledger kind of "this answer earns its code": queued by fetch-nps-responses,
# taken by discount-codes.
DISCOUNT = "discount"


def discount_key(form_id: str, response_id: str) -> str:
    """The ledger key of the one code an answer can earn."""
    return f"{DISCOUNT}:{form_id}:{response_id}"


class NpsCategory(enum.StrEnum):
    PROMOTER = "promoter"  # 9 and 10
    PASSIVE = "passive"  # 7 and 8
    DETRACTOR = "detractor"  # 0 to 6

    @classmethod
    def of(cls, score: int) -> NpsCategory:
        if not 0 <= score <= 10:
            raise ValueError(f"an NPS score is 0 to 10, not {score}")
        if score >= 9:
            return cls.PROMOTER
        return cls.PASSIVE if score >= 7 else cls.DETRACTOR


def _score(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        raise ValueError(
            f"{attribute.name} must be a whole number 0 to 10, not {value!r}"
        )


@attrs.frozen
class NpsResponse:
    """One completed answer to the survey.

    ``response_id`` is the survey provider's id (unique per form);
    ``order_key`` is the order the answer is about, read from the hidden
    field the survey link carried, or None when it names no known order
    (kept all the same, and shown to a person).  ``hidden`` keeps every
    hidden field as the provider returned it."""

    response_id: str
    form_id: str
    score: int = attrs.field(validator=_score)
    submitted_at: datetime = attrs.field(converter=ensure_utc)
    order_key: OrderKey | None = None
    comment: str | None = None
    hidden: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def category(self) -> NpsCategory:
        return NpsCategory.of(self.score)

    @property
    def store(self) -> str | None:
        return self.order_key.store if self.order_key else None


def nps_score(responses: list[NpsResponse]) -> int | None:
    """Promoters minus detractors, in percent of all answers, rounded to a
    whole number (half away from zero); None without answers."""
    if not responses:
        return None
    promoters = sum(r.category is NpsCategory.PROMOTER for r in responses)
    detractors = sum(r.category is NpsCategory.DETRACTOR for r in responses)
    share = Decimal(100 * (promoters - detractors)) / len(responses)
    return int(share.quantize(Decimal(1), rounding="ROUND_HALF_UP"))


# --- asking ------------------------------------------------------------------


@attrs.frozen
class SurveyPolicy:
    """``delay``: days after placement, counted on the store's calendar
    (placed on the 1st, asked from the 15th, local time); ``min_interval``:
    a customer is asked at most once in this long, whatever they order."""

    delay_days: int = 14
    min_interval: timedelta = timedelta(days=90)


def survey_due_at(order: Order, time_zone: str, policy: SurveyPolicy) -> datetime:
    """The first moment (UTC) *order* may be surveyed: local midnight of the
    day ``delay_days`` after its local placement date."""
    zone = ZoneInfo(time_zone)
    placed = order.placed_at.astimezone(zone).date()
    day = placed + timedelta(days=policy.delay_days)
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def survey_key(order_key: str) -> str:
    """The ledger key of the survey of an order's customer: one per order."""
    return f"{NPS_SURVEY}:{order_key}"


def earliest_survey_at(placed_at: datetime, delay_days: int) -> datetime:
    """A moment no later than :func:`survey_due_at` in any time zone, for
    callers that do not know the store's: a day before placement plus
    *delay_days* (a local day starts less than a day before any moment in
    it), and three hours more for a change of the clocks in between (an
    hour almost everywhere; a few places have moved theirs by more)."""
    return ensure_utc(placed_at) + timedelta(days=delay_days - 1, hours=-3)


def survey_contact(order: Order) -> tuple[str | None, str | None]:
    """(E.164 phone, e-mail address) the survey may go to."""
    phone = order.phone
    email = order.customer.email if order.customer else None
    return (phone.e164 if phone and phone.e164 else None), (email or None)


def survey_refusal(
    order: Order,
    now: datetime,
    time_zone: str,
    policy: SurveyPolicy,
    *,
    last_asked: datetime | None = None,
) -> str | None:
    """Why *order*'s customer may not be asked now, or None when they may.
    *last_asked*: when this customer was last sent a survey (any order)."""
    if order.key.channel in NO_DIRECT_CONTACT:
        return "no_direct_contact"
    if order.state is not OrderState.DELIVERED or order.is_cancelled:
        return f"not_delivered ({order.state.value})"
    if now < survey_due_at(order, time_zone, policy):
        return "too_early"
    if survey_contact(order) == (None, None):
        return "no_contact"
    if last_asked is not None and now - last_asked < policy.min_interval:
        return "asked_recently"
    return None


# --- rewarding ---------------------------------------------------------------


class DiscountKind(enum.StrEnum):
    PERCENTAGE = "percentage"  # value: percent off the basket
    AMOUNT = "amount"  # value: a sum off, in the store's currency


@attrs.frozen
class DiscountTier:
    kind: DiscountKind
    value: Decimal
    valid_days: int


@attrs.frozen
class DiscountPolicy:
    """What each category earns, and each store's monthly budget (in its
    currency; None: no cap).  A percentage code is valued at that share of
    the answering order's total, which is what it would save on the same
    basket again."""

    tiers: Mapping[NpsCategory, DiscountTier]
    prefix: str = "MERCI"
    monthly_budget: Mapping[str, Decimal] = attrs.field(factory=dict)


def discount_value(tier: DiscountTier, order: Order) -> Decimal:
    """What a code of *tier* is worth for *order*, in the order's currency."""
    if tier.kind is DiscountKind.AMOUNT:
        return tier.value
    worth = order.total.amount * tier.value / 100
    return worth.quantize(Decimal("0.01"))


def discount_code_for(response: NpsResponse, prefix: str) -> str:
    """The one code an answer can ever name: *prefix*, a dash and ten
    letters and digits from a hash of the form and response ids (no 0, 1,
    I or O to misread)."""
    digest = hashlib.sha256(f"{response.form_id}:{response.response_id}".encode())
    letters = base64.b32encode(digest.digest()).decode().rstrip("=")
    legible = letters.translate(str.maketrans("", "", "01IO"))
    return f"{prefix}-{legible[:10]}"


@attrs.frozen
class DiscountCode:
    """A code created in the store that sold the order, for one answer."""

    code: str
    order_key: OrderKey
    response_id: str
    category: NpsCategory
    kind: DiscountKind
    value: Decimal
    worth: Decimal  # in ``currency``: what the budget counts
    currency: str
    starts_at: datetime = attrs.field(converter=ensure_utc)
    ends_at: datetime = attrs.field(converter=ensure_utc)
    store_id: str | None = None  # the store's id of the discount

    @property
    def store(self) -> str:
        return self.order_key.store


# --- reporting ---------------------------------------------------------------


@attrs.frozen
class MonthlyNps:
    """One store's month: its answers, its score and the codes it issued
    (``worth`` in the store's currency)."""

    store: str
    month: str  # YYYY-MM, on the store's calendar
    responses: int
    promoters: int
    passives: int
    detractors: int
    score: int | None
    codes: int
    worth: Decimal
    currency: str | None


def first_answers(responses: list[NpsResponse]) -> list[NpsResponse]:
    """One answer per order, the first submitted (the one that earns the
    code): a customer who sends the survey twice counts once.  Answers
    that name no order are kept as they are."""
    seen: set[OrderKey] = set()
    first = []
    for response in sorted(responses, key=lambda r: (r.submitted_at, r.response_id)):
        if response.order_key is not None:
            if response.order_key in seen:
                continue
            seen.add(response.order_key)
        first.append(response)
    return first


def monthly_report(
    responses: list[NpsResponse],
    discounts: list[DiscountCode],
    time_zones: Mapping[str, str],
) -> list[MonthlyNps]:
    """NPS per store and month (months on each store's calendar, answers by
    submission, codes by start), with the codes issued and their worth.
    Answers that match no order belong to no store and are left out; a
    second answer about the same order is not counted."""
    answered: dict[tuple[str, str], list[NpsResponse]] = {}
    for response in first_answers(responses):
        if response.store is not None:
            month = _month(response.submitted_at, time_zones.get(response.store))
            answered.setdefault((response.store, month), []).append(response)
    issued: dict[tuple[str, str], list[DiscountCode]] = {}
    for code in discounts:
        month = _month(code.starts_at, time_zones.get(code.store))
        issued.setdefault((code.store, month), []).append(code)
    rows = []
    for store, month in sorted(answered.keys() | issued.keys()):
        these = answered.get((store, month), [])
        codes = issued.get((store, month), [])
        categories = [r.category for r in these]
        rows.append(
            MonthlyNps(
                store=store,
                month=month,
                responses=len(these),
                promoters=categories.count(NpsCategory.PROMOTER),
                passives=categories.count(NpsCategory.PASSIVE),
                detractors=categories.count(NpsCategory.DETRACTOR),
                score=nps_score(these),
                codes=len(codes),
                worth=sum((c.worth for c in codes), Decimal(0)),
                currency=codes[0].currency if codes else None,
            )
        )
    return rows


def _month(moment: datetime, time_zone: str | None) -> str:
    local = moment.astimezone(ZoneInfo(time_zone or "UTC"))
    return f"{local.year:04d}-{local.month:02d}"
