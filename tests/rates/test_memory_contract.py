"""The in-memory rate source keeps the rate-source contract, publishing a
world of its own (dollar rates on TARGET working days, today included)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

import pytest

from fulfilment.adapters.rates.memory import MemoryRateSource
from fulfilment.core.errors import TransientPartnerError
from fulfilment.runners.sandbox.markets import ecb_publishes, usd_rates
from fulfilment.testing.builders import T0
from fulfilment.testing.rate_sources import RateSourceContract, RateWorld

TODAY = T0.date()
CARRIED = frozenset({"EUR", "MAD", "EGP", "AED", "SAR"})


def dollar_rates(day: date) -> Mapping[str, Decimal] | None:
    if day > TODAY or not ecb_publishes(day):
        return None
    return {quote: rate for quote, rate in usd_rates(day).items() if quote in CARRIED}


class TestMemoryRateSource(RateSourceContract):
    @pytest.fixture
    def world(self) -> RateWorld:
        return RateWorld(TODAY, dollar_rates, CARRIED, foreign="CHF")

    @pytest.fixture
    def source(self, world: RateWorld) -> MemoryRateSource:
        source = MemoryRateSource("USD")
        for back in range(450):
            day = TODAY - timedelta(days=back)
            if (rates := world.published(day)) is not None:
                source.publish(day, rates)
        return source


def test_a_queued_failure_is_raised_once_then_it_answers() -> None:
    source = MemoryRateSource("USD")
    source.publish(TODAY, {"MAD": "9.95"})
    source.fail_next(TransientPartnerError("down", partner="memory"))

    with pytest.raises(TransientPartnerError):
        source.published(TODAY, TODAY, {"MAD"})
    (published,) = source.published(TODAY, TODAY, {"MAD"})

    assert published.rates == {"MAD": Decimal("9.95")}
    assert source.calls == 2
