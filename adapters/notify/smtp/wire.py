"""E-mail composition and SMTP replies, as pure functions.

SMTP has no idempotency key; the ``Message-ID`` is the only handle on a
duplicate, so it is derived from our reference
(:func:`~fulfilment.adapters.notify.common.mail_message_id`) and the
reference itself travels in ``X-Fulfilment-Reference``.

Bodies are UTF-8 (Arabic and French text are sent as written, right-to-left
text untouched), base64-encoded when not ASCII so no relay has to handle
8-bit data; non-ASCII headers are RFC 2047 encoded.  ``Content-Language``
carries the message's language.

Addresses are checked before anything is composed: text that is not one
address (two addresses, a line break that would smuggle in a ``Bcc:``) is
never put in a header.  An international address has no RFC 2047 form:

- an international domain after an ASCII local part (``layla@مثال.مصر``)
  travels in its ASCII (IDNA) form, which every server and relay takes;
- an international local part (``أحمد@مثال.مصر``) travels as UTF-8 under
  SMTPUTF8 (RFC 6531), headers included, when the server offers it; a
  server that does not cannot deliver it, and the recipient is refused.

What a failure means depends on when it happened:

=========================================  ===================================
5xx to RCPT                                 ``PartnerRejected`` (invalid_recipient)
5xx to DATA or to the message               ``PartnerRejected`` (body_refused)
5xx to MAIL FROM                            ``PermanentPartnerError`` (sender)
recipient not one address                   ``PartnerRejected`` (invalid_recipient)
international recipient, no SMTPUTF8        ``PartnerRejected`` (invalid_recipient)
sender or reply-to not one address          ``PermanentPartnerError`` (sender)
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
import unicodedata
from datetime import datetime
from email.message import EmailMessage

from fulfilment.adapters.emails import email_problem
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerError,
    PartnerRejected,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.masking import mask_email
from fulfilment.core.ports import MailMessage

from ..common import BODY_REFUSED, INVALID_RECIPIENT, hide_contact, mail_message_id
from .settings import SmtpSettings

__all__ = [
    "PARTNER",
    "REFERENCE_HEADER",
    "compose",
    "envelope_recipient",
    "envelope_sender",
    "error_of",
    "is_international",
    "no_smtputf8",
    "recipient",
    "refused",
    "wire_bytes",
]

PARTNER = "smtp"
REFERENCE_HEADER = "X-Fulfilment-Reference"
# Characters that end or corrupt a header line wherever they stand.
_BREAKING = frozenset({"Cc", "Zl", "Zp"})


# --- composing ---------------------------------------------------------------


def compose(
    message: MailMessage, settings: SmtpSettings, now: datetime
) -> EmailMessage:
    """The e-mail for *message*: text, plus an HTML alternative when given."""
    # Composed with line feeds (what a reader decodes back to); ``as_bytes``
    # under the SMTP policy gives the wire form with CRLF.
    to = recipient(message.to)
    sender = _own_address(message.sender or settings.sender, "sender")
    reply_to = message.reply_to or settings.reply_to
    mail = EmailMessage(policy=email.policy.default)
    mail["Message-ID"] = mail_message_id(message.reference, settings.id_domain)
    mail["Date"] = email.utils.format_datetime(now)
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = message.subject
    if reply_to:
        mail["Reply-To"] = _own_address(reply_to, "reply-to")
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
    return _travelling(email.utils.parseaddr(str(mail["From"]))[1]) or ""


def envelope_recipient(mail: EmailMessage) -> str:
    """The address of the ``To`` header, for ``RCPT TO``."""
    return str(mail["To"].addresses[0].addr_spec)


def is_international(*addresses: str) -> bool:
    """Whether an address can only travel as UTF-8 (under SMTPUTF8)."""
    return not all(address.isascii() for address in addresses)


def wire_bytes(mail: EmailMessage, *, international: bool = False) -> bytes:
    """*mail* as transmitted: CRLF line ends, non-ASCII headers encoded;
    *international*: headers in UTF-8 as written, for SMTPUTF8."""
    policy = email.policy.SMTPUTF8 if international else email.policy.SMTP
    return mail.as_bytes(policy=policy)


# --- addresses ---------------------------------------------------------------


def recipient(address: str) -> str:
    """*address* as it goes on the wire: one address, its international
    domain in ASCII (IDNA) form when the local part is ASCII.  Anything else
    is ``PartnerRejected`` (invalid_recipient), the address masked."""
    problem = email_problem(address, quoted=True)
    travelling = None if problem else _travelling(address)
    if travelling is None:
        shown = mask_email(address) if problem is None else "(not shown)"
        why = problem or "its domain has no ASCII (IDNA) form"
        raise _invalid_recipient(f"recipient {shown} is not an address: {why}")
    return travelling


def no_smtputf8(address: str) -> PartnerRejected:
    """The refusal of an international *address* by a server without
    SMTPUTF8: nothing can carry it there."""
    return _invalid_recipient(
        "the mail server does not accept international addresses (no "
        f"SMTPUTF8); recipient {mask_email(address)}"
    )


def _invalid_recipient(message: str) -> PartnerRejected:
    return PartnerRejected(
        message,
        partner=PARTNER,
        problems=(("recipient", message),),
        code=INVALID_RECIPIENT,
    )


def _own_address(value: str, what: str) -> str:
    """*value* (``Name <address>`` or an address) checked for a header.
    These are our own addresses, from the configuration: a broken one is a
    setup error (the notices wait for the fix), not a refused recipient."""
    address = email.utils.parseaddr(value)[1]
    problem = (
        _control_problem(value)
        or _count_problem(value)
        or email_problem(address, quoted=True)
    )
    if problem is None and _travelling(address) is None:
        problem = "its domain has no ASCII (IDNA) form"
    if problem:
        raise PermanentPartnerError(
            f"the {what} address is not usable in a mail header: {problem}",
            partner=PARTNER,
            code="sender",
        )
    return value


def _control_problem(value: str) -> str | None:
    if any(unicodedata.category(c) in _BREAKING for c in value):
        return "it holds a line break or a control character"
    return None


def _count_problem(value: str) -> str | None:
    if len(email.utils.getaddresses([value])) != 1:
        return "it is not one address"
    return None


def _travelling(address: str) -> str | None:
    """*address* with an international domain in IDNA form when its local
    part is ASCII; as written when nothing needs changing or the local part
    is international too (then only SMTPUTF8 carries it); None when the
    domain has no IDNA form."""
    local, _, domain = address.rpartition("@")
    if domain.isascii() or not local.isascii():
        return address
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return f"{local}@{ascii_domain}"


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
