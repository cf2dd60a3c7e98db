"""The ECB's euro reference rates as a ``RateSource``."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import date, timedelta

from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import PermanentPartnerError, TransientPartnerError
from fulfilment.core.ports import Clock
from fulfilment.core.rates import PublishedRates

from . import wire
from .client import EcbClient

__all__ = ["EcbRateSource"]

log = logging.getLogger(__name__)


class EcbRateSource:
    """Euro reference rates, per one euro, from the smallest file that
    holds the days asked for.

    Today alone is read from the daily file; a range starting within the
    last 90 days from the 90-day history, and when that file turns out not
    to reach back to the range's first day, from the full history, so a day
    is only ever absent because the ECB did not publish it.  Today is the
    clock's day in UTC: the ECB publishes around 16:00 CET, so before that
    today is simply not there yet.  Days after today are not asked for.

    A read changes nothing, so every failure that may pass (429, 5xx, no
    connection, a cut transfer, a maintenance page instead of the file) is
    retried under the retry policy and then raised as a
    ``TransientPartnerError`` naming what came back.  A missing file or a
    redirect means ``base_url`` is wrong, and a body declaring entities is
    refused unread: both are ``PermanentPartnerError``.
    """

    name = wire.PARTNER
    base = wire.BASE

    def __init__(self, client: EcbClient, clock: Clock, retry: RetryPolicy) -> None:
        self._client = client
        self._clock = clock
        self._retry = retry

    def published(
        self, start: date, end: date, quotes: Collection[str]
    ) -> list[PublishedRates]:
        today = self._clock.now().date()
        end = min(end, today)
        if start > end:
            return []
        days = self._days(start, end, today)
        wanted = frozenset(quotes)
        return [
            PublishedRates(
                day.day,
                self.base,
                {q: r for q, r in sorted(day.rates.items()) if q in wanted},
            )
            for day in days
            if start <= day.day <= end
        ]

    def _days(self, start: date, end: date, today: date) -> list[PublishedRates]:
        if start == end == today:
            return self._read(wire.DAILY)
        if today - start > timedelta(days=wire.NINETY_DAYS_REACH):
            return self._read(wire.HISTORY)
        days = self._read(wire.HISTORY_90_DAYS)
        if days and days[0].day <= start:
            return days
        log.info(
            "rates.file_too_short source=ecb file=%s first=%s start=%s",
            wire.HISTORY_90_DAYS,
            days[0].day if days else "-",
            start,
        )
        return self._read(wire.HISTORY)

    def _read(self, name: str) -> list[PublishedRates]:
        return self._retry.call(
            lambda: self._fetch(name), idempotent=True, what=f"ecb.{name}"
        )

    def _fetch(self, name: str) -> list[PublishedRates]:
        fetched = self._client.fetch(name)
        if not fetched.ok:
            raise wire.error_of(fetched, name)
        try:
            days = wire.published_of(fetched.content)
        except wire.UnsafeBody as error:
            raise PermanentPartnerError(
                f"{name}: {error}", partner=self.name, status=fetched.status
            ) from error
        except wire.NotEnvelope as error:
            # Nothing is changed by a read: a page served in the file's
            # place, or a cut transfer, is worth another try.
            raise TransientPartnerError(
                f"{name} is not the ECB's envelope of rates: {error}",
                partner=self.name,
                status=fetched.status,
            ) from error
        log.debug("rates.file_read source=ecb file=%s days=%d", name, len(days))
        return days
