"""Flextock's HTTP operations, one method each, all through ``send``.

The client knows paths and headers, nothing about orders: bodies come from
:mod:`.wire` and answers go back to it as :class:`Reply` values.  Transport
failures, 5xx, 429, 401 and 403 are already partner errors when ``send``
returns (see :mod:`fulfilment.adapters.http`).
"""

from __future__ import annotations

from typing import Any

import httpx

from fulfilment.adapters.http import send
from fulfilment.adapters.pl3._bearer import bearer_header
from fulfilment.adapters.pl3._reply import Reply, reply_of
from fulfilment.core.errors import PermanentPartnerError

from .wire import PARTNER

__all__ = ["FlextockClient"]

AUTH = "/base/auth/"
CREATE_PRODUCTS = "/external-integration/create-products/"
CREATE_ORDER = "/external-integration/create-order/"
ORDER_STATUS = "/external-integration/order-status/"
CANCEL_ORDER = "/external-integration/cancel-order/"


class FlextockClient:
    """Talks to one Flextock host through an injected ``httpx.Client``
    whose ``base_url`` is that host."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def login(self, body: dict[str, str]) -> Any:
        """``POST /base/auth/``; the answer body, or PermanentPartnerError
        when the credentials are refused."""
        reply = self._post(AUTH, body)
        if not reply.ok:
            raise PermanentPartnerError(
                f"login refused: {reply.text}", partner=PARTNER, status=reply.status
            )
        return reply.body

    def create_products(self, token: str, body: dict[str, Any]) -> Reply:
        return self._post(CREATE_PRODUCTS, body, token)

    def create_order(self, token: str, body: dict[str, Any]) -> Reply:
        return self._post(CREATE_ORDER, body, token)

    def order_status(self, token: str, body: dict[str, Any]) -> Reply:
        return self._post(ORDER_STATUS, body, token)

    def cancel_order(self, token: str, body: dict[str, Any]) -> Reply:
        return self._post(CANCEL_ORDER, body, token)

    def _post(self, path: str, body: Any, token: str | None = None) -> Reply:
        headers = bearer_header(token) if token else None
        response = send(self._http, PARTNER, "POST", path, json=body, headers=headers)
        return reply_of(response)
