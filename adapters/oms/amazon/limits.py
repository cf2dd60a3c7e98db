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
clock whose sleep moves time, and run instantly.

Without a budget one process keeps one copy, and several runner processes
on one seller account share the quota without knowing of each other.
Given a :class:`~fulfilment.core.ports.RateBudget` (the database's, in a
runner) the buckets live there instead, one per operation under
``<key>:<operation>``, and every runner takes its tokens from the same
bucket; a 429 empties that shared bucket for all of them.  The clock must
then read seconds since the epoch, alike on every runner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import attrs

from fulfilment.core.ports import RateBudget

__all__ = ["DEFAULT_PLANS", "RateLimits", "TokenBucket", "UsagePlan"]

log = logging.getLogger(__name__)


def _positive(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{attribute.name} must be above 0, not {value!r}")


@attrs.frozen
class UsagePlan:
    """``rate`` tokens a second, at most ``burst`` in the bucket."""

    rate: float = attrs.field(validator=_positive)
    burst: int = attrs.field(validator=_positive)


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
    """The buckets of one seller account, by operation name; with a
    *budget*, shared under *key* (see the module docstring)."""

    def __init__(
        self,
        plans: dict[str, UsagePlan] | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        budget: RateBudget | None = None,
        key: str = "",
    ) -> None:
        if budget is not None and not key:
            raise ValueError("a shared rate budget needs the key of the account")
        self._plans = dict(DEFAULT_PLANS if plans is None else plans)
        self._monotonic = monotonic
        self._sleep = sleep
        self._buckets: dict[str, TokenBucket] = {}
        self.rate_budget = budget
        self.key = key

    def acquire(self, operation: str) -> float:
        """Take one token for *operation*, sleeping until there is one;
        the seconds slept."""
        if self.rate_budget is not None:
            return self._acquire_shared(operation, self.rate_budget)
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
        if self.rate_budget is not None:
            self.rate_budget.observe(
                self._shared_key(operation),
                0.0,
                bucket.burst,
                bucket.rate,
                self._monotonic(),
            )
        return bucket.wait_for_token()

    def _acquire_shared(self, operation: str, budget: RateBudget) -> float:
        # The local bucket still keeps the operation's plan (and the rate
        # Amazon last announced); its tokens are the budget's to count.
        bucket = self._bucket(operation)
        slept = 0.0
        while True:
            before = self._monotonic()
            wait = budget.take(
                self._shared_key(operation), 1.0, bucket.burst, bucket.rate, before
            )
            if wait <= 0:
                return slept
            log.debug("amazon.rate_wait operation=%s wait=%.1fs", operation, wait)
            self._sleep(wait)
            slept += wait
            if self._monotonic() <= before:
                # A sleeper that lets no time pass (a test's) would wait for
                # ever; the call goes as it would without a budget.
                return slept

    def _shared_key(self, operation: str) -> str:
        return f"{self.key}:{operation}"

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
