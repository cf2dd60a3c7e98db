"""No secret, phone number or e-mail address reaches a log line, even at
DEBUG, across a whole demo run."""

from __future__ import annotations

import json
import logging
import re
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fulfilment.adapters.notify.smtp import SmtpClient, SmtpMailSender, SmtpSettings
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.core.masking import mask_text
from fulfilment.core.ports import MailMessage
from fulfilment.runners.logs import JsonFormatter, Redactor
from fulfilment.runners.sandbox.mail import SANDBOX_SENDER, MailSink
from fulfilment.runners.sandbox.seed import seed_orders
from fulfilment.testing.builders import T0
from tests.runners.conftest import DemoRun


def personal_data() -> set[str]:
    found: set[str] = set()
    for nodes in seed_orders(T0).values():
        text = repr(nodes)
        found |= set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", text))
        found |= set(re.findall(r"\+\d{9,14}", text))
    return found


class Capture(logging.Handler):
    """Every record as it was logged and as the runner's redactor writes it
    out, with the name of its logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        written = logging.makeLogRecord(dict(record.__dict__))
        Redactor([]).filter(written)
        self.lines.append((record.name, record.getMessage(), written.getMessage()))


LIBRARY_LOGGERS = ("httpx", "mail.log")


@contextmanager
def captured_logs() -> Iterator[Capture]:
    """The root logger's output, caught before any handler an earlier test
    left behind can rewrite a record."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    # An earlier command-line test may have tuned library loggers.
    tuned = {name: logging.getLogger(name).level for name in LIBRARY_LOGGERS}
    capture = Capture()
    root.handlers[:] = [capture]
    root.setLevel(logging.DEBUG)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    try:
        yield capture
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, was in tuned.items():
            logging.getLogger(name).setLevel(was)


# Keys of the demo's configuration whose values are credentials (an account
# SID is a name that shows in Twilio's URLs, not one).
SECRET_KEY = re.compile(r"token|secret|password|key$", re.IGNORECASE)


def configured_secrets(config: Path) -> set[str]:
    """Every credential the demo's configuration file sets."""
    found: set[str] = set()

    def walk(table: object) -> None:
        if isinstance(table, dict):
            for key, value in table.items():
                if isinstance(value, str) and SECRET_KEY.search(key):
                    found.add(value)
                walk(value)

    walk(tomllib.loads(config.read_text(encoding="utf-8")))
    return {v for v in found if len(v) >= 6 and not v.startswith("http")}


def test_a_debug_run_logs_no_personal_data_or_secret(demo_run: DemoRun) -> None:
    # The session's one demo run at DEBUG (tests/runners/conftest.py).
    logs = demo_run.logs

    ours = "\n".join(raw for name, raw, _ in logs if name.startswith("fulfilment"))
    everything = "\n".join(raw for _, raw, _ in logs)
    written = demo_run.stderr
    printed = demo_run.stdout + demo_run.stderr
    secrets = configured_secrets(demo_run.folder / "fulfilment.toml")
    assert len(personal_data()) > 10
    assert len(secrets) >= 8
    assert "orders.fetched" in ours
    assert "recip:" in everything  # the mail sink's protocol trace is in there
    assert "orders.fetched" in written
    # Our own lines mask at the source; a library's (the mail sink's) are
    # masked by the runner's redactor on the way out.
    assert sorted(p for p in personal_data() if p in ours) == []
    assert sorted(p for p in personal_data() if p in written) == []
    assert sorted(p for p in personal_data() if p in printed) == []
    # No credential in our lines or their exceptions, and none in anything
    # the command wrote (httpx's request lines carry a key in a query, which
    # the redactor hides on the way out).
    assert sorted(s for s in secrets if s in ours) == []
    assert sorted(s for s in secrets if s in printed) == []


def test_the_redactor_hides_configured_secrets() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "auth.failed token=%s", ("shpat_abc123",), None
    )

    Redactor(["shpat_abc123"]).filter(record)

    assert record.getMessage() == "auth.failed token=***"


