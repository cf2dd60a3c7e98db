"""The ``fulfilment schedule`` loop and the run table ``status`` shows.

Each round runs, in :data:`~fulfilment.runners.wiring.WORKERS` order, the
workers (and, for intake, the stores) that the shared run history says are
due, then sleeps until the next one is due, waking at least every *tick*
seconds to look again (another process may have run something, or the
clock moved).  A worker that raises is logged and counted, and the loop
goes on: the history has it failed, so it is due again after
``[runner] retry_minutes``.  A stop request (SIGTERM, SIGINT) is honoured
between two runs, never in the middle of one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from .timetable import Every, Schedule, due_at, is_overdue
from .wiring import App, failed

__all__ = ["Round", "run_schedule", "run_table"]

log = logging.getLogger(__name__)


@attrs.frozen
class Round:
    """What the loop did in all: runs, and runs that failed."""

    runs: int = 0
    failures: int = 0


def _schedule(app: App, worker: str, every: float | None) -> Schedule:
    if every is not None:
        return Every(every)
    schedule: Schedule = app.config.runner.schedule[worker]
    return schedule


def _due(app: App, worker: str, every: float | None, now: datetime) -> dict[str, str]:
    """The run names (with their stores) of *worker* that are due at
    *now*."""
    schedule = _schedule(app, worker, every)
    retry = app.config.runner.retry
    return {
        name: store
        for name, store in app.run_names(worker).items()
        if due_at(schedule, app.storage.runs.last(name), now, retry) <= now
    }


def _next_due(app: App, workers: Sequence[str], every: float | None) -> datetime:
    now = app.clock.now()
    retry = app.config.runner.retry
    return min(
        due_at(_schedule(app, w, every), app.storage.runs.last(name), now, retry)
        for w in workers
        for name in app.run_names(w)
    )


def run_schedule(
    app: App,
    workers: Sequence[str],
    *,
    stop: threading.Event,
    emit: Callable[[dict[str, Any]], None],
    every: float | None = None,
    times: int = 0,
    tick: float = 60.0,
) -> Round:
    """Run what is due until *stop* is set (or *times* rounds that ran
    something); *emit* hears each run's report."""
    runs = failures = rounds = 0
    while not stop.is_set():
        ran = 0
        for worker in workers:
            if stop.is_set():
                break
            due = _due(app, worker, every, app.clock.now())
            if not due:
                continue
            stores = sorted(s for s in due.values() if s)
            result = _one_run(app, worker, stores, _still_due(app, worker, every))
            ran += 1
            failures += failed(result)
            emit(result)
        runs += ran
        rounds += 1 if ran else 0
        if times and rounds >= times:
            break
        wait = (_next_due(app, workers, every) - app.clock.now()).total_seconds()
        stop.wait(min(max(wait, 0.01), tick))
    return Round(runs, failures)


def _still_due(app: App, worker: str, every: float | None) -> Callable[[str], bool]:
    """Asked once a run's lease is held: another scheduler may have run it
    between our look at the history and our taking the lease."""
    schedule = _schedule(app, worker, every)

    def due(name: str) -> bool:
        now = app.clock.now()
        record = app.storage.runs.last(name)
        return due_at(schedule, record, now, app.config.runner.retry) <= now

    return due


def _one_run(
    app: App, worker: str, stores: list[str], still_due: Callable[[str], bool]
) -> dict[str, Any]:
    """Run *worker* (only its due *stores*, when it runs per store)."""
    try:
        if stores:
            return app.run(worker, stores=stores, still_due=still_due)
        return app.run(worker, still_due=still_due)
    except Exception as error:  # logged, counted, and due again later
        log.error("schedule.worker_failed worker=%s error=%s", worker, error)
        return {"worker": worker, "error": str(error)}


def run_table(app: App, workers: Sequence[str], now: datetime) -> list[dict[str, Any]]:
    """For every run name of *workers*: its schedule, last run, last
    success, when it is next due, and whether it is overdue."""
    runner = app.config.runner
    rows = []
    for worker in workers:
        schedule = runner.schedule[worker]
        for name, store in app.run_names(worker).items():
            record = app.storage.runs.last(name)
            rows.append(
                {
                    "worker": worker,
                    "store": store or None,
                    "name": name,
                    "schedule": _describe(schedule),
                    "last_run_id": record.run_id if record else None,
                    "last_started_at": _iso(record.started_at if record else None),
                    "last_ok": record.ok if record else None,
                    "last_success_at": _iso(record.last_success_at if record else None),
                    "next_due_at": _iso(due_at(schedule, record, now, runner.retry)),
                    "overdue": is_overdue(
                        schedule,
                        record,
                        now,
                        factor=runner.overdue_factor,
                        grace=runner.overdue_grace,
                    ),
                }
            )
    return rows


def _describe(schedule: Schedule) -> str:
    if isinstance(schedule, Every):
        return f"every {timedelta(seconds=schedule.seconds)}"
    return f"daily {schedule.at:%H:%M} {schedule.zone}"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
