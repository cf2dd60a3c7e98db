"""Registers the Aramex adapter with the plugin host."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import DeliveryPartner

from .client import AramexClient
from .partner import CAPABILITIES, AramexDeliveryPartner
from .settings import AramexSettings

__all__ = ["build", "fulfilment_register_delivery_partners"]


def build(settings: AramexSettings, context: AdapterContext) -> AramexDeliveryPartner:
    """An Aramex partner on its own HTTP client for ``settings.base_url``."""
    http = context.http_client(settings.base_url, settings.timeout)
    return AramexDeliveryPartner(
        AramexClient(http, settings),
        settings,
        retry=context.retry,
        clock=context.clock,
    )


@hookimpl
def fulfilment_register_delivery_partners() -> Mapping[str, Factory[DeliveryPartner]]:
    """The ``aramex`` partner factory."""
    return {
        "aramex": Factory(
            AramexSettings,
            build,
            "Aramex ShippingAPI.V2 (JSON)",
            capabilities=CAPABILITIES,
        )
    }
