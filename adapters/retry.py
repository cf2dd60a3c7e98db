"""The one retry policy every adapter uses, on tenacity.

Jittered exponential backoff, a cap on attempts and on elapsed time,
``Retry-After`` honoured, and an explicit predicate: only
:class:`~fulfilment.core.errors.TransientPartnerError` is retried, and an
:class:`~fulfilment.core.errors.OutcomeUnknown` only for calls that are safe
to repeat (reads, lookups, idempotent writes).  Workers never retry; a
booking is retried only by the booking worker, after a lookup.

Tests build ``RetryPolicy.for_tests()``, which keeps every rule but never
sleeps.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

import attrs
import tenacity

from fulfilment.core.errors import OutcomeUnknown, TransientPartnerError

__all__ = ["RetryPolicy"]

log = logging.getLogger(__name__)
T = TypeVar("T")


def _never_sleep(_: float) -> None:
    """Sleeping is switched off (tests)."""


@attrs.frozen
class RetryPolicy:
    attempts: int = 5
    max_elapsed: float = 60.0
    initial_wait: float = 0.5
    max_wait: float = 20.0
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def for_tests(cls, attempts: int = 5) -> RetryPolicy:
        return cls(attempts=attempts, sleep=_never_sleep)

    def call(self, fn: Callable[[], T], *, idempotent: bool, what: str) -> T:
        """Run *fn*, retrying transient failures under this policy; the last
        error is re-raised unchanged when the budget runs out."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts)
            | tenacity.stop_after_delay(self.max_elapsed),
            wait=self._wait,
            retry=tenacity.retry_if_exception(
                lambda e: _retryable(e, idempotent=idempotent)
            ),
            sleep=self.sleep,
            before_sleep=lambda state: _log_retry(what, state),
            reraise=True,
        )
        return retrying(fn)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = getattr(error, "retry_after", None)
        if asked is not None:
            return min(float(asked), self.max_wait)
        backoff = self.initial_wait * 2 ** (state.attempt_number - 1)
        return min(self.max_wait, backoff) * (0.5 + random.random() / 2)


def _retryable(error: BaseException, *, idempotent: bool) -> bool:
    if isinstance(error, OutcomeUnknown):
        return idempotent
    return isinstance(error, TransientPartnerError)


def _log_retry(what: str, state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning(
        "http.retry_scheduled call=%s attempt=%d wait=%.2fs error=%s",
        what,
        state.attempt_number,
        wait,
        error,
    )
