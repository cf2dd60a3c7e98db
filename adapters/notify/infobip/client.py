"""Infobip's HTTP operations, one method each, all through ``send``."""

from __future__ import annotations

from typing import Any

import httpx

from fulfilment.adapters.http import send
from fulfilment.adapters.pl3._reply import Reply, reply_of

from .wire import LOGS_PATH, PARTNER, SEND_PATH, logs_params

__all__ = ["InfobipClient"]


class InfobipClient:
    """Talks to one Infobip account host through an injected
    ``httpx.Client`` whose ``base_url`` is that host."""

    def __init__(self, http: httpx.Client, api_key: str) -> None:
        self._http = http
        self._headers = {"Authorization": f"App {api_key}"}

    def send_text(self, body: dict[str, Any]) -> Reply:
        """``POST /sms/2/text/advanced``."""
        response = send(
            self._http, PARTNER, "POST", SEND_PATH, json=body, headers=self._headers
        )
        return reply_of(response)

    def logs(self, reference: str) -> Reply:
        """``GET /sms/1/logs?messageId=<reference>``."""
        response = send(
            self._http,
            PARTNER,
            "GET",
            LOGS_PATH,
            params=logs_params(reference),
            headers=self._headers,
        )
        return reply_of(response)