def test_json_lines_carry_the_event_and_its_fields() -> None:
    record = logging.LogRecord(
        "fulfilment.x",
        logging.INFO,
        __file__,
        1,
        "orders.fetched store=%s n=%d",
        ("shemsiworld", 3),
        None,
    )

    line = JsonFormatter().format(record)

    assert '"event": "orders.fetched"' in line
    assert '"store": "shemsiworld"' in line
    assert '"n": 3' in line


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("x", logging.ERROR, __file__, 1, message, args, None)


def test_a_field_value_with_spaces_is_kept_whole_in_json() -> None:
    line = JsonFormatter().format(
        record("orders.fetch_failed store=%s error=%s", "x", "shopify HTTP 401: no")
    )

    assert json.loads(line)["error"] == "shopify HTTP 401: no"


def test_a_library_sentence_is_kept_as_the_message() -> None:
    line = json.loads(JsonFormatter().format(record('{"message": "heartbeat"}')))

    assert "event" not in line
    assert line["message"] == '{"message": "heartbeat"}'


def test_personal_data_inside_an_upstream_error_is_masked() -> None:
    text = "error=String cannot represent value: ['layla@example.com'] +971500000101"
    entry = record("orders.fetch_failed %s", text)

    Redactor([]).filter(entry)

    assert entry.getMessage() == (
        "orders.fetch_failed error=String cannot represent value: "
        "['l***@example.com'] +971******101"
    )


def test_order_ids_and_waybills_stay_readable() -> None:
    entry = record(
        "aramex.booked reference=%s awb=%s", "shemsiworld-6200000000001", "50300000001"
    )

    Redactor([]).filter(entry)

    assert entry.getMessage().endswith("shemsiworld-6200000000001 awb=50300000001")


@pytest.mark.parametrize(
    "number",
    [
        "050 123 4567",
        "06-61-23-45-67",
        "03 123 456",
        "00212661234567",
        "+212 661-234-567",
        "٠٦٦١٢٣٤٥٦٧",
    ],
)
def test_phone_numbers_in_local_formats_are_masked(number: str) -> None:
    entry = record("http.retry_scheduled error=%s", f"busy, call {number}")

    Redactor([]).filter(entry)

    assert number not in entry.getMessage()
    assert "*" in entry.getMessage()


# --- the sandbox mail sink's own lines ---------------------------------------------

PEER = ("127.0.0.1", 53114)
QUOTED = '"Ali Baba"@Example.COM'
ARABIC = "أحمد@مثال.مصر"
# What a bytes repr makes of the Arabic local part: still personal data.
ARABIC_ESCAPED = repr("أحمد".encode())[2:-1]


def clear_forms() -> list[str]:
    return ["Ali Baba", '"Ali', "أحمد", ARABIC_ESCAPED, "\\xd8\\xa3"]


@pytest.mark.parametrize(
    ("message", "args"),
    [
        ("%r >> %r", (PEER, f"RCPT TO:<{QUOTED}>".encode())),
        ("%r recip: %s", (PEER, QUOTED)),
        ("%r sender: %s", (PEER, QUOTED)),
        ("%r >> %r", (PEER, f"RCPT TO:<{ARABIC}>".encode())),
        ("%r >> %r", (PEER, f"MAIL FROM:<{ARABIC}> SMTPUTF8".encode())),
        ("%r recip: %s", (PEER, ARABIC)),
        ("DATA readline: %s", (f"To: {QUOTED}\r\n".encode(),)),
        ("DATA readline: %s", (f"To: {ARABIC}\r\n".encode(),)),
    ],
)
def test_quoted_and_international_addresses_in_aiosmtpd_lines_are_masked(
    message: str, args: tuple[object, ...]
) -> None:
    entry = logging.LogRecord(
        "mail.log", logging.INFO, __file__, 1, message, args, None
    )

    Redactor([]).filter(entry)

    text = entry.getMessage()
    assert [c for c in clear_forms() if c in text] == []
    assert "***@" in text


