"""Hook implementations: how the connector learns that Bosta exists.

Both hooks only return factories and classes; nothing connects until the
runner calls the factory with the ``[partners.<name>]`` settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl

from .client import BostaClient
from .partner import CAPABILITIES, BostaDeliveryPartner
from .settings import BostaSettings

__all__ = [
    "build",
    "fulfilment_register_delivery_partners",
    "fulfilment_register_simulators",
]


def build(settings: BostaSettings, context: AdapterContext) -> BostaDeliveryPartner:
    """A Bosta partner talking to ``settings.base_url``."""
    http = context.http_client(settings.base_url, settings.timeout)
    client = BostaClient(http, settings.api_key)
    return BostaDeliveryPartner(settings, client, context.retry, context.clock)


@hookimpl
def fulfilment_register_delivery_partners() -> Mapping[str, Factory[Any]]:
    return {
        "bosta": Factory(
            BostaSettings,
            build,
            "Bosta (Egypt): doorstep delivery, cash on delivery in EGP",
            capabilities=CAPABILITIES,
        )
    }


@hookimpl
def fulfilment_register_simulators() -> Mapping[str, Callable[..., Any]]:
    from .simulator import BostaSimulator

    return {"bosta": BostaSimulator}
