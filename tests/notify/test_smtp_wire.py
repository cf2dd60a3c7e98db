"""Composing e-mails and reading SMTP failures, without a server: texts in
any script survive the wire, and each failure means what the caller needs."""

from __future__ import annotations

import email
import email.policy
import smtplib
import socket
import ssl

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.adapters.notify.common import BODY_REFUSED, INVALID_RECIPIENT
from fulfilment.adapters.notify.smtp import wire
from fulfilment.adapters.notify.smtp.settings import SmtpSettings
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerError,
    PartnerRejected,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.testing.builders import T0
from fulfilment.testing.notifiers import ARABIC_TEXT, mail

SETTINGS = SmtpSettings(
    host="smtp.example.com", sender="Shemsi <orders@shemsi.example>"
)
# Letters, marks, digits, punctuation, symbols and spaces of every script,
# and line feeds.  Python's e-mail package treats the other Unicode line
# separators (U+2028, U+0085, ...) as line breaks, as mail readers do.
TEXT = st.text(
    st.characters(categories=("L", "M", "N", "P", "S", "Zs"), exclude_characters="\x85")
    | st.just("\n"),
    min_size=1,
)
SUBJECT = st.text(
    st.characters(categories=("L", "M", "N", "P", "S")), min_size=1, max_size=120
)


def read_back(data: bytes) -> email.message.EmailMessage:
    """*data* as a mail reader shows it (wire CRLFs read as line ends)."""
    local = data.replace(b"\r\n", b"\n")
    message = email.message_from_bytes(local, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


@given(subject=SUBJECT, text=TEXT)
def test_any_subject_and_text_read_back_as_written(subject: str, text: str) -> None:
    composed = wire.compose(mail(subject=subject, text=text), SETTINGS, T0)

    message = read_back(wire.wire_bytes(composed))

    body = message.get_body(("plain",))
    assert body is not None
    assert message["Subject"] == subject
    assert body.get_content() == (text if text.endswith("\n") else text + "\n")


def test_the_wire_form_is_ascii_with_crlf_line_ends() -> None:
    composed = wire.compose(mail(text=ARABIC_TEXT, language="ar"), SETTINGS, T0)

    data = wire.wire_bytes(composed)

    assert data.isascii()
    assert b"\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_with_html_the_language_stays_on_the_whole_message() -> None:
    composed = wire.compose(mail(html="<p>Bonjour</p>", language="fr"), SETTINGS, T0)

    assert composed.get_content_type() == "multipart/alternative"
    assert composed["Content-Language"] == "fr"
    assert [p.get_content_type() for p in composed.iter_parts()] == [
        "text/plain",
        "text/html",
    ]


def test_the_messages_own_sender_and_reply_to_win_over_the_settings() -> None:
    message = attrs.evolve(
        mail(), sender="Shemsi EG <eg@shemsi.example>", reply_to="help@shemsi.example"
    )

    composed = wire.compose(message, SETTINGS, T0)

    assert wire.envelope_sender(composed) == "eg@shemsi.example"
    assert composed["Reply-To"] == "help@shemsi.example"


@pytest.mark.parametrize(
    ("code", "stage", "kind", "neutral"),
    [
        (550, "rcpt", PartnerRejected, INVALID_RECIPIENT),
        (554, "data", PartnerRejected, BODY_REFUSED),
        (553, "mail", PermanentPartnerError, "mail"),
        (450, "rcpt", TransientPartnerError, None),
        (451, "data", TransientPartnerError, None),
    ],
)
def test_a_refusing_reply_means_what_its_code_and_step_say(
    code: int, stage: str, kind: type[PartnerError], neutral: str | None
) -> None:
    error = wire.refused(code, b"no", stage=stage)

    assert type(error) is kind
    assert error.code == neutral
    assert error.status == code


@pytest.mark.parametrize(
    ("error", "data_sent", "kind"),
    [
        (ConnectionRefusedError(), False, TransientPartnerError),
        (socket.gaierror("no such host"), False, TransientPartnerError),
        (smtplib.SMTPServerDisconnected("gone"), False, TransientPartnerError),
        (smtplib.SMTPServerDisconnected("gone"), True, OutcomeUnknown),
        (TimeoutError("slow"), True, OutcomeUnknown),
        (smtplib.SMTPAuthenticationError(535, b"bad"), False, PermanentPartnerError),
        (smtplib.SMTPNotSupportedError("no STARTTLS"), False, PermanentPartnerError),
        (ssl.SSLCertVerificationError("untrusted"), False, PermanentPartnerError),
        (smtplib.SMTPConnectError(421, b"busy"), False, TransientPartnerError),
    ],
)
def test_a_transport_failure_means_what_its_timing_says(
    error: BaseException, data_sent: bool, kind: type[PartnerError]
) -> None:
    assert type(wire.error_of(error, data_sent=data_sent)) is kind


# --- addresses -----------------------------------------------------------------

ADDRESS_TEXT = st.text(
    st.sampled_from('ab.-_+"@ \\\r\n\t,<>أح') | st.characters(), max_size=24
)


def compose_or_refuse(to: str) -> email.message.EmailMessage | PartnerRejected:
    try:
        return wire.compose(mail(to=to), SETTINGS, T0)
    except PartnerRejected as refused:
        return refused


@given(to=ADDRESS_TEXT | st.emails())
def test_any_recipient_text_is_composed_as_one_address_or_refused(to: str) -> None:
    composed = compose_or_refuse(to)

    if isinstance(composed, PartnerRejected):
        assert composed.code == INVALID_RECIPIENT
        return
    recipient = wire.envelope_recipient(composed)
    international = wire.is_international(recipient)
    message = read_back(wire.wire_bytes(composed, international=international))
    assert len(message["To"].addresses) == 1
    assert message["Bcc"] is None
    assert "\n" not in recipient
    assert "\r" not in recipient


@pytest.mark.parametrize(
    ("address", "travelling"),
    [
        ("layla@example.com", "layla@example.com"),
        ("layla@مثال.مصر", "layla@xn--mgbh0fb.xn--wgbh1c"),
        ("أحمد@مثال.مصر", "أحمد@مثال.مصر"),  # only SMTPUTF8 carries it
        ('"Ali Baba"@Example.COM', '"Ali Baba"@Example.COM'),
    ],
)
def test_an_address_travels_in_the_form_servers_take(
    address: str, travelling: str
) -> None:
    assert wire.recipient(address) == travelling


def test_an_international_message_keeps_its_headers_in_utf8() -> None:
    composed = wire.compose(mail(to="أحمد@مثال.مصر"), SETTINGS, T0)

    data = wire.wire_bytes(composed, international=True)

    assert "To: أحمد@مثال.مصر\r\n".encode() in data
    assert read_back(data)["To"] == "أحمد@مثال.مصر"


@pytest.mark.parametrize(
    "sender",
    [
        "Shemsi <orders@shemsi.example>\r\nBcc: x@y.z",
        "orders@shemsi.example, other@shemsi.example",
        "Shemsi <orders>",
    ],
)
def test_a_sender_that_is_not_one_address_is_a_setup_error(sender: str) -> None:
    with pytest.raises(PermanentPartnerError) as broken:
        wire.compose(attrs.evolve(mail(), sender=sender), SETTINGS, T0)

    assert broken.value.code == "sender"
    assert not isinstance(broken.value, PartnerRejected)
