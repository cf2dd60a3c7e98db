"""Hypothesis strategies for the domain, shared by every property test.

Each strategy draws values a real store or partner could hand us, not only
tidy ones: Arabic and French text, missing optional fields, odd but legal
phone strings, zero-decimal currencies, cancelled and claimed orders, raw
payloads of nested JSON.

Times are timezone-aware UTC between 2000 and 2100 at **whole
milliseconds**: that is the resolution MongoDB keeps, so an order drawn
here reads back equal from every store.  Use ``utc_datetimes(micros=True)``
where sub-millisecond precision is the point.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from fulfilment.core.domain import (
    Address,
    Claim,
    Customer,
    LineItem,
    Money,
    Order,
    OrderKey,
    OrderState,
    Payment,
    PaymentMethod,
    Phone,
    Problem,
    Product,
    ReportingTotal,
    Shipment,
    TrackingEvent,
    TrackingStatus,
)
from fulfilment.core.nps import (
    DiscountCode,
    DiscountKind,
    NpsCategory,
    NpsResponse,
)
from fulfilment.core.ports import AttentionItem, Effect, EffectStatus
from fulfilment.core.rates import FxRate, RateType

__all__ = [
    "CURRENCY_DECIMALS",
    "STORES",
    "addresses",
    "attention_items",
    "claims",
    "customers",
    "discount_codes",
    "effects",
    "fx_rates",
    "line_items",
    "money",
    "names",
    "nps_responses",
    "order_keys",
    "orders",
    "payments",
    "phones",
    "problems",
    "products",
    "raw_payloads",
    "reporting_totals",
    "shipments",
    "texts",
    "tracking_events",
    "utc_datetimes",
]

STORES = ("shemsiworld", "shemsi-egypt", "shemsi-uae", "shemsi-lebanon")
# ISO 4217 minor units of the currencies the shops and partners use.
CURRENCY_DECIMALS = {
    "MAD": 2,
    "EGP": 2,
    "AED": 2,
    "USD": 2,
    "EUR": 2,
    "SAR": 2,
    "LBP": 0,
    "KWD": 3,
}
_COUNTRIES = ("MA", "EG", "AE", "LB", "FR", "SA")
_WORDS = ("Fatima", "Benali", "Casablanca", "Rue Ibn Battouta", "القاهرة", "دبي")
_LOW = datetime(2000, 1, 1)
_HIGH = datetime(2100, 1, 1)


def texts(*, min_size: int = 0, max_size: int = 30) -> st.SearchStrategy[str]:
    """Any Unicode text (no surrogates), with realistic words mixed in."""
    return st.one_of(
        st.sampled_from(_WORDS),
        st.text(min_size=min_size, max_size=max_size),
    ).filter(lambda text: min_size <= len(text) <= max_size)


def names() -> st.SearchStrategy[str | None]:
    return st.none() | texts(max_size=20)


def utc_datetimes(
    *,
    min_value: datetime = _LOW,
    max_value: datetime = _HIGH,
    micros: bool = False,
) -> st.SearchStrategy[datetime]:
    """Aware UTC datetimes, at whole milliseconds unless *micros*.

    *min_value* and *max_value* are naive (hypothesis' rule) UTC bounds.
    """
    drawn = st.datetimes(
        min_value=min_value, max_value=max_value, timezones=st.just(UTC)
    )
    if micros:
        return drawn
    return drawn.map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))


def money(currency: str | None = None) -> st.SearchStrategy[Money]:
    """Non-negative amounts with the currency's number of decimals."""
    currencies = (
        st.just(currency) if currency else st.sampled_from(list(CURRENCY_DECIMALS))
    )
    return currencies.flatmap(_money_in)


def _money_in(currency: str) -> st.SearchStrategy[Money]:
    places = CURRENCY_DECIMALS.get(currency, 2)
    amounts = st.decimals(
        min_value=0,
        max_value=10**9,
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )
    return amounts.map(lambda amount: Money(amount, currency))


def phones() -> st.SearchStrategy[Phone]:
    """A number as typed, and E.164 when it could be read."""
    e164 = st.from_regex(r"\+[1-9][0-9]{7,14}", fullmatch=True)
    typed = st.one_of(
        e164,
        st.from_regex(r"0[5-7][0-9 .-]{8,12}", fullmatch=True),
        texts(max_size=20),
    )
    return st.builds(
        Phone,
        original=typed,
        e164=st.none() | e164,
        is_mobile=st.none() | st.booleans(),
    )


def addresses() -> st.SearchStrategy[Address]:
    return st.builds(
        Address,
        first_name=names(),
        last_name=names(),
        line1=names(),
        line2=names(),
        city=names(),
        province=names(),
        province_code=st.none() | st.from_regex(r"[A-Z]{2,3}", fullmatch=True),
        zip=st.none() | st.from_regex(r"[0-9]{5}", fullmatch=True),
        country_code=st.none() | st.sampled_from(_COUNTRIES),
        phone=st.none() | phones(),
        company=names(),
    )


def customers() -> st.SearchStrategy[Customer]:
    return st.builds(
        Customer,
        external_id=st.none() | st.from_regex(r"[0-9]{6,13}", fullmatch=True),
        first_name=names(),
        last_name=names(),
        email=st.none() | st.emails(),
        phone=st.none() | phones(),
        locale=st.none() | st.sampled_from(["ar", "fr", "en", "ar-EG"]),
        accepts_marketing=st.none() | st.booleans(),
    )


def products() -> st.SearchStrategy[Product]:
    return st.builds(
        Product,
        external_id=st.none() | st.from_regex(r"[0-9]{6,13}", fullmatch=True),
        sku=st.none() | st.from_regex(r"[A-Z]{3}-[A-Z0-9]{2,6}", fullmatch=True),
        title=texts(min_size=1),
        variant_id=st.none() | st.from_regex(r"[0-9]{6,13}", fullmatch=True),
    )


def line_items(currency: str | None = None) -> st.SearchStrategy[LineItem]:
    """A line whose quantity was possibly edited down from the order."""
    return st.builds(
        _line,
        external_id=st.from_regex(r"[0-9]{6,13}", fullmatch=True),
        product=products(),
        ordered=st.integers(1, 50),
        removed=st.integers(0, 50),
        unit_price=money(currency),
        grams=st.none() | st.integers(0, 50_000),
    )


def _line(
    *,
    external_id: str,
    product: Product,
    ordered: int,
    removed: int,
    unit_price: Money,
    grams: int | None,
) -> LineItem:
    quantity = max(ordered - removed, 0)
    return LineItem(external_id, product, quantity, ordered, unit_price, grams)


def payments(total: Money) -> st.SearchStrategy[Payment]:
    """Prepaid, or cash on delivery collecting the order's total."""
    gateways = st.lists(
        st.sampled_from(["shopify_payments", "cod", "paypal"]), max_size=2
    )
    prepaid = st.builds(
        Payment,
        method=st.just(PaymentMethod.PREPAID),
        paid=st.booleans(),
        gateways=gateways.map(tuple),
    )
    cod = st.builds(
        Payment,
        method=st.just(PaymentMethod.CASH_ON_DELIVERY),
        paid=st.just(False),
        collect=st.just(total),
        gateways=gateways.map(tuple),
    )
    return prepaid | cod


def problems() -> st.SearchStrategy[Problem]:
    return st.builds(
        Problem,
        code=st.sampled_from(["invalid_phone", "missing_city", "unsupported_cod"])
        | st.from_regex(r"[a-z_]{1,20}", fullmatch=True),
        message=texts(max_size=60),
        field=st.none() | st.sampled_from(["shippingAddress.phone", "lines.0.sku"]),
    )


def order_keys(
    stores: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[OrderKey]:
    """Shopify and Amazon keys; the external id may hold any character but
    a control character."""
    stores = stores or st.sampled_from(STORES) | st.from_regex(
        r"[a-z][a-z0-9-]{0,20}", fullmatch=True
    )
    shopify = st.builds(
        OrderKey,
        channel=st.just("shopify"),
        store=stores,
        external_id=st.from_regex(r"[1-9][0-9]{5,13}", fullmatch=True),
    )
    amazon = st.builds(
        OrderKey,
        channel=st.just("amazon"),
        store=stores,
        external_id=st.from_regex(r"[0-9]{3}-[0-9]{7}-[0-9]{7}", fullmatch=True),
    )
    odd = st.builds(
        OrderKey,
        channel=st.from_regex(r"[a-z]{1,10}", fullmatch=True),
        store=stores,
        # Any text but control characters, which a key refuses.
        external_id=texts(min_size=1, max_size=20).filter(
            lambda text: not any(unicodedata.category(c) == "Cc" for c in text)
        ),
    )
    return shopify | amazon | odd


def tracking_events() -> st.SearchStrategy[TrackingEvent]:
    return st.builds(
        TrackingEvent,
        code=st.from_regex(r"[A-Z]{2,4}-?[0-9]{0,3}", fullmatch=True),
        status=st.sampled_from(TrackingStatus),
        description=texts(max_size=60),
        occurred_at=utc_datetimes(),
        location=names(),
    )


def shipments() -> st.SearchStrategy[Shipment]:
    return st.builds(
        Shipment,
        partner=st.sampled_from(["aramex", "flextock", "farfill"]),
        reference=st.from_regex(r"[0-9]{8,12}", fullmatch=True),
        merchant_reference=st.from_regex(r"[A-Z]{2}-[0-9]{4,8}", fullmatch=True),
        label_url=st.none() | st.just("https://labels.example/1.pdf"),
        tracking_url=st.none() | st.just("https://track.example/1"),
        status=st.sampled_from(TrackingStatus),
        incident=names(),
        events=st.lists(tracking_events(), max_size=4).map(tuple),
        booked_at=st.none() | utc_datetimes(),
        last_polled_at=st.none() | utc_datetimes(),
    )


def claims() -> st.SearchStrategy[Claim]:
    return st.builds(
        Claim,
        owner=st.from_regex(r"runner-[a-z0-9]{1,8}", fullmatch=True),
        expires_at=utc_datetimes(),
    )


_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts(max_size=20)
)
_JSON_KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)


