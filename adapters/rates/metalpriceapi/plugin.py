"""Registers the MetalpriceAPI rate source under the name ``metalpriceapi``."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import RateSource

from .adapter import MetalpriceApiRateSource
from .client import MetalpriceApiClient
from .settings import MetalpriceApiSettings

__all__ = ["build", "fulfilment_register_rate_sources"]


def build(
    settings: MetalpriceApiSettings, context: AdapterContext
) -> MetalpriceApiRateSource:
    """A MetalpriceAPI source talking to ``settings.base_url``."""
    http = context.http_client(settings.base_url, settings.timeout)
    client = MetalpriceApiClient(http, settings.api_key)
    return MetalpriceApiRateSource(settings, client, context.retry, context.clock)


@hookimpl
def fulfilment_register_rate_sources() -> Mapping[str, Factory[RateSource]]:
    return {
        "metalpriceapi": Factory(
            MetalpriceApiSettings,
            build,
            "MetalpriceAPI: gold and silver (and currencies) per one base, daily",
        )
    }
