"""What an operator does to an order waiting for attention.

``retry_order`` says "I have fixed it (or checked the partner), try again":
the order goes back to ``new`` with its attempts reset, its open attention
items are resolved, and a booking the ledger could not settle is marked
failed so the next booking run may try again.  Only call it for a booking
of unknown outcome after checking the partner has no parcel for the order.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from .domain import Order, OrderKey, OrderState
from .errors import ConflictError
from .ports import AttentionQueue, EffectLedger, EffectStatus, OrderStore

__all__ = ["NotRetryable", "retry_order"]

RETRYABLE = frozenset({OrderState.NEEDS_ATTENTION, OrderState.ON_HOLD})


class NotRetryable(ValueError):
    """The order is not waiting for anyone: nothing to retry."""


def retry_order(
    *,
    key: OrderKey,
    orders: OrderStore,
    ledger: EffectLedger,
    attention: AttentionQueue,
    now: datetime,
) -> Order:
    order = orders.get(key)
    if order is None:
        raise LookupError(f"no order {key}")
    if order.state not in RETRYABLE:
        raise NotRetryable(
            f"order {key} is {order.state}; only held orders or "
            "orders waiting for attention can be retried"
        )

    effect = ledger.get(f"book:{key}")
    if effect is not None and effect.status in (
        EffectStatus.UNCERTAIN,
        EffectStatus.PENDING,
    ):
        ledger.mark(effect.key, EffectStatus.FAILED, "operator retried", now)

    fresh = attrs.evolve(
        order,
        state=OrderState.NEW,
        problems=(),
        hold_reason=None,
        attempts=0,
        next_attempt_at=None,
        claim=None,
    )
    try:
        saved = orders.save(fresh)
    except ConflictError:
        raise ConflictError(f"order {key} changed meanwhile; look again") from None
    for item in attention.open_items():
        if item.subject == str(key):
            attention.resolve(item.subject, item.reason, now)
    return saved
