"""The in-memory twin of :class:`~fulfilment.core.ports.SurveySource`.

It keeps completed answers as :class:`~fulfilment.core.nps.NpsResponse`
values and pages through them the way a survey provider does: oldest first,
each page continuing after the token (the response id) of the last answer
of the page before, ``more`` set while pages come back full.  Its links go
to ``https://forms.example/to/<form>#order=...&first_name=...``, a reserved
host that reaches nobody.  Tests can queue failures for the next reads.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from datetime import datetime

import attrs

from fulfilment.core.domain import OrderKey
from fulfilment.core.errors import PartnerError, PermanentPartnerError
from fulfilment.core.nps import NpsResponse
from fulfilment.core.ports import SurveyPage

from .links import hidden_fragment

__all__ = ["FORMS_BASE", "MemorySurveySettings", "MemorySurveySource"]

FORMS_BASE = "https://forms.example/to/"
ORDER_FIELD = "order"


@attrs.frozen
class MemorySurveySettings:
    """The ``memory`` survey takes one optional setting: its form id."""

    form_id: str = "nps"


class MemorySurveySource:
    """A survey held in memory, under the adapter name *name*."""

    def __init__(self, form_id: str = "nps", *, name: str = "memory") -> None:
        self.name = name
        self.form_id = form_id
        self._answers: dict[str, NpsResponse] = {}
        self._failures: deque[PartnerError] = deque()
        self._lock = threading.Lock()
        self.reads = 0

    def form_link(self, hidden: Mapping[str, str]) -> str:
        return f"{FORMS_BASE}{self.form_id}#{hidden_fragment(hidden)}"

    # --- the world answering ---------------------------------------------

    def add(self, response: NpsResponse) -> NpsResponse:
        """Keep a completed answer (one per response id)."""
        if response.form_id != self.form_id:
            raise ValueError(
                f"answer {response.response_id} is to form {response.form_id}, "
                f"not {self.form_id}"
            )
        with self._lock:
            self._answers.setdefault(response.response_id, response)
        return response

    def submit(
        self,
        hidden: Mapping[str, str],
        *,
        score: int,
        at: datetime,
        comment: str | None = None,
        response_id: str | None = None,
    ) -> NpsResponse:
        """A customer who opened the link carrying *hidden* answers *score*
        at *at*; the order key is read from the ``order`` field as a real
        provider's adapter reads it."""
        with self._lock:
            number = len(self._answers) + 1
        return self.add(
            NpsResponse(
                response_id=response_id or f"mem-{number:06d}",
                form_id=self.form_id,
                score=score,
                submitted_at=at,
                order_key=_order_key(hidden.get(ORDER_FIELD)),
                comment=comment,
                hidden=dict(hidden),
            )
        )

    def fail_next(self, *errors: PartnerError) -> None:
        """Raise *errors*, one per read, before answering again."""
        self._failures.extend(errors)

    # --- the port --------------------------------------------------------

    def responses(
        self, *, since: datetime | None, after: str | None, page_size: int
    ) -> SurveyPage:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        self.reads += 1
        if self._failures:
            raise self._failures.popleft()
        listed = self._listed(since)
        start = self._start(listed, after)
        page = listed[start : start + page_size]
        return SurveyPage(
            tuple(page),
            after=page[-1].response_id if page else after,
            more=len(page) == page_size,
        )

    def _listed(self, since: datetime | None) -> list[NpsResponse]:
        with self._lock:
            answers = list(self._answers.values())
        return sorted(
            (a for a in answers if since is None or a.submitted_at >= since),
            key=lambda a: (a.submitted_at, a.response_id),
        )

    def _start(self, listed: list[NpsResponse], after: str | None) -> int:
        if after is None:
            return 0
        for index, answer in enumerate(listed):
            if answer.response_id == after:
                return index + 1
        raise PermanentPartnerError(
            f"no answer {after!r} to continue after", partner=self.name
        )


def _order_key(value: str | None) -> OrderKey | None:
    try:
        return OrderKey.parse(value) if value else None
    except ValueError:
        return None
