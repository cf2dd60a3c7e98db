"""The SP-API client: one method per operation the source needs, every
call through the operation's token bucket, the retry policy and
:func:`fulfilment.adapters.http.send`.

Amazon answers errors with ``{"errors": [{"code", "message", "details"}]}``
and the client maps them by what the caller does next:

=====================================  ====================================
429 ``QuotaExceeded``                  bucket emptied, ``TransientPartnerError``
                                       whose ``retry_after`` is the refill
500, 502, 503, 504                     retried (reads are safe to repeat)
400 ``InvalidInput``                   ``PermanentPartnerError``: a request we
                                       built wrong, with Amazon's words
401, 403 (``Unauthorized``)            the access token and the restricted
                                       data tokens are dropped, then
                                       ``PermanentPartnerError``
404                                    ``PermanentPartnerError``
a 200 that is not a JSON object        ``TransientPartnerError``
=====================================  ====================================
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from fulfilment.adapters.http import send
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import PermanentPartnerError, TransientPartnerError
from fulfilment.core.ports import Clock

from .auth import PARTNER, RDT_PATH, LwaTokens, RestrictedTokens
from .limits import RateLimits

__all__ = ["ORDERS_V0", "SEARCH_ORDERS", "SpApiClient"]

log = logging.getLogger(__name__)

ORDERS_V0 = "/orders/v0/orders"
SEARCH_ORDERS = "/orders/2026-01-01/orders"
_READ_ON = frozenset({400, 401, 403, 404, 429})


class SpApiClient:
    """Talks to one regional SP-API host for one seller account."""

    def __init__(
        self,
        http: httpx.Client,
        tokens: LwaTokens,
        limits: RateLimits,
        retry: RetryPolicy,
        clock: Clock,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._limits = limits
        self._retry = retry
        self.restricted = RestrictedTokens(self._create_rdt, clock)

    def search_orders(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """``GET /orders/2026-01-01/orders`` (searchOrders)."""
        return self._get("searchOrders", SEARCH_ORDERS, params)

    def get_orders(
        self, params: Mapping[str, Any], *, restricted: bool = True
    ) -> Mapping[str, Any]:
        """``GET /orders/v0/orders`` (getOrders); with *restricted*, under
        a restricted data token so addresses and buyers come whole."""
        token = (
            self.restricted.token_for(ORDERS_V0, ("buyerInfo", "shippingAddress"))
            if restricted
            else None
        )
        return self._get("getOrders", ORDERS_V0, params, token=token)

    def get_order_items(
        self, order_id: str, next_token: str | None = None
    ) -> Mapping[str, Any]:
        """``GET /orders/v0/orders/{id}/orderItems`` (getOrderItems)."""
        params = {"NextToken": next_token} if next_token else {}
        path = f"{ORDERS_V0}/{order_id}/orderItems"
        return self._get("getOrderItems", path, params)

    # --- transport -----------------------------------------------------------

    def _create_rdt(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        return self._call(
            "createRestrictedDataToken", "POST", RDT_PATH, json=body, token=None
        )

    def _get(
        self,
        operation: str,
        path: str,
        params: Mapping[str, Any],
        *,
        token: str | None = None,
    ) -> Mapping[str, Any]:
        return self._call(operation, "GET", path, params=params, token=token)

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        token: str | None,
    ) -> Mapping[str, Any]:
        def attempt() -> Mapping[str, Any]:
            self._limits.acquire(operation)
            headers = {
                "x-amz-access-token": token or self._tokens.access_token(),
                "accept": "application/json",
            }
            response = send(
                self._http,
                PARTNER,
                method,
                path,
                params=params,
                json=json,
                headers=headers,
                passthrough=_READ_ON,
            )
            self._limits.observe(
                operation, response.headers.get("x-amzn-ratelimit-limit")
            )
            return self._read(operation, response)

        # Every call here reads or asks for a token: safe to repeat.
        return self._retry.call(attempt, idempotent=True, what=f"amazon.{operation}")

    def _read(self, operation: str, response: httpx.Response) -> Mapping[str, Any]:
        status = response.status_code
        if status == 200:
            body = _body(response)
            if body is None:
                raise TransientPartnerError(
                    f"{operation} answered 200 with no JSON object",
                    partner=PARTNER,
                    status=status,
                )
            return body
        code, words = _first_error(response)
        if status == 429:
            wait = self._limits.throttled(
                operation, response.headers.get("x-amzn-ratelimit-limit")
            )
            log.warning(
                "amazon.throttled operation=%s code=%s wait=%.1fs",
                operation,
                code,
                wait,
            )
            raise TransientPartnerError(
                words, partner=PARTNER, status=status, code=code, retry_after=wait
            )
        if status in (401, 403):
            # Amazon ended a token before its stated end (the seller's
            # roles changed, the app was re-authorised): drop what we
            # hold, or every run until it lapses would be refused too.
            self._tokens.forget()
            self.restricted.forget()
        raise PermanentPartnerError(
            f"{operation}: {words}", partner=PARTNER, status=status, code=code
        )


def _body(response: httpx.Response) -> Mapping[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, Mapping) else None


def _first_error(response: httpx.Response) -> tuple[str | None, str]:
    """Amazon's code and words of the first error of an error list."""
    body = _body(response) or {}
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    if not isinstance(first, Mapping):
        return None, response.text.strip()[:300] or response.reason_phrase
    code = first.get("code") if isinstance(first.get("code"), str) else None
    words = " ".join(str(first[k]) for k in ("message", "details") if first.get(k))
    return code, words or (code or response.reason_phrase)
