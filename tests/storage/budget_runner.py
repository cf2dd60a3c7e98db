"""A runner process that spends from a shared rate budget, for the
two-process tests: ``python -m tests.storage.budget_runner BACKEND TARGET
DATABASE KEY SECONDS START`` waits for the wall clock to reach START, takes
one token at a time from KEY for SECONDS, and prints one JSON line: the
time of each grant.  TARGET is a SQLite file or a MongoDB URI (DATABASE
names the database on it)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from pymongo import MongoClient

from fulfilment.adapters.storage.mongo import MongoStorage
from fulfilment.adapters.storage.sqlite import SQLiteSettings, SQLiteStorage
from fulfilment.core.ports import Storage

CAPACITY = 20.0
REFILL = 40.0


def open_storage(backend: str, target: str, database: str) -> Storage:
    if backend == "sqlite":
        return SQLiteStorage(SQLiteSettings(target))
    client: MongoClient[dict[str, Any]] = MongoClient(target, tz_aware=True)
    return MongoStorage(client, database, owns_client=True)


def spend(storage: Storage, key: str, seconds: float, start: float) -> list[float]:
    """Take single tokens until *seconds* after *start*; the grant times."""
    granted = []
    while (now := time.time()) < start + seconds:
        wait = storage.rate_budgets.take(key, 1, CAPACITY, REFILL, now)
        if wait == 0:
            granted.append(now)
        else:
            time.sleep(wait)
    return granted


def main(arguments: list[str]) -> None:
    backend, target, database, key, seconds, start = arguments
    storage = open_storage(backend, target, database)
    try:
        while time.time() < float(start):
            time.sleep(0.001)
        granted = spend(storage, key, float(seconds), float(start))
    finally:
        storage.close()
    print(json.dumps({"granted": granted}))


if __name__ == "__main__":
    main(sys.argv[1:])
