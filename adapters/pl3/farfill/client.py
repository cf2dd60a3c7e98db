"""Farfill's HTTP operations, one method each, all through ``send``.

Paths and headers only; bodies come from :mod:`.wire` and answers go back
to it as :class:`Reply` values.  Transport failures, 5xx, 429, 401 and 403
are already partner errors when ``send`` returns.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import httpx

from fulfilment.adapters.http import send
from fulfilment.adapters.pl3._bearer import bearer_header
from fulfilment.adapters.pl3._reply import Reply, reply_of
from fulfilment.core.errors import PermanentPartnerError

from .wire import PARTNER

__all__ = ["FarfillClient"]

OAUTH_PATH = "/oauth/token"
ORDERS_PATH = "/api/fulfilment/orders"
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class FarfillClient:
    """Talks to one Farfill host through an injected ``httpx.Client``
    whose ``base_url`` is that host."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def request_token(self, form: dict[str, str]) -> Any:
        """``POST /oauth/token`` (form-encoded, as OAuth2 requires); the
        answer body, or PermanentPartnerError when the client is refused."""
        response = send(
            self._http,
            PARTNER,
            "POST",
            OAUTH_PATH,
            content=urlencode(form).encode(),
            headers=_FORM,
        )
        reply = reply_of(response)
        if not reply.ok:
            raise PermanentPartnerError(
                f"token request refused: {reply.text}",
                partner=PARTNER,
                status=reply.status,
            )
        return reply.body

    def create_order(self, token: str, body: dict[str, Any]) -> Reply:
        response = send(
            self._http,
            PARTNER,
            "POST",
            ORDERS_PATH,
            json=body,
            headers=bearer_header(token),
        )
        return reply_of(response)

    def find_orders(self, token: str, partner_order_id: str) -> Reply:
        response = send(
            self._http,
            PARTNER,
            "GET",
            ORDERS_PATH,
            params={"partner_order_id": partner_order_id},
            headers=bearer_header(token),
        )
        return reply_of(response)

    def get_order(self, token: str, order_id: str) -> Reply:
        """``GET /api/fulfilment/orders/{id}``: one order with its history."""
        return self._with_token(token, "GET", _order_path(order_id))

    def update_order(self, token: str, order_id: str, body: dict[str, Any]) -> Reply:
        """``PATCH /api/fulfilment/orders/{id}`` with the fields to change."""
        return self._with_token(token, "PATCH", _order_path(order_id), body)

    def _with_token(
        self, token: str, method: str, path: str, body: Any = None
    ) -> Reply:
        response = send(
            self._http, PARTNER, method, path, json=body, headers=bearer_header(token)
        )
        return reply_of(response)


def _order_path(order_id: str) -> str:
    return f"{ORDERS_PATH}/{quote(order_id, safe='')}"
