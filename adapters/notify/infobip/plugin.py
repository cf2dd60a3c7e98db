"""Registers the Infobip SMS sender under the name ``infobip``."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import SmsSender

from .adapter import InfobipSmsSender
from .client import InfobipClient
from .settings import InfobipSettings

__all__ = ["build", "fulfilment_register_sms_senders"]


def build(settings: InfobipSettings, context: AdapterContext) -> InfobipSmsSender:
    """An Infobip sender talking to ``settings.base_url``."""
    http = context.http_client(settings.base_url, settings.timeout)
    return InfobipSmsSender(
        settings, InfobipClient(http, settings.api_key), context.retry
    )


@hookimpl
def fulfilment_register_sms_senders() -> Mapping[str, Factory[SmsSender]]:
    return {
        "infobip": Factory(
            InfobipSettings,
            build,
            "Infobip SMS (our reference as messageId; sends can be looked up)",
        )
    }
