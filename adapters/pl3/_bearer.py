"""Bearer tokens for the HTTP delivery partners that hand one out.

Flextock (a JWT pair from ``/base/auth/``) and Farfill (OAuth2 client
credentials) both answer a login with an access token that every later call
sends as ``Authorization: Bearer <token>``.  :class:`BearerSession` keeps that
token for one adapter instance:

- it is fetched on first use, by a function the adapter supplies;
- it is reused until its expiry (when the partner says when) minus a margin;
- when a call is answered 401 the token is dropped, fetched again and the
  call repeated exactly once; a second 401 is a
  :class:`~fulfilment.core.errors.PermanentPartnerError` for the caller.

A token request acts on nothing but the session, so one that got no answer
is reported as a plain :class:`~fulfilment.core.errors.TransientPartnerError`
rather than ``OutcomeUnknown``: repeating it is always safe, even inside a
non-idempotent booking call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

import attrs

from fulfilment.core.errors import (
    OutcomeUnknown,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.ports import Clock

__all__ = ["AccessToken", "BearerSession", "bearer_header"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_UNAUTHORIZED = 401


@attrs.frozen
class AccessToken:
    """An access token and, when the partner told us, when it stops working."""

    value: str = attrs.field(repr=False)
    expires_at: datetime | None = None

    def usable_at(self, now: datetime, margin: timedelta) -> bool:
        return self.expires_at is None or now + margin < self.expires_at


def bearer_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class BearerSession:
    """One adapter's access token: fetched lazily, reused, renewed on 401.

    ``fetch`` performs the partner's token request and returns an
    :class:`AccessToken`; it may raise the usual partner errors.  ``margin``
    renews a token that is about to expire before a call can fail on it.
    """

    def __init__(
        self,
        fetch: Callable[[], AccessToken],
        clock: Clock,
        *,
        partner: str,
        margin: timedelta = timedelta(seconds=60),
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._partner = partner
        self._margin = margin
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    def call(self, operation: Callable[[str], T]) -> T:
        """Run ``operation(access_token)``; on a 401 renew the token and run
        it once more.  Errors of the token request itself propagate as they
        are (a rejected login is already permanent)."""
        token = self._current()
        try:
            return operation(token.value)
        except PermanentPartnerError as error:
            if error.status != _UNAUTHORIZED:
                raise
        log.info("auth.token_rejected partner=%s action=renew", self._partner)
        self._drop(token)
        return operation(self._current().value)

    def _current(self) -> AccessToken:
        with self._lock:
            token = self._token
            if token is None or not token.usable_at(self._clock.now(), self._margin):
                token = self._token = self._fetch_quietly()
            return token

    def _drop(self, rejected: AccessToken) -> None:
        # Another thread may already have renewed it; keep a newer token.
        with self._lock:
            if self._token is rejected:
                self._token = None

    def _fetch_quietly(self) -> AccessToken:
        try:
            token = self._fetch()
        except OutcomeUnknown as unanswered:
            raise TransientPartnerError(
                f"token request unanswered: {unanswered.message}",
                partner=self._partner,
                status=unanswered.status,
            ) from unanswered
        log.debug("auth.token_fetched partner=%s", self._partner)
        return token
