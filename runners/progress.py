"""How far a backfill has read, on standard error.

Pages come oldest change first, so the share of the window read is how far
the newest change seen has come from the window's start to its end.  On a
terminal that is a bar redrawn in place, with orders and pages read and
the rate; anywhere else (a log file, a CronJob's output) one plain line
every few seconds, and one at the end of each store, so the output stays
readable line by line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from fulfilment.core.workers.fetch_new_orders import PageRead

__all__ = ["Progress"]

_WIDTH = 24


class Progress:
    """A listener for :class:`PageRead` that writes to *stream*."""

    def __init__(
        self,
        stream: TextIO,
        *,
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._every = every
        self._clock = clock
        self._terminal = stream.isatty()
        self._began: dict[str, float] = {}
        self._shown: dict[str, float] = {}
        self._last: PageRead | None = None

    def __call__(self, read: PageRead) -> None:
        now = self._clock()
        began = self._began.setdefault(read.store, now)
        if self._last is not None and self._last.store != read.store:
            self.done()
        self._last = read
        if self._terminal:
            self._stream.write("\r" + _bar(read, now - began))
            self._stream.flush()
        elif now - self._shown.get(read.store, began) >= self._every:
            self._shown[read.store] = now
            print(_line(read, now - began), file=self._stream, flush=True)

    def done(self) -> None:
        """End the current store's output with its totals."""
        read, self._last = self._last, None
        if read is None:
            return
        elapsed = self._clock() - self._began[read.store]
        if self._terminal:
            self._stream.write("\r" + _bar(read, elapsed) + "\n")
            self._stream.flush()
        else:
            print(_line(read, elapsed) + " done", file=self._stream, flush=True)


def _share(read: PageRead) -> float:
    since, until = read.window.since, read.window.until
    if read.reached is None or since is None or until <= since:
        return 0.0
    return min(max((read.reached - since) / (until - since), 0.0), 1.0)


def _rate(read: PageRead, elapsed: float) -> str:
    return f"{read.fetched / elapsed:.1f}/s" if elapsed > 0 else "-"


def _bar(read: PageRead, elapsed: float) -> str:
    share = _share(read)
    filled = round(share * _WIDTH)
    return (
        f"{read.store} [{'#' * filled}{'.' * (_WIDTH - filled)}] {share:4.0%} "
        f"orders={read.fetched} pages={read.pages} {_rate(read, elapsed)}"
    )


def _line(read: PageRead, elapsed: float) -> str:
    reached = read.reached.isoformat() if read.reached else "-"
    return (
        f"backfill store={read.store} orders={read.fetched} pages={read.pages} "
        f"reached={reached} share={_share(read):.0%} rate={_rate(read, elapsed)}"
    )
