"""Registers the Twilio SMS sender under the name ``twilio``."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import SmsSender

from .adapter import TwilioSmsSender
from .client import TwilioClient
from .settings import TwilioSettings

__all__ = ["build", "fulfilment_register_sms_senders"]


def build(settings: TwilioSettings, context: AdapterContext) -> TwilioSmsSender:
    """A Twilio sender talking to ``settings.base_url``."""
    http = context.http_client(settings.base_url, settings.timeout)
    client = TwilioClient(http, settings.account_sid, settings.basic_auth())
    return TwilioSmsSender(settings, client, context.retry)


@hookimpl
def fulfilment_register_sms_senders() -> Mapping[str, Factory[SmsSender]]:
    return {
        "twilio": Factory(
            TwilioSettings,
            build,
            "Twilio Programmable Messaging (no idempotency, no lookup)",
        )
    }