def raw_payloads() -> st.SearchStrategy[dict[str, Any]]:
    """Nested JSON objects such as a source API returns (64-bit integers,
    finite floats, plain keys)."""
    values = st.recursive(
        _JSON_SCALARS,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(_JSON_KEYS, inner, max_size=3)
        ),
        max_leaves=10,
    )
    return st.dictionaries(_JSON_KEYS, values, max_size=5)


@st.composite
def orders(
    draw: st.DrawFn,
    *,
    keys: st.SearchStrategy[OrderKey] | None = None,
    states: st.SearchStrategy[OrderState] | None = None,
    revisions: st.SearchStrategy[int] | None = None,
) -> Order:
    """A whole order: source fields, connector state, shipment, claim."""
    currency = draw(st.sampled_from(list(CURRENCY_DECIMALS)))
    lines = draw(st.lists(line_items(currency), min_size=1, max_size=4))
    total = sum((line.total for line in lines), Money.zero(currency))
    placed_at = draw(utc_datetimes(max_value=datetime(2099, 1, 1)))
    updated_at = placed_at + draw(st.timedeltas(timedelta(0), timedelta(days=300)))
    return Order(
        key=draw(keys or order_keys()),
        name=draw(st.from_regex(r"#[0-9]{3,8}", fullmatch=True) | texts(max_size=12)),
        placed_at=placed_at,
        source_updated_at=updated_at.replace(
            microsecond=updated_at.microsecond // 1000 * 1000
        ),
        customer=draw(st.none() | customers()),
        shipping_address=draw(st.none() | addresses()),
        lines=tuple(lines),
        total=total,
        payment=draw(payments(total)),
        financial_status=draw(st.none() | st.sampled_from(["PAID", "PENDING"])),
        cancelled_at=draw(st.none() | utc_datetimes()),
        cancel_reason=draw(names()),
        tags=tuple(draw(st.lists(texts(max_size=10), max_size=3))),
        note=draw(names()),
        source_problems=tuple(draw(st.lists(problems(), max_size=2))),
        source_warnings=tuple(draw(st.lists(problems(), max_size=2))),
        raw=draw(raw_payloads()),
        state=draw(states or st.sampled_from(OrderState)),
        problems=tuple(draw(st.lists(problems(), max_size=2))),
        hold_reason=draw(names()),
        shipment=draw(st.none() | shipments()),
        partner=draw(st.none() | st.sampled_from(["aramex", "flextock", "farfill"])),
        attempts=draw(st.integers(0, 10)),
        next_attempt_at=draw(st.none() | utc_datetimes()),
        claim=draw(st.none() | claims()),
        reporting_total=draw(st.none() | reporting_totals()),
        revision=draw(revisions or st.integers(0, 1000)),
    )


