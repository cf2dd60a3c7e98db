"""The loopback Twilio refuses what Twilio refuses, keeps what reached each
phone across runs, and fails the way it is told to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fulfilment.core.errors import OutcomeUnknown
from fulfilment.runners.sandbox.server import Fault
from fulfilment.runners.sandbox.twilio import (
    DELIVERY_DELAY,
    SANDBOX_ACCOUNT_SID,
    SANDBOX_AUTH_TOKEN,
    SANDBOX_SERVICE_SID,
    TwilioSimulator,
)
from fulfilment.testing.builders import T0
from fulfilment.testing.notifiers import ARABIC, EGYPT, MOROCCO, sms

from .loopback import loopback_client
from .test_twilio_contract import Served, served, simulator, twilio_sender

__all__ = ["served", "simulator"]

MESSAGES = f"/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Messages.json"
AUTH = (SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with loopback_client(served[1], 5.0) as client:
        yield client


def post(http: httpx.Client, auth: Any = AUTH, path: str = MESSAGES, **form: str):
    fields = {"From": "SHEMSI", **form}
    return http.post(path, data=fields, auth=auth)


def test_refuses_wrong_credentials_with_twilios_20003(
    http: httpx.Client, simulator: TwilioSimulator
) -> None:
    answer = post(http, auth=(SANDBOX_ACCOUNT_SID, "guess"), To=MOROCCO, Body="hi")

    assert answer.status_code == 401
    assert answer.json()["code"] == 20003


def test_refuses_another_accounts_path(
    http: httpx.Client, simulator: TwilioSimulator
) -> None:
    path = f"/2010-04-01/Accounts/AC{'0' * 32}/Messages.json"

    answer = post(http, path=path, To=MOROCCO, Body="hi")

    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"Body": "hi"}, 21604),
        ({"To": "0661234567", "Body": "hi"}, 21211),
        ({"To": "+2120612", "Body": "hi"}, 21211),
        ({"To": MOROCCO}, 21602),
        ({"To": MOROCCO, "Body": "x" * 1601}, 21617),
        ({"To": MOROCCO, "Body": "hi", "From": ""}, 21603),
        ({"To": MOROCCO, "Body": "hi", "MessagingServiceSid": "MGnope"}, 21701),
    ],
)
def test_validates_like_twilio(
    http: httpx.Client, simulator: TwilioSimulator, form: dict[str, str], code: int
) -> None:
    answer = post(http, **form)

    assert answer.status_code == 400
    assert answer.json()["code"] == code
    assert simulator.state["messages"] == {}


def test_a_body_of_exactly_1600_characters_is_accepted(
    http: httpx.Client, simulator: TwilioSimulator
) -> None:
    answer = post(http, To=MOROCCO, Body="x" * 1600)

    assert answer.status_code == 201
    assert answer.json()["num_segments"] == "11"


def test_refuses_an_unsubscribed_recipient_with_21610(
    http: httpx.Client, simulator: TwilioSimulator
) -> None:
    simulator.unsubscribe(MOROCCO)

    answer = post(http, To=MOROCCO, Body="hi")

    assert answer.json()["code"] == 21610


def test_keeps_each_recipients_texts_with_segments_and_clock_time(
    http: httpx.Client, simulator: TwilioSimulator
) -> None:
    long_arabic = ARABIC * 2

    post(http, To=EGYPT, Body=long_arabic)
    post(http, To=EGYPT, Body="", MessagingServiceSid=SANDBOX_SERVICE_SID)  # refused

    (record,) = simulator.sent_to(EGYPT)
    assert record["body"] == long_arabic
    assert record["segments"] == 2
    assert record["sent_at"] == T0.isoformat()
    assert record["from"] == "SHEMSI"


def test_a_message_reads_delivered_once_the_clock_has_moved_on(
    http: httpx.Client, simulator: TwilioSimulator
) -> None:
    sid = post(http, To=MOROCCO, Body="hi").json()["sid"]
    path = MESSAGES.replace(".json", f"/{sid}.json")

    before = http.get(path, auth=AUTH).json()["status"]
    simulator.clock.advance(DELIVERY_DELAY)  # type: ignore[attr-defined]
    after = http.get(path, auth=AUTH).json()

    assert (before, after["status"]) == ("queued", "delivered")
    assert after["body"] == "hi"


def test_the_sent_messages_survive_a_restart(
    http: httpx.Client, simulator: TwilioSimulator
) -> None:
    post(http, To=MOROCCO, Body="hi")

    again = TwilioSimulator(data_dir=simulator.data_dir)

    assert [m["body"] for m in again.sent_to(MOROCCO)] == ["hi"]
    stored = json.loads(simulator.state_path.read_text(encoding="utf-8"))
    assert stored["messages"][MOROCCO][0]["body"] == "hi"


def test_an_answer_dropped_after_sending_leaves_one_text_and_an_unknown_outcome(
    served: Served, simulator: TwilioSimulator
) -> None:
    simulator.faults.add("create-message", Fault(drop_after=True))

    with pytest.raises(OutcomeUnknown):
        twilio_sender(served).send_sms(sms(MOROCCO))

    assert len(simulator.sent_to(MOROCCO)) == 1


def test_a_503_is_retried_and_the_text_sent_once(
    served: Served, simulator: TwilioSimulator
) -> None:
    simulator.faults.add("create-message", Fault(status=503, retry_after=0))

    twilio_sender(served).send_sms(sms(MOROCCO))

    assert len(simulator.sent_to(MOROCCO)) == 1


def test_sandbox_settings_name_the_sandbox_account(simulator: TwilioSimulator) -> None:
    table = simulator.sandbox_settings("http://127.0.0.1:1")

    assert table["account_sid"] == SANDBOX_ACCOUNT_SID
    assert table["base_url"] == "http://127.0.0.1:1"
