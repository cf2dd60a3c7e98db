"""Intake against its two limits: Shopify's cost bucket and the database.

``api-limit``: a backfill from the Shopify sandbox set to a real plan's
bucket and restore rate.  Waiting for a 1000-point bucket to refill at 50
points a second would make a 20,000-order backfill last an hour, so the
run uses a fast-forward clock shared by the adapter and the simulator:
time runs at wall-clock speed while anything works (the simulator, the
mapping, the database) and skips ahead over every wait instead of
sleeping it.  The bucket therefore refills during real work exactly as it
would in production, and the figure (points charged against the points
the plan granted over the run, bucket included) says how well the adapter
paces itself from ``throttleStatus``.

``db-floor``: the same orders, already read, replayed page by page into
``fetch_new_orders``, against a floor that bulk-upserts the same orders'
prepared documents with the driver alone (pymongo ``bulk_write``,
``sqlite3.executemany``), one write per page.  Both start from an empty
store.  ``round-trips`` counts what the worker sends per page at two page
sizes: a constant, not a multiple of the page size.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import httpx
from pymongo import ReplaceOne

from fulfilment.adapters.oms.shopify.client import ShopifyGraphQLClient
from fulfilment.adapters.oms.shopify.mapping import map_order
from fulfilment.adapters.oms.shopify.source import ShopifyOrderSource
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.adapters.storage.mongo import _order_document
from fulfilment.adapters.storage.sqlite import _INSERT_ORDER, _insert_row
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order
from fulfilment.core.ports import OrderPage, SourceWindow
from fulfilment.core.workers.fetch_new_orders import fetch_new_orders
from fulfilment.runners.sandbox.seed import sandbox_token
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.runners.sandbox.shopify import ShopifySimulator
from tests.oms.nodes import order_node

from .harness import (
    Figure,
    Sizes,
    Store,
    StoreMaker,
    at_least,
    at_most,
    figure,
    sqlite_floor,
)

__all__ = ["FastForward", "api_limit", "db_floor", "order_nodes", "read_pages"]

NOW = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)
STORE = "shemsiworld"
VERSION = "2025-07"

TRIP_PAGES = 8

# (name, bucket points, restore points per second): GraphQL Admin API plans.
PLANS = (("standard", 1000.0, 50.0), ("plus", 10000.0, 500.0))


class FastForward:
    """A monotonic clock at wall-clock speed that skips over waits: a
    ``sleep`` moves the clock forward at once instead of blocking."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self.skipped = 0.0

    def monotonic(self) -> float:
        return time.perf_counter() - self._start + self.skipped

    def sleep(self, seconds: float) -> None:
        self.skipped += max(0.0, seconds)


def order_nodes(
    count: int, *, first: int = 1, last: int | None = None
) -> list[dict[str, Any]]:
    """Orders ``first`` to ``last`` (default all) of *count* orders changed
    one after the other over the last days."""
    start = NOW - timedelta(days=20)
    step = timedelta(days=19) / max(1, count)
    nodes = []
    for n in range(first, (count if last is None else last) + 1):
        moment = _stamp(start + step * n)
        nodes.append(order_node(n, createdAt=moment, updatedAt=moment))
    return nodes


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.frozen
class Backfill:
    seconds: float
    points: float
    throttled: int
    requests: int
    orders: int


def backfill(
    store: Store, nodes: list[dict[str, Any]], bucket: float, restore: float
) -> Backfill:
    """Read *nodes* from a sandbox shop with that plan into *store*."""
    time_ = FastForward()
    sim = ShopifySimulator(
        orders={STORE: nodes},
        bucket_size=bucket,
        restore_rate=restore,
        monotonic=time_.monotonic,
        clock=ManualClock(NOW),
    )
    with SimServer(sim) as server, _http(server.url) as http:
        client = ShopifyGraphQLClient(
            http,
            STORE,
            sandbox_token(STORE),
            VERSION,
            RetryPolicy(sleep=time_.sleep),
            sleep=time_.sleep,
            monotonic=time_.monotonic,
        )
        started = time_.monotonic()
        report = fetch_new_orders(
            source=ShopifyOrderSource(client, STORE),
            orders=store.storage.orders,
            cursors=store.storage.cursors,
            attention=store.storage.attention,
            clock=ManualClock(NOW),
        )
        seconds = time_.monotonic() - started
    usage = sim.usage(STORE)
    return Backfill(
        seconds, usage.points, usage.throttled, usage.requests, report.ingested
    )


