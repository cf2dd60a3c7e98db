"""Hook implementations: how the connector learns that ACME exists."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import Capabilities

from .partner import AcmeDeliveryPartner, AcmeSettings


def _build(settings: AcmeSettings, context: AdapterContext) -> AcmeDeliveryPartner:
    client = context.http_client(settings.base_url, settings.timeout)
    return AcmeDeliveryPartner(client, settings, context.retry)


@hookimpl
def fulfilment_register_delivery_partners() -> Mapping[str, Factory[Any]]:
    return {
        "acme": Factory(
            AcmeSettings,
            _build,
            "ACME Parcels (example plugin)",
            capabilities=Capabilities(cash_on_delivery=True, lookup_by_reference=True),
        )
    }


@hookimpl
def fulfilment_register_simulators() -> Mapping[str, Callable[..., Any]]:
    from .simulator import AcmeSimulator

    return {"acme": AcmeSimulator}
