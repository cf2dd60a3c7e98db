"""The contract of the rate-source port, kept by the in-memory twin and by
every real source talking to its loopback simulator.

A test class subclasses :class:`RateSourceContract` and provides:

- ``source``: the :class:`~fulfilment.core.ports.RateSource` under test;
- ``world``: a :class:`RateWorld` saying what that source has published as
  of its today: for any day, every rate it published (None for a day it
  published nothing), the quotes it carries and one it never carries.

The world must hold published days and days without a publication in the
three weeks up to today, and published days about 400 days back, so the
contract can ask for recent and old ranges alike.  Every source must leave
out a day it has no figures for, but why a day has none is the source's
own: the ECB publishes nothing on weekends and TARGET holidays, while Open
Exchange Rates and MetalpriceAPI publish every day, so their worlds have
their simulators withhold a few days (a gap as each API shows one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from decimal import Decimal

import attrs
import pytest

from fulfilment.core.ports import RateSource
from fulfilment.core.rates import PublishedRates

Published = Callable[[date], "Mapping[str, Decimal] | None"]

# (days back from today to the first day, to the last day) of the ranges
# every source must answer alike: recent, longer than 90 days, long ago.
WINDOWS = [(20, 0), (120, 0), (400, 380)]


@attrs.frozen
class RateWorld:
    """What a source has published by ``today``, its last day."""

    today: date
    published: Published
    carried: frozenset[str]
    foreign: str

    def days(self, start: date, end: date) -> list[date]:
        """The days from *start* to *end* the source published, oldest
        first."""
        last = min(end, self.today)
        span = (last - start).days + 1
        every = (start + timedelta(days=n) for n in range(max(span, 0)))
        return [day for day in every if self.published(day) is not None]

    def unpublished(self, start: date, end: date) -> list[date]:
        span = (end - start).days + 1
        every = (start + timedelta(days=n) for n in range(span))
        return [day for day in every if self.published(day) is None]

    def recent(self) -> tuple[date, date]:
        return self.today - timedelta(days=20), self.today


def days_of(found: list[PublishedRates]) -> list[date]:
    return [published.day for published in found]


class RateSourceContract:
    def test_its_base_is_a_currency_code(self, source: RateSource) -> None:
        base = source.base

        assert len(base) == 3
        assert base.isascii()
        assert base.isupper()

    @pytest.mark.parametrize(("back", "until"), WINDOWS)
    def test_hands_back_every_day_it_published_oldest_first(
        self, source: RateSource, world: RateWorld, back: int, until: int
    ) -> None:
        start = world.today - timedelta(days=back)
        end = world.today - timedelta(days=until)

        found = source.published(start, end, world.carried)

        expected = world.days(start, end)
        assert len(expected) >= 10, "the world publishes too little to tell"
        assert days_of(found) == expected
        assert all(published.base == source.base for published in found)

    def test_both_ends_of_a_range_are_in_it(
        self, source: RateSource, world: RateWorld
    ) -> None:
        first, *_, last = world.days(*world.recent())

        found = source.published(first, last, world.carried)
        alone = source.published(last, last, world.carried)

        assert days_of(found)[0] == first
        assert days_of(found)[-1] == last
        assert days_of(alone) == [last]

    def test_a_day_it_did_not_publish_is_absent(
        self, source: RateSource, world: RateWorld
    ) -> None:
        quiet = world.unpublished(*world.recent())
        assert quiet, "the world must leave a day out (a weekend, a gap)"

        around = source.published(
            quiet[0] - timedelta(days=3), quiet[-1], world.carried
        )

        assert source.published(quiet[0], quiet[0], world.carried) == []
        assert not set(quiet) & set(days_of(around))

    def test_the_rates_are_the_exact_decimals_published(
        self, source: RateSource, world: RateWorld
    ) -> None:
        found = source.published(*world.recent(), world.carried)

        assert found
        for published in found:
            expected = world.published(published.day)
            assert expected is not None
            assert dict(published.rates) == dict(expected)
            for quote, rate in published.rates.items():
                assert type(rate) is Decimal, quote
                # As written, trailing zeros too: never through a float.
                assert str(rate) == str(expected[quote])

    def test_only_the_quotes_asked_for_come_back(
        self, source: RateSource, world: RateWorld
    ) -> None:
        asked = set(sorted(world.carried)[:2])

        found = source.published(*world.recent(), asked)

        assert found
        assert all(set(published.rates) == asked for published in found)

    def test_a_quote_it_does_not_carry_is_left_out_not_an_error(
        self, source: RateSource, world: RateWorld
    ) -> None:
        carried = min(world.carried)

        found = source.published(*world.recent(), [carried, world.foreign])

        assert days_of(found) == world.days(*world.recent())
        assert all(set(published.rates) == {carried} for published in found)

    def test_a_day_is_there_even_when_no_quote_asked_for_is_carried(
        self, source: RateSource, world: RateWorld
    ) -> None:
        found = source.published(*world.recent(), {world.foreign})

        assert days_of(found) == world.days(*world.recent())
        assert all(published.rates == {} for published in found)

    def test_no_day_after_today(self, source: RateSource, world: RateWorld) -> None:
        tomorrow = world.today + timedelta(days=1)

        week_ago = world.today - timedelta(days=6)

        spanning = source.published(week_ago, tomorrow, world.carried)
        ahead = source.published(tomorrow, tomorrow + timedelta(days=30), world.carried)

        assert spanning
        assert max(days_of(spanning)) <= world.today
        assert ahead == []

    def test_today_alone_is_there_once_published(
        self, source: RateSource, world: RateWorld
    ) -> None:
        found = source.published(world.today, world.today, world.carried)

        assert days_of(found) == world.days(world.today, world.today)

    def test_a_range_ending_before_it_starts_holds_nothing(
        self, source: RateSource, world: RateWorld
    ) -> None:
        start, end = world.today - timedelta(days=1), world.today - timedelta(days=5)

        assert source.published(start, end, world.carried) == []