def _http(url: str) -> httpx.Client:
    return httpx.Client(base_url=f"{url}/shops/{STORE}", timeout=30)


def api_limit(maker: StoreMaker, kinds: Sequence[str], sizes: Sizes) -> list[Figure]:
    nodes = order_nodes(sizes.api_backfill)
    figures = []
    for kind in kinds:
        for plan, bucket, restore in PLANS:
            figures += _plan_figures(maker(kind), nodes, plan, bucket, restore)
    return figures


def _plan_figures(
    store: Store, nodes: list[dict[str, Any]], plan: str, bucket: float, restore: float
) -> list[Figure]:
    run = backfill(store, nodes, bucket, restore)
    granted = bucket + restore * run.seconds
    note = (
        f"{run.orders} orders, {run.points:.0f} points in {run.seconds:.0f} s "
        f"(fast-forwarded), {run.requests} requests"
    )
    throttled = 100 * run.throttled / max(1, run.requests)
    return [
        figure(
            f"api-limit {plan}: share of limit",
            store.name,
            run.points / granted,
            at_least,
            0.9,
            note=note,
        ),
        figure(
            f"api-limit {plan}: throttled %",
            store.name,
            throttled,
            at_most,
            1.0,
            note=f"{run.throttled} throttled answers",
        ),
    ]


def _clear(store: Store) -> None:
    if store.name == "mongo":
        store.storage.database["orders"].delete_many({})  # type: ignore[index]
        store.storage.database["cursors"].delete_many({})  # type: ignore[index]
    else:
        with store.storage.database.write() as conn:  # type: ignore[union-attr]
            conn.execute("DELETE FROM orders")
            conn.execute("DELETE FROM cursors")
    store.reset_counts()


# --- against the database floor ----------------------------------------------


class ReplaySource:
    """Pages already read, handed out again: the source costs nothing, so
    the time measured is the worker's and the database's."""

    channel = "shopify"

    def __init__(self, pages: Sequence[tuple[Order, ...]]) -> None:
        self.store = STORE
        self._pages = pages

    def fetch_changed_orders(
        self, window: SourceWindow, page: str | None = None
    ) -> OrderPage:
        index = int(page or 0)
        more = index + 1 < len(self._pages)
        return OrderPage(self._pages[index], str(index + 1) if more else None)


def read_pages(nodes: list[dict[str, Any]], page_size: int) -> list[tuple[Order, ...]]:
    """The orders of *nodes* as the Shopify source maps them, in pages."""
    orders = [map_order(node, STORE) for node in nodes]
    kept = [order for order in orders if isinstance(order, Order)]
    return [tuple(kept[i : i + page_size]) for i in range(0, len(kept), page_size)]


def intake_seconds(store: Store, pages: Sequence[tuple[Order, ...]]) -> float:
    started = time.perf_counter()
    fetch_new_orders(
        source=ReplaySource(pages),
        orders=store.storage.orders,
        cursors=store.storage.cursors,
        attention=store.storage.attention,
        clock=ManualClock(NOW),
    )
    return time.perf_counter() - started


def floor_seconds(
    store: Store, pages: Sequence[tuple[Order, ...]], *, serialise: bool = False
) -> float:
    """Bulk upserts of the pages' documents with the driver alone: prepared
    beforehand, or (*serialise*) made from the orders inside the timed
    loop, as the adapter must."""
    if store.name == "mongo":
        return _mongo_floor(store, pages, serialise)
    return _sqlite_floor(store, pages, serialise)


