"""The ECB's one HTTP operation: fetching a file, through ``send``.

Transport failures, 5xx, 429, 401 and 403 are already partner errors when
``send`` returns (see :mod:`fulfilment.adapters.http`); anything else comes
back as a :class:`~.wire.Fetched` for the adapter to read.
"""

from __future__ import annotations

import httpx

from fulfilment.adapters.http import send

from .wire import PARTNER, Fetched

__all__ = ["EcbClient"]


class EcbClient:
    """Fetches the ECB's files through an injected ``httpx.Client`` whose
    ``base_url`` is the folder that holds them."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def fetch(self, name: str) -> Fetched:
        """``GET {base_url}/{name}``."""
        response = send(
            self._http,
            PARTNER,
            "GET",
            name,
            headers={"Accept": "application/xml, text/xml"},
        )
        return Fetched(
            response.status_code, response.content, response.headers.get("location")
        )
