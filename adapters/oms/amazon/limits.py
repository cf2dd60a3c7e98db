"""Amazon's usage plans as token buckets, one per operation, so calls wait
for a token instead of spending the seller's quota on 429s.

The SP-API meters each operation of each seller-app pair with a token
bucket: it refills at *rate* tokens a second up to *burst*, a call takes
one, an empty bucket answers 429 ``QuotaExceeded``.  :class:`RateLimits`
keeps a copy of each bucket on our side and sleeps until a token is there.
The figures are the documented defaults; when a response carries
``x-amzn-RateLimit-Limit`` (the rate Amazon applies to this account, sent
only when available) the bucket takes that rate.  A 429 means our copy
was too optimistic (another process shares the quota): the bucket is
emptied, so the next call waits a whole refill.

The clock and the sleeper are injected: tests hand in a fake monotonic
clock whose sleep moves time, and run instantly.  One process keeps one
copy; several runner processes on one seller account share the quota
without knowing of each other, and the 429 back-off is what keeps them
apart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import attrs

__all__ = ["DEFAULT_PLANS", "RateLimits", "TokenBucket", "UsagePlan"]

log = logging.getLogger(__name__)


@attrs.frozen
class UsagePlan:
    """``rate`` tokens a second, at most ``burst`` in the bucket."""

    rate: float
    burst: int


# Amazon's default usage plans (requests a second, burst).
DEFAULT_PLANS = {
    "getOrders": UsagePlan(0.0167, 20),
    "getOrderItems": UsagePlan(0.5, 30),
    "searchOrders": UsagePlan(0.0056, 20),
    "createRestrictedDataToken": UsagePlan(1.0, 10),
}
_UNKNOWN = UsagePlan(0.5, 10)  # an operation without a documented plan


@attrs.define
class TokenBucket:
    """Our copy of one operation's bucket; starts full, as Amazon's does."""

    rate: float
    burst: int
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.updated = now

    def wait_for_token(self) -> float:
        """Seconds until one whole token is in the bucket (after a refill)."""
        return max(0.0, (1.0 - self.tokens) / self.rate)


class RateLimits:
    """The buckets of one seller account, by operation name."""

    def __init__(
        self,
        plans: dict[str, UsagePlan] | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._plans = dict(DEFAULT_PLANS if plans is None else plans)
        self._monotonic = monotonic
        self._sleep = sleep
        self._buckets: dict[str, TokenBucket] = {}

    def acquire(self, operation: str) -> float:
        """Take one token for *operation*, sleeping until there is one;
        the seconds slept."""
        bucket = self._bucket(operation)
        bucket.refill(self._monotonic())
        wait = bucket.wait_for_token()
        if wait > 0:
            log.debug("amazon.rate_wait operation=%s wait=%.1fs", operation, wait)
            self._sleep(wait)
            bucket.refill(self._monotonic())
        bucket.tokens = max(0.0, bucket.tokens - 1.0)
        return wait

    def observe(self, operation: str, header: str | None) -> None:
        """Take the rate of an ``x-amzn-RateLimit-Limit`` header, when it
        holds a positive number."""
        rate = _rate(header)
        if rate is None:
            return
        bucket = self._bucket(operation)
        if bucket.rate != rate:
            log.info(
                "amazon.rate_applied operation=%s rate=%g was=%g",
                operation,
                rate,
                bucket.rate,
            )
            bucket.rate = rate

    def throttled(self, operation: str, header: str | None = None) -> float:
        """Amazon answered 429: empty the bucket (after taking the header's
        rate); the seconds until the next token."""
        self.observe(operation, header)
        bucket = self._bucket(operation)
        bucket.refill(self._monotonic())
        bucket.tokens = 0.0
        return bucket.wait_for_token()

    def bucket(self, operation: str) -> TokenBucket:
        """The bucket of *operation*, for inspection."""
        return self._bucket(operation)

    def _bucket(self, operation: str) -> TokenBucket:
        found = self._buckets.get(operation)
        if found is None:
            plan = self._plans.get(operation, _UNKNOWN)
            found = TokenBucket(
                plan.rate, plan.burst, float(plan.burst), self._monotonic()
            )
            self._buckets[operation] = found
        return found


def _rate(header: str | None) -> float | None:
    if not header:
        return None
    try:
        rate = float(header.strip())
    except ValueError:
        return None
    return rate if rate > 0 and rate != float("inf") else None
