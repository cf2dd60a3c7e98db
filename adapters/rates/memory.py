"""The in-memory twin of :class:`~fulfilment.core.ports.RateSource`.

A test (or a dry run) tells it what was published on which day with
:meth:`MemoryRateSource.publish`; ``published(start, end, quotes)`` hands
back those days, oldest first, limited to the quotes asked for, exactly as
a real source does.  ``fail_next`` queues errors for the next calls (or
for those after a few more answers), and ``calls`` counts them.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Collection, Mapping
from datetime import date
from decimal import Decimal

import attrs

from fulfilment.core.errors import PartnerError
from fulfilment.core.rates import PublishedRates

__all__ = ["MemoryRateSettings", "MemoryRateSource"]


@attrs.frozen
class MemoryRateSettings:
    """The ``memory`` rate source takes one setting: its base currency."""

    base: str = "USD"


class MemoryRateSource:
    def __init__(self, base: str = "USD") -> None:
        self.base = base
        self._days: dict[date, dict[str, Decimal]] = {}
        self._failures: deque[PartnerError] = deque()
        self._answer_first = 0
        self._lock = threading.Lock()
        self.calls = 0

    def publish(self, day: date, rates: Mapping[str, Decimal | str | int]) -> None:
        """Publish *rates* (units per one base) for *day*, as the source
        would; a second call for a day adds to it."""
        with self._lock:
            self._days.setdefault(day, {}).update(
                {quote: Decimal(value) for quote, value in rates.items()}
            )

    def fail_next(self, *errors: PartnerError, after: int = 0) -> None:
        """Raise *errors* on the next calls, one each, once *after* more
        calls have answered."""
        self._answer_first = after
        self._failures.extend(errors)

    def published(
        self, start: date, end: date, quotes: Collection[str]
    ) -> list[PublishedRates]:
        with self._lock:
            self.calls += 1
            if self._answer_first > 0:
                self._answer_first -= 1
            elif self._failures:
                raise self._failures.popleft()
            wanted = set(quotes)
            return [
                PublishedRates(
                    day,
                    self.base,
                    {q: r for q, r in sorted(rates.items()) if q in wanted},
                )
                for day, rates in sorted(self._days.items())
                if start <= day <= end
            ]
