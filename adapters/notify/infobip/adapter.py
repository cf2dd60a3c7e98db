"""Infobip as an ``SmsSender`` that can be asked about a message."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import OutcomeUnknown, PartnerError, PartnerRejected
from fulfilment.core.masking import mask_phone
from fulfilment.core.ports import Receipt, SmsMessage

from ..common import (
    INVALID_RECIPIENT,
    SmsCapabilities,
    hide_contact,
    is_e164,
    sender_for,
)
from . import wire
from .client import InfobipClient
from .settings import InfobipSettings

__all__ = ["InfobipSmsSender"]

log = logging.getLogger(__name__)


class InfobipSmsSender:
    """Sends each SMS under our reference as Infobip's ``messageId``.

    Because Infobip keys the message on that id, three things hold:

    - ``find_sent(reference)`` asks Infobip's message logs (48 hours) about
      an earlier send (``capabilities.lookup_by_reference`` is True);
    - a send that got no answer is settled by one such lookup: found, its
      receipt is returned; not found, the ``OutcomeUnknown`` stands (logs
      may trail a send) and the worker asks again later;
    - a second send under the same reference is refused by Infobip as a
      duplicate, which the adapter answers with the first message's receipt.

    A number that is not E.164 is refused before any call: stripping the
    ``+`` of a national number would send to the wrong country.
    """

    name = wire.PARTNER
    capabilities = SmsCapabilities(lookup_by_reference=True)

    def __init__(
        self, settings: InfobipSettings, client: InfobipClient, retry: RetryPolicy
    ) -> None:
        self._settings = settings
        self._client = client
        self._retry = retry

    def send_sms(self, message: SmsMessage) -> Receipt:
        if not is_e164(message.to):
            raise PartnerRejected(
                "recipient is not an E.164 number",
                partner=self.name,
                code=INVALID_RECIPIENT,
            )
        body = wire.send_body(message, self._sender(message))
        try:
            receipt = self._send(body, message)
        except OutcomeUnknown as unknown:
            receipt = self._settle(message.reference, unknown)
        _log_sent(message, receipt)
        return receipt

    def find_sent(self, reference: str) -> Receipt | None:
        """The receipt of the message Infobip logged under *reference* in
        the last 48 hours (a refused one with its refused status), or None.
        """
        entry = self._log_entry(reference)
        return None if entry is None else wire.receipt_of(entry, reference)

    # --- steps -----------------------------------------------------------

    def _send(self, body: dict[str, Any], message: SmsMessage) -> Receipt:
        reference = message.reference
        reply = self._retry.call(
            lambda: self._client.send_text(body),
            idempotent=False,
            what="infobip.send_sms",
        )
        if not reply.ok:
            raise wire.request_error(reply, message.to)
        try:
            entry = wire.message_entry(reply.body, reference)
        except ValueError as error:
            text = hide_contact(reply.text, message.to)
            raise OutcomeUnknown(
                f"accepted but unreadable answer: {text}",
                partner=self.name,
                status=reply.status,
            ) from error
        if wire.is_duplicate(entry):
            return self._already_sent(reference)
        _raise_for_status(entry)
        return wire.receipt_of(entry, reference)

    def _already_sent(self, reference: str) -> Receipt:
        """Infobip has a message under *reference*: answer with its receipt
        (or "already_sent" once the logs have forgotten it)."""
        log.info("sms.duplicate provider=infobip reference=%s", reference)
        entry = self._log_entry(reference)
        if entry is None:
            return Receipt(self.name, reference, "already_sent")
        _raise_for_status(entry)
        return wire.receipt_of(entry, reference)

    def _settle(self, reference: str, unknown: OutcomeUnknown) -> Receipt:
        try:
            entry = self._log_entry(reference)
        except PartnerError as error:
            log.warning(
                "sms.lookup_failed provider=infobip reference=%s error=%s",
                reference,
                error,
            )
            entry = None
        if entry is None:
            raise unknown
        log.info("sms.settled provider=infobip reference=%s", reference)
        _raise_for_status(entry)
        return wire.receipt_of(entry, reference)

    def _log_entry(self, reference: str) -> Mapping[str, Any] | None:
        reply = self._retry.call(
            lambda: self._client.logs(reference),
            idempotent=True,
            what="infobip.logs",
        )
        if not reply.ok:
            raise wire.request_error(reply)
        return wire.log_entry(reply.body, reference)

    def _sender(self, message: SmsMessage) -> str | None:
        settings = self._settings
        return sender_for(message.to, message.sender, settings.senders, settings.sender)


def _raise_for_status(entry: Mapping[str, Any]) -> None:
    error = wire.status_error(entry)
    if error is None:
        return
    if isinstance(error, PartnerRejected):
        log.info("sms.rejected provider=infobip code=%s", error.code)
    raise error


def _log_sent(message: SmsMessage, receipt: Receipt) -> None:
    log.info(
        "sms.sent provider=infobip to=%s reference=%s id=%s status=%s",
        mask_phone(message.to),
        message.reference,
        receipt.message_id,
        receipt.status,
    )
