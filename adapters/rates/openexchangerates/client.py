"""Open Exchange Rates' two HTTP reads, through ``send``.

Transport failures and 5xx are already partner errors when ``send``
returns (see :mod:`fulfilment.adapters.http`); 400, 401, 403, 404 and 429
come back as answers, so the adapter can quote the API's own code and
words.

The app id rides in the query string, so it is in the request's URL: every
text this module hands on (an error's message, an answer's excerpt and
address) has it replaced with ``***`` first.  An error page that echoes
the URL it was asked for cannot leak it either.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import httpx

from fulfilment.adapters.http import parse_retry_after, send
from fulfilment.core.errors import PartnerError

from . import wire

__all__ = ["MASK", "OpenExchangeRatesClient"]

MASK = "***"
# Answers whose body says what is wrong with the request or the account.
_EXPLAINED = (400, 401, 403, 404, 429)


class OpenExchangeRatesClient:
    """Reads rates through an injected ``httpx.Client`` whose ``base_url``
    is the API host."""

    def __init__(self, http: httpx.Client, app_id: str) -> None:
        self._http = http
        self._app_id = app_id

    def latest(self, params: Mapping[str, str]) -> wire.Answer:
        """``GET /api/latest.json``: the rates as they are now."""
        return self._get(wire.LATEST_PATH, params)

    def historical(self, day: date, params: Mapping[str, str]) -> wire.Answer:
        """``GET /api/historical/{day}.json``: the rates at the end of *day*."""
        return self._get(wire.historical_path(day), params)

    def _get(self, path: str, params: Mapping[str, str]) -> wire.Answer:
        response = self._send(path, {"app_id": self._app_id, **params})
        return wire.Answer(
            status=response.status_code,
            body=wire.loads(response.content),
            text=self.mask(response.text.strip()[:300]),
            where=f"GET {self.mask(str(response.request.url))}",
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )

    def _send(self, path: str, query: Mapping[str, str]) -> httpx.Response:
        try:
            return send(
                self._http,
                wire.PARTNER,
                "GET",
                path,
                params=query,
                headers={"Accept": "application/json"},
                passthrough=_EXPLAINED,
            )
        except PartnerError as error:
            failure = error
        # Raised outside the handler, so the unmasked error is not kept as
        # the masked one's context; the transport error stays its cause.
        raise self._masked_error(failure) from failure.__cause__

    def mask(self, text: str) -> str:
        """*text* with the app id, as written and as URL-encoded, replaced."""
        encoded = str(httpx.QueryParams({"k": self._app_id}))[2:]
        for secret in {self._app_id, encoded}:
            text = text.replace(secret, MASK)
        return text

    def _masked_error(self, error: PartnerError) -> PartnerError:
        """The same error with the app id masked in its message (``send``
        raises only the kinds that share ``PartnerError``'s signature)."""
        return type(error)(
            self.mask(error.message),
            partner=error.partner,
            status=error.status,
            code=error.code,
            retry_after=error.retry_after,
        )
