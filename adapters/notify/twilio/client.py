"""Twilio's one HTTP operation the adapter needs, through ``send``.

Transport failures, 5xx, 429, 401 and 403 are already partner errors when
``send`` returns (see :mod:`fulfilment.adapters.http`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from urllib.parse import urlencode

import httpx

from fulfilment.adapters.http import send
from fulfilment.adapters.pl3._reply import Reply, reply_of

from .wire import PARTNER, messages_path

__all__ = ["TwilioClient", "basic_authorization"]

_FORM = "application/x-www-form-urlencoded"


def basic_authorization(user: str, password: str) -> str:
    """The ``Authorization`` header value of HTTP Basic authentication."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class TwilioClient:
    """Talks to Twilio for one account through an injected ``httpx.Client``
    whose ``base_url`` is the API host."""

    def __init__(
        self, http: httpx.Client, account_sid: str, auth: tuple[str, str]
    ) -> None:
        self._http = http
        self._path = messages_path(account_sid)
        self._authorization = basic_authorization(*auth)

    def create_message(self, form: Mapping[str, str]) -> Reply:
        """``POST .../Messages.json`` with *form* URL-encoded."""
        response = send(
            self._http,
            PARTNER,
            "POST",
            self._path,
            content=urlencode(form).encode("ascii"),
            headers={"Authorization": self._authorization, "Content-Type": _FORM},
        )
        return reply_of(response)
