"""When a worker is due and when it is overdue, from the run history."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from fulfilment.core.ports import RunRecord
from fulfilment.runners.timetable import (
    DEFAULT_SCHEDULE,
    Daily,
    Every,
    due_at,
    is_overdue,
    parse_schedule,
)
from fulfilment.runners.wiring import WORKERS

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
RETRY = MINUTE


def record(started: datetime, **changes: Any) -> RunRecord:
    return RunRecord("notify-customers", "run-1", "runner-a", started, **changes)


def test_every_worker_has_a_default_schedule() -> None:
    assert set(DEFAULT_SCHEDULE) == set(WORKERS)
    assert all(parse_schedule(text) for text in DEFAULT_SCHEDULE.values())


@pytest.mark.parametrize(
    ("text", "schedule"),
    [
        ("5m", Every(300)),
        ("30s", Every(30)),
        ("2h", Every(7200)),
        ("1d", Every(86400)),
        ("daily 16:30", Daily(time(16, 30))),
        ("daily 06:05 Africa/Cairo", Daily(time(6, 5), "Africa/Cairo")),
    ],
)
def test_schedules_read_as_written(text: str, schedule: object) -> None:
    assert parse_schedule(text) == schedule


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("5 minutes", "is not a schedule"),
        ("0m", "above zero"),
        ("99999999999d", "at most 366d"),
        ("367d", "at most 366d"),
        ("daily 25:00", "is not a schedule"),
        ("daily 16:30 Mars/Olympus", "not a time zone"),
    ],
)
def test_a_bad_schedule_says_what_is_accepted(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_schedule(text)


def test_a_worker_that_never_ran_is_due_now() -> None:
    assert due_at(Every(300), None, NOW, RETRY) == NOW
    assert due_at(Daily(time(16, 30)), None, NOW, RETRY) == NOW


def test_an_interval_counts_from_the_last_start() -> None:
    ran = record(NOW - 2 * MINUTE, finished_at=NOW - MINUTE, ok=True)

    assert due_at(Every(300), ran, NOW, RETRY) == NOW + 3 * MINUTE


def test_a_run_stamped_by_a_clock_ahead_does_not_put_the_worker_off() -> None:
    far_ahead = record(NOW + timedelta(days=3), ok=True)
    skewed = record(NOW + 10 * timedelta(seconds=1), ok=True)

    assert due_at(Every(300), far_ahead, NOW, RETRY) == NOW
    assert due_at(Every(300), skewed, NOW, RETRY) == NOW + 310 * timedelta(seconds=1)


def test_a_failed_run_is_retried_sooner_than_its_next_turn() -> None:
    failed = record(NOW - 2 * MINUTE, finished_at=NOW - MINUTE, ok=False)

    assert due_at(Every(3600), failed, NOW, RETRY) == NOW


def test_a_daily_worker_is_due_at_its_time_in_its_zone() -> None:
    cairo = Daily(time(16, 30), "Africa/Cairo")  # UTC+2 in December
    yesterday = record(datetime(2026, 12, 3, 14, 31, tzinfo=UTC), ok=True)

    due = due_at(cairo, yesterday, NOW, RETRY)

    assert due == datetime(2026, 12, 4, 14, 30, tzinfo=UTC)
    assert due > NOW


def test_a_run_in_the_hour_a_clock_repeats_is_not_due_again_at_once() -> None:
    # Paris goes back from 03:00 to 02:00 on 2026-10-25: 01:15 UTC is the
    # second 02:15 of the day, after the first 02:30 (00:30 UTC).
    paris = Daily(time(2, 30), "Europe/Paris")
    started = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)

    turn = paris.next_after(started)

    assert turn > started
    assert turn == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


def test_a_daily_worker_that_missed_its_time_is_due_at_once() -> None:
    last_week = record(NOW - timedelta(days=7), ok=True)

    assert due_at(Daily(time(6, 0)), last_week, NOW, RETRY) < NOW


def test_overdue_after_the_period_times_the_factor_plus_grace() -> None:
    every = Every(120)
    grace = timedelta(minutes=10)
    fresh = record(NOW, ok=True, last_success_at=NOW - 14 * MINUTE)
    stale = record(NOW, ok=False, last_success_at=NOW - 15 * MINUTE)

    assert not is_overdue(every, fresh, NOW, factor=2, grace=grace)
    assert is_overdue(every, stale, NOW, factor=2, grace=grace)


def test_never_ran_is_not_overdue_but_never_succeeded_is() -> None:
    failed = record(NOW - MINUTE, finished_at=NOW - MINUTE, ok=False)
    first_run = record(NOW - MINUTE)
    stuck = record(NOW - timedelta(hours=1))
    grace = timedelta(minutes=10)

    assert not is_overdue(Every(120), None, NOW, factor=2, grace=grace)
    assert is_overdue(Every(120), failed, NOW, factor=2, grace=grace)
    assert not is_overdue(Every(120), first_run, NOW, factor=2, grace=grace)
    assert is_overdue(Every(120), stuck, NOW, factor=2, grace=grace)
