"""The loopback Infobip refuses what Infobip refuses, logs every message
by id, and the adapter settles lost answers and duplicates against it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fulfilment.runners.sandbox.infobip import (
    DELIVERY_DELAY,
    SANDBOX_API_KEY,
    InfobipSimulator,
)
from fulfilment.runners.sandbox.server import Fault
from fulfilment.testing.builders import T0
from fulfilment.testing.notifiers import ARABIC, EGYPT, MOROCCO, sms

from .loopback import loopback_client
from .test_infobip_contract import Served, infobip_sender, served, simulator

__all__ = ["served", "simulator"]

SEND = "/sms/2/text/advanced"
KEY = {"Authorization": f"App {SANDBOX_API_KEY}"}


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with loopback_client(served[1], 5.0) as client:
        yield client


def one(to: str, text: str = "hi", message_id: str = "m-1") -> dict[str, Any]:
    destination = {"to": to, "messageId": message_id}
    return {
        "messages": [{"from": "SHEMSI", "destinations": [destination], "text": text}]
    }


def status_name(answer: httpx.Response) -> str:
    return str(answer.json()["messages"][0]["status"]["name"])


def test_refuses_a_wrong_api_key_as_unauthorized(
    http: httpx.Client, simulator: InfobipSimulator
) -> None:
    answer = http.post(
        SEND, json=one("212661234567"), headers={"Authorization": "App x"}
    )

    assert answer.status_code == 401
    exception = answer.json()["requestError"]["serviceException"]
    assert exception["messageId"] == "UNAUTHORIZED"


def test_a_message_without_text_is_a_bad_request_naming_the_field(
    http: httpx.Client, simulator: InfobipSimulator
) -> None:
    answer = http.post(SEND, json=one("212661234567", text=" "), headers=KEY)

    assert answer.status_code == 400
    exception = answer.json()["requestError"]["serviceException"]
    assert exception["validationErrors"] == {"messages[0].text": ["must not be blank"]}


@pytest.mark.parametrize(
    ("to", "name"),
    [
        ("", "MISSING_TO"),
        ("+212661234567", "REJECTED_DESTINATION"),
        ("2120612", "REJECTED_DESTINATION"),
    ],
)
def test_rejects_destinations_it_cannot_reach(
    http: httpx.Client, simulator: InfobipSimulator, to: str, name: str
) -> None:
    answer = http.post(SEND, json=one(to), headers=KEY)

    assert answer.status_code == 200
    assert status_name(answer) == name
    assert simulator.state["messages"] == {}


def test_rejects_a_do_not_disturb_number_and_a_reused_message_id(
    http: httpx.Client, simulator: InfobipSimulator
) -> None:
    simulator.unsubscribe(EGYPT)
    first = http.post(SEND, json=one("212661234567"), headers=KEY)

    dnd = http.post(SEND, json=one("201001234567", message_id="m-2"), headers=KEY)
    reused = http.post(SEND, json=one("212661234567"), headers=KEY)

    assert status_name(first) == "PENDING_ACCEPTED"
    assert status_name(dnd) == "REJECTED_DND"
    assert status_name(reused) == "REJECTED_DUPLICATE_MESSAGE_ID"
    assert len(simulator.sent_to(MOROCCO)) == 1


def test_logs_list_a_message_by_id_and_show_it_delivered_later(
    http: httpx.Client, simulator: InfobipSimulator
) -> None:
    http.post(SEND, json=one("201001234567", text=ARABIC * 2), headers=KEY)

    before = http.get("/sms/1/logs", params={"messageId": "m-1"}, headers=KEY)
    simulator.clock.advance(DELIVERY_DELAY)  # type: ignore[attr-defined]
    after = http.get("/sms/1/logs", params={"messageId": "m-1"}, headers=KEY)

    (entry,) = before.json()["results"]
    assert entry["status"]["groupName"] == "PENDING"
    assert entry["smsCount"] == 2
    assert entry["sentAt"] == T0.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    assert after.json()["results"][0]["status"]["groupName"] == "DELIVERED"


def test_keeps_each_recipients_texts_across_a_restart(
    http: httpx.Client, simulator: InfobipSimulator
) -> None:
    http.post(SEND, json=one("201001234567", text=ARABIC), headers=KEY)

    again = InfobipSimulator(data_dir=simulator.data_dir)

    (record,) = again.sent_to(EGYPT)
    assert record["text"] == ARABIC
    assert record["sentAt"] == T0.isoformat()


def test_sending_a_reference_twice_reaches_the_phone_once(
    served: Served, simulator: InfobipSimulator
) -> None:
    sender = infobip_sender(served)

    first = sender.send_sms(sms(MOROCCO, ref="twice"))
    second = sender.send_sms(sms(MOROCCO, ref="twice"))

    assert second.message_id == first.message_id
    assert len(simulator.sent_to(MOROCCO)) == 1


def test_an_answer_dropped_after_sending_is_settled_by_the_logs(
    served: Served, simulator: InfobipSimulator
) -> None:
    simulator.faults.add("send-sms", Fault(drop_after=True))

    receipt = infobip_sender(served).send_sms(sms(MOROCCO, ref="dropped"))

    assert receipt.message_id == "notify:dropped"
    assert len(simulator.sent_to(MOROCCO)) == 1


def test_sandbox_settings_carry_the_sandbox_key(simulator: InfobipSimulator) -> None:
    table = simulator.sandbox_settings("http://127.0.0.1:1")

    assert table == {
        "base_url": "http://127.0.0.1:1",
        "api_key": SANDBOX_API_KEY,
        "sender": "SHEMSI",
    }
