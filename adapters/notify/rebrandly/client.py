"""Rebrandly's two HTTP operations, both through ``send``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from fulfilment.adapters.http import send
from fulfilment.adapters.pacing import SharedPace
from fulfilment.adapters.pl3._reply import Reply, reply_of

from .wire import LINKS_PATH, PARTNER

__all__ = ["RebrandlyClient"]

# A taken slashtag and an invalid field are answered 403 with a body the
# adapter must read, so 403 is not turned into an error by ``send``.
_READ_403 = frozenset({403})


class RebrandlyClient:
    """Talks to Rebrandly through an injected ``httpx.Client`` whose
    ``base_url`` is the API host; with *pace*, each call first waits its
    turn in the account's shared rate budget."""

    def __init__(
        self,
        http: httpx.Client,
        api_key: str,
        workspace: str | None = None,
        *,
        pace: SharedPace | None = None,
    ) -> None:
        self._http = http
        self._pace = pace
        self._headers = {"apikey": api_key}
        if workspace:
            self._headers["workspace"] = workspace

    def create_link(self, body: Mapping[str, Any]) -> Reply:
        """``POST /v1/links``."""
        self._wait_turn()
        response = send(
            self._http,
            PARTNER,
            "POST",
            LINKS_PATH,
            json=body,
            headers=self._headers,
            passthrough=_READ_403,
        )
        return reply_of(response)

    def find_links(self, params: Mapping[str, str]) -> Reply:
        """``GET /v1/links`` filtered by *params*."""
        self._wait_turn()
        response = send(
            self._http, PARTNER, "GET", LINKS_PATH, params=params, headers=self._headers
        )
        return reply_of(response)

    def _wait_turn(self) -> None:
        if self._pace is not None:
            self._pace.wait_turn()
