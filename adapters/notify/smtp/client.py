"""One SMTP submission: connect, protect, log in, then MAIL, RCPT, DATA.

Each message gets its own connection: notifications go out a few at a time
and a fresh connection never trips over a relay's idle timeout.  The steps
are taken one by one (not ``sendmail``) so a failure is known to have
happened before or after the message was transmitted.

An international message (an address only UTF-8 can carry) asks for
``SMTPUTF8`` on ``MAIL FROM``; a server that does not offer it is told
nothing and the recipient is refused before ``MAIL``.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl

from fulfilment.core.errors import PartnerError

from . import wire
from .settings import SmtpSettings

__all__ = ["SmtpClient", "tls_context"]

_OK = 250
_RECIPIENT_OK = (250, 251)


def tls_context(settings: SmtpSettings) -> ssl.SSLContext | None:
    """The TLS context *settings* ask for; None for plain SMTP."""
    if settings.security == "plain":
        return None
    context = ssl.create_default_context(cafile=settings.ca_file)
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SmtpClient:
    """Submits messages to one server as configured in *settings*."""

    def __init__(self, settings: SmtpSettings, tls: ssl.SSLContext | None) -> None:
        self._settings = settings
        self._tls = tls

    def submit(
        self, sender: str, recipient: str, data: bytes, *, international: bool = False
    ) -> None:
        """Hand one message to the server; raises partner errors only.
        *international*: the addresses need SMTPUTF8."""
        connection = self._prepare(sender, recipient, international)
        try:
            self._transmit(connection, data, recipient)
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                connection.quit()
            connection.close()

    def _prepare(
        self, sender: str, recipient: str, international: bool
    ) -> smtplib.SMTP:
        """An open connection on which MAIL and RCPT were accepted."""
        connection: smtplib.SMTP | None = None
        try:
            connection = self._connect()
            self._envelope(connection, sender, recipient, international)
        except (OSError, smtplib.SMTPException, PartnerError) as error:
            if connection is not None:
                connection.close()
            if isinstance(error, PartnerError):
                raise
            raise wire.error_of(error, data_sent=False, recipient=recipient) from error
        return connection

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        if s.security == "tls":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                s.host,
                s.effective_port,
                local_hostname=s.helo_name,
                timeout=s.timeout,
                context=self._tls,
            )
        else:
            connection = smtplib.SMTP(
                s.host, s.effective_port, local_hostname=s.helo_name, timeout=s.timeout
            )
        try:
            if s.security == "starttls":
                connection.starttls(context=self._tls)
            if s.username:
                connection.login(s.username, s.password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    @staticmethod
    def _envelope(
        connection: smtplib.SMTP, sender: str, recipient: str, international: bool
    ) -> None:
        connection.ehlo_or_helo_if_needed()
        options: list[str] = []
        if international:
            if not connection.has_extn("smtputf8"):
                raise wire.no_smtputf8(recipient)
            # smtplib then writes the commands in UTF-8.
            options.append("SMTPUTF8")
            if connection.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
        code, reply = connection.mail(sender, options)
        if code != _OK:
            raise wire.refused(code, reply, stage="mail")
        code, reply = connection.rcpt(recipient)
        if code not in _RECIPIENT_OK:
            raise wire.refused(code, reply, stage="rcpt", recipient=recipient)

    @staticmethod
    def _transmit(connection: smtplib.SMTP, data: bytes, recipient: str) -> None:
        try:
            code, reply = connection.data(data)
        except smtplib.SMTPDataError as error:
            # DATA itself was refused: the message never left.
            raise wire.refused(
                error.smtp_code, error.smtp_error, stage="data", recipient=recipient
            ) from error
        except (OSError, smtplib.SMTPException) as error:
            raise wire.error_of(error, data_sent=True, recipient=recipient) from error
        if code != _OK:
            raise wire.refused(code, reply, stage="data", recipient=recipient)
