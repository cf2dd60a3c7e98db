"""Registers the Farfill delivery partner under the name ``farfill``."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import DeliveryPartner

from .client import FarfillClient
from .partner import CAPABILITIES, FarfillDeliveryPartner
from .settings import FarfillSettings

__all__ = ["build", "fulfilment_register_delivery_partners"]


def build(settings: FarfillSettings, context: AdapterContext) -> FarfillDeliveryPartner:
    """A Farfill partner talking to ``settings.base_url``."""
    http = context.http_client(settings.base_url, settings.timeout)
    return FarfillDeliveryPartner(
        settings, FarfillClient(http), context.retry, context.clock
    )


@hookimpl
def fulfilment_register_delivery_partners() -> Mapping[str, Factory[DeliveryPartner]]:
    return {
        "farfill": Factory(
            FarfillSettings,
            build,
            "Farfill (Dubai): fulfilment with cash on delivery in AED "
            "(wire shape modelled on Quiqup Fulfilment)",
            capabilities=CAPABILITIES,
        )
    }
