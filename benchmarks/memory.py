"""Peak memory of a backfill, at two backlog sizes.

Each backfill runs in its own process (``python -m benchmarks.memory``),
which reports its peak resident set (``getrusage`` ``ru_maxrss``).  The
source makes each page of orders when it is asked for it, as a real
source reads them off the wire, so the process holds what the worker
holds: if the peak grows with the backlog, the worker keeps something
per order.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from fulfilment.adapters.storage.mongo import MongoStorage
from fulfilment.adapters.storage.sqlite import SQLiteSettings, SQLiteStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.ports import OrderPage, SourceWindow
from fulfilment.core.workers.fetch_new_orders import fetch_new_orders

from .harness import Figure, Sizes, StoreMaker
from .intake import NOW, STORE, order_nodes, read_pages

__all__ = ["memory"]

LIMIT_MB = 200.0
FLAT = 1.15  # the larger backlog may cost this much more, no more
PAGE = 250


class GeneratedSource:
    """*count* orders, each page made on demand and then let go."""

    channel = "shopify"
    store = STORE

    def __init__(self, count: int) -> None:
        self._count = count

    def fetch_changed_orders(
        self, window: SourceWindow, page: str | None = None
    ) -> OrderPage:
        start = int(page or 0)
        end = min(self._count, start + PAGE)
        nodes = order_nodes(self._count, first=start + 1, last=end)
        (orders,) = read_pages(nodes, PAGE) or [()]
        return OrderPage(orders, str(end) if end < self._count else None)


def _child(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, required=True)
    parser.add_argument("--sqlite")
    parser.add_argument("--mongo", nargs=2, metavar=("URI", "DATABASE"))
    args = parser.parse_args(argv)
    if args.sqlite:
        storage: SQLiteStorage | MongoStorage = SQLiteStorage(
            SQLiteSettings(args.sqlite)
        )
    else:
        from pymongo import MongoClient

        uri, name = args.mongo
        storage = MongoStorage(MongoClient(uri, tz_aware=True), name)
        storage.ensure_indexes()
    report = fetch_new_orders(
        source=GeneratedSource(args.orders),
        orders=storage.orders,
        cursors=storage.cursors,
        attention=storage.attention,
        clock=ManualClock(NOW),
    )
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_mb": peak_kb / 1024, "ingested": report.ingested}))


def peak_mb(maker: StoreMaker, kind: str, orders: int) -> float:
    store = maker(kind)
    if kind == "sqlite":
        target = ["--sqlite", store.path]
    else:
        assert maker.mongo_server is not None
        target = ["--mongo", maker.mongo_server.uri, store.path]
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(  # noqa: S603 - our own module, arguments we built
        [sys.executable, "-m", "benchmarks.memory", "--orders", str(orders), *target],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )
    if done.returncode != 0:
        last = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(
            f"the {kind} backfill of {orders} orders failed "
            f"(exit {done.returncode}):\n{last}"
        )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["ingested"] != orders:
        raise RuntimeError(f"backfill stored {result['ingested']} of {orders}")
    return float(result["peak_mb"])


def memory(maker: StoreMaker, kinds: Sequence[str], sizes: Sizes) -> list[Figure]:
    small, large = sizes.memory_backlogs
    figures = []
    for kind in kinds:
        low = peak_mb(maker, kind, small)
        high = peak_mb(maker, kind, large)
        figures.append(
            Figure(
                "memory: peak MB of backfill",
                kind,
                round(high, 1),
                f"< {LIMIT_MB:g}, flat",
                high < LIMIT_MB and high <= low * FLAT,
                f"{low:.0f} MB at {small} orders, {high:.0f} MB at {large}",
            )
        )
    return figures


if __name__ == "__main__":
    _child(sys.argv[1:])
