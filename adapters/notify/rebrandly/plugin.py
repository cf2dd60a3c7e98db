"""Registers the Rebrandly link shortener under the name ``rebrandly``."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import LinkShortener

from .adapter import RebrandlyLinkShortener
from .client import RebrandlyClient
from .settings import RebrandlySettings

__all__ = ["build", "fulfilment_register_link_shorteners"]


def build(
    settings: RebrandlySettings, context: AdapterContext
) -> RebrandlyLinkShortener:
    """A Rebrandly shortener talking to ``settings.base_url``."""
    http = context.http_client(settings.base_url, settings.timeout)
    client = RebrandlyClient(http, settings.api_key, settings.workspace)
    return RebrandlyLinkShortener(settings, client, context.retry)


@hookimpl
def fulfilment_register_link_shorteners() -> Mapping[str, Factory[LinkShortener]]:
    return {
        "rebrandly": Factory(
            RebrandlySettings,
            build,
            "Rebrandly short links (same slashtag, same link)",
        )
    }
