"""Runners killed at any instant: a fuse that blows at a chosen count of
calls, and a wrapper that ticks it around the calls of a port.

Crash-injection properties wrap the stores and the partners a worker is
given in :class:`Burning`, arm the fuse at a count Hypothesis draws, and
check that whatever the worker left half done is settled later, once.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Burning", "Crash", "Fuse"]


class Crash(BaseException):
    """The runner dies here (BaseException: no worker may swallow it)."""


class Fuse:
    """Blows at the *at*-th tick, once."""

    def __init__(self) -> None:
        self.ticks = 0
        self.at: int | None = None

    def arm(self, at: int) -> None:
        self.ticks, self.at = 0, at

    def tick(self) -> None:
        self.ticks += 1
        if self.at is not None and self.ticks == self.at:
            self.at = None
            raise Crash


class Burning:
    """*inner* with a fuse ticking before and after each of *methods*."""

    def __init__(self, inner: Any, fuse: Fuse, methods: tuple[str, ...]) -> None:
        self._inner, self._fuse, self._methods = inner, fuse, methods

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in self._methods:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self._fuse.tick()
            result = attribute(*args, **kwargs)
            self._fuse.tick()
            return result

        return call