def _mongo_floor(
    store: Store, pages: Sequence[tuple[Order, ...]], serialise: bool
) -> float:
    """Into a collection with the orders' own indexes, as the adapter's
    writes must maintain them too."""
    assert store.raw_mongo is not None
    database = store.raw_mongo[store.path]
    collection = database["floor"]
    collection.drop()
    for name, spec in database["orders"].index_information().items():
        if name != "_id_":
            keys = spec.pop("key")
            spec.pop("v", None)
            spec.pop("ns", None)
            collection.create_index(keys, name=name, **spec)

    def documents(page: tuple[Order, ...]) -> list[dict[str, Any]]:
        return [_order_document(o, "floor") for o in page]

    prepared: list[Any] = list(pages) if serialise else [documents(p) for p in pages]
    started = time.perf_counter()
    for page in prepared:
        made = documents(page) if serialise else page
        collection.bulk_write(
            [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in made],
            ordered=False,
        )
    return time.perf_counter() - started


def _sqlite_floor(
    store: Store, pages: Sequence[tuple[Order, ...]], serialise: bool
) -> float:
    """Into a copy of the orders table with its indexes, the rows the
    adapter would insert."""
    conn = sqlite_floor(store.path)
    conn.execute("DROP TABLE IF EXISTS floor")
    schema = conn.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'orders' AND sql NOT NULL"
    ).fetchall()
    for (sql,) in schema:
        conn.execute(_renamed(sql))
    insert = _INSERT_ORDER.replace("INTO orders", "OR REPLACE INTO floor")

    def rows(page: tuple[Order, ...]) -> list[tuple[Any, ...]]:
        return [_insert_row(o) for o in page]

    prepared: list[Any] = list(pages) if serialise else [rows(p) for p in pages]
    started = time.perf_counter()
    for page in prepared:
        made = rows(page) if serialise else page
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert, made)
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def _renamed(sql: str) -> str:
    """*sql* creating the orders table or one of its indexes, for the floor."""
    sql = re.sub(r"\bON orders\b", "ON floor", sql)
    sql = re.sub(r"\bTABLE orders\b", "TABLE floor", sql)
    return re.sub(r"\bINDEX (\w+)", r"INDEX floor_\1", sql)


def _trips_per_page(store: Store, pages: Sequence[tuple[Order, ...]]) -> float:
    """Round trips per page of a backfill of *pages* into an empty store."""
    _clear(store)
    intake_seconds(store, pages)
    return store.round_trips / len(pages)


def db_floor(maker: StoreMaker, kinds: Sequence[str], sizes: Sizes) -> list[Figure]:
    """Time ratio and round trips per page, for every store given."""
    nodes = order_nodes(sizes.backfill)
    pages = read_pages(nodes, 250)
    small = read_pages(nodes[: 50 * TRIP_PAGES], 50)
    figures = []
    for name in kinds:
        store = maker(name)
        floor = floor_seconds(store, pages)
        serialised = floor_seconds(store, pages, serialise=True)
        store.counting(False)
        ours = intake_seconds(store, pages)
        store.counting(True)
        note = (
            f"intake {ours:.2f} s, driver floor {floor:.2f} s, floor making "
            f"the documents itself {serialised:.2f} s"
        )
        figures.append(
            figure(
                "db-floor: intake / floor time",
                name,
                ours / floor,
                at_most,
                2.0,
                note=note,
            )
        )
        figures.append(
            figure(
                "db-floor: intake / serialising floor",
                name,
                ours / serialised,
                at_most,
                2.0,
                note="the floor turning each order into its document or row "
                "inside the timed loop, as intake must",
            )
        )
        # The same number of pages at both sizes: the run's own fixed
        # reads and writes weigh the same on both.
        count = min(TRIP_PAGES, len(pages), len(small))
        trips = _trips_per_page(store, pages[:count])
        trips_small = _trips_per_page(store, small[:count])
        constant = abs(trips - trips_small) < 1
        figures.append(
            Figure(
                "db-floor: round trips / page",
                name,
                round(trips, 2),
                "<= 8, flat",
                trips <= 8 and constant,
                f"{trips:.1f} at 250 orders a page, {trips_small:.1f} at 50",
            )
        )
    return figures
