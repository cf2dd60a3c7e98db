"""An in-memory order source: the twin of the Shopify adapter.

It behaves like a live shop read through a cursor: orders sorted by update
time, a page token that remembers the position ``(updated_at, id)`` of the
last order handed out, so an order changed while pages are being read moves
behind the position and is seen again on a later page, as with the real
API.  Tests drive it with ``put`` (create or edit) and can make the next
page fail.
"""

from __future__ import annotations

import json
from collections import deque
from datetime import datetime

import attrs

from fulfilment.core.domain import Order
from fulfilment.core.errors import PartnerError
from fulfilment.core.ports import OrderPage, SourceWindow

__all__ = ["MemoryOrderSource"]


class MemoryOrderSource:
    def __init__(self, store: str, *, channel: str = "shopify", page_size: int = 50):
        self.channel = channel
        self.store = store
        self.page_size = page_size
        self.orders: dict[str, Order] = {}
        self.history: dict[str, list[Order]] = {}
        self.pages_served = 0
        self._failures: deque[PartnerError] = deque()
        self._duplicates: deque[int] = deque()
        self._replays = 0

    def put(self, order: Order) -> None:
        """Create or replace an order, as the shop would after an edit."""
        self.orders[order.key.external_id] = order
        self.history.setdefault(order.key.external_id, []).append(order)

    def fail_next(self, *errors: PartnerError) -> None:
        self._failures.extend(errors)

    def repeat_last_of_next_pages(self, *counts: int) -> None:
        """Make the next pages also carry again the last *count* orders of
        the page before: the at-least-once delivery a real API can show."""
        self._duplicates.extend(counts)

    def replay_old_versions(self, count: int) -> None:
        """Make the next read start with a page of the first versions of up
        to *count* orders that changed since: a late retry of an old
        delivery."""
        self._replays += count

    def fetch_changed_orders(
        self, window: SourceWindow, page: str | None = None
    ) -> OrderPage:
        if self._failures:
            raise self._failures.popleft()
        self.pages_served += 1
        if self._replays and page is None:
            # The stale copies come on a page of their own, ahead of the
            # real first page, so no fresher copy sits beside them.
            return OrderPage(tuple(self._old_versions()), _encode(_START))
        after = _decode(page) if page else None
        matching = sorted(
            (o for o in self.orders.values() if _inside(o, window)), key=_position
        )
        if after is not None:
            matching = [o for o in matching if _position(o) > after]
        chunk = matching[: self.page_size]
        repeat = self._duplicates.popleft() if self._duplicates else 0
        if repeat and after is not None:
            chunk = self._repeated(after, repeat) + chunk
        more = len(matching) > self.page_size
        last = matching[: self.page_size][-1:] if more else []
        token = _encode(_position(last[0])) if last else None
        return OrderPage(tuple(chunk), token)

    def _old_versions(self) -> list[Order]:
        changed = [v[0] for v in self.history.values() if len(v) > 1]
        replayed, self._replays = changed[: self._replays], 0
        return replayed

    def _repeated(self, after: tuple[float, str], count: int) -> list[Order]:
        earlier = sorted(
            (o for o in self.orders.values() if _position(o) <= after), key=_position
        )
        return earlier[-count:]


_START = (-1.0e18, "")


def _inside(order: Order, window: SourceWindow) -> bool:
    updated = order.source_updated_at
    since_ok = window.since is None or updated >= window.since
    return since_ok and updated < window.until


def _position(order: Order) -> tuple[float, str]:
    return (order.source_updated_at.timestamp(), order.key.external_id.zfill(20))


def _encode(position: tuple[float, str]) -> str:
    return json.dumps(list(position))


def _decode(token: str) -> tuple[float, str]:
    first, second = json.loads(token)
    return (float(first), str(second))


def touched(order: Order, at: datetime, **changes: object) -> Order:
    """*order* as the shop would return it after a change at *at*."""
    return attrs.evolve(order, source_updated_at=at, **changes)  # type: ignore[arg-type]
