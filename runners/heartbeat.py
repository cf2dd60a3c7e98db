"""Keeping a run's lease alive while the run lasts.

A lease is taken for ``[runner] lease_minutes`` so that a runner that dies
gives its work up after that long.  A run that takes longer than that is
still alive, though, and must not lose its lease to a second runner: while
it runs, a daemon thread renews the lease every third of its length, on
the application's clock.

When a renewal fails (the lease lapsed, say because the process was
paused, and another runner took it), the run cannot be stopped safely
half-way; it finishes, and is reported ``lease_lost`` and logged at ERROR.
Its effects stay safe: orders are claimed one by one and every side effect
goes through the ledger, whoever holds the lease.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from fulfilment.core.errors import FulfilmentError
from fulfilment.core.ports import Clock, LeaseStore

__all__ = ["Heartbeat"]

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews lease *name* for *owner* every *every* seconds (a third of
    the lease by default) between ``__enter__`` and ``__exit__``."""

    def __init__(
        self,
        leases: LeaseStore,
        name: str,
        owner: str,
        *,
        clock: Clock,
        ttl_seconds: float,
        every: float | None = None,
    ) -> None:
        self._leases = leases
        self._name = name
        self._owner = owner
        self._clock = clock
        self._ttl = ttl_seconds
        self._every = ttl_seconds / 3 if every is None else every
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"lease:{name}", daemon=True
        )

    @property
    def lost(self) -> bool:
        """True once a renewal failed."""
        return self._lost.is_set()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._every):
            if not self._renew():
                self._lost.set()
                log.error(
                    "worker.lease_lost lease=%s owner=%s", self._name, self._owner
                )
                return

    def _renew(self) -> bool:
        try:
            return self._leases.renew(
                self._name, self._owner, self._clock.now(), self._ttl
            )
        except FulfilmentError as error:
            # The database was unreachable: nobody can say who holds it.
            log.warning(
                "worker.lease_renewal_failed lease=%s error=%s", self._name, error
            )
            return False
