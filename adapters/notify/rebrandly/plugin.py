"""Registers the Rebrandly link shortener under the name ``rebrandly``."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.adapters.pacing import SharedPace
from fulfilment.core.ports import LinkShortener
from fulfilment.core.rate_budgets import budget_key

from .adapter import RebrandlyLinkShortener
from .client import RebrandlyClient
from .settings import RebrandlySettings

__all__ = ["build", "fulfilment_register_link_shorteners"]


def build(
    settings: RebrandlySettings, context: AdapterContext
) -> RebrandlyLinkShortener:
    """A Rebrandly shortener talking to ``settings.base_url``, within the
    context's rate budget when there is one.  The key is the host and the
    workspace, never the API key: accounts on one host share a budget,
    which is slower, never over a limit."""
    http = context.http_client(settings.base_url, settings.timeout)
    pace = None
    if context.rate_budget is not None:
        pace = SharedPace(
            context.rate_budget,
            budget_key("rebrandly", settings.base_url, settings.workspace or ""),
            settings.requests_per_second,
        )
    client = RebrandlyClient(http, settings.api_key, settings.workspace, pace=pace)
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