def test_the_mail_sinks_log_shows_no_recipient_in_clear() -> None:
    with captured_logs() as logs, MailSink() as sink:
        settings = SmtpSettings(
            host="127.0.0.1", port=sink.port, security="plain", sender=SANDBOX_SENDER
        )
        sender = SmtpMailSender(
            settings,
            SmtpClient(settings, None),
            RetryPolicy.for_tests(),
            ManualClock(T0),
        )
        for to in (QUOTED, ARABIC):
            sender.send_mail(MailMessage(to, "Hello", "Hello", f"notify:{to}"))

    raw = "\n".join(raw for name, raw, _ in logs.lines if name == "mail.log")
    written = "\n".join(line for name, _, line in logs.lines if name == "mail.log")
    assert "Ali Baba" in raw  # the sink logs it: the redactor is what hides it
    assert ARABIC_ESCAPED in raw
    assert [c for c in clear_forms() if c in written] == []


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ('rcpt "Ali Baba"@Example.COM', "rcpt A***@Example.COM"),
        ("أَحمد@مثال.مصر", "أ***@مثال.مصر"),  # a mark after the first letter
        ("yasmine@xn--mgbh0fb.xn--wgbh1c", "y***@xn--mgbh0fb.xn--wgbh1c"),
        (
            "to=layla@example.com id=<3f9a@shemsi.example>",
            "to=l***@example.com id=<3***@shemsi.example>",
        ),
        ('{"email": "layla@example.com"}', '{"email": "l***@example.com"}'),
    ],
)
def test_addresses_of_every_form_are_masked_and_the_words_around_them_kept(
    text: str, masked: str
) -> None:
    assert mask_text(text) == masked
    assert mask_text(masked) == masked


def test_a_debug_run_keeps_message_bodies_out_of_the_log(tmp_path: Path) -> None:
    import smtplib
    from email.message import EmailMessage

    from fulfilment.runners.logs import configure_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    tuned = {name: logging.getLogger(name).level for name in LIBRARY_LOGGERS}
    try:
        configure_logging("DEBUG", "text")
        capture = Capture()
        root.handlers.append(capture)
        with MailSink(data_dir=tmp_path) as sink:
            message = EmailMessage()
            message["From"] = SANDBOX_SENDER
            message["To"] = "rania@example.com"
            message["Subject"] = "A thank-you"
            message.set_content("Hello Rania, your code MERCI-ABCDEFGHJK is yours.")
            with smtplib.SMTP(sink.host, sink.port) as client:
                client.send_message(message)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, was in tuned.items():
            logging.getLogger(name).setLevel(was)

    logged = "\n".join(raw for name, raw, _ in capture.lines if name == "mail.log")
    assert "rcpt" in logged.lower()  # the sink's commands are still traced
    assert "MERCI-ABCDEFGHJK" not in logged
    assert "Rania" not in logged


@pytest.mark.parametrize(
    "text",
    [
        "x" * 60_000,  # an unknown shop's domain header, logged as sent
        "é" * 60_000,
        "\\xd8" * 15_000,
        "a." * 30_000,
        "a@" + "b" * 60_000,
    ],
)
def test_masking_a_long_run_without_an_address_takes_linear_time(text: str) -> None:
    # Every line of the webhook receiver passes through the redactor on the
    # event loop: a header that took the masking quadratic time would stall
    # every delivery behind it.  A quadratic scan of these takes minutes.
    started = time.perf_counter()

    masked = mask_text(f"webhooks.rejected reason=unknown_shop shop={text} a@b.ma")

    assert time.perf_counter() - started < 1.0
    assert masked.endswith(f"shop={text} a***@b.ma")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("path\\user@example.com", "path\\u***@example.com"),
        ("b'<\\xd8\\xa3x@e.ma>'", "b'<***@e.ma>'"),
        ("id=x" + "y" * 100 + "@long.example", "id=x***@long.example"),
    ],
)
def test_an_address_right_after_other_text_is_still_masked(
    text: str, masked: str
) -> None:
    assert mask_text(text) == masked
