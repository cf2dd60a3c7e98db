"""Reference rates: daily FX rates and gold and silver prices, and what is
computed from them.

A source publishes, for a day, how many units of each *quote* currency one
unit of its *base* is worth (the ECB: per 1 EUR; Open Exchange Rates and
MetalpriceAPI: per 1 USD; a metal is a currency code, ``XAU`` or ``XAG``,
counted in troy ounces).  Every published figure is kept as it came, as an
:class:`FxRate` with its provenance, and never changed: a day a source did
not publish (a weekend, a holiday) gets a *carried* copy of the last
published rate, marked with the day it repeats.

Cross rates go through one common base (the *pivot*, USD unless configured
otherwise).  Each currency is served by one source; its value against the
pivot on a day is read from that source alone (ECB's MAD would not exist,
so the configuration says which source serves which currency).  Then
``A -> B = (B per pivot) / (A per pivot)``.

Rounding, stated once:

- arithmetic runs at :data:`PRECISION` significant digits;
- a rate shown or stored as computed (a cross rate, a metal price) is
  rounded half-even to :data:`RATE_DIGITS` significant digits;
- money is rounded half-even to the currency's minor unit
  (:func:`minor_unit`, ISO 4217: two decimals for MAD, EGP, AED, LBP,
  USD, EUR and SAR), after a single multiplication by the cross rate at
  full precision.

So converting an amount there and back lands within half a minor unit of
each currency of where it started (scaled by the rate), which the property
tests check.

Everything here is pure: no I/O, no clock.
"""

from __future__ import annotations

import decimal
import enum
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal

import attrs

from .domain import Money, ReportingTotal, minor_units

__all__ = [
    "GRAMS_PER_TROY_OUNCE",
    "METALS",
    "PRECISION",
    "RATE_DIGITS",
    "BoardRow",
    "CommodityPrice",
    "FxRate",
    "Lookup",
    "NoRate",
    "NotServed",
    "OutOfRange",
    "PublishedRates",
    "RatePlan",
    "RateType",
    "Serving",
    "board_row",
    "carry_forward",
    "commodity_price",
    "convert",
    "cross_rate",
    "minor_unit",
    "per_pivot",
    "rate_board",
    "round_rate",
    "stamp_total",
]

PRECISION = 28
RATE_DIGITS = 10
GRAMS_PER_TROY_OUNCE = Decimal("31.1034768")
METALS = frozenset({"XAU", "XAG"})

_CONTEXT = decimal.Context(prec=PRECISION, rounding=decimal.ROUND_HALF_EVEN)


class RateType(enum.StrEnum):
    """Which rate: the one a central bank or market data vendor publishes,
    or the parallel market's (Lebanon's pound has both, far apart)."""

    OFFICIAL = "official"
    MARKET = "market"


