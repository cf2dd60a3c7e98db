"""Registers the SMTP mail sender under the name ``smtp``."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import MailSender

from .adapter import SmtpMailSender
from .client import SmtpClient, tls_context
from .settings import SmtpSettings

__all__ = ["build", "fulfilment_register_mail_senders"]


def build(settings: SmtpSettings, context: AdapterContext) -> SmtpMailSender:
    """An SMTP sender for ``settings.host``; nothing connects until a send."""
    client = SmtpClient(settings, tls_context(settings))
    return SmtpMailSender(settings, client, context.retry, context.clock)


@hookimpl
def fulfilment_register_mail_senders() -> Mapping[str, Factory[MailSender]]:
    return {
        "smtp": Factory(
            SmtpSettings,
            build,
            "SMTP submission (STARTTLS or implicit TLS), stdlib smtplib",
        )
    }
