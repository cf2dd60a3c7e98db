"""Typeform's one HTTP operation the adapter needs, through ``send``.

Transport failures, 5xx and 429 are already partner errors when ``send``
returns (see :mod:`fulfilment.adapters.http`); 400, 401, 403 and 404 come
back as replies, so the adapter can quote Typeform's own code and words.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from fulfilment.adapters.http import send
from fulfilment.adapters.pacing import SharedPace
from fulfilment.adapters.pl3._reply import Reply, reply_of

from .wire import PARTNER, responses_path

__all__ = ["TypeformClient"]

# Answers whose body says what is wrong with the request or the account.
_EXPLAINED = (400, 401, 403, 404)


class TypeformClient:
    """Reads one form's responses through an injected ``httpx.Client``
    whose ``base_url`` is the API host; with *pace*, each call first waits
    its turn in the account's shared rate budget."""

    def __init__(
        self,
        http: httpx.Client,
        token: str,
        form_id: str,
        *,
        pace: SharedPace | None = None,
    ) -> None:
        self._http = http
        self._pace = pace
        self._path = responses_path(form_id)
        self._authorization = f"Bearer {token}"

    def list_responses(self, params: Mapping[str, str]) -> Reply:
        """``GET /forms/{form_id}/responses`` with *params* as the query."""
        if self._pace is not None:
            self._pace.wait_turn()
        response = send(
            self._http,
            PARTNER,
            "GET",
            self._path,
            params=params,
            headers={
                "Authorization": self._authorization,
                "Accept": "application/json",
            },
            passthrough=_EXPLAINED,
        )
        return reply_of(response)
