"""Token buckets that several runner processes draw from together (pure).

A partner meters calls per credential: Shopify charges query points from a
bucket per app and shop, Amazon gives each operation of a seller-app pair a
bucket of requests.  A runner that keeps its own copy of the bucket knows
nothing of the other runners on the same credential, and together they
spend more than the partner grants.  So the bucket lives in the database
(the :class:`~fulfilment.core.ports.RateBudget` port) and every runner takes
from it before calling.

This module is the arithmetic every store applies inside its own atomic
step, so the three stores cannot disagree:

- a bucket holds at most *capacity* tokens and gains *refill* tokens a
  second; one that was never used is full;
- :func:`take` grants *cost* tokens when the bucket holds them and answers
  0, or grants nothing and answers the seconds until it will hold them;
- :func:`give_back` returns tokens a grant did not need (Shopify charges
  the actual cost of a query, often less than the requested cost taken);
- :func:`observe` lowers the bucket to what the partner says it holds;
  it never raises it, because calls granted and not yet at the partner are
  in our count and not yet in its.

Times are seconds since the epoch, read from each runner's own clock.  A
time earlier than the bucket's last one (another host's clock is behind)
refills nothing and leaves the bucket's time where it was, so clock skew
between hosts can only make the bucket slower, never hand out more.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import TypeVar

import attrs

__all__ = [
    "Bucket",
    "BucketSteps",
    "budget_key",
    "give_back",
    "observe",
    "take",
]

# A caller that waited exactly the deficit must not be refused for the
# float noise of the refill (2.04 s can come back as 2.0399...).
_NOISE = 1e-9


@attrs.frozen
class Bucket:
    """What a budget keeps per key: the tokens at time ``updated``."""

    tokens: float
    updated: float

    def at(self, capacity: float, refill: float, now: float) -> Bucket:
        """The bucket refilled up to *now* (never past *capacity*)."""
        elapsed = max(0.0, now - self.updated)
        tokens = min(capacity, self.tokens + elapsed * refill)
        return Bucket(tokens, max(self.updated, now))


def _current(
    bucket: Bucket | None, capacity: float, refill: float, now: float
) -> Bucket:
    _check_shape(capacity, refill, now)
    if bucket is None:
        return Bucket(capacity, now)
    return bucket.at(capacity, refill, now)


def take(
    bucket: Bucket | None, cost: float, capacity: float, refill: float, now: float
) -> tuple[Bucket, float]:
    """The bucket after asking for *cost* tokens at *now*, and 0 when they
    were granted or the seconds to wait when nothing was taken.

    Raises ``ValueError`` for a cost no bucket of *capacity* can ever grant
    (it would wait for ever) and for a negative or non-finite figure.
    """
    if not (math.isfinite(cost) and 0 <= cost <= capacity):
        raise ValueError(
            f"a cost of {cost:g} tokens cannot be granted from a bucket of {capacity:g}"
        )
    current = _current(bucket, capacity, refill, now)
    missing = cost - current.tokens
    if missing <= _NOISE:
        return Bucket(max(0.0, current.tokens - cost), current.updated), 0.0
    return current, missing / refill


def give_back(
    bucket: Bucket | None, tokens: float, capacity: float, refill: float, now: float
) -> Bucket:
    """The bucket with *tokens* a grant did not use returned to it."""
    if not (math.isfinite(tokens) and tokens >= 0):
        raise ValueError(f"cannot give back {tokens:g} tokens")
    current = _current(bucket, capacity, refill, now)
    return Bucket(min(capacity, current.tokens + tokens), current.updated)


def observe(
    bucket: Bucket | None, available: float, capacity: float, refill: float, now: float
) -> Bucket:
    """The bucket lowered to *available*, the partner's own count at *now*,
    when it holds more."""
    if not (math.isfinite(available) and available >= 0):
        raise ValueError(f"a bucket cannot hold {available:g} tokens")
    current = _current(bucket, capacity, refill, now)
    return Bucket(min(current.tokens, available), current.updated)


T = TypeVar("T")


class BucketSteps:
    """The three steps of a :class:`~fulfilment.core.ports.RateBudget`, each
    one change of one bucket.  A store says only how it reads, changes and
    writes a bucket as one atomic step (``_apply``); the changes are this
    module's, the same for every store."""

    def take(
        self,
        key: str,
        cost: float,
        capacity: float,
        refill_per_second: float,
        now: float,
    ) -> float:
        return self._apply(
            key, lambda bucket: take(bucket, cost, capacity, refill_per_second, now)
        )

    def give_back(
        self,
        key: str,
        tokens: float,
        capacity: float,
        refill_per_second: float,
        now: float,
    ) -> None:
        self._apply(
            key,
            lambda bucket: (
                give_back(bucket, tokens, capacity, refill_per_second, now),
                None,
            ),
        )

    def observe(
        self,
        key: str,
        available: float,
        capacity: float,
        refill_per_second: float,
        now: float,
    ) -> None:
        self._apply(
            key,
            lambda bucket: (
                observe(bucket, available, capacity, refill_per_second, now),
                None,
            ),
        )

    def _apply(
        self, key: str, change: Callable[[Bucket | None], tuple[Bucket, T]]
    ) -> T:
        """Read the bucket under *key* (None when there is none), keep the
        bucket *change* gives, and answer what it answers, atomically."""
        raise NotImplementedError


def _check_shape(capacity: float, refill: float, now: float) -> None:
    if not (math.isfinite(capacity) and capacity > 0):
        raise ValueError(f"a bucket's capacity must be positive, not {capacity:g}")
    if not (math.isfinite(refill) and refill > 0):
        raise ValueError(f"a bucket's refill rate must be positive, not {refill:g}")
    if not math.isfinite(now):
        raise ValueError(f"{now!r} is not a time")


def budget_key(partner: str, *identity: str) -> str:
    """The key of one credential's budget: the partner's name and a digest
    of what identifies the credential (a shop's address, an app's client
    id and host).  Never pass a secret: the key is stored in clear and
    shown to operators."""
    digest = hashlib.sha256("\x00".join(identity).encode()).hexdigest()[:16]
    return f"{partner}:{digest}"
