"""Registers the Open Exchange Rates source under the name
``openexchangerates``."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import RateSource

from .adapter import OpenExchangeRatesSource
from .client import OpenExchangeRatesClient
from .settings import OpenExchangeRatesSettings

__all__ = ["build", "fulfilment_register_rate_sources"]


def build(
    settings: OpenExchangeRatesSettings, context: AdapterContext
) -> OpenExchangeRatesSource:
    """A source talking to ``settings.base_url``, whose today is the
    context clock's UTC day."""
    http = context.http_client(settings.base_url, settings.timeout)
    client = OpenExchangeRatesClient(http, settings.app_id)
    return OpenExchangeRatesSource(settings, client, context.retry, context.clock)


@hookimpl
def fulfilment_register_rate_sources() -> Mapping[str, Factory[RateSource]]:
    return {
        "openexchangerates": Factory(
            OpenExchangeRatesSettings,
            build,
            "Open Exchange Rates JSON (per 1 USD, metals included; latest for "
            "today, historical for earlier days)",
        )
    }
