"""E-mail composition and SMTP replies, as pure functions.

SMTP has no idempotency key; the ``Message-ID`` is the only handle on a
duplicate, so it is derived from our reference
(:func:`~fulfilment.adapters.notify.common.mail_message_id`) and the
reference itself travels in ``X-Fulfilment-Reference``.

Bodies are UTF-8 (Arabic and French text are sent as written, right-to-left
text untouched), base64-encoded when not ASCII so no relay has to handle
8-bit data; non-ASCII headers are RFC 2047 encoded.  ``Content-Language``
carries the message's language.

What a failure means depends on when it happened:

=========================================  ===================================
5xx to RCPT                                 ``PartnerRejected`` (invalid_recipient)
5xx to DATA or to the message               ``PartnerRejected`` (body_refused)
5xx to MAIL FROM                            ``PermanentPartnerError`` (sender)
authentication refused, TLS failure         ``PermanentPartnerError``
4xx at any step, refused connection         ``TransientPartnerError``
connection lost after the message was sent  ``OutcomeUnknown``
=========================================  ===================================
"""

from __future__ import annotations

import email.policy
import email.utils
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage

from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerError,
    PartnerRejected,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.ports import MailMessage

from ..common import BODY_REFUSED, INVALID_RECIPIENT, hide_contact, mail_message_id
from .settings import SmtpSettings

__all__ = [
    "PARTNER",
    "REFERENCE_HEADER",
    "compose",
    "envelope_sender",
    "error_of",
    "refused",
    "wire_bytes",
]

PARTNER = "smtp"
REFERENCE_HEADER = "X-Fulfilment-Reference"


# --- composing ---------------------------------------------------------------


def compose(
    message: MailMessage, settings: SmtpSettings, now: datetime
) -> EmailMessage:
    """The e-mail for *message*: text, plus an HTML alternative when given."""
    # Composed with line feeds (what a reader decodes back to); ``as_bytes``
    # under the SMTP policy gives the wire form with CRLF.
    mail = EmailMessage(policy=email.policy.default)
    mail["Message-ID"] = mail_message_id(message.reference, settings.id_domain)
    mail["Date"] = email.utils.format_datetime(now)
    mail["From"] = message.sender or settings.sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    reply_to = message.reply_to or settings.reply_to
    if reply_to:
        mail["Reply-To"] = reply_to
    mail[REFERENCE_HEADER] = message.reference
    mail.set_content(message.text, charset="utf-8", cte=_cte(message.text))
    if message.html:
        mail.add_alternative(
            message.html, subtype="html", charset="utf-8", cte=_cte(message.html)
        )
    # Last: setting and extending the content moves or drops Content-* headers.
    if message.language:
        mail["Content-Language"] = message.language
    return mail


def envelope_sender(mail: EmailMessage) -> str:
    """The bare address of the ``From`` header, for ``MAIL FROM``."""
    return email.utils.parseaddr(str(mail["From"]))[1]


def wire_bytes(mail: EmailMessage) -> bytes:
    """*mail* as transmitted: CRLF line ends, non-ASCII headers encoded."""
    return mail.as_bytes(policy=email.policy.SMTP)


def _cte(text: str) -> str:
    return "7bit" if text.isascii() else "base64"


# --- replies and failures ----------------------------------------------------


def refused(
    code: int, reply: bytes | str, *, stage: str, recipient: str | None = None
) -> PartnerError:
    """The error of a reply other than 2xx/354 to ``MAIL``, ``RCPT`` or
    ``DATA`` (*stage*): the server said no, so nothing was accepted.  The
    *recipient* is masked where the server's words repeat it."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    message = hide_contact(f"{stage} refused: {code} {text}".strip(), recipient)
    if 400 <= code < 500:
        return TransientPartnerError(message, partner=PARTNER, status=code)
    if stage == "rcpt":
        return _rejected(message, code, INVALID_RECIPIENT)
    if stage == "data":
        return _rejected(message, code, BODY_REFUSED)
    return PermanentPartnerError(message, partner=PARTNER, status=code, code=stage)


def error_of(
    error: BaseException, *, data_sent: bool, recipient: str | None = None
) -> PartnerError:
    """Our error for an ``smtplib``/socket/TLS exception.  *data_sent*: the
    message was (maybe partly) transmitted, so a lost connection leaves its
    fate unknown.  The *recipient* is masked in the server's words."""
    if isinstance(error, smtplib.SMTPResponseException):
        return _response_error(error, recipient)
    lost = _is_lost_connection(error)
    if data_sent and lost:
        return OutcomeUnknown(
            f"connection lost after DATA: {_describe(error)}", partner=PARTNER
        )
    if isinstance(error, ssl.SSLError):
        return PermanentPartnerError(
            f"TLS failed: {_describe(error)}", partner=PARTNER, code="tls"
        )
    if lost:
        return TransientPartnerError(
            f"no connection: {_describe(error)}", partner=PARTNER
        )
    return PermanentPartnerError(_describe(error), partner=PARTNER)


def _is_lost_connection(error: BaseException) -> bool:
    # Every smtplib error is an OSError; only the socket's own errors and a
    # server hanging up mean the connection went away.
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return True
    return isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)


def _response_error(
    error: smtplib.SMTPResponseException, recipient: str | None
) -> PartnerError:
    code = error.smtp_code
    text = hide_contact(_describe(error), recipient)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return PermanentPartnerError(
            f"login refused: {text}", partner=PARTNER, status=code, code="auth"
        )
    if 400 <= code < 500:
        return TransientPartnerError(text, partner=PARTNER, status=code)
    return PermanentPartnerError(text, partner=PARTNER, status=code)


def _rejected(message: str, code: int, neutral: str) -> PartnerRejected:
    return PartnerRejected(
        message,
        partner=PARTNER,
        problems=((str(code), message),),
        status=code,
        code=neutral,
    )


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return f"{error.smtp_code} {text}"
    return f"{type(error).__name__}: {error}"
