"""Typeform's Responses API wire shapes, as pure functions.

This is the only module that knows what Typeform sends.  From Typeform's
Responses API reference and its published type definitions:

- ``GET /forms/{form_id}/responses`` with ``Authorization: Bearer <token>``;
  query names are snake_case (a camelCase ``pageSize`` is silently ignored):
  ``page_size`` (at most 1000), ``since``/``until`` (inclusive, UTC to the
  second), ``before``/``after`` (a response ``token``, exclusive, never
  combined with ``sort``), ``response_type`` (``completed``, which also makes
  ``since`` apply to the submission time; it replaces the deprecated boolean
  ``completed``);
- without a token the newest answer comes first; the next page is asked
  with ``before=<token of the last item>`` and the walk ends on a page that
  is not full;
- ``{"total_items", "page_count", "items": [{"token", "response_id",
  "landed_at", "submitted_at", "hidden": {...}, "answers": [{"field": {"id",
  "type", "ref"}, "type": "number", "number": 9}, {"field": {...}, "type":
  "text", "text": "..."}]}]}``; an NPS question's ``field.type`` is ``nps``
  or ``opinion_scale`` and its answer a whole ``number``; a free-text
  question is ``long_text`` or ``short_text`` with a ``text`` answer;
- errors are ``{"code", "description", "details"?}``: 401 and 403
  ``AUTHENTICATION_FAILED`` (no token, a wrong token), 404
  ``FORM_NOT_FOUND``, 400 ``VALIDATION_ERROR`` naming the query field.

Typeform's ``token`` and ``response_id`` carry the same value today; the
answer is keyed on ``response_id`` and pages continue from ``token``, each
falling back on the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import attrs

from fulfilment.adapters.payloads import scalar_text
from fulfilment.adapters.pl3._reply import Reply
from fulfilment.core.domain import OrderKey
from fulfilment.core.errors import PartnerError, PermanentPartnerError
from fulfilment.core.nps import NpsResponse

__all__ = [
    "COMMENT_TYPES",
    "PARTNER",
    "SCORE_TYPES",
    "Reading",
    "Skipped",
    "WirePage",
    "error_of",
    "page_of",
    "query",
    "responses_path",
]

PARTNER = "typeform"
SCORE_TYPES = frozenset({"nps", "opinion_scale"})
COMMENT_TYPES = frozenset({"long_text", "short_text"})
COMPLETED = "completed"


@attrs.frozen
class Reading:
    """How one form's answers are read: which questions hold the score and
    the comment (by ``ref``; None: the first of the right type), and which
    hidden field carries the order key."""

    form_id: str
    order_field: str = "order"
    score_ref: str | None = None
    comment_ref: str | None = None


@attrs.frozen
class Skipped:
    """An item that is not a usable answer, and why (no personal data)."""

    response_id: str
    reason: str


@attrs.frozen
class WirePage:
    """One page as Typeform listed it: the usable answers, oldest first;
    the items skipped; the token of the page's last item (where the next
    page starts) and how many items the page held."""

    responses: tuple[NpsResponse, ...]
    skipped: tuple[Skipped, ...]
    last_token: str | None
    count: int


def responses_path(form_id: str) -> str:
    return f"/forms/{quote(form_id, safe='')}/responses"


def query(
    *, since: datetime | None, before: str | None, page_size: int
) -> dict[str, str]:
    """The query of one page of completed answers.  ``since`` is cut to
    the second (Typeform's precision), down, so nothing at its edge is
    lost."""
    params = {"page_size": str(page_size), "response_type": COMPLETED}
    if since is not None:
        params["since"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if before is not None:
        params["before"] = before
    return params


def page_of(body: Any, reading: Reading) -> WirePage:
    """The answers in a page body.  ValueError when the body is not a page
    at all (no ``items`` list)."""
    items = body.get("items") if isinstance(body, Mapping) else None
    if not isinstance(items, list):
        raise ValueError("the answer has no list of items")
    responses: list[NpsResponse] = []
    skipped: list[Skipped] = []
    for item in items:
        answer = _response_of(item, reading)
        if isinstance(answer, Skipped):
            skipped.append(answer)
        else:
            responses.append(answer)
    last = items[-1] if items else None
    responses.sort(key=lambda r: (r.submitted_at, r.response_id))
    return WirePage(tuple(responses), tuple(skipped), _token_of(last), len(items))


def error_of(reply: Reply) -> PartnerError:
    """The error an answer other than 2xx stands for, in Typeform's words.
    Every one of them is about the request or the account (the token, the
    form id, a query value), so none is worth repeating."""
    body = reply.body if isinstance(reply.body, Mapping) else {}
    code = scalar_text(body.get("code"))
    words = scalar_text(body.get("description")) or reply.text or "-"
    fields = [
        f"{scalar_text(d.get('field')) or '?'}: "
        f"{scalar_text(d.get('description')) or '?'}"
        for d in body.get("details") or []
        if isinstance(d, Mapping)
    ]
    if fields:
        words = f"{words} ({'; '.join(fields)})"
    return PermanentPartnerError(words, partner=PARTNER, status=reply.status, code=code)


# --- one item ----------------------------------------------------------------


def _response_of(item: Any, reading: Reading) -> NpsResponse | Skipped:
    if not isinstance(item, Mapping):
        return Skipped("?", "not_an_object")
    response_id = scalar_text(item.get("response_id")) or scalar_text(item.get("token"))
    if response_id is None:
        return Skipped("?", "no_response_id")
    kind = item.get("response_type")
    if kind is not None and kind != COMPLETED:
        return Skipped(response_id, f"not_completed ({kind})")
    submitted_at = _time(item.get("submitted_at"))
    if submitted_at is None:
        return Skipped(response_id, "no_submitted_at")
    answers = [a for a in item.get("answers") or [] if isinstance(a, Mapping)]
    score = _score(answers, reading.score_ref)
    if score is None:
        return Skipped(response_id, "no_score")
    hidden = _hidden(item.get("hidden"))
    return NpsResponse(
        response_id=response_id,
        form_id=reading.form_id,
        score=score,
        submitted_at=submitted_at,
        order_key=_order_key(hidden.get(reading.order_field)),
        comment=_comment(answers, reading.comment_ref),
        hidden=hidden,
    )


def _score(answers: Sequence[Mapping[str, Any]], ref: str | None) -> int | None:
    answer = _answer(answers, ref, SCORE_TYPES)
    if answer is None or answer.get("type") != "number":
        return None
    value = answer.get("number")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != int(value) or not 0 <= value <= 10:
        return None
    return int(value)


def _comment(answers: Sequence[Mapping[str, Any]], ref: str | None) -> str | None:
    answer = _answer(answers, ref, COMMENT_TYPES)
    if answer is None or answer.get("type") != "text":
        return None
    text = answer.get("text")
    if not isinstance(text, str):
        return None
    return text.strip() or None


def _answer(
    answers: Sequence[Mapping[str, Any]], ref: str | None, types: frozenset[str]
) -> Mapping[str, Any] | None:
    """The answer to the question *ref* names, or without a ref the first
    answer to a question of one of *types*."""
    for answer in answers:
        field = answer.get("field")
        if not isinstance(field, Mapping):
            continue
        if ref is not None and field.get("ref") == ref:
            return answer
        if ref is None and field.get("type") in types:
            return answer
    return None


def _hidden(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {
        str(name): str(text)
        for name, text in value.items()
        if text is not None and not isinstance(text, Mapping | list)
    }


def _order_key(value: str | None) -> OrderKey | None:
    if not value:
        return None
    try:
        return OrderKey.parse(value.strip())
    except ValueError:
        return None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    # Typeform writes UTC; a time without an offset is read as UTC too.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _token_of(item: Any) -> str | None:
    if not isinstance(item, Mapping):
        return None
    return scalar_text(item.get("token")) or scalar_text(item.get("response_id"))
