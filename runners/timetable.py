"""When each worker is due, and when one is overdue.

A worker runs on an interval (``"5m"``: five minutes after its last run
started) or once a day at a wall-clock time (``"daily 16:30"`` in UTC, or
``"daily 16:30 Africa/Cairo"``).  Nothing here keeps time of its own: what
is due is worked out from the run history in the database, so several
``fulfilment schedule`` processes read one timetable and a worker that one
of them ran is not due for the others.

A run that failed is tried again after ``retry_seconds`` (or its interval,
when that is shorter) rather than waiting for its next turn; a run that
never finished (its runner died) counts as started, and its lease keeps
the others off until it lapses.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from datetime import datetime, time, timedelta

import attrs

from fulfilment.core.ports import RunRecord

__all__ = [
    "DEFAULT_SCHEDULE",
    "Daily",
    "Every",
    "Schedule",
    "due_at",
    "is_overdue",
    "parse_schedule",
]

# Every worker's interval unless ``[runner.schedule]`` says otherwise.
DEFAULT_SCHEDULE: Mapping[str, str] = {
    "fetch-fx-rates": "daily 16:30",
    "fetch-new-orders": "5m",
    # The receiver reads each delivery as it keeps it; this run is the
    # backstop for deliveries kept by a receiver that died before reading.
    "process-webhooks": "5m",
    "cancel-bookings": "5m",
    "create-fulfilment-requests": "5m",
    "fetch-fulfilment-status": "30m",
    "update-store-fulfilments": "15m",
    "send-nps-form": "1h",
    "fetch-nps-responses": "1h",
    "discount-codes": "1h",
    "notify-customers": "2m",
}

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EVERY = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_DAILY = re.compile(r"daily\s+([01]?\d|2[0-3]):([0-5]\d)(?:\s+(\S+))?")
_DAY = timedelta(days=1)
# The longest interval taken: a worker run less than once a year is not on
# a schedule, and a longer period would overflow the dates worked out from
# it (the next turn, the overdue limit at a hundred periods).
_LONGEST = timedelta(days=366)


@attrs.frozen
class Every:
    """Due again *seconds* after the last run started."""

    seconds: float

    @property
    def period(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    def next_after(self, started: datetime) -> datetime:
        return started + self.period


@attrs.frozen
class Daily:
    """Due once a day, at *at* on the clock of *zone*."""

    at: time
    zone: str = "UTC"

    @property
    def period(self) -> timedelta:
        return _DAY

    def next_after(self, started: datetime) -> datetime:
        """The first time of day strictly after *started*."""
        local = started.astimezone(zoneinfo.ZoneInfo(self.zone))
        moment = datetime.combine(local.date(), self.at, local.tzinfo)
        # Compared with *started* itself, not *local*: two times in one zone
        # compare by their wall clocks, which repeat an hour when the clocks
        # go back, and a run in that hour would be due again at once.
        if moment <= started:
            moment = datetime.combine(local.date() + _DAY, self.at, local.tzinfo)
        return moment.astimezone(started.tzinfo)


Schedule = Every | Daily


def parse_schedule(text: str) -> Schedule:
    """``"30s"``, ``"5m"``, ``"2h"``, ``"1d"`` or ``"daily HH:MM [Zone]"``;
    ValueError saying what is accepted otherwise."""
    cleaned = text.strip()
    every = _EVERY.fullmatch(cleaned)
    if every:
        seconds = float(every.group(1)) * _UNITS[every.group(2)]
        if seconds <= 0:
            raise ValueError(f"{text!r}: an interval must be above zero")
        if seconds > _LONGEST.total_seconds():
            raise ValueError(f"{text!r}: an interval must be at most 366d")
        return Every(seconds)
    daily = _DAILY.fullmatch(cleaned)
    if daily:
        hour, minute, zone = daily.groups()
        zone = zone or "UTC"
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{text!r}: {zone!r} is not a time zone name like Africa/Cairo"
            ) from None
        return Daily(time(int(hour), int(minute)), zone)
    raise ValueError(
        f'{text!r} is not a schedule; write an interval like "5m", "30s", '
        '"2h" or a time of day like "daily 16:30" or "daily 16:30 Africa/Cairo"'
    )


def due_at(
    schedule: Schedule, record: RunRecord | None, now: datetime, retry: timedelta
) -> datetime:
    """When the runs under *record*'s name are next due (*now* or earlier
    when they are due already)."""
    if record is None:
        return now
    if record.started_at - now > schedule.period:
        # Stamped by a clock far ahead of ours (a simulation's, a badly
        # set host's): waiting for it would put the worker off for good.
        # A few seconds' skew between hosts only shifts the next turn.
        return now
    turn = schedule.next_after(record.started_at)
    if record.ok is False and record.finished_at is not None:
        return min(turn, record.finished_at + min(retry, schedule.period))
    return turn


def is_overdue(
    schedule: Schedule,
    record: RunRecord | None,
    now: datetime,
    *,
    factor: float,
    grace: timedelta,
) -> bool:
    """Whether a person should look: the last success is older than the
    schedule's period times *factor* plus *grace*; or no run under the
    name ever succeeded though one has ended (it failed), or started that
    long ago.  A name that never ran at all is not overdue: the connector
    may have been installed a minute ago."""
    if record is None:
        return False
    allowed = schedule.period * factor + grace
    if record.last_success_at is not None:
        return now - record.last_success_at > allowed
    if record.finished_at is not None:
        return True
    return now - record.started_at > allowed
