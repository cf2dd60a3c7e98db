"""What the workers that take ledger entries one by one and call a store
share: settling entries a dead runner left pending, and an entry that met
an unexpected error.

An entry is taken (QUEUED -> PENDING) before the call and completed after;
the helpers here handle the two ways it can be left in between.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from ..ports import AttentionItem, AttentionQueue, Effect, EffectLedger, EffectStatus

__all__ = ["requeue_abandoned", "settle_crashed"]


def requeue_abandoned(
    ledger: EffectLedger,
    kind: str,
    now: datetime,
    *,
    grace: timedelta,
    limit: int,
    why: str,
) -> int:
    """Put entries of *kind* left PENDING longer than *grace* back in the
    queue with *why* as their detail (which makes the next attempt look up
    what the dead runner may have done); how many."""
    settled = 0
    for entry in ledger.with_status(EffectStatus.PENDING, limit):
        if entry.kind == kind and now - entry.updated_at >= grace:
            ledger.mark(entry.key, EffectStatus.QUEUED, why, now)
            settled += 1
    return settled


def settle_crashed(
    ledger: EffectLedger,
    attention: AttentionQueue,
    entry: Effect,
    error: Exception,
    now: datetime,
    *,
    reason: str,
    what_to_do: Callable[[str], str],
) -> None:
    """An unexpected error on one entry (a bug, an answer no adapter could
    read).  Whether the store acted cannot be known and a retry would only
    meet the same error, so a person looks: the entry, if it was taken, is
    marked uncertain and leaves the queue.  *what_to_do* turns the error
    (its type and words) into the attention message."""
    why = f"{type(error).__name__}: {error}"
    current = ledger.get(entry.key)
    if current is not None and current.status is EffectStatus.PENDING:
        ledger.mark(entry.key, EffectStatus.UNCERTAIN, why, now)
    attention.raise_item(
        AttentionItem(entry.subject, reason, what_to_do(why), now, effect=entry.key)
    )
