"""Worker process-webhooks: read the deliveries a store pushed into our model.

The receiver keeps each delivery before it answers (see
:class:`~fulfilment.core.ports.WebhookInbox`), so a crash between receipt
and processing loses nothing: whatever is still unprocessed is read by the
next run, here or in the receiver's own background task.  Delivery is
at-least-once and unordered; neither matters here.  A delivery id is kept
once, and every order goes through intake's merge, which only lets a
strictly newer source version replace the stored one: an old retry that
arrives last is ``stale`` and changes nothing.

Booking is not this worker's business.  An order it inserts is ``new``
like one polling found, and create-fulfilment-requests books it once,
whichever of the two saw it first (its claim and the ledger see to that).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime

import attrs

from ..domain import Order
from ..intake import MergeOutcome
from ..ports import (
    AttentionItem,
    AttentionQueue,
    Clock,
    OrderStore,
    WebhookDelivery,
    WebhookInbox,
)
from .fetch_new_orders import Stamp, store_orders

__all__ = ["UNREADABLE_WEBHOOK", "Reader", "WebhookReport", "process_webhooks"]

log = logging.getLogger(__name__)

# What a delivery holds: the order, or why it holds none.
Reader = Callable[[WebhookDelivery], "Order | str"]
UNREADABLE_WEBHOOK = "unreadable_webhook"
SET_ASIDE = "set_aside"
STALE = "stale"


@attrs.frozen
class WebhookReport:
    """``outcomes`` counts deliveries by what came of them (intake's merge
    outcomes, ``stale``, ``set_aside``); ``details`` is (delivery id,
    outcome) in processing order."""

    processed: int
    outcomes: dict[str, int]
    details: tuple[tuple[str, str], ...] = ()
    attention: tuple[str, ...] = ()


def process_webhooks(
    *,
    inbox: WebhookInbox,
    read: Reader,
    orders: OrderStore,
    attention: AttentionQueue,
    clock: Clock,
    limit: int = 500,
    stamp: Stamp | None = None,
) -> WebhookReport:
    """Read up to *limit* unprocessed deliveries, oldest first, into
    *orders*, and mark each processed with its outcome."""
    now = clock.now()
    deliveries = inbox.unprocessed(limit)

    read_orders: dict[str, Order] = {}
    outcomes: dict[str, str] = {}
    for delivery in deliveries:
        found = read(delivery)
        if isinstance(found, Order):
            read_orders[delivery.delivery_id] = found
        else:
            outcomes[delivery.delivery_id] = _set_aside(delivery, found, attention, now)

    merges, raised = store_orders(
        tuple(read_orders.values()),
        orders=orders,
        attention=attention,
        now=now,
        stamp=stamp,
    )
    decided = {m.key: m.outcome.value for m in merges}
    credited: set[str] = set()
    for delivery_id, order in read_orders.items():
        outcomes[delivery_id] = _outcome(order, decided, read_orders, credited)

    details = tuple((d.delivery_id, outcomes[d.delivery_id]) for d in deliveries)
    for delivery_id, outcome in details:
        inbox.mark_processed(delivery_id, outcome, now)
    counts = Counter(outcome.split(":", 1)[0] for _, outcome in details)
    log.info(
        "webhooks.processed deliveries=%d%s",
        len(details),
        "".join(f" {k}={v}" for k, v in sorted(counts.items())),
    )
    return WebhookReport(len(details), dict(counts), details, tuple(raised))


def _outcome(
    order: Order,
    decided: dict[str, str],
    read_orders: dict[str, Order],
    credited: set[str],
) -> str:
    """What came of one delivery's order.  Of several deliveries of one
    order in a batch only the newest version was merged: an older one is
    stale like a late retry, and a second copy of the newest is
    unchanged."""
    key = str(order.key)
    newest = max(
        o.source_updated_at for o in read_orders.values() if o.key == order.key
    )
    if order.source_updated_at < newest:
        return STALE
    if key in credited:
        return MergeOutcome.UNCHANGED.value
    credited.add(key)
    return decided[key]


def _set_aside(
    delivery: WebhookDelivery,
    reason: str,
    attention: AttentionQueue,
    now: datetime,
) -> str:
    """A delivery that holds no order it could read.  The receiver keeps
    only topics that carry orders, so this is a body we cannot read (or
    misunderstand): a person looks at it, and polling still brings the
    order in if there is one."""
    log.warning(
        "webhooks.unreadable webhook_id=%s store=%s topic=%s reason=%s",
        delivery.delivery_id,
        delivery.store,
        delivery.topic,
        reason,
    )
    attention.raise_item(
        AttentionItem(
            f"webhook:{delivery.store}:{delivery.delivery_id}",
            UNREADABLE_WEBHOOK,
            f"a {delivery.topic} delivery from {delivery.store} could not be "
            f"read: {reason}",
            now,
        )
    )
    return f"{SET_ASIDE}: {reason}"
