"""Runners racing for one rate budget never get more than the bucket
holds: the grants of any stretch of time stay within the capacity plus
what the bucket refilled over it, on every backend, for threads with a
handle each and (SQLite, MongoDB) for separate processes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fulfilment.adapters.storage.sqlite import SQLiteSettings, SQLiteStorage
from fulfilment.core.ports import Storage
from tests.storage.budget_runner import CAPACITY, REFILL, spend
from tests.storage.conftest import Backend

KEY = "amazon:0123456789abcdef:getOrderItems"
RUNNERS = 6
SECONDS = 0.5
ROOT = Path(__file__).resolve().parents[2]
# A grant's time is read before its step runs; a step that waited for the
# lock may refill from a later time another runner wrote.  That gap is a
# lock wait, worth far less than one token at this refill rate.
SLACK = 1.0


def assert_within_budget(granted: Sequence[float]) -> None:
    """No stretch between two grants holds more grants than a full bucket
    plus its refill over that stretch."""
    times = sorted(granted)
    for first, start in enumerate(times):
        for last in range(first, len(times)):
            allowed = CAPACITY + REFILL * (times[last] - start) + SLACK
            assert last - first + 1 <= allowed, (
                f"{last - first + 1} grants in {times[last] - start:.3f}s"
            )


def test_racing_runners_all_at_once_share_one_full_bucket(backend: Backend) -> None:
    handles = [backend.open() for _ in range(RUNNERS)]
    start = threading.Barrier(RUNNERS)
    now = time.time()

    def grab(storage: Storage) -> int:
        start.wait()
        takes = [storage.rate_budgets.take(KEY, 1, CAPACITY, REFILL, now)]
        takes += [
            storage.rate_budgets.take(KEY, 1, CAPACITY, REFILL, now) for _ in range(9)
        ]
        return takes.count(0)

    with ThreadPoolExecutor(RUNNERS) as pool:
        grants = sum(pool.map(grab, handles))

    assert grants == CAPACITY


def test_racing_runners_over_time_stay_within_the_refill(backend: Backend) -> None:
    handles = [backend.open() for _ in range(RUNNERS)]
    start = time.time() + 0.2

    def run(storage: Storage) -> list[float]:
        # A first step opens the handle's connection (a MongoDB client
        # connects lazily), so the spending window measures steps only.
        storage.rate_budgets.take(f"{KEY}:warm-up", 1, CAPACITY, REFILL, time.time())
        while time.time() < start:
            time.sleep(0.001)
        return spend(storage, KEY, SECONDS, start)

    with ThreadPoolExecutor(RUNNERS) as pool:
        granted = [t for times in pool.map(run, handles) for t in times]

    assert_within_budget(granted)
    # The runners did spend the budget, not merely stay under it.
    assert len(granted) >= CAPACITY + REFILL * SECONDS * 0.5


def run_processes(backend: str, target: str, database: str = "") -> list[float]:
    start = time.time() + 1.5  # the processes need a moment to import
    command = [
        sys.executable,
        "-m",
        "tests.storage.budget_runner",
        backend,
        target,
        database,
    ]
    processes = [
        subprocess.Popen(  # noqa: S603 - our own argument list
            [*command, KEY, str(SECONDS), repr(start)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    granted: list[float] = []
    for process in processes:
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        granted += json.loads(out)["granted"]
    return granted


def test_two_processes_on_one_sqlite_file_stay_within_the_budget(
    tmp_path: Path,
) -> None:
    # The runners open a database that exists, as deployed ones do.
    database = tmp_path / "fulfilment.db"
    SQLiteStorage(SQLiteSettings(str(database))).close()

    granted = run_processes("sqlite", str(database))

    assert_within_budget(granted)
    assert len(granted) >= CAPACITY + REFILL * SECONDS * 0.5


def test_two_processes_on_one_mongo_database_stay_within_the_budget(
    request: pytest.FixtureRequest,
) -> None:
    server = request.getfixturevalue("mongo")
    client = request.getfixturevalue("mongo_client")
    name = f"{server.database_prefix}_budget"
    try:
        granted = run_processes("mongo", server.uri, name)
        stored = client[name]["rate_budgets"].find_one({"_id": KEY})
    finally:
        client.drop_database(name)

    assert stored is not None  # the processes wrote where we looked
    assert_within_budget(granted)
    assert len(granted) >= CAPACITY + REFILL * SECONDS * 0.5
