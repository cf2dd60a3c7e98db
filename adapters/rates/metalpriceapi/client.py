"""MetalpriceAPI's two HTTP operations, both through ``send``.

Transport failures, 5xx and 429 are already partner errors when ``send``
returns (see :mod:`fulfilment.adapters.http`); 400, 401, 403, 404 and 422
come back as replies, so the adapter can quote MetalpriceAPI's words.

The API key travels in the query string, where MetalpriceAPI reads it, so
it is part of every request's URL.  An error raised here never carries it:
an answer's text (a proxy's error page may quote the URL) and every
message of an error from ``send`` are masked before they leave.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx

from fulfilment.adapters.http import send
from fulfilment.adapters.pl3._reply import Reply
from fulfilment.core.errors import PartnerError

from . import wire

__all__ = ["MetalpriceApiClient"]

# Answers whose body says what is wrong with the key, the plan or the query.
_EXPLAINED = (400, 401, 403, 404, 422)
_EXCERPT = 300
MASK = "***"


class MetalpriceApiClient:
    """Reads rates through an injected ``httpx.Client`` whose ``base_url``
    is the API host."""

    def __init__(self, http: httpx.Client, api_key: str) -> None:
        self._http = http
        self._key = api_key
        # The key as it is written into a URL, when that differs.
        self._forms = sorted({api_key, quote(api_key, safe="")}, key=len)[::-1]

    def latest(self, params: Mapping[str, str]) -> Reply:
        """``GET /v1/latest`` with *params* and the key as the query."""
        return self._get(wire.LATEST_PATH, params)

    def historical(self, day: date, params: Mapping[str, str]) -> Reply:
        """``GET /v1/YYYY-MM-DD`` with *params* and the key as the query."""
        return self._get(wire.historical_path(day), params)

    def _get(self, path: str, params: Mapping[str, str]) -> Reply:
        try:
            response = send(
                self._http,
                wire.PARTNER,
                "GET",
                path,
                params={"api_key": self._key, **params},
                headers={"Accept": "application/json"},
                passthrough=_EXPLAINED,
            )
        except PartnerError as error:
            masked = self.mask(error.message)
            if masked == error.message:
                raise
            raise _like(error, masked) from error.__cause__
        return self._reply(response)

    def _reply(self, response: httpx.Response) -> Reply:
        text = response.text
        try:
            body = wire.decode(text) if text.strip() else None
        except ValueError:
            body = None
        excerpt = self.mask(text.strip())[:_EXCERPT]
        return Reply(response.status_code, self._masked(body), excerpt)

    def mask(self, text: str) -> str:
        """*text* with the API key, in any form it is sent, replaced."""
        for form in self._forms:
            text = text.replace(form, MASK)
        return text

    def _masked(self, body: Any) -> Any:
        """*body* with the key masked in every text it holds (a refusal
        that quotes the key it refuses)."""
        if isinstance(body, str):
            return self.mask(body)
        if isinstance(body, Mapping):
            return {self.mask(str(k)): self._masked(v) for k, v in body.items()}
        if isinstance(body, list):
            return [self._masked(item) for item in body]
        return body


def _like(error: PartnerError, message: str) -> PartnerError:
    """An error of *error*'s kind, with the same fields and *message*
    (the kinds ``send`` raises all take the same arguments)."""
    return type(error)(
        message,
        partner=error.partner,
        status=error.status,
        code=error.code,
        retry_after=error.retry_after,
    )