def _rates() -> st.SearchStrategy[Decimal]:
    """Positive rates as sources publish them: from a metal's ounce in
    dollars (0.0003) to a pound per dollar (89500), trailing zeros kept."""
    return st.decimals(
        min_value=Decimal("0.000001"),
        max_value=Decimal("1000000"),
        places=6,
        allow_nan=False,
        allow_infinity=False,
    )


def reporting_totals() -> st.SearchStrategy[ReportingTotal]:
    """An order's stamp: a total in a reporting currency, the rate used,
    its day and sources."""
    return st.builds(
        ReportingTotal,
        amount=money(),
        rate=_rates(),
        rate_day=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
        sources=st.lists(
            st.sampled_from(["ecb", "openexchangerates", "metalpriceapi"]),
            max_size=2,
            unique=True,
        ).map(tuple),
        stamped_at=utc_datetimes(),
    )


@st.composite
def fx_rates(
    draw: st.DrawFn,
    *,
    days: st.SearchStrategy[date] | None = None,
    sources: tuple[str, ...] = ("ecb", "openexchangerates"),
    bases: tuple[str, ...] = ("EUR", "USD"),
    quotes: tuple[str, ...] = ("MAD", "EGP", "AED", "LBP", "XAU"),
) -> FxRate:
    """A rate of one of a few sources, bases and quotes (narrow them to
    make keys meet), official or market, published or carried."""
    day = draw(st.dates(date(2000, 1, 2), date(2099, 12, 31)) if days is None else days)
    carried = draw(st.booleans())
    return FxRate(
        day=day,
        base=draw(st.sampled_from(bases)),
        quote=draw(st.sampled_from(quotes)),
        rate=draw(_rates()),
        source=draw(st.sampled_from(sources)),
        fetched_at=draw(utc_datetimes()),
        rate_type=draw(st.sampled_from(RateType)),
        published_on=day - timedelta(days=draw(st.integers(1, 3))) if carried else None,
    )


