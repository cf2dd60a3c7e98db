"""Worker fetch-fx-rates over in-memory sources and the in-memory store:
back-fill, reruns, gaps, carried days, a source down, a currency a source
does not carry, market rates, and the reporting stamp on orders."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from fulfilment.adapters.oms.memory import MemoryOrderSource
from fulfilment.adapters.rates.memory import MemoryRateSource
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Money
from fulfilment.core.errors import PermanentPartnerError, TransientPartnerError
from fulfilment.core.rates import RatePlan, RateType, Serving
from fulfilment.core.workers.fetch_fx_rates import (
    NOT_PUBLISHED,
    SOURCE_FAILED,
    FxReport,
    FxSettings,
    fetch_fx_rates,
    order_stamper,
)
from fulfilment.core.workers.fetch_new_orders import fetch_new_orders
from fulfilment.testing.builders import make_order

# A Friday morning, before the day's publications.
NOW = datetime(2026, 12, 4, 6, tzinfo=UTC)
TODAY = NOW.date()

PLAN = RatePlan(
    pivot="USD",
    reporting_currency="USD",
    servings=(
        Serving("EUR", "ecb"),
        Serving("MAD", "oxr"),
        Serving("EGP", "oxr"),
        Serving("LBP", "oxr"),
        Serving("LBP", "lira", RateType.MARKET),
    ),
    bases={"ecb": "EUR", "oxr": "USD", "lira": "USD"},
    backfill_days=10,
)


def weekdays(start: date, end: date) -> list[date]:
    days = []
    day = start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


@attrs.define
class World:
    clock: ManualClock
    storage: MemoryStorage
    ecb: MemoryRateSource
    oxr: MemoryRateSource
    lira: MemoryRateSource

    @classmethod
    def open(cls) -> World:
        world = cls(
            ManualClock(NOW),
            MemoryStorage(),
            MemoryRateSource("EUR"),
            MemoryRateSource("USD"),
            MemoryRateSource("USD"),
        )
        world.publish(TODAY - timedelta(days=12), TODAY - timedelta(days=1))
        return world

    def publish(self, start: date, end: date) -> None:
        """The ECB on weekdays only; the dollar feeds every day."""
        for day in weekdays(start, end):
            self.ecb.publish(day, {"USD": "1.08", "GBP": "0.85"})
        day = start
        while day <= end:
            self.oxr.publish(day, {"MAD": "9.95", "EGP": "48.6", "LBP": "89500"})
            self.lira.publish(day, {"LBP": "90100"})
            day += timedelta(days=1)

    def run(self) -> FxReport:
        return fetch_fx_rates(
            rates=self.storage.rates,
            sources={"ecb": self.ecb, "oxr": self.oxr, "lira": self.lira},
            plan=PLAN,
            orders=self.storage.orders,
            attention=self.storage.attention,
            clock=self.clock,
        )

    def reasons(self) -> set[tuple[str, str]]:
        return {(i.subject, i.reason) for i in self.storage.attention.open_items()}


def test_a_first_run_fills_the_backfill_window_and_carries_the_weekend() -> None:
    world = World.open()
    report = world.run()

    start = TODAY - timedelta(days=PLAN.backfill_days)  # Tuesday 24 November
    ecb = report.sources["ecb"]
    assert (ecb.start, ecb.end, ecb.error) == (start, TODAY, None)
    # Weekdays 24 Nov to 3 Dec: eight days, one rate (USD, the link) each,
    # and the weekend of 28-29 November carried from Friday the 27th.
    assert (ecb.published_days, ecb.stored, ecb.carried) == (8, 10, 2)
    saturday = world.storage.rates.latest(
        "ecb", "EUR", "USD", RateType.OFFICIAL, date(2026, 11, 28)
    )
    assert saturday is not None
    assert saturday.published_on == date(2026, 11, 27)
    # The dollar feed publishes every day: ten days of MAD, EGP, LBP.
    oxr = report.sources["oxr"]
    assert (oxr.published_days, oxr.stored, oxr.carried) == (10, 30, 0)
    # GBP was published but nobody asked for it: not kept.
    assert world.storage.rates.history(quote="GBP") == []


def test_a_rerun_stores_nothing_twice() -> None:
    world = World.open()
    first = world.run()
    again = world.run()
    assert sum(o.stored for o in first.sources.values()) == 10 + 30 + 10
    assert [o.stored for o in again.sources.values()] == [0, 0, 0]
    # Nothing new is due: the rerun asked only for today.
    assert {o.start for o in again.sources.values()} == {TODAY}
    assert len(world.storage.rates.history()) == 50


def test_a_gap_of_several_days_is_filled_on_the_next_run() -> None:
    world = World.open()
    world.run()
    # Five days without a run; the sources went on publishing.
    world.clock.advance(timedelta(days=5))
    world.publish(TODAY, TODAY + timedelta(days=4))
    report = world.run()
    assert report.sources["oxr"].start == TODAY
    assert report.sources["oxr"].stored == 15  # 4 to 8 December, three quotes
    # The ECB: Friday 4th and Monday 7th, Tuesday 8th, the weekend carried.
    assert (report.sources["ecb"].stored, report.sources["ecb"].carried) == (5, 2)
    days = [r.day for r in world.storage.rates.history(quote="MAD")]
    assert days == sorted(set(days))
    assert days[-1] == TODAY + timedelta(days=4)
    assert len(days) == PLAN.backfill_days + 5


def test_a_source_that_is_down_keeps_what_it_gave_and_is_reported() -> None:
    world = World.open()
    world.run()
    before = world.storage.rates.history(source="oxr")

    world.clock.advance(timedelta(days=1))
    world.publish(TODAY, TODAY)
    world.oxr.fail_next(TransientPartnerError("503 Service Unavailable", partner="oxr"))
    report = world.run()

    assert report.failed_sources == {"oxr": "oxr: 503 Service Unavailable"}
    assert world.storage.rates.history(source="oxr") == before
    assert ("rates:oxr", SOURCE_FAILED) in world.reasons()
    # The others carried on.
    assert report.sources["lira"].stored == 1
    # Back up: the missed day is fetched, the item is resolved.
    report = world.run()
    assert report.failed_sources == {}
    assert report.sources["oxr"].stored == 3
    assert ("rates:oxr", SOURCE_FAILED) not in world.reasons()


def test_a_source_answering_in_another_base_is_refused() -> None:
    world = World.open()
    world.oxr.base = "EUR"  # its account now publishes per euro
    report = fetch_fx_rates(
        rates=world.storage.rates,
        sources={"oxr": _Claiming(world.oxr, "USD")},
        plan=PLAN,
        orders=world.storage.orders,
        attention=world.storage.attention,
        clock=world.clock,
    )
    assert "published rates per EUR" in (report.sources["oxr"].error or "")
    assert world.storage.rates.history() == []


@attrs.frozen
class _Claiming:
    """A source that says it is per *base* but publishes per another."""

    inner: MemoryRateSource
    base: str

    def published(self, start: date, end: date, quotes: object) -> object:
        return self.inner.published(start, end, quotes)  # type: ignore[arg-type]


def test_a_currency_the_source_never_publishes_is_raised_once() -> None:
    world = World.open()
    plan = attrs.evolve(
        PLAN, servings=(*PLAN.servings, Serving("MAD", "ecb", RateType.MARKET))
    )
    report = fetch_fx_rates(
        rates=world.storage.rates,
        sources={"ecb": world.ecb},
        plan=plan,
        orders=world.storage.orders,
        attention=world.storage.attention,
        clock=world.clock,
    )
    assert report.sources["ecb"].missing == ("MAD",)
    assert ("rates:ecb:MAD", NOT_PUBLISHED) in world.reasons()
    message = next(
        i.message
        for i in world.storage.attention.open_items()
        if i.reason == NOT_PUBLISHED
    )
    assert "none for MAD" in message


def test_a_source_without_the_pivot_is_told_to_change_sources_not_serve_the_pivot() -> (
    None
):
    world = World.open()
    euro_only = MemoryRateSource("EUR")
    for day in weekdays(TODAY - timedelta(days=5), TODAY - timedelta(days=1)):
        euro_only.publish(day, {"GBP": "0.85"})
    plan = attrs.evolve(
        PLAN,
        servings=(Serving("EUR", "eu"), Serving("GBP", "eu")),
        bases={"eu": "EUR"},
    )

    report = fetch_fx_rates(
        rates=world.storage.rates,
        sources={"eu": euro_only},
        plan=plan,
        orders=world.storage.orders,
        attention=world.storage.attention,
        clock=world.clock,
    )

    assert report.sources["eu"].missing == ("USD",)
    (item,) = world.storage.attention.open_items()
    assert (item.subject, item.reason) == ("rates:eu:USD", NOT_PUBLISHED)
    assert "in [rates.serve]" not in item.message
    assert "none of what it serves (EUR, GBP) can be crossed" in item.message
    assert "a source that publishes USD" in item.message


def test_the_days_after_the_last_publication_are_carried_only_once_it_moves_on() -> (
    None
):
    world = World.open()
    world.run()
    # Friday the 4th is published; on Sunday nothing newer is.
    world.publish(TODAY, TODAY)
    world.clock.advance(timedelta(days=2))
    world.run()
    sunday = TODAY + timedelta(days=2)
    newest = world.storage.rates.latest("ecb", "EUR", "USD", RateType.OFFICIAL, sunday)
    assert newest is not None
    assert (newest.day, newest.carried) == (TODAY, False)
    # Monday's rate comes out; Tuesday's run carries the weekend.
    world.publish(TODAY + timedelta(days=3), TODAY + timedelta(days=3))
    world.clock.advance(timedelta(days=2))
    report = world.run()
    assert report.sources["ecb"].carried == 2
    weekend = world.storage.rates.history(
        source="ecb", start=TODAY + timedelta(days=1), end=sunday
    )
    assert [(r.day.day, r.published_on) for r in weekend] == [(5, TODAY), (6, TODAY)]


def test_market_and_official_rates_are_kept_apart() -> None:
    world = World.open()
    world.run()
    official = world.storage.rates.latest("oxr", "USD", "LBP", RateType.OFFICIAL, TODAY)
    market = world.storage.rates.latest("lira", "USD", "LBP", RateType.MARKET, TODAY)
    assert official is not None
    assert market is not None
    assert (official.rate, market.rate) == (Decimal(89500), Decimal(90100))


def test_orders_stored_before_any_rate_are_stamped_by_the_next_run() -> None:
    world = World.open()
    order = make_order("7", amount="995.00", placed_at=NOW - timedelta(days=2))
    world.storage.orders.save(order)
    assert world.storage.orders.unstamped(10) != []

    report = world.run()

    assert report.stamped == 1
    stamped = world.storage.orders.get(order.key)
    assert stamped is not None
    stamp = stamped.reporting_total
    assert stamp is not None
    assert stamp.amount == Money("100.00", "USD")
    assert (stamp.rate_day, stamp.sources) == (TODAY - timedelta(days=2), ("oxr",))
    assert world.storage.orders.unstamped(10) == []


def test_an_order_waits_for_a_source_down_longer_than_the_backfill() -> None:
    world = World.open()
    world.run()
    # Dollar feeds down from today for three weeks; an order is placed
    # on day 9, when the rate kept is too old to stand in for it.
    placed = NOW + timedelta(days=9)
    order = make_order("12", amount="995.00", placed_at=placed)
    world.storage.orders.save(order)
    world.clock.advance(timedelta(days=21))
    world.oxr.fail_next(TransientPartnerError("503", partner="oxr"))

    down = world.run()

    assert (down.stamped, down.waiting, down.unstampable) == (0, 1, 0)
    # Back up: the gap is filled, and the order gets the rate of its day.
    world.publish(TODAY, world.clock.now().date())
    world.oxr.publish(placed.date(), {"MAD": "10"})
    back = world.run()
    assert (back.stamped, back.unstampable) == (1, 0)
    stamped = world.storage.orders.get(order.key)
    assert stamped is not None
    assert stamped.reporting_total is not None
    assert stamped.reporting_total.amount == Money("99.50", "USD")
    assert stamped.reporting_total.rate_day == placed.date()


def test_an_order_in_a_currency_nobody_serves_is_stamped_as_missing_once() -> None:
    world = World.open()
    order = make_order("8", currency="KWD", placed_at=NOW - timedelta(days=1))
    world.storage.orders.save(order)
    report = world.run()
    assert (report.stamped, report.unstampable) == (0, 1)
    kept = world.storage.orders.get(order.key)
    assert kept is not None
    assert kept.reporting_total is not None
    assert (
        kept.reporting_total.missing == "no source serves KWD (add it to [rates.serve])"
    )
    assert world.run().unstampable == 0  # never tried again


def test_intake_stamps_a_new_order_once_and_never_again() -> None:
    world = World.open()
    world.run()
    shop = MemoryOrderSource("shemsiworld")
    order = make_order("9", amount="199.00", placed_at=NOW - timedelta(days=3))
    shop.put(order)
    stamper = order_stamper(PLAN, world.storage.rates, world.clock)

    def intake() -> None:
        fetch_new_orders(
            source=shop,
            orders=world.storage.orders,
            cursors=world.storage.cursors,
            attention=world.storage.attention,
            clock=world.clock,
            stamp=stamper,
        )

    world.clock.advance(timedelta(minutes=5))
    intake()
    first = world.storage.orders.get(order.key)
    assert first is not None
    assert first.reporting_total is not None
    assert first.reporting_total.amount == Money("20.00", "USD")

    # The shop edits the order (a new total); the rates move too.
    world.clock.advance(timedelta(hours=1))
    shop.put(
        attrs.evolve(
            order,
            total=Money("398.00", "MAD"),
            source_updated_at=world.clock.now() - timedelta(minutes=10),
        )
    )
    world.oxr.publish(TODAY, {"MAD": "5"})
    intake()
    again = world.storage.orders.get(order.key)
    assert again is not None
    assert again.total == Money("398.00", "MAD")
    assert again.reporting_total == first.reporting_total


def test_a_total_too_large_to_convert_does_not_stop_intake() -> None:
    world = World.open()
    world.run()
    shop = MemoryOrderSource("shemsiworld")
    shop.put(make_order("10", amount="1E+30", placed_at=NOW - timedelta(days=1)))
    shop.put(make_order("11", amount="199.00", placed_at=NOW - timedelta(days=1)))
    world.clock.advance(timedelta(minutes=5))

    report = fetch_new_orders(
        source=shop,
        orders=world.storage.orders,
        cursors=world.storage.cursors,
        attention=world.storage.attention,
        clock=world.clock,
        stamp=order_stamper(PLAN, world.storage.rates, world.clock),
    )

    assert report.outcomes == {"inserted": 2}
    stamps = {
        order.key.external_id: order.reporting_total
        for order in world.storage.orders.get_many(
            o.key for o in shop.orders.values()
        ).values()
    }
    huge, fine = stamps["10"], stamps["11"]
    assert huge is not None
    assert huge.missing is not None
    assert "too large" in huge.missing
    assert fine is not None
    assert fine.amount == Money("20.00", "USD")


@pytest.mark.parametrize(
    "error", [PermanentPartnerError("invalid_app_id", partner="oxr")]
)
def test_a_refused_credential_is_reported_with_the_partners_words(
    error: Exception,
) -> None:
    world = World.open()
    world.oxr.fail_next(error)  # type: ignore[arg-type]
    report = world.run()
    assert report.failed_sources["oxr"] == "oxr: invalid_app_id"
    item = next(
        i for i in world.storage.attention.open_items() if i.subject == "rates:oxr"
    )
    assert "invalid_app_id" in item.message
    assert "stay as they are" in item.message


def test_a_failure_ending_in_a_full_stop_reads_as_one_sentence() -> None:
    world = World.open()
    world.oxr.fail_next(
        TransientPartnerError("Server disconnected without a response.", partner="oxr")
    )

    world.run()

    (item,) = world.storage.attention.open_items()
    assert "without a response. The rates kept before" in item.message


def test_a_failure_half_way_keeps_the_weeks_before_it() -> None:
    """A day-by-day source that fails on a later stretch keeps what the
    earlier stretches gave; the next run starts where it stopped."""
    world = World.open()
    # The first stretch (a week) answers, the second fails.
    world.oxr.fail_next(TransientPartnerError("503", partner="oxr"), after=1)
    report = world.run()

    oxr = report.sources["oxr"]
    assert oxr.error == "oxr: 503"
    assert (oxr.published_days, oxr.stored) == (7, 21)
    kept = world.storage.rates.history(source="oxr", quote="MAD")
    start = TODAY - timedelta(days=PLAN.backfill_days)
    assert [r.day for r in kept] == [start + timedelta(days=n) for n in range(7)]

    calls = world.oxr.calls
    again = world.run()
    assert again.sources["oxr"].start == start + timedelta(days=7)
    assert again.sources["oxr"].stored == 3 * 3
    assert world.oxr.calls == calls + 1


def test_a_weekend_at_the_end_of_a_stretch_is_still_carried() -> None:
    """Stretches of five days end on a Saturday: the weekend is carried from
    Friday once the next stretch brings Monday."""
    world = World.open()
    report = fetch_fx_rates(
        rates=world.storage.rates,
        sources={"ecb": world.ecb},
        plan=PLAN,
        orders=world.storage.orders,
        attention=world.storage.attention,
        clock=world.clock,
        settings=FxSettings(chunk_days=5),
    )
    assert report.sources["ecb"].carried == 2
    weekend = world.storage.rates.history(
        source="ecb", start=date(2026, 11, 28), end=date(2026, 11, 29)
    )
    assert [r.published_on for r in weekend] == [date(2026, 11, 27)] * 2


def test_a_stretch_of_no_days_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk_days"):
        FxSettings(chunk_days=0)
