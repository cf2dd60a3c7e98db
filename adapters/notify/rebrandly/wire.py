"""Rebrandly's link API wire shapes, as pure functions.

From Rebrandly's developer docs (Create a link, Link entity, API limits,
Troubleshooting) and a captured error body:

- ``POST /v1/links`` with headers ``apikey`` and optionally ``workspace``,
  body ``{"destination", "slashtag"?, "domain"?: {"fullName"}}``; a slashtag
  is letters, digits, ``_`` and ``-``, at most 40;
- answered 200 (docs) or 201 with a Link: ``id``, ``slashtag``,
  ``destination``, ``shortUrl`` *without scheme*, ``domain {fullName}``;
- ``GET /v1/links?slashtag=...&domain.fullName=...`` lists matching links;
- a slashtag already used on the domain is **403** (not 409) with
  ``{"code": "InvalidFormat", "errors": [{"code": "AlreadyExists",
  "property": "slashtag"}]}``; other invalid fields use the same envelope
  naming the ``property``;
- an exhausted plan quota is also a 403; its code is not published, so any
  403 that names no property of ours is read as an account problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fulfilment.adapters.pl3._reply import Reply
from fulfilment.core.errors import PartnerError, PartnerRejected, PermanentPartnerError

__all__ = [
    "DEFAULT_DOMAIN",
    "LINKS_PATH",
    "PARTNER",
    "existing_link",
    "is_slashtag_taken",
    "link_body",
    "lookup_params",
    "refusal",
    "same_destination",
    "short_url_of",
]

PARTNER = "rebrandly"
LINKS_PATH = "/v1/links"
DEFAULT_DOMAIN = "rebrand.ly"
_TAKEN = "AlreadyExists"


def link_body(url: str, slashtag: str | None, domain: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"destination": url}
    if slashtag:
        body["slashtag"] = slashtag
    if domain:
        body["domain"] = {"fullName": domain}
    return body


def lookup_params(slashtag: str, domain: str | None) -> dict[str, str]:
    return {"slashtag": slashtag, "domain.fullName": domain or DEFAULT_DOMAIN}


def short_url_of(link: Any) -> str:
    """``https://`` + the Link's ``shortUrl``; ValueError when it has none."""
    short = link.get("shortUrl") if isinstance(link, Mapping) else None
    if not short:
        raise ValueError("link has no shortUrl")
    short = str(short)
    return short if short.startswith(("https://", "http://")) else f"https://{short}"


def is_slashtag_taken(body: Any) -> bool:
    """Whether a refusal says the slashtag is already used on the domain."""
    return any(
        error.get("code") == _TAKEN and error.get("property", "slashtag") == "slashtag"
        for error in _errors(body)
    )


def existing_link(body: Any, slashtag: str) -> Mapping[str, Any] | None:
    """The link with *slashtag* in a list answer, or None."""
    links = body if isinstance(body, Sequence) else []
    for link in links:
        if isinstance(link, Mapping) and link.get("slashtag") == slashtag:
            return link
    return None


def same_destination(stored: Any, wanted: str) -> bool:
    """Whether a link's destination is *wanted*; a trailing ``/`` that
    Rebrandly may add to a bare host does not count."""
    return isinstance(stored, str) and stored.rstrip("/") == wanted.rstrip("/")


def refusal(reply: Reply) -> PartnerError:
    """The error of an answer other than 2xx and a taken slashtag: a field
    Rebrandly names is ours to fix (``PartnerRejected``); anything else
    (the plan's link quota, an unexpected status) needs a person on the
    account and keeps Rebrandly's words."""
    body = reply.body if isinstance(reply.body, Mapping) else {}
    message = str(body.get("message") or reply.text or reply.status)
    problems = tuple(
        (str(e["property"]), str(e.get("message") or e.get("code")))
        for e in _errors(body)
        if e.get("property")
    )
    if problems and reply.status in (400, 403):
        code = str(_errors(body)[0].get("code") or body.get("code") or "invalid")
        return PartnerRejected(
            message, partner=PARTNER, problems=problems, status=reply.status, code=code
        )
    return PermanentPartnerError(
        message,
        partner=PARTNER,
        status=reply.status,
        code=_str_or_none(body.get("code")),
    )


def _errors(body: Any) -> list[Mapping[str, Any]]:
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if not isinstance(errors, list):
        return []
    return [e for e in errors if isinstance(e, Mapping)]


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
