"""Registers the built-in simulators through the simulator hook, the same
way a plugin package registers its own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fulfilment.adapters.hookspecs import hookimpl


@hookimpl
def fulfilment_register_simulators() -> Mapping[str, Callable[..., Any]]:
    from .amazon import AmazonSimulator
    from .aramex import AramexSimulator
    from .ecb import EcbSimulator
    from .farfill import FarfillSimulator
    from .flextock import FlextockSimulator
    from .infobip import InfobipSimulator
    from .metalpriceapi import MetalpriceApiSimulator
    from .openexchangerates import OpenExchangeRatesSimulator
    from .rebrandly import RebrandlySimulator
    from .shopify import ShopifySimulator
    from .twilio import TwilioSimulator
    from .typeform import TypeformSimulator

    return {
        "shopify": ShopifySimulator,
        "amazon": AmazonSimulator,
        "aramex": AramexSimulator,
        "flextock": FlextockSimulator,
        "farfill": FarfillSimulator,
        "twilio": TwilioSimulator,
        "infobip": InfobipSimulator,
        "rebrandly": RebrandlySimulator,
        "typeform": TypeformSimulator,
        "metalpriceapi": MetalpriceApiSimulator,
        "openexchangerates": OpenExchangeRatesSimulator,
        "ecb": EcbSimulator,
    }
