"""The ECB's euro reference-rate files, as pure functions.

This is the only module that knows what the ECB publishes.  Verified from
the ECB's page on its euro foreign exchange reference rates and its files:

- three files under ``/stats/eurofxref/``: ``eurofxref-daily.xml`` (the
  latest working day), ``eurofxref-hist-90d.xml`` (about the last 90 days)
  and ``eurofxref-hist.xml`` (every day since 1999), fetched with a plain
  ``GET``, no credentials;
- each is a ``gesmes:Envelope`` (namespace ``gesmes`` =
  ``http://www.gesmes.org/xml/2002-08-01``, default namespace
  ``http://www.ecb.int/vocabulary/2002-08-01/eurofxref``) holding a
  ``gesmes:subject``, a ``gesmes:Sender``, then one ``Cube`` of
  ``Cube time='YYYY-MM-DD'`` elements, each of ``Cube currency='XXX'
  rate='n.nnnn'`` elements: units of the currency per one euro, written
  with the digits the ECB means (trailing zeros included);
- attributes are single-quoted; the history files list the newest day
  first; a day the ECB did not publish (weekends, TARGET holidays) has no
  ``Cube time`` at all, and the daily file keeps the last working day's
  rates until the next one;
- the ECB does not carry MAD, EGP, AED, LBP nor the metals.

Modelled, as the ECB does not document them: exactly where the 90-day
file starts (the adapter reads the full history when that file does not
reach back to the first day asked for), and what a maintenance page looks
like (any HTML instead of the envelope is read as one).

The files carry no document type and declare no entity, so a body that
does is refused before any parsing: without a document type declaration
XML has no way to define an entity, which rules out entity expansion
bombs and external entities with the standard library's parser.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

import attrs

from fulfilment.core.errors import (
    PartnerError,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.rates import PublishedRates

__all__ = [
    "BASE",
    "DAILY",
    "ENVELOPE",
    "GESMES",
    "HISTORY",
    "HISTORY_90_DAYS",
    "NINETY_DAYS_REACH",
    "PARTNER",
    "REFERENCE",
    "Fetched",
    "NotEnvelope",
    "UnsafeBody",
    "error_of",
    "published_of",
]

PARTNER = "ecb"
BASE = "EUR"
DAILY = "eurofxref-daily.xml"
HISTORY_90_DAYS = "eurofxref-hist-90d.xml"
HISTORY = "eurofxref-hist.xml"
# How many days back from today the 90-day file is expected to reach.
NINETY_DAYS_REACH = 90

GESMES = "http://www.gesmes.org/xml/2002-08-01"
REFERENCE = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
ENVELOPE = f"{{{GESMES}}}Envelope"
_CUBE = f"{{{REFERENCE}}}Cube"

_CODE = re.compile(r"[A-Z]{3}")
# A plain decimal as the ECB writes one: no sign, exponent nor digit group.
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_EXCERPT = 80


class NotEnvelope(ValueError):
    """The body is not a readable envelope of rates (an HTML page, a cut
    transfer, another document); the message says what came instead."""


class UnsafeBody(ValueError):
    """The body declares a document type or entities, which the ECB's
    files never do; it was not parsed."""


@attrs.frozen
class Fetched:
    """What one ``GET`` of a file answered: the status, the raw bytes and
    where a redirect pointed."""

    status: int
    content: bytes = b""
    location: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def published_of(content: bytes) -> list[PublishedRates]:
    """Every day a file holds, oldest first, with all its rates per one
    euro as the exact decimals written.  Raises :class:`NotEnvelope` or
    :class:`UnsafeBody`."""
    text = _text_of(content)
    root = _root_of(text)
    cubes = root.find(_CUBE)
    if cubes is None:
        raise NotEnvelope("an envelope with no Cube of rates")
    days: dict[date, PublishedRates] = {}
    for cube in cubes.findall(_CUBE):
        published = _day_of(cube)
        if published.day in days:
            raise NotEnvelope(f"the file lists {published.day} twice")
        days[published.day] = published
    return [days[day] for day in sorted(days)]


def error_of(fetched: Fetched, name: str) -> PartnerError:
    """The error an answer other than 2xx stands for (429, 5xx, 401 and
    403 never get here: the shared ``send`` maps them).  A redirect or a
    missing file means ``base_url`` is wrong, which no retry mends."""
    words = _excerpt(fetched.content) or "(empty)"
    if 300 <= fetched.status < 400:
        return PermanentPartnerError(
            f"{name} is redirected to {fetched.location or '(no Location)'}; "
            "point base_url at the folder that holds the files",
            partner=PARTNER,
            status=fetched.status,
        )
    if fetched.status == 404:
        return PermanentPartnerError(
            f"no {name} under base_url (is it the folder of the ECB's "
            f"eurofxref files?): {words}",
            partner=PARTNER,
            status=fetched.status,
        )
    kind = TransientPartnerError if fetched.status >= 500 else PermanentPartnerError
    return kind(f"{name}: {words}", partner=PARTNER, status=fetched.status)


# --- reading the envelope ----------------------------------------------------


def _text_of(content: bytes) -> str:
    try:
        # The files are UTF-8; the parser is then given text, so a body
        # declaring another encoding cannot hide a declaration from the
        # checks below.
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise NotEnvelope(
            f"a body that is not UTF-8 text (byte {error.start}): "
            f"{content[:_EXCERPT]!r}"
        ) from error
    if not text.strip():
        raise NotEnvelope("an empty body")
    if _is_html(text):
        raise NotEnvelope(f"an HTML page ({_title(text)}), not the rates")
    lowered = text.lower()
    if "<!doctype" in lowered or "<!entity" in lowered:
        raise UnsafeBody(
            "the body declares a document type or entities, which the "
            "ECB's files never do; it was not parsed"
        )
    return text


def _is_html(text: str) -> bool:
    head = text.lstrip()[:1024].lower()
    return head.startswith("<!doctype html") or "<html" in head


def _title(text: str) -> str:
    found = _TITLE.search(text)
    title = " ".join(found.group(1).split()) if found else ""
    return f"title {title[:_EXCERPT]!r}" if title else f"{text.strip()[:_EXCERPT]!r}"


def _root_of(text: str) -> ET.Element:
    try:
        root = ET.fromstring(text)  # noqa: S314 - refused above: no DTD, no entity
    except ET.ParseError as error:
        raise NotEnvelope(
            f"XML that cannot be read ({error}), a cut or garbled file: "
            f"{text.strip()[:_EXCERPT]!r}"
        ) from error
    if root.tag != ENVELOPE:
        raise NotEnvelope(f"an XML document of {root.tag!r}, not gesmes:Envelope")
    return root


def _day_of(cube: ET.Element) -> PublishedRates:
    stamp = cube.get("time")
    try:
        day = date.fromisoformat(stamp or "")
    except ValueError:
        raise NotEnvelope(
            f"a Cube whose time is {stamp!r}, not a YYYY-MM-DD day"
        ) from None
    rates: dict[str, Decimal] = {}
    for entry in cube.findall(_CUBE):
        currency, rate = _rate_of(entry, day)
        if currency in rates:
            raise NotEnvelope(f"Cube time='{day}' lists {currency} twice")
        rates[currency] = rate
    return PublishedRates(day, BASE, rates)


def _rate_of(entry: ET.Element, day: date) -> tuple[str, Decimal]:
    currency = entry.get("currency") or ""
    if not _CODE.fullmatch(currency):
        raise NotEnvelope(
            f"Cube time='{day}' holds a currency {currency!r}, not a three-letter code"
        )
    text = entry.get("rate") or ""
    if not _NUMBER.fullmatch(text) or Decimal(text) == 0:
        raise NotEnvelope(
            f"Cube time='{day}' gives {currency} the rate {text!r}, not a "
            "positive number"
        )
    return currency, Decimal(text)


def _excerpt(content: bytes) -> str:
    text = content.decode("utf-8", errors="replace")
    if _is_html(text):
        return _title(text)
    return " ".join(text.split())[:_EXCERPT]
