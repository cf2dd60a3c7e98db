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
    """``stamp_batch`` is how many unstamped orders one run stamps."""

    stamp_batch: int = 500


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
    run = _Run(rates, plan, attention, now)
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


@attrs.frozen
class _Run:
    """One run's view: where rates are kept, what the plan asks, the day."""

    rates: RateStore
    plan: RatePlan
    attention: AttentionQueue
    now: datetime

    @property
    def today(self) -> date:
        return self.now.date()

    def fetch(self, name: str, source: RateSource) -> SourceOutcome:
        today, now = self.today, self.now
        base = source.base
        starts = {
            (kind, quote): self.start(name, base, quote, kind)
            for kind, quotes in self.plan.quotes(name).items()
            for quote in quotes
        }
        if not starts or min(starts.values()) > today:
            return SourceOutcome(name, None, today)
        start = min(starts.values())
        subject = f"rates:{name}"
        try:
            published = source.published(
                start, today, sorted({quote for _, quote in starts})
            )
            _check_base(name, base, published)
        except PartnerError as error:
            self.attention.raise_item(
                AttentionItem(
                    subject,
                    SOURCE_FAILED,
                    f"{name} could not be read for {start} to {today}: "
                    f"{str(error).rstrip('.')}. "
                    "The rates kept before stay as they are; the next run asks "
                    "for the missing days again.",
                    now,
                )
            )
            return SourceOutcome(name, start, today, error=str(error))
        self.attention.resolve(subject, SOURCE_FAILED, now)

        fresh: list[FxRate] = []
        carried: list[FxRate] = []
        missing: set[str] = set()
        for (kind, quote), since in sorted(starts.items()):
            series = [
                FxRate(day.day, base, quote, day.rates[quote], name, now, kind)
                for day in published
                if quote in day.rates and since <= day.day
            ]
            if not series:
                if any(since <= day.day for day in published):
                    missing.add(quote)
                continue
            fresh += series
            before = self.rates.latest(
                name, base, quote, kind, since - timedelta(days=1)
            )
            carried += carry_forward(series, since, series[-1].day, before, now)
        for quote in sorted(missing):
            self.attention.raise_item(
                AttentionItem(
                    f"{subject}:{quote}",
                    NOT_PUBLISHED,
                    f"{name} published rates for {start} to {today} but none "
                    f"for {quote}; {self.remedy(name, base, quote)}.",
                    now,
                )
            )
        new = self.rates.add(fresh)
        new_carried = self.rates.add(carried)
        return SourceOutcome(
            name,
            start,
            today,
            published_days=len(published),
            stored=new + new_carried,
            carried=new_carried,
            missing=tuple(sorted(missing)),
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
