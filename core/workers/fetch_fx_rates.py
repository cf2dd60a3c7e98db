"""Worker fetch-fx-rates: keep the daily reference rates, and stamp orders
with their total in the reporting currency.

For each configured source, the run asks for the days since the newest
rate kept of each currency it serves (a first run reaches back
``backfill_days``; a longer silence is filled up to ``max_gap_days``), so
a run missed, or a source down for a few days, leaves no hole once it
answers again.  Every figure is kept as published; a day between two
publications (a weekend, a holiday) gets a carried copy of the rate before
it.  The days after the newest publication are not carried yet: the
source may still publish them, and a carried copy would take their place
for good (rates are append-only, the first kept wins).  Reading a rate
"on or before a day" covers that wait.

A source that fails is reported and raised once to a person; what it gave
before stays as it is, and the other sources carry on.  A currency a
source was asked for and never publishes is raised too (the ECB carries
no MAD: the configuration must name another source for it).

Then orders stored before any rate existed are stamped, oldest first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta

import attrs

from ..domain import Order
from ..errors import ConflictError, PartnerError, PermanentPartnerError
from ..ports import (
    AttentionItem,
    AttentionQueue,
    Clock,
    OrderStore,
    RateSource,
    RateStore,
)
from ..rates import (
    FxRate,
    PublishedRates,
    RatePlan,
    RateType,
    carry_forward,
    stamp_total,
)

__all__ = [
    "FxReport",
    "FxSettings",
    "SourceOutcome",
    "fetch_fx_rates",
    "order_stamper",
]

log = logging.getLogger(__name__)

SOURCE_FAILED = "rate_source_failed"
NOT_PUBLISHED = "rate_not_published"


@attrs.frozen
class FxSettings:
    """``stamp_batch`` is how many unstamped orders one run stamps;
    ``chunk_days`` how many days one request to a source covers (each
    stretch is kept before the next is asked for)."""

    stamp_batch: int = attrs.field(default=500, validator=attrs.validators.ge(1))
    chunk_days: int = attrs.field(default=7, validator=attrs.validators.ge(1))


@attrs.frozen
class SourceOutcome:
    """What one source gave: the days asked for (``start`` to ``end``,
    None when nothing was due), the days it published, the rates kept for
    the first time (``stored``, of which ``carried`` copies), the
    currencies it did not publish, or the error that stopped it."""

    source: str
    start: date | None
    end: date
    published_days: int = 0
    stored: int = 0
    carried: int = 0
    missing: tuple[str, ...] = ()
    error: str | None = None


@attrs.frozen
class FxReport:
    day: date
    sources: Mapping[str, SourceOutcome]
    stamped: int
    waiting: int
    unstampable: int

    @property
    def failed_sources(self) -> dict[str, str]:
        return {
            name: outcome.error
            for name, outcome in self.sources.items()
            if outcome.error is not None
        }


def fetch_fx_rates(
    *,
    rates: RateStore,
    sources: Mapping[str, RateSource],
    plan: RatePlan,
    orders: OrderStore,
    attention: AttentionQueue,
    clock: Clock,
    settings: FxSettings | None = None,
) -> FxReport:
    settings = settings or FxSettings()
    now = clock.now()
    today = now.date()
    run = _Run(rates, plan, attention, now, settings.chunk_days)
    outcomes = {
        name: run.fetch(name, source) for name, source in sorted(sources.items())
    }
    stamped, waiting, unstampable = _stamp_orders(
        orders, order_stamper(plan, rates, clock), settings.stamp_batch
    )
    report = FxReport(today, outcomes, stamped, waiting, unstampable)
    for outcome in outcomes.values():
        log.info(
            "rates.fetched source=%s start=%s end=%s published_days=%d stored=%d "
            "carried=%d missing=%s error=%s",
            outcome.source,
            outcome.start,
            outcome.end,
            outcome.published_days,
            outcome.stored,
            outcome.carried,
            ",".join(outcome.missing) or "-",
            outcome.error or "-",
        )
    return report


def order_stamper(plan: RatePlan, rates: RateStore, clock: Clock) -> _Stamper:
    """The stamp intake and this worker write on an order: its total at
    the official rates of its placement day (UTC)."""
    return _Stamper(plan, rates, clock)


@attrs.frozen
class _Stamper:
    plan: RatePlan
    rates: RateStore
    clock: Clock

    def __call__(self, order: Order) -> Order | None:
        """*order* with its stamp, or None when its rate may still come."""
        now = self.clock.now()
        stamp = stamp_total(
            self.plan,
            self.rates.latest,
            order.total,
            order.placed_at.date(),
            today=now.date(),
            now=now,
        )
        return None if stamp is None else attrs.evolve(order, reporting_total=stamp)


@attrs.define
class _Tally:
    days: int = 0
    stored: int = 0
    carried: int = 0

    def outcome(
        self,
        name: str,
        start: date,
        end: date,
        missing: set[str],
        error: str | None = None,
    ) -> SourceOutcome:
        return SourceOutcome(
            name,
            start,
            end,
            published_days=self.days,
            stored=self.stored,
            carried=self.carried,
            missing=tuple(sorted(missing)),
            error=error,
        )


@attrs.frozen
class _Run:
    """One run's view: where rates are kept, what the plan asks, the day."""

    rates: RateStore
    plan: RatePlan
    attention: AttentionQueue
    now: datetime
    chunk_days: int = 7

    @property
    def today(self) -> date:
        return self.now.date()

    def fetch(self, name: str, source: RateSource) -> SourceOutcome:
        """Ask *source* for what is due, a stretch of ``chunk_days`` at a
        time, keeping each stretch before asking for the next: a failure
        half way keeps the days before it, and the next run starts there."""
        today = self.today
        base = source.base
        since = {
            (kind, quote): self.start(name, base, quote, kind)
            for kind, quotes in self.plan.quotes(name).items()
            for quote in quotes
        }
        if not since or min(since.values()) > today:
            return SourceOutcome(name, None, today)
        start = min(since.values())
        tally = _Tally()
        missing: set[str] = set()
        stretch = start
        while stretch <= today:
            end = min(stretch + timedelta(days=self.chunk_days - 1), today)
            try:
                self.keep_stretch(
                    name, source, since, (stretch, end), tally=tally, missing=missing
                )
            except PartnerError as error:
                self.raise_failure(name, start, today, error)
                return tally.outcome(name, start, today, missing, error=str(error))
            stretch = end + timedelta(days=1)
        self.attention.resolve(f"rates:{name}", SOURCE_FAILED, self.now)
        for quote in sorted(missing):
            self.attention.raise_item(
                AttentionItem(
                    f"rates:{name}:{quote}",
                    NOT_PUBLISHED,
                    f"{name} published rates for {start} to {today} but none "
                    f"for {quote}; {self.remedy(name, base, quote)}.",
                    self.now,
                )
            )
        return tally.outcome(name, start, today, missing)

    def keep_stretch(
        self,
        name: str,
        source: RateSource,
        since: dict[tuple[RateType, str], date],
        days: tuple[date, date],
        *,
        tally: _Tally,
        missing: set[str],
    ) -> None:
        """Read and keep the days from ``days[0]`` to ``days[1]``; *since*
        moves on to the day after each currency's last publication (a day
        still unpublished is carried once a later one exists)."""
        first_day, last_day = days
        wanted = sorted({quote for (_, quote), day in since.items() if day <= last_day})
        if not wanted:
            return
        published = source.published(first_day, last_day, wanted)
        _check_base(name, source.base, published)
        fresh: list[FxRate] = []
        carried: list[FxRate] = []
        for (kind, quote), first in sorted(since.items()):
            if first > last_day:
                continue
            series = [
                FxRate(
                    day.day, source.base, quote, day.rates[quote], name, self.now, kind
                )
                for day in published
                if quote in day.rates and first <= day.day
            ]
            if not series:
                if any(first <= day.day for day in published):
                    missing.add(quote)
                continue
            fresh += series
            before = self.rates.latest(
                name, source.base, quote, kind, first - timedelta(days=1)
            )
            carried += carry_forward(series, first, series[-1].day, before, self.now)
            since[kind, quote] = series[-1].day + timedelta(days=1)
        tally.days += len(published)
        new_carried = self.rates.add(carried) if carried else 0
        tally.stored += self.rates.add(fresh) + new_carried
        tally.carried += new_carried

    def raise_failure(
        self, name: str, start: date, today: date, error: PartnerError
    ) -> None:
        self.attention.raise_item(
            AttentionItem(
                f"rates:{name}",
                SOURCE_FAILED,
                f"{name} could not be read for {start} to {today}: "
                f"{str(error).rstrip('.')}. "
                "The rates kept before stay as they are; the next run asks "
                "for the missing days again.",
                self.now,
            )
        )

    def remedy(self, source: str, base: str, quote: str) -> str:
        """What a person can do about *quote* missing from *source*."""
        if quote != self.plan.pivot:
            return f"name another source for {quote} in [rates.serve]"
        # The pivot is no currency a source serves: it is the link that
        # puts a source's figures, per its own base, on the common base.
        served = sorted({s.currency for s in self.plan.servings if s.source == source})
        return (
            f"its rates are per {base}, and without {quote} (the pivot) none "
            f"of what it serves ({', '.join(served)}) can be crossed; serve "
            f"those from a source that publishes {quote}, or choose a pivot "
            f"{source} publishes"
        )

    def start(self, source: str, base: str, quote: str, kind: RateType) -> date:
        """The first day to ask for: the day after the newest rate kept,
        but never further back than the gap a run fills; a first run
        reaches back ``backfill_days``."""
        today = self.today
        newest = self.rates.latest(source, base, quote, kind, today)
        if newest is None:
            return today - timedelta(days=self.plan.backfill_days)
        return max(
            newest.day + timedelta(days=1),
            today - timedelta(days=self.plan.max_gap_days),
        )


def _check_base(name: str, base: str, published: list[PublishedRates]) -> None:
    for day in published:
        if day.base != base:
            raise PermanentPartnerError(
                f"{name} published rates per {day.base} for {day.day}; "
                f"rates per {base} were expected",
                partner=name,
            )


def _stamp_orders(
    orders: OrderStore, stamper: _Stamper, limit: int
) -> tuple[int, int, int]:
    stamped = waiting = unstampable = 0
    for order in orders.unstamped(limit):
        with_stamp = stamper(order)
        if with_stamp is None:
            waiting += 1
            continue
        try:
            orders.save(with_stamp)
        except ConflictError:
            # Another runner wrote the order in between; the next run (or
            # that runner) stamps it, once.
            continue
        if (
            with_stamp.reporting_total is not None
            and with_stamp.reporting_total.missing
        ):
            unstampable += 1
        else:
            stamped += 1
    return stamped, waiting, unstampable
