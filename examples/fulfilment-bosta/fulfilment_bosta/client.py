"""Bosta's HTTP operations, one method each, all through ``send``.

The client knows paths and the raw-key ``Authorization`` header, nothing
about orders: bodies come from :mod:`.wire` and answers go back to it as
``(status, body)`` pairs.  Transport failures, 5xx, 429 (with Bosta's
``Retry-After``), 401 and 403 are already partner errors when ``send``
returns.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import httpx

from fulfilment.adapters.http import send

from . import wire

__all__ = ["Answer", "BostaClient"]


@attrs.frozen
class Answer:
    """A status code and the JSON body (None when it was not JSON)."""

    status: int
    body: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class BostaClient:
    """Talks to one Bosta host through an injected ``httpx.Client`` whose
    ``base_url`` is that host."""

    def __init__(self, http: httpx.Client, api_key: str) -> None:
        self._http = http
        self._headers = {"Authorization": api_key}

    def cities(self) -> Answer:
        return self._call("GET", wire.CITIES)

    def districts(self, city: str) -> Answer:
        return self._call("GET", wire.districts_path(city))

    def create_delivery(self, body: dict[str, Any]) -> Answer:
        return self._call("POST", wire.DELIVERIES, body)

    def search(self, body: dict[str, Any]) -> Answer:
        return self._call("POST", wire.SEARCH, body)

    def _call(self, method: str, path: str, body: Any = None) -> Answer:
        response = send(
            self._http, wire.PARTNER, method, path, json=body, headers=self._headers
        )
        try:
            decoded = response.json() if response.content else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            decoded = None
        return Answer(response.status_code, decoded)
