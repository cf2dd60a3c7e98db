"""A real SMTP server for the mail tests: the sandbox's aiosmtpd sink on
127.0.0.1, with a throwaway certificate for STARTTLS and implicit TLS.

The certificate is made at test time with the ``openssl`` command (the
``cryptography`` package is not among the test dependencies), self-signed
for ``127.0.0.1`` and ``localhost``, valid for a day.  Tests trust it by
passing its file as the adapter's ``ca_file``.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from fulfilment.runners.sandbox.mail import MailSink

__all__ = ["Certificate", "make_certificate", "smtp_sink"]


@attrs.frozen
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificate(folder: Path) -> Certificate:
    """A self-signed EC certificate for 127.0.0.1 and localhost."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the SMTP TLS tests need the openssl command")
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(  # noqa: S603 (fixed arguments, our own temporary folder)
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return Certificate(cert, key)


@contextmanager
def smtp_sink(
    certificate: Certificate | None = None,
    *,
    implicit_tls: bool = False,
    **options: Any,
) -> Iterator[MailSink]:
    """A started sink; with *certificate* it offers STARTTLS (required), or
    speaks TLS from the first byte when *implicit_tls*."""
    tls = certificate.server_context() if certificate else None
    sink = MailSink(tls_context=tls, implicit_tls=implicit_tls, **options)
    with sink:
        yield sink
