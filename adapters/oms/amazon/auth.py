"""Login with Amazon access tokens and restricted data tokens.

Every SP-API call carries ``x-amz-access-token``: an LWA access token,
obtained by posting the seller's refresh token to the LWA endpoint and
valid for an hour (``expires_in``).  :class:`LwaTokens` keeps it and asks
for a new one a few minutes before it runs out, so no call goes out with a
token that expires on the way.  A refused grant (``invalid_grant``: the
seller revoked the app, the refresh token is wrong) or refused client
(``invalid_client``: wrong id or secret, a secret not rotated) is a
:class:`~fulfilment.core.errors.ConfigurationError`: no retry can help.

Orders v0 returns names, addresses and phones only to a restricted data
token (RDT), asked of the Tokens API for a path and its data elements and
sent in place of the access token.  :class:`RestrictedTokens` keeps one
per path for as long as it is valid.  Orders v2026-01-01 needs none (the
seller's roles decide what it returns).

Tokens are never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
import httpx

from fulfilment.adapters.http import send
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import (
    ConfigurationError,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.ports import Clock

__all__ = ["PARTNER", "RDT_PATH", "LwaTokens", "RestrictedTokens"]

log = logging.getLogger(__name__)

PARTNER = "amazon"
RDT_PATH = "/tokens/2021-03-01/restrictedDataToken"
# Refresh this long before the token's stated end (an hour for LWA).
EARLY_REFRESH = timedelta(minutes=5)
_REFUSED_CREDENTIALS = frozenset({"invalid_grant", "invalid_client"})


@attrs.frozen
class _Held:
    token: str = attrs.field(repr=False)
    expires_at: datetime


class LwaTokens:
    """The seller's LWA access token, refreshed before it expires."""

    def __init__(
        self,
        http: httpx.Client,
        lwa_url: str,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        clock: Clock,
        retry: RetryPolicy,
    ) -> None:
        self._http = http
        self._url = lwa_url
        self._form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
        }
        self._clock = clock
        self._retry = retry
        self._held: _Held | None = None

    def __repr__(self) -> str:
        return f"LwaTokens(url={self._url!r})"

    def access_token(self) -> str:
        """A token valid for at least a few more minutes."""
        now = self._clock.now()
        if self._held is None or now >= self._held.expires_at - EARLY_REFRESH:
            self._held = self._retry.call(
                self._refresh, idempotent=True, what="amazon.lwa_token"
            )
            log.debug("amazon.token_refreshed expires_at=%s", self._held.expires_at)
        return self._held.token

    def forget(self) -> None:
        """Drop the held token (Amazon refused it); the next call refreshes."""
        self._held = None

    def _refresh(self) -> _Held:
        response = send(
            self._http,
            PARTNER,
            "POST",
            self._url,
            content=_form_body(self._form),
            headers={"content-type": "application/x-www-form-urlencoded;charset=UTF-8"},
            passthrough={400, 401, 403},
        )
        body = _json(response, "LWA token endpoint")
        if response.status_code != 200:
            raise _lwa_error(response.status_code, body)
        token = body.get("access_token")
        expires_in = body.get("expires_in")
        if not isinstance(token, str) or not token:
            raise TransientPartnerError(
                "the LWA answer holds no access_token", partner=PARTNER
            )
        seconds = expires_in if _is_seconds(expires_in) else 3600
        return _Held(token, self._clock.now() + timedelta(seconds=seconds))


class RestrictedTokens:
    """Restricted data tokens of the Tokens API, one per (path, data
    elements), kept until shortly before they expire."""

    def __init__(
        self,
        request: Callable[[Mapping[str, Any]], Mapping[str, Any]],
        clock: Clock,
    ) -> None:
        self._request = request
        self._clock = clock
        self._held: dict[tuple[str, tuple[str, ...]], _Held] = {}

    def token_for(self, path: str, elements: Sequence[str]) -> str:
        """An RDT for ``GET`` *path* with *elements* (``buyerInfo``,
        ``shippingAddress``)."""
        key = (path, tuple(elements))
        held = self._held.get(key)
        now = self._clock.now()
        if held is None or now >= held.expires_at - EARLY_REFRESH:
            held = self._create(path, elements)
            self._held[key] = held
        return held.token

    def forget(self) -> None:
        """Drop every token held (Amazon refused one before its stated
        end); the next call asks for new ones."""
        self._held.clear()

    def _create(self, path: str, elements: Sequence[str]) -> _Held:
        body = self._request(
            {
                "restrictedResources": [
                    {"method": "GET", "path": path, "dataElements": list(elements)}
                ]
            }
        )
        token = body.get("restrictedDataToken")
        if not isinstance(token, str) or not token:
            raise TransientPartnerError(
                "the Tokens API answer holds no restrictedDataToken",
                partner=PARTNER,
            )
        expires_in = body.get("expiresIn")
        seconds = expires_in if _is_seconds(expires_in) else 3600
        return _Held(token, self._clock.now() + timedelta(seconds=seconds))


def _form_body(form: Mapping[str, str]) -> bytes:
    return str(httpx.QueryParams(form)).encode()


def _json(response: httpx.Response, where: str) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise TransientPartnerError(
            f"the {where} answered HTTP {response.status_code} with no JSON",
            partner=PARTNER,
            status=response.status_code,
        ) from error
    return body if isinstance(body, Mapping) else {}


def _lwa_error(status: int, body: Mapping[str, Any]) -> Exception:
    code = body.get("error")
    words = body.get("error_description") or code or f"HTTP {status}"
    if code in _REFUSED_CREDENTIALS:
        return ConfigurationError(
            f"amazon: Login with Amazon refused the credentials ({code}: {words}); "
            "check client_id, client_secret and refresh_token, or ask the seller "
            "to authorise the app again"
        )
    return PermanentPartnerError(
        f"Login with Amazon refused the token request: {words}",
        partner=PARTNER,
        status=status,
        code=code if isinstance(code, str) else None,
    )


def _is_seconds(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
