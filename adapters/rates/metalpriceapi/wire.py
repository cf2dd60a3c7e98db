"""MetalpriceAPI's wire shapes, as pure functions.

This is the only module that knows what MetalpriceAPI sends.  What is
verified, and where from:

- ``GET /v1/latest?api_key=KEY&base=USD&currencies=XAU,XAG,EUR`` answers
  ``{"success": true, "base": "USD", "timestamp": <unix s>, "rates":
  {"EUR": ..., "XAG": ..., "XAU": ..., "USDXAG": ..., "USDXAU": ...}}``:
  ``XAU`` is troy ounces per one base, ``USDXAU`` its inverse, the base's
  price of one ounce (MetalpriceAPI's documentation; our reference's
  fixture);
- the key may travel as the ``api_key`` query parameter (MetalpriceAPI's
  documentation; its official clients do so), which is how it is sent here;
- a past day is ``GET /v1/YYYY-MM-DD`` with the same query (MetalpriceAPI's
  official Python, Ruby and Node clients), answered with ``"historical":
  true`` and ``"date": "YYYY-MM-DD"`` beside the fields above (the type
  definitions in MetalpriceAPI's own Node client).

What is modelled, not verified:

- refusals as ``{"success": false, "error": {"statusCode", "message"}}``
  with the HTTP status repeated in ``statusCode``; the words are read from
  ``message`` (or ``info``, or ``error`` itself when it is text), so another
  shape still reaches the operator;
- which plain quotes carry an inverse: our reference shows them for the
  metals only (``USDXAU``, not ``USDEUR``); they are read when present and
  only used as a cross-check, so either way works;
- a ``date`` on the latest answer: the reference shows none, MetalpriceAPI's
  Node types do; when absent, the day is the UTC date of ``timestamp``.

Figures are parsed from the answer's text as ``Decimal`` (never through
``float``), so a published rate is kept to the digit.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs

from fulfilment.adapters.pl3._reply import Reply
from fulfilment.core.errors import (
    PartnerError,
    PermanentPartnerError,
    TransientPartnerError,
)

__all__ = [
    "LATEST_PATH",
    "PARTNER",
    "Answer",
    "answer_of",
    "decode",
    "error_of",
    "historical_path",
    "is_refusal",
    "query",
]

PARTNER = "metalpriceapi"
LATEST_PATH = "/v1/latest"
# How far a convenience inverse may stray from 1/rate before it is worth a
# warning: the two are rounded separately, to different digits.
INVERSE_TOLERANCE = Decimal("0.005")


@attrs.frozen
class Answer:
    """What one answer published: the day it names (None when it names
    none), its base, the plain quotes asked for (units per one base) and
    the inverses it added (base per one unit of the quote, by quote)."""

    day: date | None
    base: str
    rates: Mapping[str, Decimal]
    inverses: Mapping[str, Decimal]

    def disagreements(self) -> list[str]:
        """The quotes whose inverse is not about ``1 / rate``."""
        return [
            quote
            for quote, inverse in sorted(self.inverses.items())
            if abs(inverse * self.rates[quote] - 1) > INVERSE_TOLERANCE
        ]


def historical_path(day: date) -> str:
    return f"/v1/{day.isoformat()}"


def query(base: str, quotes: Collection[str]) -> dict[str, str]:
    """The query of one day's rates, without the key (the client adds it).
    ``currencies`` is left out when no quote is asked for: an empty list
    is not one MetalpriceAPI documents, and the answer is only read for
    the day it names."""
    params = {"base": base}
    if quotes:
        params["currencies"] = ",".join(sorted(quotes))
    return params


def decode(text: str) -> Any:
    """The JSON of an answer, every number a ``Decimal``.  ValueError when
    the text is not JSON (an HTML page, a cut-off body) or holds ``NaN`` or
    ``Infinity``, which JSON does not allow."""
    return json.loads(
        text, parse_float=Decimal, parse_int=Decimal, parse_constant=_no_constant
    )


def is_refusal(body: Any) -> bool:
    """Whether a body says the request failed (``"success": false``),
    whatever the status it came with: a refusal in a 200 is read as one."""
    return isinstance(body, Mapping) and body.get("success") is False


def answer_of(body: Any, quotes: Collection[str]) -> Answer:
    """The rates of *quotes* in a successful answer; a quote the answer
    does not carry is left out.  ValueError naming the field when the body
    is not such an answer."""
    if not isinstance(body, Mapping):
        raise ValueError("the answer is not a JSON object")
    if body.get("success") is not True:
        raise ValueError("success is not true")
    base = body.get("base")
    if not isinstance(base, str) or not base:
        raise ValueError("base is missing")
    rates = body.get("rates")
    if not isinstance(rates, Mapping):
        raise ValueError("rates is not an object")
    plain = {q: _rate(rates, q) for q in sorted(quotes) if rates.get(q) is not None}
    inverses = {
        q: _rate(rates, f"{base}{q}")
        for q in plain
        if rates.get(f"{base}{q}") is not None
    }
    return Answer(_day_of(body), base, plain, inverses)


def error_of(reply: Reply) -> PartnerError:
    """The error a refusal stands for, in MetalpriceAPI's words: 429 and
    5xx may pass (``TransientPartnerError``); anything else is about the
    key, the plan or the request (``PermanentPartnerError``)."""
    body = reply.body if isinstance(reply.body, Mapping) else {}
    error = body.get("error")
    detail = error if isinstance(error, Mapping) else {}
    status = reply.status
    if reply.ok:  # a refusal in a 200: the body's own status tells
        status = _int(detail.get("statusCode")) or status
    words = (
        _text(detail.get("message"))
        or _text(detail.get("info"))
        or _text(error)
        or reply.text
        or f"HTTP {reply.status} and no words"
    )
    code = _text(detail.get("code"))
    kind = TransientPartnerError if status == 429 or status >= 500 else None
    return (kind or PermanentPartnerError)(
        words, partner=PARTNER, status=status, code=code
    )


# --- fields ------------------------------------------------------------------


def _rate(rates: Mapping[str, Any], key: str) -> Decimal:
    value = rates[key]
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise ValueError(f"rates.{key} is not a positive number: {value!r}")
    return value


def _day_of(body: Mapping[str, Any]) -> date | None:
    """The day an answer names: its ``date``, else the UTC day of its
    ``timestamp``, else None."""
    stated = body.get("date")
    if stated is not None:
        try:
            return date.fromisoformat(str(stated))
        except ValueError:
            raise ValueError(f"date {stated!r} is not YYYY-MM-DD") from None
    stamp = body.get("timestamp")
    if stamp is None:
        return None
    if not isinstance(stamp, Decimal) or stamp != stamp.to_integral_value():
        raise ValueError(f"timestamp {stamp!r} is not whole Unix seconds")
    try:
        return datetime.fromtimestamp(int(stamp), UTC).date()
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"timestamp {stamp!r} is out of range") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _int(value: Any) -> int | None:
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, Mapping | list | bool):
        return None
    text = str(value).strip()
    return text or None
