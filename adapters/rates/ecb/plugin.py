"""Registers the ECB's euro reference rates under the name ``ecb``."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import RateSource

from .adapter import EcbRateSource
from .client import EcbClient
from .settings import EcbSettings

__all__ = ["build", "fulfilment_register_rate_sources"]


def build(settings: EcbSettings, context: AdapterContext) -> EcbRateSource:
    """An ECB source reading the files under ``settings.base_url``, with
    the runner's clock for today."""
    http = context.http_client(settings.base_url, settings.timeout)
    return EcbRateSource(EcbClient(http), context.clock, context.retry)


@hookimpl
def fulfilment_register_rate_sources() -> Mapping[str, Factory[RateSource]]:
    return {
        "ecb": Factory(
            EcbSettings,
            build,
            "ECB euro reference rates (XML, per 1 EUR; no MAD, EGP, AED, LBP)",
        )
    }
