"""Idle cost: a big store with nothing to do must cost a few indexed reads.

The store is filled with delivered orders (the bulk of any connector's
history: terminal, never polled again) and the workers that read the
order store are run once each with nothing to do.  Every database command
(MongoDB, counted by a ``CommandListener``) or call into SQLite is
counted per worker, and every read is explained: a ``COLLSCAN`` in a
MongoDB plan, or a ``SCAN`` of the orders or effects table without an
index in SQLite's ``EXPLAIN QUERY PLAN``, fails the figure.

The workers that need a survey provider (send-nps-form,
fetch-nps-responses, discount-codes) are not run here: their idle reads
are the effect ledger's ``queued``, measured through notify-customers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import attrs

from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import OrderState
from fulfilment.core.ports import OrderPage, SourceWindow
from fulfilment.core.routing import RoutingPolicy
from fulfilment.core.workers.cancel_bookings import cancel_bookings
from fulfilment.core.workers.create_fulfilment_requests import (
    create_fulfilment_requests,
)
from fulfilment.core.workers.fetch_fulfilment_status import fetch_fulfilment_status
from fulfilment.core.workers.fetch_new_orders import fetch_new_orders
from fulfilment.core.workers.notify_customers import notify_customers
from fulfilment.core.workers.update_store_fulfilments import (
    update_store_fulfilments,
)

from .harness import Figure, Sizes, Store, StoreMaker
from .intake import NOW, STORE, order_nodes, read_pages

__all__ = ["idle"]

HANDFUL = 6
BIG_TABLES = ("orders", "effects")


class NothingNew:
    """A source whose every window is empty."""

    channel = "shopify"
    store = STORE

    def fetch_changed_orders(
        self, window: SourceWindow, page: str | None = None
    ) -> OrderPage:
        return OrderPage((), None)


def _workers(store: Store) -> dict[str, Callable[[], Any]]:
    s: Any = store.storage
    clock = ManualClock(NOW + timedelta(days=1))
    routes = RoutingPolicy.one_partner_per_store({STORE: "aramex"})
    return {
        "fetch-new-orders": lambda: fetch_new_orders(
            source=NothingNew(),
            orders=s.orders,
            cursors=s.cursors,
            attention=s.attention,
            clock=clock,
        ),
        "create-fulfilment-requests": lambda: create_fulfilment_requests(
            orders=s.orders,
            partners={},
            routing=routes,
            ledger=s.ledger,
            attention=s.attention,
            clock=clock,
            owner="bench",
        ),
        "fetch-fulfilment-status": lambda: fetch_fulfilment_status(
            orders=s.orders,
            partners={},
            attention=s.attention,
            clock=clock,
            ledger=s.ledger,
        ),
        "cancel-bookings": lambda: cancel_bookings(
            orders=s.orders,
            partners={},
            ledger=s.ledger,
            attention=s.attention,
            clock=clock,
        ),
        "notify-customers": lambda: notify_customers(
            orders=s.orders,
            ledger=s.ledger,
            attention=s.attention,
            voices={},
            clock=clock,
        ),
        "update-store-fulfilments": lambda: update_store_fulfilments(
            orders=s.orders,
            stores={},
            ledger=s.ledger,
            attention=s.attention,
            clock=clock,
        ),
    }


def fill(store: Store, count: int) -> None:
    """*count* delivered orders, written a page at a time."""
    for page in read_pages(order_nodes(count), 1000):
        delivered = [attrs.evolve(o, state=OrderState.DELIVERED) for o in page]
        store.storage.orders.save_many(delivered)


def idle(maker: StoreMaker, kinds: Sequence[str], sizes: Sizes) -> list[Figure]:
    figures = []
    for kind in kinds:
        store = maker(kind)
        fill(store, sizes.idle_backlog)
        for name, run in _workers(store).items():
            store.reset_counts()
            run()
            trips = store.round_trips
            what = _what(store)
            scans = _scans(store)
            note = what + (f"; scans: {', '.join(scans)}" if scans else "")
            figures.append(
                Figure(
                    f"idle {name}",
                    kind,
                    trips,
                    f"<= {HANDFUL}, no scan",
                    trips <= HANDFUL and not scans,
                    note,
                )
            )
    return figures


def _what(store: Store) -> str:
    if store.counter is not None:
        return " ".join(f"{k}={v}" for k, v in sorted(store.counter.commands.items()))
    return f"{len(store.statements)} statements"


def _scans(store: Store) -> list[str]:
    """The reads since the last reset that scan a big collection or table."""
    if store.counter is not None:
        return _mongo_scans(store)
    return _sqlite_scans(store)


def _mongo_scans(store: Store) -> list[str]:
    database = store.storage.database  # type: ignore[union-attr]
    found = []
    for _, command in list(store.counter.reads):  # type: ignore[union-attr]
        command.pop("lsid", None)
        command.pop("$db", None)
        plan = database.command({"explain": command, "verbosity": "queryPlanner"})
        if "COLLSCAN" in repr(plan.get("queryPlanner", plan)):
            found.append(f"{command.get('find', '?')} {command.get('filter')}")
    return found


def _sqlite_scans(store: Store) -> list[str]:
    conn = store.storage.database.connection()  # type: ignore[union-attr]
    found = []
    statements = list(store.statements)
    for sql in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        plan = conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
        for row in plan:
            detail = str(row[-1])
            if _scans_big_table(detail):
                found.append(detail)
    store.statements[:] = statements
    return found


def _scans_big_table(detail: str) -> bool:
    match = re.match(r"SCAN (\w+)", detail)
    if match is None or match.group(1) not in BIG_TABLES:
        return False
    return "USING" not in detail
