"""Registers the in-memory notification twins under the name ``memory``,
for dry runs: they keep what they would have sent and send nothing."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import LinkShortener, MailSender, SmsSender

from .memory import (
    MemoryLinkShortener,
    MemoryMailSender,
    MemorySettings,
    MemorySmsSender,
)

__all__ = [
    "fulfilment_register_link_shorteners",
    "fulfilment_register_mail_senders",
    "fulfilment_register_sms_senders",
]

_DRY_RUN = "in memory: keeps what it would send, sends nothing (dry runs)"


def _sms(_: MemorySettings, __: AdapterContext) -> MemorySmsSender:
    return MemorySmsSender()


def _mail(_: MemorySettings, __: AdapterContext) -> MemoryMailSender:
    return MemoryMailSender()


def _links(_: MemorySettings, __: AdapterContext) -> MemoryLinkShortener:
    return MemoryLinkShortener()


@hookimpl
def fulfilment_register_sms_senders() -> Mapping[str, Factory[SmsSender]]:
    return {"memory": Factory(MemorySettings, _sms, _DRY_RUN)}


@hookimpl
def fulfilment_register_mail_senders() -> Mapping[str, Factory[MailSender]]:
    return {"memory": Factory(MemorySettings, _mail, _DRY_RUN)}


@hookimpl
def fulfilment_register_link_shorteners() -> Mapping[str, Factory[LinkShortener]]:
    return {"memory": Factory(MemorySettings, _links, _DRY_RUN)}
