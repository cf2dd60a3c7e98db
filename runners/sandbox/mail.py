"""A loopback SMTP server for the sandbox and the tests: every message it
accepts is kept as an ``.eml`` file any mail reader opens.

:class:`MailSink` runs an aiosmtpd server on ``127.0.0.1`` in a background
thread.  Plain SMTP is enough for the sandbox; tests hand it a TLS context
(STARTTLS or implicit TLS) and credentials to check the adapter's handling
of both.  It refuses what a real relay refuses and fails when told to:

- a recipient at one of ``refused_domains`` → ``550`` (mailbox unavailable),
  at one of ``busy_domains`` → ``450`` (try later);
- :meth:`MailSink.fail_next` queues faults for the next messages:
  ``"tempfail"`` answers the message ``451`` and keeps nothing;
  ``"disconnect"`` keeps the message, then drops the connection without
  answering (the sender cannot know it was delivered).

It offers SMTPUTF8 (RFC 6531), as current relays do, so international
addresses (``أحمد@مثال.مصر``) arrive as written; ``smtputf8=False`` makes
it an older server that does not.

Messages are written to ``<data_dir>/mail/NNNNN.eml`` and kept in memory
(:attr:`MailSink.messages`), parsed, for assertions and the demo report; a
sink started over the same folder reads the earlier ones back and numbers on.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

__all__ = ["SANDBOX_SENDER", "MailSink"]

SANDBOX_SENDER = "Shemsi <orders@shemsi.example>"
TEMPFAIL = "tempfail"
DISCONNECT = "disconnect"


class MailSink:
    """An SMTP server that keeps every message it accepts."""

    name = "mail"

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        credentials: tuple[str, str] | None = None,
        refused_domains: Iterable[str] = ("invalid.example",),
        busy_domains: Iterable[str] = ("busy.example",),
        smtputf8: bool = True,
    ) -> None:
        self.folder = Path(data_dir) / "mail" if data_dir else None
        self.host = host
        self.port = port or _free_port(host)
        self.refused_domains = {d.casefold() for d in refused_domains}
        self.busy_domains = {d.casefold() for d in busy_domains}
        self.messages: list[EmailMessage] = []
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()
        self._options = {
            **_server_options(tls_context, implicit_tls, credentials),
            "enable_SMTPUTF8": smtputf8,
        }
        self._controller: Controller | None = None

    def sandbox_settings(self, host: str, port: int) -> dict[str, Any]:
        """The SMTP adapter's configuration table (TOML-ready data) for an
        adapter submitting to this sink at *host*:*port*."""
        return {
            "host": host,
            "port": port,
            "security": "plain",
            "sender": SANDBOX_SENDER,
        }

    def fail_next(self, *faults: str) -> None:
        """Queue ``"tempfail"`` or ``"disconnect"`` for the next messages."""
        unknown = set(faults) - {TEMPFAIL, DISCONNECT}
        if unknown:
            raise ValueError(f"unknown mail faults: {sorted(unknown)}")
        with self._lock:
            self._faults.extend(faults)

    def messages_to(self, address: str) -> list[EmailMessage]:
        """The messages accepted for *address*, oldest first."""
        with self._lock:
            return [
                m for m in self.messages if address in m.get_all("Delivered-To", [])
            ]

    def start(self) -> MailSink:
        self._load()
        # Built here, not in __init__: the controller makes an event loop.
        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, **self._options
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is None:
            return
        self._controller.stop()
        # aiosmtpd leaves the loop it made open; close it with the server.
        self._controller.loop.close()
        self._controller = None

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- called by the handler -------------------------------------------

    def recipient_reply(self, address: str) -> str | None:
        """The refusal for *address*, None when it is accepted."""
        domain = address.rpartition("@")[2].casefold()
        if domain in self.refused_domains:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        if domain in self.busy_domains:
            return f"450 4.2.1 <{address}>: Mailbox busy, try again later"
        return None

    def next_fault(self) -> str | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def keep(self, envelope: Envelope) -> None:
        """Store one accepted message, its envelope recipients recorded in
        ``Delivered-To`` headers as a mailbox would (in UTF-8, as the
        message's own headers are under SMTPUTF8)."""
        content = envelope.original_content or b""
        headers = "".join(f"Delivered-To: {r}\r\n" for r in envelope.rcpt_tos)
        raw = headers.encode("utf-8") + content
        with self._lock:
            self.messages.append(_parse(raw))
            if self.folder is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
                number = len(list(self.folder.glob("*.eml"))) + 1
                (self.folder / f"{number:05d}.eml").write_bytes(raw)

    def _load(self) -> None:
        """Messages kept by an earlier run over the same data folder."""
        if self.folder is not None and self.folder.is_dir():
            files = sorted(self.folder.glob("*.eml"))
            self.messages = [_parse(path.read_bytes()) for path in files]


class _Handler:
    """aiosmtpd hooks; the method names are fixed by aiosmtpd."""

    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_RCPT(  # noqa: N802
        self,
        server: Any,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self.sink.recipient_reply(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: Any, session: Session, envelope: Envelope
    ) -> str:
        fault = self.sink.next_fault()
        if fault == TEMPFAIL:
            return "451 4.3.0 Temporary failure, try again later"
        self.sink.keep(envelope)
        if fault == DISCONNECT:
            server.transport.close()
        return "250 2.0.0 Message accepted"


def _parse(raw: bytes) -> EmailMessage:
    """A message as a mail reader shows it: wire CRLFs read as line ends."""
    local = raw.replace(b"\r\n", b"\n")
    message = email.message_from_bytes(local, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _server_options(
    tls: ssl.SSLContext | None, implicit: bool, credentials: tuple[str, str] | None
) -> Mapping[str, Any]:
    options: dict[str, Any] = {}
    if tls is not None and implicit:
        options["ssl_context"] = tls
    elif tls is not None:
        options.update(tls_context=tls, require_starttls=True)
    if credentials is not None:
        # aiosmtpd only counts TLS it negotiated itself (STARTTLS) and warns
        # about requiring AUTH without it; under implicit TLS the session is
        # encrypted anyway, so AUTH is offered there but not required.
        options.update(
            authenticator=_Authenticator(credentials),
            auth_required=not implicit,
            auth_require_tls=tls is not None and not implicit,
        )
    return options


class _Authenticator:
    def __init__(self, credentials: tuple[str, str]) -> None:
        self._credentials = credentials

    def __call__(
        self,
        server: Any,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        given = (
            (auth_data.login.decode(), auth_data.password.decode())
            if isinstance(auth_data, LoginPassword)
            else None
        )
        # handled=False: aiosmtpd answers a failure with 535 itself.
        return AuthResult(success=given == self._credentials, handled=False)


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
