"""The sandbox's one make-believe market, which every rate simulator reads.

The ECB, Open Exchange Rates and MetalpriceAPI simulators publish views of
the same world, so their figures agree the way real feeds do: the ECB's
EUR/USD is Open Exchange Rates' USD/EUR turned over (to the digits each
publishes).  A day's figures follow from the day alone (a small
deterministic wobble around a level per currency), so a rerun, or a second
process, sees the same rates.

:func:`usd_rates` gives units of each currency per one US dollar, metals
in troy ounces per dollar; :func:`lbp_market` the parallel market's pounds
per dollar, above the official one; :func:`ecb_publishes` whether the ECB
publishes on a day (not on weekends nor on the TARGET holidays).
"""

from __future__ import annotations

import hashlib
import math
from datetime import date, timedelta
from decimal import Decimal

__all__ = [
    "CURRENCIES",
    "ECB_CURRENCIES",
    "METALS",
    "ecb_publishes",
    "lbp_market",
    "usd_rates",
]

# Units per US dollar around which each currency wobbles (metals: ounces
# per dollar, so an ounce of gold is about 2,400 dollars).
_LEVELS: dict[str, float] = {
    "EUR": 0.92,
    "MAD": 9.95,
    "EGP": 48.6,
    "AED": 3.6725,
    "LBP": 89_500.0,
    "SAR": 3.75,
    "GBP": 0.79,
    "CHF": 0.88,
    "JPY": 151.2,
    "TRY": 32.4,
    "CNY": 7.24,
    "XAU": 1 / 2_400.0,
    "XAG": 1 / 29.5,
}
# Pegged currencies barely move; the pound's official rate is fixed.
_PEGGED = frozenset({"AED", "SAR", "LBP"})

CURRENCIES = frozenset(_LEVELS) | {"USD"}
METALS = frozenset({"XAU", "XAG"})
# What the ECB carries of the above (never MAD, EGP, AED, LBP, SAR, metals).
ECB_CURRENCIES = frozenset({"USD", "GBP", "CHF", "JPY", "TRY", "CNY"})


def _wobble(currency: str, day: date) -> float:
    """A number in [-1, 1] that follows from (currency, day) alone and
    drifts slowly from one day to the next."""
    phase = int(hashlib.sha256(currency.encode()).hexdigest()[:6], 16) % 360
    ordinal = day.toordinal()
    digest = hashlib.sha256(f"{currency}:{day.isoformat()}".encode()).digest()
    noise = (digest[0] / 255 - 0.5) * 0.2
    return math.sin(math.radians(phase + ordinal * 7)) * 0.8 + noise


def usd_rates(day: date) -> dict[str, Decimal]:
    """Units of each currency per one US dollar on *day*: six significant
    digits for currencies, nine for metals (per ounce figures need them)."""
    rates: dict[str, Decimal] = {"USD": Decimal(1)}
    for currency, level in _LEVELS.items():
        if currency == "LBP":
            rates[currency] = Decimal("89500")
            continue
        swing = 0.0005 if currency in _PEGGED else 0.02
        value = level * (1 + swing * _wobble(currency, day))
        digits = 9 if currency in METALS else 6
        rates[currency] = Decimal(f"{value:.{digits}g}")
    return rates


def lbp_market(day: date) -> Decimal:
    """Pounds per dollar on the parallel market: a little above the
    official rate, and moving."""
    return Decimal(f"{89_500 * (1.004 + 0.003 * _wobble('LBP', day)):.6g}")


def _easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


def ecb_publishes(day: date) -> bool:
    """True on TARGET working days: not Saturday or Sunday, New Year's Day,
    Good Friday, Easter Monday, 1 May, 25 or 26 December."""
    if day.weekday() >= 5:
        return False
    if (day.month, day.day) in {(1, 1), (5, 1), (12, 25), (12, 26)}:
        return False
    easter = _easter(day.year)
    return day not in {easter - timedelta(days=2), easter + timedelta(days=1)}
