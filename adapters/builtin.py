"""The adapters that ship with the library, registered through the same
hooks as any third-party plugin."""

from __future__ import annotations

from types import ModuleType

from .notify import plugin as notify_memory
from .notify.infobip import plugin as infobip
from .notify.rebrandly import plugin as rebrandly
from .notify.smtp import plugin as smtp
from .notify.twilio import plugin as twilio
from .oms.amazon import plugin as amazon
from .oms.shopify import plugin as shopify
from .pl3.aramex import plugin as aramex
from .pl3.farfill import plugin as farfill
from .pl3.flextock import plugin as flextock
from .rates import plugin as rates_memory
from .rates.ecb import plugin as ecb
from .rates.metalpriceapi import plugin as metalpriceapi
from .rates.openexchangerates import plugin as openexchangerates
from .storage import plugin as storage
from .survey import plugin as survey_memory
from .survey.typeform import plugin as typeform

PLUGINS: tuple[ModuleType, ...] = (
    shopify,
    amazon,
    aramex,
    flextock,
    farfill,
    storage,
    twilio,
    infobip,
    smtp,
    rebrandly,
    notify_memory,
    typeform,
    survey_memory,
    rates_memory,
    metalpriceapi,
    openexchangerates,
    ecb,
)