def _positive(_: object, attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise ValueError(
            f"{attribute.name} must be a positive finite Decimal, not {value!r}"
        )


def _code(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not (
        isinstance(value, str)
        and len(value) == 3
        and value.isascii()
        and value.isupper()
    ):
        raise ValueError(f"{attribute.name} must be a three-letter code, not {value!r}")


@attrs.frozen
class FxRate:
    """On ``day``, one ``base`` was worth ``rate`` ``quote`` according to
    ``source`` (the configured source's name), fetched at ``fetched_at``.

    ``published_on`` is set on a carried copy: the day whose rate it
    repeats, for a day the source published nothing.
    """

    day: date
    base: str = attrs.field(validator=_code)
    quote: str = attrs.field(validator=_code)
    rate: Decimal = attrs.field(validator=_positive)
    source: str
    fetched_at: datetime
    rate_type: RateType = RateType.OFFICIAL
    published_on: date | None = None

    @property
    def carried(self) -> bool:
        return self.published_on is not None

    @property
    def key(self) -> tuple[str, date, str, str, RateType]:
        """What makes a rate unique: a second one with this key is not kept."""
        return (self.source, self.day, self.base, self.quote, self.rate_type)


@attrs.frozen
class PublishedRates:
    """What a source published for one day: ``rates[quote]`` units of each
    quote per one ``base``.  The quotes it does not carry are absent."""

    day: date
    base: str
    rates: Mapping[str, Decimal]


@attrs.frozen
class CommodityPrice:
    """The price of one troy ounce of a metal in ``currency`` on ``day``,
    computed from the stored rates."""

    day: date
    metal: str
    currency: str
    per_ounce: Decimal
    source: str
    rate_day: date

    @property
    def per_gram(self) -> Decimal:
        return round_rate(_CONTEXT.divide(self.per_ounce, GRAMS_PER_TROY_OUNCE))


class NoRate(LookupError):
    """No rate for a currency on or near a day; the message says which.
    ``newest`` is the publication day of the newest rate kept before it,
    too old to stand in, if there is one."""

    def __init__(self, message: str, *, newest: date | None = None) -> None:
        super().__init__(message)
        self.newest = newest


class NotServed(NoRate):
    """No configured source serves the currency at all."""


class OutOfRange(ValueError):
    """An amount too large to convert to the minor unit at
    :data:`PRECISION` digits; the message says which."""


@attrs.frozen
class Serving:
    """Which configured source serves a currency, for one rate type."""

    currency: str
    source: str
    rate_type: RateType = RateType.OFFICIAL


@attrs.frozen
class RatePlan:
    """What to fetch and how to cross: the pivot every cross goes through,
    the reporting currency orders are stamped in, which source serves each
    currency (``servings``), each source's base, how many days back a
    first run reaches (``backfill_days``), how old a rate may be and still
    be used for a day (``max_age_days``), and how long a gap since the
    last rate kept a run fills at most (``max_gap_days``)."""

    pivot: str
    reporting_currency: str
    servings: tuple[Serving, ...]
    bases: Mapping[str, str]
    backfill_days: int = 31
    max_age_days: int = 7
    max_gap_days: int = 92

    def serving(self, currency: str, rate_type: RateType) -> Serving | None:
        for serving in self.servings:
            if serving.currency == currency and serving.rate_type is rate_type:
                return serving
        return None

    def quotes(self, source: str) -> dict[RateType, set[str]]:
        """What to ask *source* for, by rate type: the currencies it serves,
        plus the pivot when its base is another currency (the link that
        puts its figures on the common base)."""
        wanted: dict[RateType, set[str]] = {}
        base = self.bases[source]
        for serving in self.servings:
            if serving.source != source:
                continue
            quotes = wanted.setdefault(serving.rate_type, set())
            if serving.currency != base:
                quotes.add(serving.currency)
            if self.pivot not in {base, serving.currency}:
                quotes.add(self.pivot)
        return wanted

    def currencies(self) -> list[str]:
        return sorted({s.currency for s in self.servings} | {self.pivot})


# A way to read the newest stored rate of (source, base, quote, type) on or
# before a day: ``RateStore.latest`` bound to a store.
Lookup = Callable[[str, str, str, RateType, date], "FxRate | None"]


def round_rate(value: Decimal) -> Decimal:
    """*value* rounded half-even to :data:`RATE_DIGITS` significant digits."""
    if value == 0:
        return value
    exponent = value.adjusted() - RATE_DIGITS + 1
    return value.quantize(Decimal(1).scaleb(exponent), context=_CONTEXT)


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of *currency* a total is rounded to (its
    ISO 4217 minor unit)."""
    return Decimal(1).scaleb(-minor_units(currency))


def per_pivot(
    plan: RatePlan,
    lookup: Lookup,
    currency: str,
    day: date,
    *,
    rate_type: RateType = RateType.OFFICIAL,
) -> tuple[Decimal, date, str]:
    """Units of *currency* per one pivot on *day*, at full precision, with
    the day the rate used was published (a carried copy counts as the day
    it repeats, and is only used while that day is within
    ``max_age_days``) and the source.  A currency without a rate of
    *rate_type* uses its official rate.  Raises :class:`NoRate`."""
    if currency == plan.pivot:
        return Decimal(1), day, "identity"
    serving = plan.serving(currency, rate_type) or plan.serving(
        currency, RateType.OFFICIAL
    )
    if serving is None:
        raise NotServed(f"no source serves {currency} (add it to [rates.serve])")
    base = plan.bases[serving.source]
    kind = serving.rate_type

    def read(quote: str) -> tuple[Decimal, date]:
        found = lookup(serving.source, base, quote, kind, day)
        # A carried copy is as old as the publication it repeats: a long
        # silence between two publications is carried day by day, and
        # those copies must not pass for fresh figures.
        published = None if found is None else found.published_on or found.day
        if (
            found is not None
            and published is not None
            and (day - published).days <= plan.max_age_days
        ):
            return found.rate, published
        newest = "" if published is None else f"; newest is {published}"
        raise NoRate(
            f"no {kind} {base}/{quote} rate from {serving.source} on or within "
            f"{plan.max_age_days} days before {day}{newest}",
            newest=published,
        )

    if base == plan.pivot:
        direct, direct_day = read(currency)
        return direct, direct_day, serving.source
    link, link_day = read(plan.pivot)  # pivot per base
    if currency == base:
        return _CONTEXT.divide(1, link), link_day, serving.source
    quote, quote_day = read(currency)
    return (
        _CONTEXT.divide(quote, link),
        min(quote_day, link_day),
        serving.source,
    )


def cross_rate(
    plan: RatePlan,
    lookup: Lookup,
    base: str,
    quote: str,
    day: date,
    *,
    rate_type: RateType = RateType.OFFICIAL,
) -> tuple[Decimal, date, tuple[str, ...]]:
    """Units of *quote* per one *base* on *day* at full precision (round
    with :func:`round_rate` to show it), the oldest rate day it rests on,
    and the sources used."""
    if base == quote:
        return Decimal(1), day, ()
    base_per, base_day, base_source = per_pivot(
        plan, lookup, base, day, rate_type=rate_type
    )
    quote_per, quote_day, quote_source = per_pivot(
        plan, lookup, quote, day, rate_type=rate_type
    )
    sources = tuple(sorted({base_source, quote_source} - {"identity"}))
    return _CONTEXT.divide(quote_per, base_per), min(base_day, quote_day), sources


def convert(
    plan: RatePlan,
    lookup: Lookup,
    amount: Money,
    to: str,
    day: date,
    *,
    rate_type: RateType = RateType.OFFICIAL,
) -> Money:
    """*amount* in *to* at the rates of *day*, rounded half-even to the
    minor unit of *to*.  Raises :class:`NoRate`."""
    rate, _, _ = cross_rate(plan, lookup, amount.currency, to, day, rate_type=rate_type)
    return Money(_money(amount.amount, rate, to), to)


def _money(amount: Decimal, rate: Decimal, currency: str) -> Decimal:
    """*amount* times *rate*, rounded to the minor unit of *currency*.

    Money is kept to the minor unit within :data:`PRECISION` digits: an
    amount past that (10**26 units of a two-decimal currency) is no order
    total, and is refused with :class:`OutOfRange` rather than rounded to
    digits that were never computed."""
    try:
        return _CONTEXT.multiply(amount, rate).quantize(
            minor_unit(currency), context=_CONTEXT
        )
    except decimal.DecimalException as error:
        raise OutOfRange(
            f"{amount} at a rate of {round_rate(rate)} is too large to keep in "
            f"{currency} to its minor unit within {PRECISION} digits"
        ) from error


def stamp_total(
    plan: RatePlan,
    lookup: Lookup,
    total: Money,
    day: date,
    *,
    today: date,
    now: datetime,
) -> ReportingTotal | None:
    """The order total in the reporting currency at the official rates of
    the order's *day*, with the rate used and where it came from.

    None when the rate may still come (the day is within the window a
    fetch fills, *today* included: the back-fill, or the longest gap a
    run fills once an older rate is kept); a stamp with ``missing`` set
    when it never will (no source serves the currency, the day is out of
    that window, or the total is too large to convert, see
    :class:`OutOfRange`)."""
    try:
        rate, rate_day, sources = cross_rate(
            plan, lookup, total.currency, plan.reporting_currency, day
        )
    except NotServed as error:
        return ReportingTotal(None, None, None, (), now, missing=str(error))
    except NoRate as error:
        if (today - day).days <= _reach(plan, error):
            return None
        return ReportingTotal(None, None, None, (), now, missing=str(error))
    reporting = plan.reporting_currency
    try:
        amount = Money(_money(total.amount, rate, reporting), reporting)
    except OutOfRange as error:
        return ReportingTotal(None, None, None, (), now, missing=str(error))
    return ReportingTotal(amount, round_rate(rate), rate_day, sources, now)


def _reach(plan: RatePlan, error: NoRate) -> int:
    """How many days back a fetch may still bring the rate *error* lacks:
    a first run's back-fill, or, once an older rate is kept, the gap a
    later run fills (a source down for weeks fills it when it is back)."""
    if error.newest is None:
        return plan.backfill_days
    return max(plan.backfill_days, plan.max_gap_days)


def carry_forward(
    published: Iterable[FxRate],
    start: date,
    end: date,
    before: FxRate | None,
    now: datetime,
) -> list[FxRate]:
    """Carried copies for the days from *start* to *end* (inclusive) that
    *published* (one source's rates for one base, quote and type) lacks,
    each repeating the last rate published before it; *before* is the
    newest rate kept from before *start*.  Days before the first rate
    known get nothing."""
    by_day = {rate.day: rate for rate in published}
    last = before
    carried: list[FxRate] = []
    day = start
    while day <= end:
        rate = by_day.get(day)
        if rate is not None:
            last = rate
        elif last is not None:
            carried.append(
                attrs.evolve(
                    last,
                    day=day,
                    fetched_at=now,
                    published_on=last.published_on or last.day,
                )
            )
        day += timedelta(days=1)
    return carried


def commodity_price(
    plan: RatePlan, lookup: Lookup, metal: str, currency: str, day: date
) -> CommodityPrice:
    """The price of a troy ounce of *metal* in *currency* on *day*."""
    rate, rate_day, sources = cross_rate(plan, lookup, metal, currency, day)
    return CommodityPrice(
        day, metal, currency, round_rate(rate), ",".join(sources), rate_day
    )


@attrs.frozen
class BoardRow:
    """One currency's line on a day's board, against the reporting
    currency: how many of it one reporting unit buys (``per_reporting``)
    and what one of it is worth (``in_reporting``), both rounded to
    :data:`RATE_DIGITS`; metals per troy ounce.  ``rate_day`` is the
    oldest publication day the figures rest on (a carried rate counts as
    the day it repeats), ``sources`` where they came from; ``problem``
    says why a row has no figures."""

    currency: str
    rate_type: RateType
    per_reporting: Decimal | None
    in_reporting: Decimal | None
    rate_day: date | None
    sources: tuple[str, ...]
    carried: bool = False
    problem: str | None = None


def rate_board(plan: RatePlan, lookup: Lookup, day: date) -> list[BoardRow]:
    """Every served currency (and its market rate, where one is served)
    against the reporting currency on *day*; metals last."""
    wanted = sorted(
        {(s.currency, s.rate_type) for s in plan.servings}
        | {(plan.pivot, RateType.OFFICIAL)},
        key=lambda pair: (pair[0] in METALS, pair[0], pair[1] is RateType.MARKET),
    )
    return [
        board_row(plan, lookup, currency, day, rate_type=kind)
        for currency, kind in wanted
        if (currency, kind) != (plan.reporting_currency, RateType.OFFICIAL)
    ]


def board_row(
    plan: RatePlan,
    lookup: Lookup,
    currency: str,
    day: date,
    *,
    against: str | None = None,
    rate_type: RateType = RateType.OFFICIAL,
) -> BoardRow:
    """*currency* against *against* (the reporting currency unless said)
    on *day*, with the publication day and sources it rests on."""
    kind = rate_type
    used: list[FxRate] = []

    def watched(
        source: str, base: str, quote: str, rate_type: RateType, on: date
    ) -> FxRate | None:
        found = lookup(source, base, quote, rate_type, on)
        if found is not None:
            used.append(found)
        return found

    try:
        value, _, sources = cross_rate(
            plan,
            watched,
            against or plan.reporting_currency,
            currency,
            day,
            rate_type=kind,
        )
    except NoRate as error:
        return BoardRow(currency, kind, None, None, None, (), problem=str(error))
    return BoardRow(
        currency,
        kind,
        round_rate(value),
        round_rate(_CONTEXT.divide(1, value)),
        min((r.published_on or r.day for r in used), default=day),
        sources,
        carried=any(r.carried for r in used),
    )
