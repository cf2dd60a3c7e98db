"""Calls paced by a shared rate budget, for partners whose documented limit
is a plain number of requests a second per account (Rebrandly, Typeform).

A :class:`SharedPace` takes one token from the budget's bucket before each
call and sleeps while the budget says to.  It exists only when the adapter
is handed a :class:`~fulfilment.core.ports.RateBudget` (a runner with a
database); without one the adapter calls as it always has, and a 429 is
the retry policy's to wait out.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import attrs

from fulfilment.core.ports import RateBudget

__all__ = ["SharedPace", "positive_rate"]

log = logging.getLogger(__name__)


def positive_rate(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    """A settings validator: a finite number of requests a second above 0."""
    if isinstance(value, bool) or not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"{attribute.name} must be a number of requests a second above 0, "
            f"not {value!r}"
        )


@attrs.frozen
class SharedPace:
    """At most *per_second* calls a second under *key*, a burst of *burst*
    (default: one second's worth), on the *wall* clock every runner shares."""

    budget: RateBudget
    key: str = attrs.field(validator=attrs.validators.min_len(1))
    per_second: float = attrs.field(validator=positive_rate)
    burst: float = attrs.field(
        default=attrs.Factory(lambda self: max(1.0, self.per_second), takes_self=True)
    )
    wall: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def wait_turn(self) -> float:
        """Take one call's token, sleeping until there is one; the seconds
        slept.  A sleeper that lets no time pass (a test's) gets the call
        through after one wait rather than waiting for ever."""
        slept = 0.0
        while True:
            before = self.wall()
            wait = self.budget.take(self.key, 1.0, self.burst, self.per_second, before)
            if wait <= 0:
                return slept
            log.debug("rate.budget_wait key=%s wait=%.2fs", self.key, wait)
            self.sleep(wait)
            slept += wait
            if self.wall() <= before:
                return slept
