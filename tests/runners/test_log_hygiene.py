"""No secret, phone number or e-mail address reaches a log line, even at
DEBUG, across a whole demo run."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from fulfilment.runners.demo import run_demo
from fulfilment.runners.logs import JsonFormatter, Redactor
from fulfilment.runners.sandbox.seed import seed_orders
from tests.builders import T0


def personal_data() -> set[str]:
    found: set[str] = set()
    for nodes in seed_orders(T0).values():
        text = repr(nodes)
        found |= set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", text))
        found |= set(re.findall(r"\+\d{9,14}", text))
    return found


def test_a_debug_run_logs_no_personal_data_or_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    run_demo(data_dir=tmp_path)

    text = "\n".join(r.getMessage() for r in caplog.records)
    assert len(personal_data()) > 10
    assert "orders.fetched" in text
    leaked = sorted(p for p in personal_data() if p in text)
    assert leaked == []
    for secret in ("shpat_sandbox_", "sandbox-password", "sandbox-secret"):
        assert secret not in text


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
