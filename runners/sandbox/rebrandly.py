"""A loopback Rebrandly: create, list and read links for one account.

It speaks the shapes in ``fulfilment.adapters.notify.rebrandly.wire``:

- an ``apikey`` header other than the account's → 401 ``Unauthorized``;
- ``POST /v1/links``: ``destination`` must be an absolute http(s) URL of at
  most 2048 characters, ``slashtag`` letters, digits, ``_`` or ``-`` (at
  most 40), ``domain.fullName`` one of the account's domains; a problem is
  answered 403 ``InvalidFormat`` naming the ``property``; a slashtag already
  used on the domain is 403 ``InvalidFormat`` wrapping ``AlreadyExists``
  (Rebrandly's observed answer, not 409); a missing slashtag is generated;
- with ``link_quota``, creating past it is 403 ``LimitReached`` (Rebrandly
  does not publish that code; the adapter does not depend on it);
- ``GET /v1/links?slashtag=...&domain.fullName=...`` lists matching links;
  ``GET /v1/links/{id}`` reads one or answers 404 ``NotFound``.

Links are kept in ``state["links"]`` by id; :meth:`destination_of` answers
where a short URL leads, as following the link would.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from fulfilment.core.ports import Clock

from ._partner import json_object
from .server import SimRequest, SimResponse, Simulator, route

__all__ = [
    "DEFAULT_DOMAIN",
    "SANDBOX_API_KEY",
    "SANDBOX_DOMAIN",
    "RebrandlySimulator",
]

SANDBOX_API_KEY = "sandbox-rebrandly-key"
SANDBOX_DOMAIN = "go.shemsi.example"
DEFAULT_DOMAIN = "rebrand.ly"

_SLASHTAG = re.compile(r"[A-Za-z0-9_-]{1,40}")
_MAX_DESTINATION = 2048


class RebrandlySimulator(Simulator):
    """Rebrandly for one account with ``rebrand.ly`` and one branded
    domain; the default key and domain are the sandbox's."""

    name = "rebrandly"

    def __init__(
        self,
        *,
        data_dir: Any = None,
        clock: Clock | None = None,
        api_key: str = SANDBOX_API_KEY,
        domain: str = SANDBOX_DOMAIN,
        link_quota: int | None = None,
    ) -> None:
        super().__init__(data_dir=data_dir, clock=clock)
        self.api_key = api_key
        self.domain = domain
        self.domains = (DEFAULT_DOMAIN, domain)
        self.link_quota = link_quota

    def sandbox_settings(self, base_url: str) -> dict[str, Any]:
        """The Rebrandly adapter's configuration table (TOML-ready data) for
        an adapter talking to this simulator at *base_url*."""
        return {"base_url": base_url, "api_key": self.api_key, "domain": self.domain}

    def initial_state(self) -> dict[str, Any]:
        return {"links": {}}

    def destination_of(self, short_url: str) -> str | None:
        """Where *short_url* (with or without scheme) leads, or None."""
        short = short_url.split("://", 1)[-1].rstrip("/")
        with self.lock:
            for link in self.state["links"].values():
                if link["shortUrl"] == short:
                    return str(link["destination"])
        return None

    # --- routes ----------------------------------------------------------

    @route("POST", r"/v1/links", "create-link")
    def create_link(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        body = json_object(request) or {}
        domain = _domain_name(body) or DEFAULT_DOMAIN
        slashtag = body.get("slashtag")
        if (invalid := self._invalid(body, domain, slashtag)) is not None:
            return invalid
        if slashtag and self._find(slashtag, domain):
            return _invalid_format("slashtag", "AlreadyExists", "Already exists")
        if self.link_quota is not None and len(self.state["links"]) >= self.link_quota:
            return SimResponse(
                403,
                {
                    "message": "Links limit reached for your plan",
                    "code": "LimitReached",
                },
            )
        link = self._link(
            str(body["destination"]), slashtag or self._free(domain), domain
        )
        self.state["links"][link["id"]] = link
        return SimResponse(200, link)

    @route("GET", r"/v1/links", "list-links")
    def list_links(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        slashtag, domain = request.arg("slashtag"), request.arg("domain.fullName")
        links = [
            link
            for link in self.state["links"].values()
            if slashtag in (None, link["slashtag"])
            and domain in (None, link["domain"]["fullName"])
        ]
        return SimResponse(200, links)

    @route("GET", r"/v1/links/(?P<id>[0-9a-f]+)", "get-link")
    def get_link(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        link = self.state["links"].get(request.params["id"])
        if link is None:
            return SimResponse(404, {"message": "Not found", "code": "NotFound"})
        return SimResponse(200, link)

    # --- checks and records ----------------------------------------------

    def _denied(self, request: SimRequest) -> SimResponse | None:
        if request.header("apikey") == self.api_key:
            return None
        return SimResponse(401, {"message": "Unauthorized", "code": "Unauthorized"})

    def _invalid(
        self, body: Mapping[str, Any], domain: str, slashtag: Any
    ) -> SimResponse | None:
        if not _absolute_url(body.get("destination")):
            return _invalid_format("destination", "InvalidFormat", "Invalid format")
        if slashtag is not None and not (
            isinstance(slashtag, str) and _SLASHTAG.fullmatch(slashtag)
        ):
            return _invalid_format("slashtag", "InvalidFormat", "Invalid format")
        if domain not in self.domains:
            return _invalid_format("domain", "NotFound", "Domain not found")
        return None

    def _find(self, slashtag: str, domain: str) -> dict[str, Any] | None:
        for link in self.state["links"].values():
            if link["slashtag"] == slashtag and link["domain"]["fullName"] == domain:
                return dict(link)
        return None

    def _free(self, domain: str) -> str:
        while self._find(tag := secrets.token_hex(3), domain):
            pass
        return tag

    def _link(self, destination: str, slashtag: str, domain: str) -> dict[str, Any]:
        now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000Z")
        domain_id = hashlib.md5(domain.encode(), usedforsecurity=False).hexdigest()
        return {
            "id": secrets.token_hex(16),
            "title": None,
            "slashtag": slashtag,
            "destination": destination,
            "createdAt": now,
            "updatedAt": now,
            "status": "active",
            "clicks": 0,
            "lastClickAt": None,
            "favourite": False,
            "forwardParameters": True,
            "https": True,
            "shortUrl": f"{domain}/{slashtag}",
            "domain": {
                "id": domain_id,
                "ref": f"/domains/{domain_id}",
                "fullName": domain,
            },
        }


def _domain_name(body: Mapping[str, Any]) -> str | None:
    domain = body.get("domain")
    return domain.get("fullName") if isinstance(domain, Mapping) else None


def _absolute_url(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > _MAX_DESTINATION:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _invalid_format(prop: str, code: str, message: str) -> SimResponse:
    return SimResponse(
        403,
        {
            "message": "Invalid format",
            "code": "InvalidFormat",
            "source": "link",
            "errors": [{"code": code, "property": prop, "message": message}],
        },
    )
