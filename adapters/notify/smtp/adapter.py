"""E-mail over SMTP as a ``MailSender``."""

from __future__ import annotations

import logging

from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.masking import mask_email
from fulfilment.core.ports import Clock, MailMessage, Receipt

from . import wire
from .client import SmtpClient
from .settings import SmtpSettings

__all__ = ["SmtpMailSender"]

log = logging.getLogger(__name__)


class SmtpMailSender:
    """Submits each e-mail to one SMTP server.

    The receipt's ``message_id`` is the ``Message-ID`` header, derived from
    the message's reference: sending a reference twice gives two e-mails
    with one Message-ID, which mail readers and logs recognise.  Failures
    before the message was transmitted are retried under the retry policy;
    a connection lost after it was is ``OutcomeUnknown`` and never retried.
    A recipient that is not one address, or that only SMTPUTF8 can carry to
    a server without it, is ``PartnerRejected`` (invalid_recipient) before
    anything is sent.
    """

    name = wire.PARTNER

    def __init__(
        self,
        settings: SmtpSettings,
        client: SmtpClient,
        retry: RetryPolicy,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._client = client
        self._retry = retry
        self._clock = clock

    def send_mail(self, message: MailMessage) -> Receipt:
        mail = wire.compose(message, self._settings, self._clock.now())
        sender, to = wire.envelope_sender(mail), wire.envelope_recipient(mail)
        international = wire.is_international(sender, to)
        data = wire.wire_bytes(mail, international=international)
        self._retry.call(
            lambda: self._client.submit(sender, to, data, international=international),
            idempotent=False,
            what="smtp.send_mail",
        )
        receipt = Receipt(self.name, str(mail["Message-ID"]), "accepted")
        log.info(
            "mail.sent provider=smtp to=%s reference=%s id=%s",
            mask_email(message.to),
            message.reference,
            receipt.message_id,
        )
        return receipt
