"""A loopback Typeform: the Responses API of one NPS form.

It speaks the shapes in ``fulfilment.adapters.survey.typeform.wire`` and
refuses what Typeform refuses, with Typeform's error bodies
(``{"code", "description", "details"?}``):

- no ``Authorization: Bearer`` header → 401 ``AUTHENTICATION_FAILED``
  "Authentication credentials not found on the Request Headers"; a token
  other than the form owner's → 403 ``AUTHENTICATION_FAILED``
  "Authentication failed";
- another form id → 404 ``FORM_NOT_FOUND``;
- a ``page_size`` outside 1 to 1000, an unreadable ``since``/``until``, an
  unknown ``response_type``, ``sort`` with a token, a token it never gave
  out → 400 ``VALIDATION_ERROR`` naming the query field (the bodies of the
  last three are modelled: our reference does not quote them).

Query names it does not know are ignored, as Typeform ignores them (a
camelCase ``pageSize`` leaves the default page of 25).  ``response_type``
(or the deprecated boolean ``completed``) picks completed, partial or
started answers, completed by default; ``since``/``until`` then bound the
submission time of completed answers and the landing time of the others.
Without a token the newest answer comes first; ``before=<token>`` lists
the older ones, newest first, and ``after=<token>`` the newer ones, oldest
first.  Rate limits are faults: ``sim.faults.add("responses",
rate_limited())``.

The sandbox world makes its customers answer with :meth:`answer`, which
decides from the order key alone whether a customer answers (about 60 %),
what they score (promoters, passives and detractors all appear) and
whether they write a comment, in Arabic, French or English; some of those
who do not answer leave a partial response behind, which only a request
for partial answers sees.  Answers are kept in ``state["responses"]`` in
Typeform's own item shape, so the state file reads like an API dump.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from fulfilment.adapters.survey.links import hidden_fragment
from fulfilment.core.nps import NpsCategory
from fulfilment.core.ports import Clock

from .server import Fault, SimRequest, SimResponse, Simulator, route

__all__ = [
    "ANSWER_SHARE",
    "COMMENT_REF",
    "SANDBOX_FORM_ID",
    "SANDBOX_FORM_URL",
    "SANDBOX_TOKEN",
    "SCORE_REF",
    "TypeformSimulator",
    "rate_limited",
]

# The sandbox account: fixed, because the simulator only listens on
# 127.0.0.1 and guards nothing real.
SANDBOX_TOKEN = "tfp_sandbox_shemsi_nps_token"  # noqa: S105
SANDBOX_FORM_ID = "ShemsiNps01"
SANDBOX_FORM_URL = "https://shemsi.typeform.test/to/"
SCORE_REF = "nps_score"
COMMENT_REF = "nps_reason"
ANSWER_SHARE = 60  # percent of asked customers who answer
PARTIAL_SHARE = 15  # percent who open the form and give up

_SCORE_ID = "Sc0reNps7Q"
_COMMENT_ID = "Wh7Reason2"
_AGAIN_ID = "Ag4inYesNo"
_MAX_PAGE = 1000
_DEFAULT_PAGE = 25
_TYPES = frozenset({"started", "partial", "completed"})
_ZERO = datetime(1970, 1, 1, tzinfo=UTC)

# Scores given by customers who answer, in turn: the n-th answer to the
# form takes the n-th score, so any few answers in a row cover every
# category (half promoters, a quarter each passives and detractors).
_SCORES = (10, 8, 3, 9, 10, 7, 9, 0, 10, 8, 6, 9)
_COMMENTS: Mapping[NpsCategory, Mapping[str, str]] = {
    NpsCategory.PROMOTER: {
        "ar": "وصلني الطلب بسرعة والتغليف ممتاز، شكراً لكم",
        "fr": "Livraison rapide et emballage soigné, merci !",
        "en": "Quick delivery and careful packaging, thank you!",
    },
    NpsCategory.PASSIVE: {
        "ar": "المنتج جيد لكن التوصيل تأخر قليلاً",
        "fr": "Produit correct, mais la livraison a pris un peu de retard.",
        "en": "Good product, but delivery took longer than promised.",
    },
    NpsCategory.DETRACTOR: {
        "ar": "المندوب لم يتصل بي وانتظرت ثلاثة أيام",
        "fr": "Le livreur ne m'a pas appelé et j'ai attendu trois jours.",
        "en": "The courier never called and I waited three days.",
    },
}


def rate_limited(retry_after: float = 1.0) -> Fault:
    """A 429 as a fault (the body is modelled: our reference does not
    quote Typeform's)."""
    body = {"code": "TOO_MANY_REQUESTS", "description": "Rate limit exceeded"}
    return Fault(status=429, body=body, retry_after=retry_after)


class TypeformSimulator(Simulator):
    """One Typeform form; the defaults are the sandbox account's.
    ``score_type`` is the NPS question's type (``nps`` or
    ``opinion_scale``)."""

    name = "typeform"

    def __init__(
        self,
        *,
        data_dir: Any = None,
        clock: Clock | None = None,
        token: str = SANDBOX_TOKEN,
        form_id: str = SANDBOX_FORM_ID,
        score_type: str = "nps",
    ) -> None:
        super().__init__(data_dir=data_dir, clock=clock)
        self.token = token
        self.form_id = form_id
        self.score_type = score_type

    @property
    def form_url(self) -> str:
        return f"{SANDBOX_FORM_URL}{self.form_id}"

    def sandbox_settings(self, base_url: str) -> dict[str, Any]:
        """The Typeform adapter's configuration table (TOML-ready data) for
        an adapter talking to this simulator at *base_url*."""
        return {
            "base_url": base_url,
            "token": self.token,
            "form_id": self.form_id,
            "form_url": self.form_url,
            "score_field_ref": SCORE_REF,
            "comment_field_ref": COMMENT_REF,
        }

    def initial_state(self) -> dict[str, Any]:
        return {"responses": [], "sequence": 0}

    # --- the world answering ---------------------------------------------

    def answer(
        self, hidden: Mapping[str, str], at: datetime, *, language: str | None = None
    ) -> dict[str, Any] | None:
        """The customer who opened the link carrying *hidden* decides, from
        the order key alone, whether to answer; an answer is submitted at
        *at* and returned (the same one on every call for that order).
        None when they do not answer; some of them leave a partial
        response.  The comment's language is *language*, else the link's
        ``lang`` field, else English."""
        order = hidden.get("order")
        if not order:
            raise ValueError("a survey link carries the order in 'order'")
        with self.lock:
            earlier = [r for r in self.state["responses"] if _order_of(r) == order]
            if earlier:  # this customer has already made up their mind
                done = [r for r in earlier if r["response_type"] == "completed"]
                return _public(done[0]) if done else None
            roll = _roll(order)
            if roll[0] < ANSWER_SHARE:
                answered = sum(
                    r["response_type"] == "completed" for r in self.state["responses"]
                )
                score = _SCORES[answered % len(_SCORES)]
                words = _comment(score, language or hidden.get("lang"))
                comment = words if roll[2] % 2 == 0 else None
                return self.submit(hidden, score=score, at=at, comment=comment)
            if roll[0] < ANSWER_SHARE + PARTIAL_SHARE:
                self.abandon(hidden, at)
            return None

    def submit(
        self,
        hidden: Mapping[str, str],
        *,
        score: int,
        at: datetime,
        comment: str | None = None,
    ) -> dict[str, Any]:
        """Record a completed answer submitted at *at*, whatever the order
        key decides (tests use it to plant exact answers)."""
        answers = [_number(self.score_type, score), _again(score)]
        if comment is not None:
            answers.insert(1, _text(comment))
        with self.lock:
            record = self._record(hidden, at, answers, submitted=True)
            self.state["responses"].append(record)
            self.save()
            return _public(record)

    def abandon(self, hidden: Mapping[str, str], at: datetime) -> dict[str, Any]:
        """Record a partial response: the customer landed at *at*, answered
        the score and left before submitting."""
        score = _SCORES[_roll(hidden.get("order") or "-")[1] % len(_SCORES)]
        with self.lock:
            record = self._record(hidden, at, [_number(self.score_type, score)])
            self.state["responses"].append(record)
            self.save()
            return _public(record)

    def completed(self) -> list[dict[str, Any]]:
        """Every completed answer, in the order they were submitted."""
        with self.lock:
            return [
                _public(r)
                for r in _in_order(self.state["responses"], completed_only=True)
                if r["response_type"] == "completed"
            ]

    def _record(
        self,
        hidden: Mapping[str, str],
        at: datetime,
        answers: list[dict[str, Any]],
        *,
        submitted: bool = False,
    ) -> dict[str, Any]:
        """A response in Typeform's item shape.  A submitted one landed a
        little before *at*; a partial one landed at *at* and has no
        submission time."""
        self.state["sequence"] += 1
        sequence = self.state["sequence"]
        token = _token(f"{self.form_id}|{hidden.get('order')}|{at}|{sequence}")
        landed = at - timedelta(seconds=40 + sequence % 50) if submitted else at
        times = {"landed_at": _stamp(landed)}
        if submitted:
            times["submitted_at"] = _stamp(at)
        return {
            "landing_id": token,
            "token": token,
            "response_id": token,
            "response_type": "completed" if submitted else "partial",
            **times,
            "metadata": {
                "user_agent": "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36",
                "platform": "mobile",
                "referer": f"{self.form_url}#{hidden_fragment(hidden)}",
                "network_id": token[:10],
                "browser": "default",
            },
            "hidden": dict(hidden),
            "calculated": {"score": 0},
            "answers": answers,
            "_sequence": sequence,
        }

    # --- the route -------------------------------------------------------

    @route("GET", r"/forms/(?P<form_id>[^/]+)/responses", "responses")
    def responses(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        form_id = request.params["form_id"]
        if form_id != self.form_id:
            return _error(
                404, "FORM_NOT_FOUND", f"Non existing form with uid {form_id}"
            )
        asked = _Query.read(request)
        if isinstance(asked, SimResponse):
            return asked
        matching = asked.matching(self.state["responses"])
        page = asked.page(matching)
        if isinstance(page, SimResponse):
            return page
        return SimResponse(
            200,
            {
                "total_items": len(matching),
                "page_count": math.ceil(len(matching) / asked.page_size),
                "items": [_public(r) for r in page],
            },
        )

    def _denied(self, request: SimRequest) -> SimResponse | None:
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        if scheme != "Bearer" or not token.strip():
            return _error(
                401,
                "AUTHENTICATION_FAILED",
                "Authentication credentials not found on the Request Headers",
            )
        if token.strip() != self.token:
            return _error(403, "AUTHENTICATION_FAILED", "Authentication failed")
        return None


class _Query:
    """One request's filters, read and checked."""

    def __init__(self) -> None:
        self.page_size = _DEFAULT_PAGE
        self.types: frozenset[str] = frozenset({"completed"})
        self.since: datetime | None = None
        self.until: datetime | None = None
        self.after: str | None = None
        self.before: str | None = None

    @classmethod
    def read(cls, request: SimRequest) -> _Query | SimResponse:
        query = cls()
        problems: list[tuple[str, str]] = []
        size = request.arg("page_size")
        if size is not None:
            if not size.isdigit() or not 1 <= int(size) <= _MAX_PAGE:
                problems.append(("page_size", f"must be 1 to {_MAX_PAGE}"))
            else:
                query.page_size = int(size)
        for name in ("since", "until"):
            text = request.arg(name)
            moment = _moment(text) if text is not None else None
            if text is not None and moment is None:
                problems.append((name, "must be ISO 8601 UTC or Unix seconds"))
            setattr(query, name, moment)
        types = _types(request.arg("response_type"), request.arg("completed"))
        if types is None:
            problems.append(("response_type", "must be started, partial, completed"))
        else:
            query.types = types
        query.after, query.before = request.arg("after"), request.arg("before")
        if (query.after or query.before) and request.arg("sort"):
            problems.append(("sort", "cannot be used with after or before"))
        if query.after and query.before:
            problems.append(("after", "cannot be used with before"))
        return _invalid(problems) if problems else query

    @property
    def by_submission(self) -> bool:
        return self.types == frozenset({"completed"})

    def matching(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records the filters keep, oldest first."""
        ordered = _in_order(records, completed_only=self.by_submission)
        return [
            r
            for r in ordered
            if r["response_type"] in self.types
            and (self.since is None or _time_of(r, self.by_submission) >= self.since)
            and (self.until is None or _time_of(r, self.by_submission) <= self.until)
        ]

    def page(
        self, matching: list[dict[str, Any]]
    ) -> list[dict[str, Any]] | SimResponse:
        token = self.after or self.before
        if token is None:
            return list(reversed(matching))[: self.page_size]
        tokens = [r["token"] for r in matching]
        if token not in tokens:
            field = "after" if self.after else "before"
            return _invalid([(field, f"unknown response token {token}")])
        at = tokens.index(token)
        if self.after:
            return matching[at + 1 :][: self.page_size]
        return list(reversed(matching[:at]))[: self.page_size]


def _types(response_type: str | None, completed: str | None) -> frozenset[str] | None:
    if response_type is not None:
        asked = frozenset(t.strip() for t in response_type.split(",") if t.strip())
        return asked if asked and asked <= _TYPES else None
    if completed is not None:
        if completed not in ("true", "false"):
            return None
        return frozenset(
            {"completed"} if completed == "true" else _TYPES - {"completed"}
        )
    return frozenset({"completed"})


def _in_order(
    records: list[dict[str, Any]], *, completed_only: bool
) -> list[dict[str, Any]]:
    """The order Typeform processed them in: by submission (or landing)
    time, then by arrival."""
    return sorted(records, key=lambda r: (_time_of(r, completed_only), r["_sequence"]))


def _time_of(record: Mapping[str, Any], by_submission: bool) -> datetime:
    stamp = record.get("submitted_at") if by_submission else record.get("landed_at")
    return datetime.fromisoformat(stamp) if stamp else _ZERO


def _moment(text: str) -> datetime | None:
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _public(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _order_of(record: Mapping[str, Any]) -> str | None:
    hidden = record.get("hidden") or {}
    return hidden.get("order")


def _roll(order: str) -> tuple[int, int, int]:
    """Three numbers fixed by the order key: whether, what, and how."""
    digest = hashlib.sha256(order.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100, digest[4], digest[5]


def _comment(score: int, language: str | None) -> str:
    words = _COMMENTS[NpsCategory.of(score)]
    return words.get(language or "en", words["en"])


def _token(seed: str) -> str:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:32]


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(field_type: str, score: int) -> dict[str, Any]:
    field = {"id": _SCORE_ID, "type": field_type, "ref": SCORE_REF}
    return {"field": field, "type": "number", "number": score}


def _text(comment: str) -> dict[str, Any]:
    field = {"id": _COMMENT_ID, "type": "long_text", "ref": COMMENT_REF}
    return {"field": field, "type": "text", "text": comment}


def _again(score: int) -> dict[str, Any]:
    field = {"id": _AGAIN_ID, "type": "yes_no", "ref": "order_again"}
    return {"field": field, "type": "boolean", "boolean": score >= 7}


def _invalid(problems: list[tuple[str, str]]) -> SimResponse:
    details = [
        {"code": "INVALID_VALUE", "description": words, "field": field, "in": "query"}
        for field, words in problems
    ]
    return _error(400, "VALIDATION_ERROR", "The payload is invalid.", details)


def _error(
    status: int, code: str, description: str, details: list[Any] | None = None
) -> SimResponse:
    body: dict[str, Any] = {"code": code, "description": description}
    if details:
        body["details"] = details
    return SimResponse(status, body)
