"""Worker fetch-new-orders: bring one store's changed orders into our model.

Incremental on the source's update time.  Each run reads the window from the
stored watermark minus an overlap up to the run's start minus a small lag,
page by page, oldest change first.  Every page is merged (pure) and stored
in one bulk write before the watermark moves to the newest change on it, so
a crash loses nothing and a re-read changes nothing.  A source error mid-way
stops the run loudly with the watermark at the last stored page.

A backfill (``since``) reads from a given time instead of the watermark, to
take in what an earlier window missed or a store's older history.  It goes
through the same merge, so orders already kept are left as they are unless
the source has a newer version; and it only ever moves the watermark
forward, so the ordinary runs after it carry on where they were.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs

from ..domain import Order
from ..errors import IncompleteRead
from ..intake import Merge, MergeOutcome, merge
from ..ports import (
    AttentionItem,
    AttentionQueue,
    Clock,
    CursorStore,
    OrderSource,
    OrderStore,
    SourceWindow,
)

__all__ = [
    "IntakeReport",
    "IntakeSettings",
    "PageRead",
    "cursor_name",
    "fetch_new_orders",
    "store_orders",
]

log = logging.getLogger(__name__)

# Writes an order's reporting-currency total on it; None when its rate may
# still come.
Stamp = Callable[[Order], "Order | None"]

MAX_CONFLICT_ROUNDS = 5
_OLDEST = datetime.min.replace(tzinfo=UTC)


@attrs.frozen
class IntakeSettings:
    """``overlap`` re-reads the end of the previous window; ``lag`` keeps
    the upper bound behind the source's clock; ``first_run_lookback`` is
    how far back a store with no watermark starts."""

    overlap: timedelta = timedelta(minutes=10)
    lag: timedelta = timedelta(minutes=2)
    first_run_lookback: timedelta = timedelta(days=30)


@attrs.frozen
class PageRead:
    """How far a run has read: after each stored page, the pages and
    orders so far and the newest change among them (pages come oldest
    change first, so this walks from ``window.since`` to ``window.until``)."""

    store: str
    window: SourceWindow
    pages: int
    fetched: int
    reached: datetime | None


@attrs.frozen
class IntakeReport:
    store: str
    window: SourceWindow
    pages: int
    fetched: int
    outcomes: dict[str, int]
    attention: tuple[str, ...] = ()

    @property
    def ingested(self) -> int:
        return self.outcomes.get("inserted", 0) + self.outcomes.get("updated", 0)


def cursor_name(source: OrderSource) -> str:
    return f"fetch-new-orders:{source.channel}:{source.store}"


def fetch_new_orders(
    *,
    source: OrderSource,
    orders: OrderStore,
    cursors: CursorStore,
    attention: AttentionQueue,
    clock: Clock,
    settings: IntakeSettings | None = None,
    stamp: Stamp | None = None,
    since: datetime | None = None,
    on_page: Callable[[PageRead], None] | None = None,
) -> IntakeReport:
    """Read one store's changed orders into *orders*.  With *stamp* (see
    :func:`~fulfilment.core.workers.fetch_fx_rates.order_stamper`), each
    order stored for the first time gets its total in the reporting
    currency, once; a re-read never touches it.  With *since*, read from
    then rather than from the watermark (a backfill); *on_page* hears
    after each stored page how far the run has read."""
    settings = settings or IntakeSettings()
    started = clock.now()
    window = _window(cursors.get(cursor_name(source)), started, settings)
    if since is not None:
        # Never less than the ordinary window: a backfill from after the
        # watermark would otherwise skip what lies between them.
        start = since if window.since is None else min(since, window.since)
        window = SourceWindow(min(start, window.until), window.until)

    outcomes: Counter[str] = Counter()
    raised: list[str] = []
    pages = fetched = 0
    reached: datetime | None = None
    page_token: str | None = None
    seen_tokens: set[str] = set()
    while True:
        page = source.fetch_changed_orders(window, page_token)
        pages += 1
        fetched += len(page.orders)

        merges = _store_page(page.orders, orders, started, stamp)

        outcomes.update(m.outcome.value for m in merges)
        raised += _raise_attention(merges, attention, started)
        _advance_cursor(cursors, cursor_name(source), page.orders)
        if page.orders:
            reached = max(
                reached or _OLDEST, *(o.source_updated_at for o in page.orders)
            )
        if on_page is not None:
            on_page(PageRead(source.store, window, pages, fetched, reached))
        page_token = page.next_page
        if page_token is None:
            break
        if page_token in seen_tokens:
            raise IncompleteRead(
                f"{source.store}: the source returned page token "
                f"{page_token!r} twice; stopping rather than looping"
            )
        seen_tokens.add(page_token)

    # Never backwards: a backfill, or a slower runner, ends behind it.
    current = cursors.get(cursor_name(source))
    if current is None or window.until > current:
        cursors.set(cursor_name(source), window.until)
    report = IntakeReport(
        source.store, window, pages, fetched, dict(outcomes), tuple(raised)
    )
    log.info(
        "orders.fetched store=%s pages=%d fetched=%d %s",
        source.store,
        pages,
        fetched,
        " ".join(f"{k}={v}" for k, v in sorted(outcomes.items())),
    )
    return report


def store_orders(
    fetched: tuple[Order, ...],
    *,
    orders: OrderStore,
    attention: AttentionQueue,
    now: datetime,
    stamp: Stamp | None = None,
) -> tuple[list[Merge], list[str]]:
    """Fold orders read outside a paged run (a pushed webhook) into *orders*
    exactly as a page is folded: newest version per key, merged with what
    is stored, written with compare-and-set.  The merges, and the attention
    items raised (``key:reason``)."""
    merges = _store_page(fetched, orders, now, stamp)
    return merges, _raise_attention(merges, attention, now)


def _window(
    watermark: datetime | None, started: datetime, settings: IntakeSettings
) -> SourceWindow:
    until = started - settings.lag
    if watermark is None:
        return SourceWindow(started - settings.first_run_lookback, until)
    return SourceWindow(min(watermark - settings.overlap, until), until)


def _store_page(
    fetched: tuple[Order, ...],
    orders: OrderStore,
    now: datetime,
    stamp: Stamp | None,
) -> list[Merge]:
    """Merge and write one page; re-merge the few orders another runner
    wrote in between, so the newest version always wins."""
    newest = _newest_per_key(fetched)
    decided: list[Merge] = []
    pending = list(newest.values())
    for _ in range(MAX_CONFLICT_ROUNDS):
        stored = orders.get_many(o.key for o in pending)
        merges = [merge(stored.get(o.key), o, now) for o in pending]
        if stamp is not None:
            merges = [_stamped(m, stamp) for m in merges]
        writes = [m.order for m in merges if m.order is not None]
        lost = set(orders.save_many(writes)) if writes else set()
        decided += [m for m in merges if m.order is None or m.order.key not in lost]
        pending = [o for o in pending if o.key in lost]
        if not pending:
            return decided
    raise RuntimeError(
        f"orders {', '.join(str(o.key) for o in pending)} kept changing "
        f"under {MAX_CONFLICT_ROUNDS} rounds of writes"
    )


def _stamped(decided: Merge, stamp: Stamp) -> Merge:
    if decided.outcome is not MergeOutcome.INSERTED or decided.order is None:
        return decided
    with_stamp = stamp(decided.order)
    if with_stamp is None:
        return decided
    return attrs.evolve(decided, order=with_stamp)


def _newest_per_key(fetched: tuple[Order, ...]) -> dict[object, Order]:
    # A page may carry the same order twice when it changed mid-read.
    newest: dict[object, Order] = {}
    for order in fetched:
        seen = newest.get(order.key)
        if seen is None or order.source_updated_at > seen.source_updated_at:
            newest[order.key] = order
    return newest


def _raise_attention(
    merges: list[Merge], attention: AttentionQueue, now: datetime
) -> list[str]:
    raised = []
    for m in merges:
        if m.attention is None:
            continue
        reason, message = m.attention
        attention.raise_item(AttentionItem(m.key, reason, message, now))
        raised.append(f"{m.key}:{reason}")
    return raised


def _advance_cursor(cursors: CursorStore, name: str, page: tuple[Order, ...]) -> None:
    if not page:
        return
    newest = max(order.source_updated_at for order in page)
    current = cursors.get(name)
    if current is None or newest > current:
        cursors.set(name, newest)
