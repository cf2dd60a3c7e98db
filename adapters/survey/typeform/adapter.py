"""Typeform as a ``SurveySource``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import PermanentPartnerError, TransientPartnerError
from fulfilment.core.ports import SurveyPage

from ..links import hidden_fragment
from . import wire
from .client import TypeformClient
from .settings import TypeformSettings

__all__ = ["TypeformSurveySource"]

log = logging.getLogger(__name__)


class TypeformSurveySource:
    """One Typeform form: personalised links to it, its completed answers.

    Links carry the hidden fields in the URL fragment, where Typeform reads
    them.  The caller's ``order`` and ``first_name`` fields are written
    under the form's own hidden field names (``settings.order_field``,
    ``settings.first_name_field``); any other field keeps its name.

    Answers are read newest first, as Typeform lists them without a sort,
    and each page continues *before* the token of the last item of the page
    before; the page's answers are handed back oldest first.  An item that
    is not a usable answer (not completed, no score from 0 to 10) is left
    out and logged by its response id alone.  Reads are safe to repeat, so
    every failure that may pass (429, 5xx, no connection, a garbled page)
    is retried under the retry policy; Typeform's refusals (a wrong token,
    an unknown form) are ``PermanentPartnerError`` with its code and words.
    """

    name = wire.PARTNER

    def __init__(
        self, settings: TypeformSettings, client: TypeformClient, retry: RetryPolicy
    ) -> None:
        self.form_id = settings.form_id
        self._settings = settings
        self._client = client
        self._retry = retry
        self._reading = wire.Reading(
            settings.form_id,
            settings.order_field,
            settings.score_field_ref,
            settings.comment_field_ref,
        )
        self._names = {
            "order": settings.order_field,
            "first_name": settings.first_name_field,
        }

    def form_link(self, hidden: Mapping[str, str]) -> str:
        fields = {self._names.get(name, name): value for name, value in hidden.items()}
        return f"{self._settings.form_url}#{hidden_fragment(fields)}"

    def responses(
        self, *, since: datetime | None, after: str | None, page_size: int
    ) -> SurveyPage:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        size = min(page_size, self._settings.page_size)
        params = wire.query(since=since, before=after, page_size=size)
        page = self._retry.call(
            lambda: self._read(params), idempotent=True, what="typeform.responses"
        )
        for skipped in page.skipped:
            log.warning(
                "survey.answer_skipped provider=typeform form=%s response=%s reason=%s",
                self.form_id,
                skipped.response_id,
                skipped.reason,
            )
        more = page.count == size
        if more and page.last_token is None:
            raise PermanentPartnerError(
                "a full page ends with an item that has no token to continue from",
                partner=self.name,
            )
        answers = tuple(
            r for r in page.responses if since is None or r.submitted_at >= since
        )
        return SurveyPage(answers, after=page.last_token or after, more=more)

    def _read(self, params: Mapping[str, str]) -> wire.WirePage:
        reply = self._client.list_responses(params)
        if not reply.ok:
            raise wire.error_of(reply)
        try:
            return wire.page_of(reply.body, self._reading)
        except ValueError as error:
            # Nothing is changed by a read: a garbled page is worth another.
            raise TransientPartnerError(
                f"unreadable page of responses ({error}): {reply.text[:120]!r}",
                partner=self.name,
                status=reply.status,
            ) from error