def effects() -> st.SearchStrategy[Effect]:
    return st.builds(
        Effect,
        key=st.from_regex(
            r"(book|sms|mail|nps):[a-z]+:[a-z0-9-]+:[0-9]+", fullmatch=True
        ),
        kind=st.sampled_from(["book", "sms", "mail", "nps", "discount"]),
        subject=texts(min_size=1, max_size=30),
        status=st.sampled_from(EffectStatus),
        created_at=utc_datetimes(),
        updated_at=utc_datetimes(),
        attempts=st.integers(1, 10),
        result=raw_payloads(),
        detail=names(),
    )


def attention_items() -> st.SearchStrategy[AttentionItem]:
    return st.builds(
        AttentionItem,
        subject=texts(min_size=1, max_size=30),
        reason=st.sampled_from(["unknown_status", "partner_rejected", "uncertain"]),
        message=texts(max_size=60),
        raised_at=utc_datetimes(),
        problems=st.lists(problems(), max_size=2).map(tuple),
        resolved_at=st.none() | utc_datetimes(),
    )


def nps_responses() -> st.SearchStrategy[NpsResponse]:
    """Answers naming an order or none, with any comment and hidden fields
    (Typeform names hidden fields in lower case, digits and underscores)."""
    return st.builds(
        NpsResponse,
        response_id=_tokens(8, 32),
        form_id=st.text(_ALPHANUMERIC, min_size=8, max_size=8),
        score=st.integers(0, 10),
        submitted_at=utc_datetimes(),
        order_key=st.none() | _shop_keys(),
        comment=st.none() | texts(max_size=200),
        hidden=st.dictionaries(
            st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=16),
            texts(max_size=40),
            max_size=4,
        ),
    )


_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_LEGIBLE = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _shop_keys() -> st.SearchStrategy[OrderKey]:
    """Keys of the Shopify stores, the only ones the feedback loop meets
    (drawn faster than :func:`order_keys`, whose odd keys orders cover)."""
    return st.builds(
        OrderKey,
        channel=st.just("shopify"),
        store=st.sampled_from(STORES),
        external_id=st.integers(1, 10**13).map(str),
    )


def _tokens(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(_ALPHANUMERIC.lower(), min_size=min_size, max_size=max_size)


@st.composite
def discount_codes(draw: st.DrawFn) -> DiscountCode:
    """A code for one answer: a percentage or an amount in the order's
    currency, valid for some days."""
    currency = draw(st.sampled_from(list(CURRENCY_DECIMALS)))
    starts = draw(utc_datetimes(max_value=datetime(2099, 1, 1)))
    number = draw(st.none() | st.integers(1, 10**13))
    store_id = None if number is None else f"gid://shopify/DiscountCodeNode/{number}"
    return DiscountCode(
        code="MERCI-" + draw(st.text(_LEGIBLE, min_size=10, max_size=10)),
        order_key=draw(_shop_keys()),
        response_id=draw(_tokens(8, 32)),
        category=draw(st.sampled_from(NpsCategory)),
        kind=draw(st.sampled_from(DiscountKind)),
        value=Decimal(draw(st.sampled_from(["5", "10", "15.5", "50.00", "0.001"]))),
        worth=draw(money(currency)).amount,
        currency=currency,
        starts_at=starts,
        ends_at=starts + timedelta(days=draw(st.integers(1, 90))),
        store_id=store_id,
    )
