"""Clocks: the system clock, and a manual one for tests and simulations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .domain import ensure_utc

__all__ = ["ManualClock", "SystemClock"]


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told; the sandbox's shared clock."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = ensure_utc(moment)
