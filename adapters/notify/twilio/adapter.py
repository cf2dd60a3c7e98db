"""Twilio as an ``SmsSender``."""

from __future__ import annotations

import logging

from fulfilment.adapters.pl3._reply import Reply
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import OutcomeUnknown, PartnerRejected
from fulfilment.core.masking import mask_phone
from fulfilment.core.ports import Receipt, SmsMessage

from ..common import SmsCapabilities, hide_contact, sender_for
from . import wire
from .client import TwilioClient
from .settings import TwilioSettings

__all__ = ["TwilioSmsSender"]

log = logging.getLogger(__name__)


class TwilioSmsSender:
    """Sends each SMS with one ``Messages.json`` call.

    Twilio takes no idempotency key and cannot be asked about a message by
    our reference, so a send is never repeated after an uncertain outcome
    (``OutcomeUnknown`` goes to the caller) and ``capabilities`` says that
    ``find_sent`` is not available.  Answers that mean "nothing was sent"
    (429, 503, no connection) are retried under the retry policy.
    """

    name = wire.PARTNER
    capabilities = SmsCapabilities(lookup_by_reference=False)

    def __init__(
        self, settings: TwilioSettings, client: TwilioClient, retry: RetryPolicy
    ) -> None:
        self._settings = settings
        self._client = client
        self._retry = retry

    def send_sms(self, message: SmsMessage) -> Receipt:
        form = wire.message_form(
            message, self._sender(message), self._settings.messaging_service_sid
        )
        reply = self._retry.call(
            lambda: self._client.create_message(form),
            idempotent=False,
            what="twilio.send_sms",
        )
        receipt = _receipt_or_error(reply, message.to)
        log.info(
            "sms.sent provider=twilio to=%s reference=%s id=%s segments=%s",
            mask_phone(message.to),
            message.reference,
            receipt.message_id,
            receipt.segments,
        )
        return receipt

    def _sender(self, message: SmsMessage) -> str | None:
        settings = self._settings
        return sender_for(message.to, message.sender, settings.senders, settings.sender)


def _receipt_or_error(reply: Reply, to: str) -> Receipt:
    if not reply.ok:
        error = wire.error_of(reply, to)
        if isinstance(error, PartnerRejected):
            log.info("sms.rejected provider=twilio code=%s", error.code)
        raise error
    try:
        return wire.receipt_of(reply.body)
    except ValueError as error:
        # Twilio answered 2xx, so the message was most likely created.
        raise OutcomeUnknown(
            f"accepted but unreadable answer: {hide_contact(reply.text, to)}",
            partner=wire.PARTNER,
            status=reply.status,
        ) from error
