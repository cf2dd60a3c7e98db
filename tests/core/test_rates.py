"""Cross rates, conversion, carried days and the reporting stamp.

The lookups here are plain lists of :class:`FxRate` searched the way a
store's ``latest`` answers (the newest on or before a day); the stores
themselves are held to that answer by the storage contract.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fulfilment.core.domain import Money, minor_units
from fulfilment.core.rates import (
    GRAMS_PER_TROY_OUNCE,
    FxRate,
    NoRate,
    NotServed,
    OutOfRange,
    RatePlan,
    RateType,
    Serving,
    carry_forward,
    commodity_price,
    convert,
    cross_rate,
    minor_unit,
    round_rate,
    stamp_total,
)

NOW = datetime(2026, 12, 4, 9, tzinfo=UTC)
DAY = date(2026, 12, 3)


class Rates:
    """A list of rates answering like ``RateStore.latest``."""

    def __init__(self, rates: Iterable[FxRate] = ()) -> None:
        self.rates = list(rates)

    def latest(
        self, source: str, base: str, quote: str, kind: RateType, day: date
    ) -> FxRate | None:
        found = [
            r
            for r in self.rates
            if (r.source, r.base, r.quote, r.rate_type) == (source, base, quote, kind)
            and r.day <= day
        ]
        return max(found, key=lambda r: r.day, default=None)


def rate(
    quote: str,
    value: str | Decimal,
    *,
    base: str = "USD",
    source: str = "oxr",
    day: date = DAY,
    kind: RateType = RateType.OFFICIAL,
) -> FxRate:
    return FxRate(day, base, quote, Decimal(value), source, NOW, kind)


PLAN = RatePlan(
    pivot="USD",
    reporting_currency="USD",
    servings=(
        Serving("EUR", "ecb"),
        Serving("GBP", "ecb"),
        Serving("MAD", "oxr"),
        Serving("EGP", "oxr"),
        Serving("LBP", "oxr"),
        Serving("LBP", "lira", RateType.MARKET),
        Serving("XAU", "metals"),
    ),
    bases={"ecb": "EUR", "oxr": "USD", "lira": "USD", "metals": "USD"},
)

MARKET = Rates(
    [
        rate("USD", "1.0867", base="EUR", source="ecb"),
        rate("GBP", "0.85068", base="EUR", source="ecb"),
        rate("MAD", "9.95"),
        rate("EGP", "48.6"),
        rate("LBP", "89500"),
        rate("LBP", "90200", source="lira", kind=RateType.MARKET),
        rate("XAU", "0.000416666667", source="metals"),
    ]
)


def test_a_rate_from_the_pivot_is_read_as_published() -> None:
    value, day, sources = cross_rate(PLAN, MARKET.latest, "USD", "MAD", DAY)
    assert (value, day, sources) == (Decimal("9.95"), DAY, ("oxr",))


def test_a_euro_based_source_is_put_on_the_pivot_through_its_dollar_rate() -> None:
    # ECB: 1 EUR = 1.0867 USD, so 1 USD = 0.920217... EUR.
    value, _, sources = cross_rate(PLAN, MARKET.latest, "USD", "EUR", DAY)
    assert round_rate(value) == Decimal("0.9202171713")
    assert sources == ("ecb",)
    # And GBP per EUR comes back as the ECB published it.
    gbp_per_eur, _, _ = cross_rate(PLAN, MARKET.latest, "EUR", "GBP", DAY)
    assert round_rate(gbp_per_eur) == Decimal("0.8506800000")


def test_a_cross_between_two_sources_goes_through_the_pivot() -> None:
    mad_per_eur, _, sources = cross_rate(PLAN, MARKET.latest, "EUR", "MAD", DAY)
    assert round_rate(mad_per_eur) == Decimal("10.81266500")
    assert sources == ("ecb", "oxr")


def test_conversion_rounds_half_even_to_the_minor_unit() -> None:
    # 100 MAD at 9.95 MAD per USD is 10.0502512... USD.
    assert convert(PLAN, MARKET.latest, Money("100", "MAD"), "USD", DAY) == Money(
        "10.05", "USD"
    )
    # 0.125 USD at 1 is a tie, rounded to the even cent.
    assert convert(PLAN, MARKET.latest, Money("0.125", "USD"), "USD", DAY) == Money(
        "0.12", "USD"
    )


def test_the_market_rate_is_used_where_one_exists_and_official_elsewhere() -> None:
    official = convert(PLAN, MARKET.latest, Money("100", "USD"), "LBP", DAY)
    market = convert(
        PLAN, MARKET.latest, Money("100", "USD"), "LBP", DAY, rate_type=RateType.MARKET
    )
    assert (official, market) == (Money("8950000", "LBP"), Money("9020000", "LBP"))
    # MAD has no market rate: its official one stands in.
    assert convert(
        PLAN, MARKET.latest, Money("1", "USD"), "MAD", DAY, rate_type=RateType.MARKET
    ) == Money("9.95", "MAD")


def test_gold_is_priced_per_ounce_and_per_gram() -> None:
    price = commodity_price(PLAN, MARKET.latest, "XAU", "USD", DAY)
    assert price.per_ounce == Decimal("2399.999998")
    assert price.per_gram == round_rate(price.per_ounce / GRAMS_PER_TROY_OUNCE)
    in_mad = commodity_price(PLAN, MARKET.latest, "XAU", "MAD", DAY)
    assert in_mad.per_ounce == round_rate(Decimal("2399.999998") * Decimal("9.95"))


def test_an_old_rate_stands_in_up_to_the_age_limit_and_no_further() -> None:
    later = DAY + timedelta(days=PLAN.max_age_days)
    value, rate_day, _ = cross_rate(PLAN, MARKET.latest, "USD", "MAD", later)
    assert (value, rate_day) == (Decimal("9.95"), DAY)
    with pytest.raises(NoRate, match=r"no official USD/MAD rate from oxr .* newest is"):
        cross_rate(PLAN, MARKET.latest, "USD", "MAD", later + timedelta(days=1))


def test_a_carried_copy_is_as_old_as_the_day_it_repeats() -> None:
    published = rate("USD", "1.05", base="EUR", source="ecb", day=date(2026, 11, 2))
    silence = carry_forward(
        [published, rate("USD", "1.2", base="EUR", source="ecb", day=DAY)],
        published.day,
        DAY,
        None,
        NOW,
    )
    rates = Rates([published, *silence])

    _, rate_day, _ = cross_rate(PLAN, rates.latest, "EUR", "USD", date(2026, 11, 6))
    assert rate_day == published.day
    with pytest.raises(NoRate, match=r"EUR/USD rate from ecb .* newest is 2026-11-02"):
        cross_rate(PLAN, rates.latest, "EUR", "USD", DAY - timedelta(days=1))


def test_a_weekend_stamp_names_the_friday_it_rests_on() -> None:
    friday = date(2026, 11, 27)
    published = rate("MAD", "9.95", day=friday)
    weekend = carry_forward([published], friday, friday, None, NOW)
    weekend += carry_forward([], date(2026, 11, 28), date(2026, 11, 29), published, NOW)
    rates = Rates([published, *weekend])

    stamp = stamp_total(
        PLAN,
        rates.latest,
        Money("99.50", "MAD"),
        date(2026, 11, 29),
        today=DAY,
        now=NOW,
    )

    assert stamp is not None
    assert (stamp.amount, stamp.rate_day) == (Money("10.00", "USD"), friday)


def test_a_currency_no_source_serves_is_named() -> None:
    with pytest.raises(NotServed, match=r"no source serves KWD \(add it to"):
        convert(PLAN, MARKET.latest, Money("1", "KWD"), "USD", DAY)


def test_a_day_before_any_rate_has_none() -> None:
    with pytest.raises(NoRate, match="EGP"):
        cross_rate(PLAN, MARKET.latest, "EGP", "USD", DAY - timedelta(days=1))


def test_the_stamp_waits_for_a_recent_day_and_gives_up_on_an_old_one() -> None:
    empty = Rates()
    recent = stamp_total(
        PLAN, empty.latest, Money("100", "MAD"), DAY, today=DAY, now=NOW
    )
    assert recent is None  # the next fetch may bring it
    old_day = DAY - timedelta(days=PLAN.backfill_days + 1)
    old = stamp_total(
        PLAN, empty.latest, Money("100", "MAD"), old_day, today=DAY, now=NOW
    )
    assert old is not None
    assert old.amount is None
    assert old.missing is not None
    assert "MAD" in old.missing
    unserved = stamp_total(
        PLAN, MARKET.latest, Money("100", "KWD"), DAY, today=DAY, now=NOW
    )
    assert unserved is not None
    assert unserved.missing == ("no source serves KWD (add it to [rates.serve])")


def test_the_stamp_records_the_rate_its_day_and_its_sources() -> None:
    stamp = stamp_total(
        PLAN, MARKET.latest, Money("250", "EGP"), DAY, today=DAY, now=NOW
    )
    assert stamp is not None
    assert stamp.amount == Money("5.14", "USD")
    assert stamp.rate == round_rate(Decimal(1) / Decimal("48.6"))
    assert (stamp.rate_day, stamp.sources, stamp.missing) == (DAY, ("oxr",), None)


@pytest.mark.parametrize(
    ("amount", "to", "expected"),
    [
        (
            Money("99999999999999999999.99", "USD"),
            "LBP",
            "8949999999999999999999105.00",
        ),
        (Money("0.01", "LBP"), "USD", "0.00"),
        (Money("1E-30", "USD"), "MAD", "0.00"),
    ],
)
def test_huge_and_tiny_amounts_convert_to_the_minor_unit(
    amount: Money, to: str, expected: str
) -> None:
    assert convert(PLAN, MARKET.latest, amount, to, DAY) == Money(expected, to)


@pytest.mark.parametrize(
    ("currency", "per_euro", "expected"),
    [("KRW", "1494.49", "1375"), ("ISK", "149.70", "138"), ("KWD", "0.3339", "0.307")],
)
def test_conversion_rounds_to_each_currencys_own_minor_unit(
    currency: str, per_euro: str, expected: str
) -> None:
    plan = RatePlan(
        pivot="USD",
        reporting_currency="USD",
        servings=(Serving(currency, "ecb"),),
        bases={"ecb": "EUR"},
    )
    rates = Rates(
        [
            rate("USD", "1.0867", base="EUR", source="ecb"),
            rate(currency, per_euro, base="EUR", source="ecb"),
        ]
    )

    converted = convert(plan, rates.latest, Money("1.00", "USD"), currency, DAY)

    assert converted == Money(expected, currency)
    assert str(converted.amount) == expected


@pytest.mark.parametrize("total", [Money("1E+30", "USD"), Money("1E+999999", "MAD")])
def test_a_total_too_large_to_convert_is_stamped_with_the_reason(total: Money) -> None:
    with pytest.raises(OutOfRange, match="too large to keep in USD"):
        convert(PLAN, MARKET.latest, total, "USD", DAY)

    stamp = stamp_total(PLAN, MARKET.latest, total, DAY, today=DAY, now=NOW)

    assert stamp is not None
    assert stamp.amount is None
    assert stamp.missing is not None
    assert "too large to keep in USD to its minor unit" in stamp.missing


def test_carried_days_repeat_the_last_publication_and_say_which() -> None:
    friday = date(2026, 11, 27)
    published = [
        rate("USD", "1.05", base="EUR", source="ecb", day=friday),
        rate("USD", "1.06", base="EUR", source="ecb", day=friday + timedelta(days=3)),
    ]
    carried = carry_forward(published, friday, friday + timedelta(days=3), None, NOW)
    assert [(c.day.isoformat(), c.rate, c.published_on) for c in carried] == [
        ("2026-11-28", Decimal("1.05"), friday),
        ("2026-11-29", Decimal("1.05"), friday),
    ]
    assert all(c.carried and c.fetched_at == NOW for c in carried)


def test_a_carried_run_starts_from_the_rate_kept_before_it() -> None:
    kept = rate("MAD", "9.9", day=date(2026, 11, 30))
    fresh = [rate("MAD", "9.8", day=date(2026, 12, 3))]
    carried = carry_forward(fresh, date(2026, 12, 1), date(2026, 12, 3), kept, NOW)
    assert [(c.day.day, c.rate, c.published_on) for c in carried] == [
        (1, Decimal("9.9"), date(2026, 11, 30)),
        (2, Decimal("9.9"), date(2026, 11, 30)),
    ]
    # A copy of a copy still names the day first published.
    (again,) = carry_forward([], date(2026, 12, 2), date(2026, 12, 2), carried[0], NOW)
    assert (again.day, again.published_on) == (date(2026, 12, 2), date(2026, 11, 30))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1.23456789012345"), Decimal("1.234567890")),
        (Decimal("0.000416666666666666"), Decimal("0.0004166666667")),
        (Decimal("89500"), Decimal("89500.00000")),
    ],
)
def test_rates_round_to_ten_significant_digits(
    value: Decimal, expected: Decimal
) -> None:
    assert round_rate(value) == expected
    assert str(round_rate(value)) == str(expected)


def test_a_rate_refuses_a_float_a_zero_and_a_bad_code() -> None:
    with pytest.raises(ValueError, match="rate must be a positive finite Decimal"):
        FxRate(DAY, "USD", "MAD", 9.95, "oxr", NOW)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rate must be a positive"):
        FxRate(DAY, "USD", "MAD", Decimal(0), "oxr", NOW)
    with pytest.raises(ValueError, match="quote must be a three-letter code"):
        FxRate(DAY, "USD", "mad", Decimal(1), "oxr", NOW)


# --- properties ----------------------------------------------------------------

CURRENCIES = ("USD", "EUR", "GBP", "MAD", "EGP", "LBP", "KWD", "JPY")

per_usd = st.decimals(
    min_value=Decimal("0.001"),
    max_value=Decimal("200000"),
    places=6,
    allow_nan=False,
    allow_infinity=False,
).filter(lambda d: d > 0)


def _significant(value: Decimal, digits: int) -> Decimal:
    """*value* to *digits* significant digits, as a source publishes it."""
    return value.quantize(Decimal(1).scaleb(value.adjusted() - digits + 1))


def _two_sources(values: dict[str, Decimal], digits: int = 6) -> tuple[RatePlan, Rates]:
    """EUR and GBP from a euro-based source, the rest from a dollar-based
    one, each figure published to *digits* significant digits from the same
    *values* (per USD)."""
    plan = RatePlan(
        pivot="USD",
        reporting_currency="USD",
        servings=tuple(
            Serving(c, "ecb" if c in {"EUR", "GBP"} else "oxr")
            for c in CURRENCIES
            if c != "USD"
        ),
        bases={"ecb": "EUR", "oxr": "USD"},
    )
    eur = values["EUR"]
    rates = [rate(c, values[c]) for c in CURRENCIES if c not in {"USD", "EUR", "GBP"}]
    rates += [
        rate("USD", _significant(1 / eur, digits), base="EUR", source="ecb"),
        rate(
            "GBP", _significant(values["GBP"] / eur, digits), base="EUR", source="ecb"
        ),
    ]
    return plan, Rates(rates)


@given(
    values=st.fixed_dictionaries({c: per_usd for c in CURRENCIES if c != "USD"}),
    a=st.sampled_from(CURRENCIES),
    b=st.sampled_from(CURRENCIES),
    cents=st.integers(0, 10**12),
)
def test_converting_there_and_back_lands_within_the_stated_rounding(
    values: dict[str, Decimal], a: str, b: str, cents: int
) -> None:
    values = {"USD": Decimal(1), **values}
    plan, rates = _two_sources(values)
    amount = Money(Decimal(cents).scaleb(-minor_units(a)), a)

    there = convert(plan, rates.latest, amount, b, DAY)
    back = convert(plan, rates.latest, there, a, DAY)

    a_per_b, _, _ = cross_rate(plan, rates.latest, b, a, DAY)
    bound = minor_unit(a) / 2 + minor_unit(b) / 2 * a_per_b
    assert abs(back.amount - amount.amount) <= bound + Decimal("1e-12") * max(
        amount.amount, 1
    )


@given(
    values=st.fixed_dictionaries({c: per_usd for c in CURRENCIES if c != "USD"}),
    a=st.sampled_from(CURRENCIES),
    b=st.sampled_from(CURRENCIES),
)
def test_cross_rates_agree_with_the_direct_rate_of_a_second_source(
    values: dict[str, Decimal], a: str, b: str
) -> None:
    """The same market published by a dollar-based source for every
    currency: its direct quote of b per a agrees with the cross through
    the euro-based one to the digits the latter publishes."""
    assume(a != b)
    values = {"USD": Decimal(1), **values}
    plan, rates = _two_sources(values)
    cross, _, _ = cross_rate(plan, rates.latest, a, b, DAY)

    direct_plan = RatePlan(
        pivot="USD",
        reporting_currency="USD",
        servings=tuple(Serving(c, "oxr") for c in CURRENCIES if c != "USD"),
        bases={"oxr": "USD"},
    )
    direct_rates = Rates(rate(c, values[c]) for c in CURRENCIES if c != "USD")
    direct, _, _ = cross_rate(direct_plan, direct_rates.latest, a, b, DAY)
    # The euro-based source rounds each figure to six significant digits
    # (half a unit in the sixth digit: 5e-6 relative at most); a cross
    # rests on up to two of them on each side.
    assert abs(cross / direct - 1) <= Decimal("2.1e-5")
    # And a cross times its inverse is one, to the working precision.
    inverse, _, _ = cross_rate(plan, rates.latest, b, a, DAY)
    assert abs(cross * inverse - 1) < Decimal("1e-20")
