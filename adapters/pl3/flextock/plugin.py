"""Registers the Flextock delivery partner under the name ``flextock``."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import DeliveryPartner

from .client import FlextockClient
from .partner import CAPABILITIES, FlextockDeliveryPartner
from .settings import FlextockSettings

__all__ = ["build", "fulfilment_register_delivery_partners"]


def build(
    settings: FlextockSettings, context: AdapterContext
) -> FlextockDeliveryPartner:
    """A Flextock partner talking to ``settings.base_url``."""
    http = context.http_client(settings.base_url, settings.timeout)
    return FlextockDeliveryPartner(
        settings, FlextockClient(http), context.retry, context.clock
    )


@hookimpl
def fulfilment_register_delivery_partners() -> Mapping[str, Factory[DeliveryPartner]]:
    return {
        "flextock": Factory(
            FlextockSettings,
            build,
            "Flextock (Egypt): fulfilment with cash on delivery in EGP",
            capabilities=CAPABILITIES,
        )
    }
