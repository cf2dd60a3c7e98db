"""Rebrandly as a ``LinkShortener``."""

from __future__ import annotations

import logging

from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import PartnerRejected, PermanentPartnerError

from ..common import SLASHTAG_TAKEN
from . import wire
from .client import RebrandlyClient
from .settings import RebrandlySettings

__all__ = ["RebrandlyLinkShortener"]

log = logging.getLogger(__name__)


class RebrandlyLinkShortener:
    """Creates one Rebrandly link per call.

    With a slashtag, shortening is idempotent: when Rebrandly says the
    slashtag is taken, the existing link is looked up and returned if it
    leads to the same destination (``PartnerRejected`` with code
    ``slashtag_taken`` otherwise).  That also makes a create that got no
    answer safe to repeat.  Without a slashtag every call makes a new link,
    so an uncertain create is not repeated.

    An exhausted plan quota is a ``PermanentPartnerError`` carrying
    Rebrandly's words; the caller decides whether to send the long URL.
    """

    name = wire.PARTNER

    def __init__(
        self, settings: RebrandlySettings, client: RebrandlyClient, retry: RetryPolicy
    ) -> None:
        self._settings = settings
        self._client = client
        self._retry = retry

    def shorten(self, url: str, slashtag: str | None = None) -> str:
        body = wire.link_body(url, slashtag, self._settings.domain)
        reply = self._retry.call(
            lambda: self._client.create_link(body),
            idempotent=slashtag is not None,
            what="rebrandly.create_link",
        )
        if reply.ok:
            short = self._short_url(reply.body)
            log.info("link.created provider=rebrandly slashtag=%s", slashtag or "-")
            return short
        if slashtag and wire.is_slashtag_taken(reply.body):
            return self._existing(url, slashtag)
        raise wire.refusal(reply)

    def _existing(self, url: str, slashtag: str) -> str:
        params = wire.lookup_params(slashtag, self._settings.domain)
        reply = self._retry.call(
            lambda: self._client.find_links(params),
            idempotent=True,
            what="rebrandly.find_link",
        )
        if not reply.ok:
            raise wire.refusal(reply)
        link = wire.existing_link(reply.body, slashtag)
        if link is None or not wire.same_destination(link.get("destination"), url):
            raise PartnerRejected(
                f"slashtag {slashtag!r} is taken by another link",
                partner=self.name,
                code=SLASHTAG_TAKEN,
            )
        log.info("link.reused provider=rebrandly slashtag=%s", slashtag)
        return self._short_url(link)

    def _short_url(self, link: object) -> str:
        try:
            return wire.short_url_of(link)
        except ValueError as error:
            raise PermanentPartnerError(
                "Rebrandly answered a link without shortUrl", partner=self.name
            ) from error
