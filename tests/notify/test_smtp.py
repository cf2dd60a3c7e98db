"""The SMTP adapter against a real SMTP server (aiosmtpd on 127.0.0.1):
the mail-sender contract over STARTTLS with a login, implicit TLS, and
every way a submission can fail."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

from fulfilment.adapters.notify.common import INVALID_RECIPIENT
from fulfilment.adapters.notify.smtp import SmtpMailSender, SmtpSettings
from fulfilment.adapters.notify.smtp.plugin import fulfilment_register_mail_senders
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.runners.sandbox.mail import MailSink
from fulfilment.testing.builders import T0
from fulfilment.testing.notifiers import (
    ARABIC_SUBJECT,
    ARABIC_TEXT,
    MailSenderContract,
    Received,
    mail,
)
from tests.support.smtp import Certificate, make_certificate, smtp_sink

from .loopback import context

LOGIN = ("shop@shemsi.example", "smtp-secret")
SENDER = "Shemsi <orders@shemsi.example>"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def starttls_sink(certificate: Certificate) -> Iterator[MailSink]:
    with smtp_sink(certificate, credentials=LOGIN) as sink:
        yield sink


def mailer_for(
    sink: MailSink,
    certificate: Certificate | None = None,
    retry: RetryPolicy | None = None,
    **changes: Any,
) -> SmtpMailSender:
    """The adapter as the runner builds it: through its plugin factory."""
    table: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": sink.port,
        "sender": SENDER,
        "security": "starttls",
        "username": LOGIN[0],
        "password": LOGIN[1],
        "ca_file": str(certificate.cert) if certificate else None,
        "helo_name": "localhost",
        "timeout": 5.0,
        **changes,
    }
    factory = fulfilment_register_mail_senders()["smtp"]
    built = factory.build(
        SmtpSettings(**table),
        context(ManualClock(T0), retry or RetryPolicy.for_tests()),
    )
    assert isinstance(built, SmtpMailSender)
    return built


def received(message: EmailMessage) -> Received:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    return Received(
        subject=str(message["Subject"]),
        text=text.get_content(),
        html=html.get_content() if html is not None else None,
        language=message["Content-Language"],
        message_id=str(message["Message-ID"]),
    )


class TestSmtpMailSender(MailSenderContract):
    @pytest.fixture
    def mailer(
        self, starttls_sink: MailSink, certificate: Certificate
    ) -> SmtpMailSender:
        return mailer_for(starttls_sink, certificate)

    @pytest.fixture
    def mailbox(self, starttls_sink: MailSink) -> Callable[[str], list[Received]]:
        return lambda address: [received(m) for m in starttls_sink.messages_to(address)]


def test_implicit_tls_delivers_from_the_first_byte(certificate: Certificate) -> None:
    with smtp_sink(certificate, implicit_tls=True, credentials=LOGIN) as sink:
        mailer_for(sink, certificate, security="tls").send_mail(mail())

    assert len(sink.messages_to("layla@example.com")) == 1


def test_arabic_headers_travel_encoded_and_read_back_intact(
    starttls_sink: MailSink, certificate: Certificate
) -> None:
    mailer_for(starttls_sink, certificate).send_mail(
        mail(subject=ARABIC_SUBJECT, text=ARABIC_TEXT, language="ar")
    )

    (message,) = starttls_sink.messages
    raw = message.as_bytes()
    assert b"=?utf-8?" in raw
    assert ARABIC_TEXT.encode() not in raw
    assert received(message).subject == ARABIC_SUBJECT
    assert message["X-Fulfilment-Reference"] == "notify:m1"
    assert message["Date"] == format_datetime(T0)


def test_the_message_id_is_derived_from_the_reference_on_the_senders_domain(
    starttls_sink: MailSink, certificate: Certificate
) -> None:
    receipt = mailer_for(starttls_sink, certificate).send_mail(mail(ref="abc"))

    assert receipt.message_id.startswith("<")
    assert receipt.message_id.endswith("@shemsi.example>")
    assert starttls_sink.messages[0]["Message-ID"] == receipt.message_id


def test_a_wrong_password_is_a_permanent_error(
    starttls_sink: MailSink, certificate: Certificate
) -> None:
    mailer = mailer_for(starttls_sink, certificate, password="wrong")

    with pytest.raises(PermanentPartnerError) as refused:
        mailer.send_mail(mail())

    assert refused.value.code == "auth"
    assert starttls_sink.messages == []


def test_an_untrusted_certificate_is_a_permanent_error(
    starttls_sink: MailSink,
) -> None:
    with pytest.raises(PermanentPartnerError) as refused:
        mailer_for(starttls_sink).send_mail(mail())

    assert refused.value.code == "tls"


def test_certificate_checks_can_be_switched_off_for_a_local_relay(
    starttls_sink: MailSink,
) -> None:
    mailer_for(starttls_sink, verify=False).send_mail(mail())

    assert len(starttls_sink.messages) == 1


def test_starttls_towards_a_server_without_tls_is_a_permanent_error() -> None:
    with smtp_sink() as sink, pytest.raises(PermanentPartnerError):
        mailer_for(sink, username=None, password=None).send_mail(mail())


def test_plain_smtp_on_loopback_delivers_without_login() -> None:
    with smtp_sink() as sink:
        mailer_for(sink, security="plain", username=None, password=None).send_mail(
            mail()
        )

    assert len(sink.messages) == 1


def test_a_refused_recipient_is_rejected_and_never_retried(
    starttls_sink: MailSink, certificate: Certificate
) -> None:
    with pytest.raises(PartnerRejected) as refused:
        mailer_for(starttls_sink, certificate).send_mail(
            mail(to="nobody@invalid.example")
        )

    assert refused.value.code == INVALID_RECIPIENT
    assert refused.value.status == 550
    assert "Recipient address rejected" in str(refused.value)
    assert "nobody@invalid.example" not in str(refused.value)


def test_a_busy_mailbox_is_a_transient_error_after_the_retries(
    starttls_sink: MailSink, certificate: Certificate
) -> None:
    retry = RetryPolicy.for_tests(attempts=2)

    with pytest.raises(TransientPartnerError) as busy:
        mailer_for(starttls_sink, certificate, retry).send_mail(
            mail(to="someone@busy.example")
        )

    assert busy.value.status == 450
    assert not isinstance(busy.value, OutcomeUnknown)


def test_a_temporary_refusal_of_the_message_is_retried_and_delivered_once(
    starttls_sink: MailSink, certificate: Certificate
) -> None:
    starttls_sink.fail_next("tempfail")

    mailer_for(starttls_sink, certificate).send_mail(mail())

    assert len(starttls_sink.messages) == 1


def test_a_connection_lost_after_data_is_an_unknown_outcome_never_resent(
    starttls_sink: MailSink, certificate: Certificate
) -> None:
    starttls_sink.fail_next("disconnect")

    with pytest.raises(OutcomeUnknown):
        mailer_for(starttls_sink, certificate).send_mail(mail())

    assert len(starttls_sink.messages) == 1


def test_a_server_that_is_gone_is_a_transient_error(
    certificate: Certificate,
) -> None:
    with smtp_sink(certificate) as sink:
        port = sink.port
    gone = mailer_for(sink, certificate, RetryPolicy.for_tests(attempts=2), port=port)

    with pytest.raises(TransientPartnerError) as unreachable:
        gone.send_mail(mail())

    assert not isinstance(unreachable.value, OutcomeUnknown)


def test_plain_smtp_to_another_host_is_refused_by_the_settings() -> None:
    with pytest.raises(ValueError, match="loopback"):
        SmtpSettings(host="smtp.example.com", sender=SENDER, security="plain")


def test_default_ports_follow_the_security_mode() -> None:
    ports = [
        SmtpSettings(host="127.0.0.1", sender=SENDER, security=mode).effective_port
        for mode in ("starttls", "tls", "plain")
    ]

    assert ports == [587, 465, 25]


def test_the_password_stays_out_of_repr() -> None:
    settings = SmtpSettings(
        host="smtp.example.com", sender=SENDER, username="u", password="hunter2"
    )

    assert "hunter2" not in repr(settings)


def test_the_sandbox_sink_keeps_each_message_as_an_eml_file(tmp_path: Path) -> None:
    with MailSink(data_dir=tmp_path) as sink:
        table = sink.sandbox_settings("127.0.0.1", sink.port)
        plain = table | {"username": None, "password": None}
        mailer_for(sink, **plain).send_mail(
            mail(subject=ARABIC_SUBJECT, text=ARABIC_TEXT)
        )

    with MailSink(data_dir=tmp_path) as again:
        table = table | {"port": again.port, "username": None, "password": None}
        mailer_for(again, **table).send_mail(mail(ref="second"))

    first, second = sorted((tmp_path / "mail").glob("*.eml"))
    assert (first.name, second.name) == ("00001.eml", "00002.eml")
    assert first.read_bytes().startswith(b"Delivered-To: layla@example.com")
    assert received(again.messages[0]).text.rstrip("\n") == ARABIC_TEXT
    assert len(again.messages_to("layla@example.com")) == 2


# --- addresses that cannot go on the wire as written ---------------------------

INJECTED = "x@example.com\r\nBcc: evil@attacker.example"
ARABIC_ADDRESS = "أحمد@مثال.مصر"
ARABIC_DOMAIN = "layla@مثال.مصر"


@pytest.mark.parametrize(
    "address",
    [INJECTED, "layla@example.com\n", "a@b.com, c@d.com", "layla", "<x@example.com>"],
)
def test_a_recipient_that_is_not_one_address_is_rejected_and_nothing_is_sent(
    starttls_sink: MailSink, certificate: Certificate, address: str
) -> None:
    with pytest.raises(PartnerRejected) as refused:
        mailer_for(starttls_sink, certificate).send_mail(mail(to=address))

    assert refused.value.code == INVALID_RECIPIENT
    assert "evil" not in str(refused.value)
    assert "x@example.com" not in str(refused.value)
    assert "layla@example.com" not in str(refused.value)
    assert "recipient" in str(refused.value)
    assert starttls_sink.messages == []


def test_a_sender_that_cannot_go_on_the_wire_is_a_permanent_error(
    starttls_sink: MailSink, certificate: Certificate
) -> None:
    message = attrs.evolve(
        mail(), sender="Shemsi <orders@shemsi.example>\r\nBcc: x@y.z"
    )

    with pytest.raises(PermanentPartnerError) as refused:
        mailer_for(starttls_sink, certificate).send_mail(message)

    assert not isinstance(refused.value, PartnerRejected)
    assert refused.value.code == "sender"
    assert "x@y.z" not in str(refused.value)
    assert starttls_sink.messages == []


def test_a_quoted_local_part_is_delivered_as_written(
    starttls_sink: MailSink, certificate: Certificate
) -> None:
    mailer_for(starttls_sink, certificate).send_mail(mail(to='"Ali Baba"@Example.COM'))

    (message,) = starttls_sink.messages_to('"Ali Baba"@Example.COM')
    assert message["To"] == '"Ali Baba"@Example.COM'


def test_an_international_address_goes_out_as_smtputf8_when_offered(
    starttls_sink: MailSink, certificate: Certificate
) -> None:
    mailer_for(starttls_sink, certificate).send_mail(
        mail(to=ARABIC_ADDRESS, subject=ARABIC_SUBJECT, text=ARABIC_TEXT)
    )

    (message,) = starttls_sink.messages_to(ARABIC_ADDRESS)
    assert message["To"] == ARABIC_ADDRESS
    assert received(message).subject == ARABIC_SUBJECT
    assert received(message).text.rstrip("\n") == ARABIC_TEXT


def test_an_international_address_is_refused_by_a_server_without_smtputf8(
    certificate: Certificate,
) -> None:
    with (
        smtp_sink(certificate, credentials=LOGIN, smtputf8=False) as sink,
        pytest.raises(PartnerRejected) as refused,
    ):
        mailer_for(sink, certificate).send_mail(mail(to=ARABIC_ADDRESS))

    assert refused.value.code == INVALID_RECIPIENT
    assert "does not accept international addresses (no SMTPUTF8)" in str(refused.value)
    assert "أحمد" not in str(refused.value)
    assert sink.messages == []


def test_an_international_domain_travels_in_its_ascii_form_to_any_server(
    certificate: Certificate,
) -> None:
    with smtp_sink(certificate, credentials=LOGIN, smtputf8=False) as sink:
        mailer_for(sink, certificate).send_mail(mail(to=ARABIC_DOMAIN))

    (message,) = sink.messages_to("layla@xn--mgbh0fb.xn--wgbh1c")
    assert message["To"] == "layla@xn--mgbh0fb.xn--wgbh1c"


def test_the_sandbox_sink_keeps_an_international_message_as_an_eml_file(
    tmp_path: Path,
) -> None:
    with MailSink(data_dir=tmp_path) as sink:
        table = sink.sandbox_settings("127.0.0.1", sink.port)
        mailer_for(sink, **table, username=None, password=None).send_mail(
            mail(to=ARABIC_ADDRESS)
        )

    with MailSink(data_dir=tmp_path) as again:
        (message,) = again.messages_to(ARABIC_ADDRESS)
    (eml,) = (tmp_path / "mail").glob("*.eml")
    assert eml.read_bytes().startswith(f"Delivered-To: {ARABIC_ADDRESS}".encode())
    assert message["To"] == ARABIC_ADDRESS
