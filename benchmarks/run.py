"""Intake throughput, side by side: the in-memory, SQLite and MongoDB stores,
and one bulk write per page against one write per order.

    .venv/bin/python benchmarks/run.py [--orders N] [--page-size P]

MongoDB is SecantusDB started on a free loopback port (or MONGODB_URI).
Figures are printed, never asserted; compare ratios from one run, as these
machines are noisy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fulfilment.adapters.oms.memory import MemoryOrderSource
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.adapters.storage.mongo import MongoStorage
from fulfilment.adapters.storage.sqlite import SQLiteSettings, build
from fulfilment.core.clock import ManualClock
from fulfilment.core.workers.fetch_new_orders import fetch_new_orders
from fulfilment.testing.builders import T0, make_order
from tests.support.mongo import mongo_server


def source_with(count: int, page_size: int) -> MemoryOrderSource:
    source = MemoryOrderSource("shemsiworld", page_size=page_size)
    for n in range(count):
        placed = T0 + timedelta(seconds=n)
        source.put(make_order(str(n), placed_at=placed))
    return source


def intake(storage: Any, source: MemoryOrderSource) -> float:
    clock = ManualClock(T0 + timedelta(days=2))
    started = time.perf_counter()
    fetch_new_orders(
        source=source,
        orders=storage.orders,
        cursors=storage.cursors,
        attention=storage.attention,
        clock=clock,
    )
    return time.perf_counter() - started


def one_by_one(storage: Any, source: MemoryOrderSource) -> float:
    """The same orders written one save at a time (the naive loop)."""
    orders = list(source.orders.values())
    started = time.perf_counter()
    for order in orders:
        storage.orders.save(order)
    return time.perf_counter() - started


def report(name: str, seconds: float, count: int) -> None:
    print(f"{name:34} {seconds:8.3f} s  {count / seconds:9.0f} orders/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--page-size", type=int, default=250)
    args = parser.parse_args()
    n, page = args.orders, args.page_size
    print(f"intake of {n} orders, {page} per page\n")

    with tempfile.TemporaryDirectory() as folder, mongo_server(Path(folder)) as mongo:
        stores: dict[str, Callable[[], Any]] = {
            "memory": MemoryStorage,
            "sqlite": lambda: build(SQLiteSettings(f"{folder}/{uuid.uuid4().hex}.db")),
            "mongodb": lambda: MongoStorage(
                mongo.client(), f"{mongo.database_prefix}_{uuid.uuid4().hex[:6]}"
            ),
        }
        for name, make in stores.items():
            bulk = intake(make(), source_with(n, page))
            report(f"{name}: bulk write per page", bulk, n)
            if name != "memory":
                single = one_by_one(make(), source_with(n, page))
                report(f"{name}: one write per order", single, n)
                print(f"{'':34} bulk is {single / bulk:.1f}x faster\n")
            else:
                print()


if __name__ == "__main__":
    main()
