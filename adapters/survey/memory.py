"""The in-memory twin of ``SurveySource``: one form, the answers given to it.

Links look like a Typeform share link, hidden fields in the fragment
(``https://forms.example/to/<form>#order=...&first_name=...``, each value
URL-encoded), so a test can read back what a customer's link carries.
Answers are added by the test (:meth:`MemorySurveySource.answer` builds one
the way a provider reads it, the order key from the ``order`` hidden field)
and come back in pages, oldest first, after the token of the previous
page's last answer.  It can be told to fail the next calls, as a provider
that is down or refuses the token would.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from fulfilment.core.domain import OrderKey
from fulfilment.core.errors import PartnerError
from fulfilment.core.nps import NpsResponse
from fulfilment.core.ports import SurveyPage

__all__ = ["MemorySurveySource", "hidden_fields"]


class MemorySurveySource:
    """One form's answers, kept in submission order."""

    def __init__(
        self,
        form_id: str = "nps",
        *,
        name: str = "memory",
        base_url: str = "https://forms.example/to",
    ) -> None:
        self.name = name
        self.form_id = form_id
        self.base_url = base_url.rstrip("/")
        self.answers: list[NpsResponse] = []
        self.calls = 0
        self._failures: deque[PartnerError] = deque()

    def form_link(self, hidden: Mapping[str, str]) -> str:
        fragment = urlencode(dict(hidden), quote_via=quote)
        return f"{self.base_url}/{self.form_id}#{fragment}"

    def add(self, *responses: NpsResponse) -> None:
        """Keep *responses* as given (any form id, any order key)."""
        self.answers.extend(responses)

    def answer(
        self,
        response_id: str,
        score: int,
        submitted_at: datetime,
        hidden: Mapping[str, str],
        comment: str | None = None,
    ) -> NpsResponse:
        """Record a completed answer to this form, as a customer who opened
        a link carrying *hidden* would give it; returns it."""
        response = NpsResponse(
            response_id=response_id,
            form_id=self.form_id,
            score=score,
            submitted_at=submitted_at,
            order_key=_order_key(hidden.get("order")),
            comment=comment,
            hidden=dict(hidden),
        )
        self.answers.append(response)
        return response

    def fail_next(self, *failures: PartnerError) -> None:
        """Raise *failures* on the next calls of :meth:`responses`, one
        each, in order."""
        self._failures.extend(failures)

    def responses(
        self, *, since: datetime | None, after: str | None, page_size: int
    ) -> SurveyPage:
        """Answers submitted at or after *since*, oldest first, starting
        after the answer whose id is *after*; ``after`` of the page is its
        last answer's id."""
        self.calls += 1
        if self._failures:
            raise self._failures.popleft()
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        found = sorted(
            (r for r in self.answers if since is None or r.submitted_at >= since),
            key=lambda r: r.submitted_at,
        )
        if after is not None:
            ids = [r.response_id for r in found]
            found = found[ids.index(after) + 1 :] if after in ids else []
        page = tuple(found[:page_size])
        last = page[-1].response_id if page else after
        return SurveyPage(page, last, len(found) > page_size)


def hidden_fields(link: str) -> dict[str, str]:
    """The hidden fields a survey link carries in its fragment."""
    return dict(parse_qsl(urlsplit(link).fragment, keep_blank_values=True))


def _order_key(text: str | None) -> OrderKey | None:
    """The order a hidden field names, or None when it names none."""
    try:
        return OrderKey.parse(text) if text else None
    except ValueError:
        return None
