"""Open Exchange Rates' wire shapes, as pure functions.

This is the only module that knows what Open Exchange Rates sends.

Verified (the API's reference pages and public clients):

- ``GET /api/latest.json`` and ``GET /api/historical/YYYY-MM-DD.json``,
  both with ``app_id`` in the query (the only way of signing in the API
  documents), optional ``base`` (USD when absent) and ``symbols`` (a comma
  separated list of codes; the others are left out);
- the answer ``{"disclaimer", "license", "timestamp", "base", "rates"}``:
  ``timestamp`` the Unix second the rates are for, ``rates`` units of each
  code per one ``base``, metals (``XAU``, ``XAG``) in troy ounces;
  historical days go back to 1999-01-01 and are end-of-day figures, and
  every day has them (weekends included);
- errors ``{"error": true, "status", "message", "description"}``: 401
  ``missing_app_id`` and ``invalid_app_id``, 403 ``access_restricted``,
  404 ``not_found``, 400 ``invalid_base``; the reference table lists
  ``not_allowed`` under 429, and a free plan asking for another ``base``
  has been seen answered 403 ``not_allowed``.  Whichever status carries
  it, ``not_allowed`` is about the plan, so it is never worth repeating;
  any other 429 is (honouring ``Retry-After`` when sent).

Modelled (not documented): a historical day the API has no figures for
(before 1999, after its today, a gap) is answered 400 ``not_available``,
and a date it cannot read 400 ``invalid_date``.  The adapter always sends a
well-formed date, so either answer means the day was not published.

Figures are read from the body's own digits into ``Decimal`` (never
through a float), so a rate is kept exactly as the API wrote it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs

from fulfilment.adapters.payloads import scalar_text
from fulfilment.core.errors import (
    PartnerError,
    PermanentPartnerError,
    TransientPartnerError,
)

__all__ = [
    "DEFAULT_BASE",
    "LATEST_PATH",
    "NO_DATA",
    "PARTNER",
    "Answer",
    "Malformed",
    "Publication",
    "code_of",
    "error_of",
    "historical_path",
    "is_no_data",
    "loads",
    "publication_of",
    "query",
]

PARTNER = "openexchangerates"
DEFAULT_BASE = "USD"
LATEST_PATH = "/api/latest.json"
# The answers that mean "no figures for that day" (modelled, see above).
NO_DATA = frozenset({"not_available", "invalid_date"})
# Refusals about the plan, whatever status they come with.
_PLAN = frozenset({"not_allowed"})
_CODE = re.compile(r"[A-Z]{3}")


class Malformed(ValueError):
    """An answer that decodes but is not what the API sends; the message
    names the field."""


@attrs.frozen
class Answer:
    """What the API answered, decoded once: ``body`` is the JSON with
    every fractional number a ``Decimal`` (None when the body is not
    JSON), ``text`` a short excerpt and ``where`` the request with the app
    id masked, so both may go into a message.  ``retry_after`` is the
    seconds a ``Retry-After`` header asked for."""

    status: int
    body: Any
    text: str
    where: str
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@attrs.frozen
class Publication:
    """One answer's figures: ``rates[code]`` units per one ``base`` at
    ``at``."""

    at: datetime
    base: str
    rates: Mapping[str, Decimal]

    @property
    def day(self) -> date:
        """The UTC day the figures are for (the API keeps days in UTC)."""
        return self.at.astimezone(UTC).date()


def historical_path(day: date) -> str:
    return f"/api/historical/{day.isoformat()}.json"


def query(base: str, quotes: Collection[str]) -> dict[str, str]:
    """The query of one request, without the app id.  ``base`` is sent
    only when it is not USD: a free plan refuses the parameter's other
    values, and USD is what the API answers in without it."""
    params = {}
    if base != DEFAULT_BASE:
        params["base"] = base
    if quotes:
        params["symbols"] = ",".join(sorted(quotes))
    return params


def loads(content: bytes) -> Any:
    """The JSON in *content* with fractions as ``Decimal``; None when it
    is not JSON (an HTML error page, a body cut short).  ``NaN`` and
    ``Infinity``, which JSON does not allow, are refused too."""
    try:
        return json.loads(
            content.decode("utf-8"),
            parse_float=Decimal,
            parse_constant=_no_constant,
        )
    except (UnicodeDecodeError, ValueError):
        return None


def publication_of(body: Any, wanted: Collection[str]) -> Publication:
    """The figures of the *wanted* codes in a rates answer; a wanted code
    the answer lacks is left out, the ones not wanted are not read.
    Raises :class:`Malformed` naming the field that is not as the API
    sends it."""
    if not isinstance(body, Mapping):
        raise Malformed("the answer is not a JSON object")
    rates = body.get("rates")
    if not isinstance(rates, Mapping):
        raise Malformed(f"rates is {_kind(rates)}, not an object")
    base = body.get("base")
    if not isinstance(base, str) or not _CODE.fullmatch(base):
        raise Malformed(f"base is {base!r}, not a currency code")
    figures = {
        code: _figure(rates[code], f"rates.{code}")
        for code in sorted(wanted)
        if code in rates
    }
    return Publication(_moment(body.get("timestamp")), base, figures)


def code_of(body: Any) -> str | None:
    """The API's error code (its ``message`` field), if the body has one."""
    return scalar_text(_field(body, "message"))


def is_no_data(answer: Answer) -> bool:
    """Whether a refusal says the API has no figures for the day asked."""
    return answer.status == 400 and code_of(answer.body) in NO_DATA


def error_of(answer: Answer) -> PartnerError:
    """The error an answer other than 2xx stands for, in the API's words:
    ``TransientPartnerError`` for a 429 that is not about the plan (with
    its ``Retry-After``), ``PermanentPartnerError`` for the rest (the app
    id, the plan, the base, the address)."""
    code = code_of(answer.body)
    words = scalar_text(_field(answer.body, "description")) or answer.text or "-"
    message = f"{words} ({answer.where})"
    if answer.status == 429 and code not in _PLAN:
        return TransientPartnerError(
            message,
            partner=PARTNER,
            status=answer.status,
            code=code,
            retry_after=answer.retry_after,
        )
    return PermanentPartnerError(
        message, partner=PARTNER, status=answer.status, code=code
    )


# --- fields ------------------------------------------------------------------


def _figure(value: Any, path: str) -> Decimal:
    # ``bool`` is an ``int`` to Python; ``true`` is not a rate.
    if isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise Malformed(f"{path} is {value!r}, not a positive number")
    return value


def _moment(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Malformed(f"timestamp is {value!r}, not a Unix time in seconds")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise Malformed(f"timestamp {value} is not a time ({error})") from error


def _field(body: Any, name: str) -> Any:
    return body.get(name) if isinstance(body, Mapping) else None


def _kind(value: Any) -> str:
    return "absent" if value is None else type(value).__name__


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
