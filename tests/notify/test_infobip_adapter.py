"""The Infobip adapter over HTTP, routed by respx: the JSON it posts, the
statuses it reads, and how it settles a send whose answer was lost."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.notify.common import BODY_REFUSED, INVALID_RECIPIENT, OPTED_OUT
from fulfilment.adapters.notify.infobip import InfobipClient, InfobipSettings
from fulfilment.adapters.notify.infobip.adapter import InfobipSmsSender
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.ports import Receipt
from fulfilment.testing.notifiers import ARABIC, EGYPT, MOROCCO, sms

HOST = "https://xk3q.api.infobip.test"
SEND = "/sms/2/text/advanced"
LOGS = "/sms/1/logs"
TLS = ssl.create_default_context()
REFERENCE = "notify:r1"
PENDING = {
    "groupId": 1,
    "groupName": "PENDING",
    "id": 26,
    "name": "PENDING_ACCEPTED",
    "description": "Message sent to next instance",
}


def rejected(status_id: int, name: str) -> dict[str, Any]:
    return {
        "groupId": 5,
        "groupName": "REJECTED",
        "id": status_id,
        "name": name,
        "description": name.lower(),
    }


def answer(status: dict[str, Any], to: str = "212661234567") -> dict[str, Any]:
    message = {"to": to, "messageId": REFERENCE, "status": status}
    return {"bulkId": "b-1", "messages": [message]}


def logs(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"results": list(entries)}


def log_entry(status: dict[str, Any] = PENDING) -> dict[str, Any]:
    return {
        "bulkId": "b-1",
        "messageId": REFERENCE,
        "to": "212661234567",
        "sentAt": "2024-06-03T10:15:02.000+0000",
        "smsCount": 2,
        "status": status,
    }


def sender_for(retry: RetryPolicy | None = None, **changes: Any) -> InfobipSmsSender:
    values: dict[str, Any] = {
        "base_url": HOST,
        "api_key": "ib-key",
        "sender": "SHEMSI",
        **changes,
    }
    config = InfobipSettings(**values)
    client = InfobipClient(httpx.Client(base_url=HOST, verify=TLS), config.api_key)
    return InfobipSmsSender(config, client, retry or RetryPolicy.for_tests())


def body_of(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(
        base_url=HOST, assert_all_called=True, assert_all_mocked=True
    ) as mock:
        yield mock


def test_posts_json_with_the_app_key_and_our_reference_as_message_id(
    router: respx.MockRouter,
) -> None:
    route = router.post(SEND).respond(200, json=answer(PENDING, "201001234567"))

    sender_for().send_sms(sms(EGYPT, ARABIC))

    assert route.calls.last.request.headers["Authorization"] == "App ib-key"
    assert body_of(route) == {
        "messages": [
            {
                "from": "SHEMSI",
                "destinations": [{"to": "201001234567", "messageId": REFERENCE}],
                "text": ARABIC,
            }
        ]
    }


def test_the_sender_id_follows_the_destination_country(
    router: respx.MockRouter,
) -> None:
    route = router.post(SEND).respond(200, json=answer(PENDING))

    sender_for(senders={"MA": "SHEMSI MA"}).send_sms(sms(MOROCCO))

    assert body_of(route)["messages"][0]["from"] == "SHEMSI MA"


def test_an_accepted_message_gives_a_pending_receipt(router: respx.MockRouter) -> None:
    router.post(SEND).respond(200, json=answer(PENDING))

    receipt = sender_for().send_sms(sms(MOROCCO))

    assert receipt == Receipt("infobip", REFERENCE, "pending")


@pytest.mark.parametrize(
    ("status_id", "name", "neutral"),
    [
        (10, "REJECTED_DND", OPTED_OUT),
        (52, "REJECTED_DESTINATION", INVALID_RECIPIENT),
        (8, "REJECTED_PREFIX_MISSING", INVALID_RECIPIENT),
        (25, "REJECTED_MESSAGE_TOO_LONG", BODY_REFUSED),
    ],
)
def test_a_rejected_status_is_a_rejection_with_a_neutral_code(
    router: respx.MockRouter, status_id: int, name: str, neutral: str
) -> None:
    router.post(SEND).respond(200, json=answer(rejected(status_id, name)))

    with pytest.raises(PartnerRejected) as refused:
        sender_for().send_sms(sms(MOROCCO))

    assert refused.value.code == neutral
    assert refused.value.problems[0][0] == name


def test_no_credit_left_is_a_permanent_error(router: respx.MockRouter) -> None:
    router.post(SEND).respond(
        200, json=answer(rejected(12, "REJECTED_NOT_ENOUGH_CREDITS"))
    )

    with pytest.raises(PermanentPartnerError) as broken:
        sender_for().send_sms(sms(MOROCCO))

    assert broken.value.code == "REJECTED_NOT_ENOUGH_CREDITS"


def test_a_system_error_rejection_is_worth_trying_later(
    router: respx.MockRouter,
) -> None:
    router.post(SEND).respond(200, json=answer(rejected(21, "REJECTED_SYSTEM_ERROR")))

    with pytest.raises(TransientPartnerError) as later:
        sender_for().send_sms(sms(MOROCCO))

    assert not isinstance(later.value, OutcomeUnknown)


def test_a_bad_request_is_rejected_with_infobips_validation_errors(
    router: respx.MockRouter,
) -> None:
    exception = {
        "messageId": "BAD_REQUEST",
        "text": "Bad request",
        "validationErrors": {"messages[0].text": ["must not be blank"]},
    }
    router.post(SEND).respond(
        400, json={"requestError": {"serviceException": exception}}
    )

    with pytest.raises(PartnerRejected) as refused:
        sender_for().send_sms(sms(MOROCCO))

    assert refused.value.code == "BAD_REQUEST"
    assert refused.value.problems == (("messages[0].text", "must not be blank"),)


def test_the_recipients_number_is_masked_in_infobips_words(
    router: respx.MockRouter,
) -> None:
    exception = {
        "messageId": "BAD_REQUEST",
        "text": "Bad request",
        "validationErrors": {"messages[0].destinations[0].to": ["bad 212661234567"]},
    }
    router.post(SEND).respond(
        400, json={"requestError": {"serviceException": exception}}
    )

    with pytest.raises(PartnerRejected) as refused:
        sender_for().send_sms(sms(MOROCCO))

    assert "212661234567" not in repr(refused.value.problems)


def test_refused_credentials_are_a_permanent_error(router: respx.MockRouter) -> None:
    exception = {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}
    router.post(SEND).respond(
        401, json={"requestError": {"serviceException": exception}}
    )

    with pytest.raises(PermanentPartnerError):
        sender_for().send_sms(sms(MOROCCO))


def test_a_number_not_in_e164_is_refused_before_any_call() -> None:
    with (
        respx.mock(assert_all_mocked=True) as router,
        pytest.raises(PartnerRejected) as refused,
    ):
        sender_for().send_sms(sms("0661234567"))

    assert router.calls.call_count == 0

    assert refused.value.code == INVALID_RECIPIENT


def test_a_429_is_retried_after_the_wait_infobip_asks_for(
    router: respx.MockRouter,
) -> None:
    waits: list[float] = []
    route = router.post(SEND)
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(200, json=answer(PENDING)),
    ]

    sender_for(retry=RetryPolicy(sleep=waits.append)).send_sms(sms(MOROCCO))

    assert waits == [2.0]
    assert route.call_count == 2


def test_a_5xx_is_settled_by_the_logs_when_infobip_has_the_message(
    router: respx.MockRouter,
) -> None:
    send = router.post(SEND).respond(500)
    lookup = router.get(LOGS, params={"messageId": REFERENCE}).respond(
        200, json=logs(log_entry())
    )

    receipt = sender_for().send_sms(sms(MOROCCO))

    assert receipt == Receipt("infobip", REFERENCE, "pending", 2)
    assert (send.call_count, lookup.call_count) == (1, 1)


def test_a_5xx_stays_an_unknown_outcome_when_the_logs_do_not_have_it(
    router: respx.MockRouter,
) -> None:
    send = router.post(SEND).respond(502)
    router.get(LOGS).respond(200, json=logs())

    with pytest.raises(OutcomeUnknown):
        sender_for().send_sms(sms(MOROCCO))

    assert send.call_count == 1


def test_a_read_timeout_stays_unknown_when_the_lookup_fails_too(
    router: respx.MockRouter,
) -> None:
    send = router.post(SEND).mock(side_effect=httpx.ReadTimeout("slow"))
    router.get(LOGS).respond(503)

    with pytest.raises(OutcomeUnknown) as unknown:
        sender_for(retry=RetryPolicy.for_tests(attempts=2)).send_sms(sms(MOROCCO))

    assert "ReadTimeout" in str(unknown.value)
    assert send.call_count == 1


def test_a_duplicate_reference_answers_with_the_first_messages_receipt(
    router: respx.MockRouter,
) -> None:
    router.post(SEND).respond(
        200, json=answer(rejected(23, "REJECTED_DUPLICATE_MESSAGE_ID"))
    )
    delivered = {"groupId": 3, "groupName": "DELIVERED", "name": "DELIVERED_TO_HANDSET"}
    router.get(LOGS).respond(200, json=logs(log_entry(delivered)))

    receipt = sender_for().send_sms(sms(MOROCCO))

    assert receipt == Receipt("infobip", REFERENCE, "delivered", 2)


def test_a_duplicate_reference_the_logs_forgot_is_reported_already_sent(
    router: respx.MockRouter,
) -> None:
    router.post(SEND).respond(
        200, json=answer(rejected(23, "REJECTED_DUPLICATE_MESSAGE_ID"))
    )
    router.get(LOGS).respond(200, json=logs())

    receipt = sender_for().send_sms(sms(MOROCCO))

    assert receipt.status == "already_sent"


def test_find_sent_reads_the_logs_by_message_id(router: respx.MockRouter) -> None:
    route = router.get(LOGS).respond(200, json=logs(log_entry()))

    found = sender_for().find_sent(REFERENCE)

    assert found == Receipt("infobip", REFERENCE, "pending", 2)
    assert route.calls.last.request.url.params["messageId"] == REFERENCE
    assert route.calls.last.request.headers["Authorization"] == "App ib-key"


def test_find_sent_answers_none_for_a_message_infobip_never_had(
    router: respx.MockRouter,
) -> None:
    router.get(LOGS).respond(200, json=logs())

    assert sender_for().find_sent(REFERENCE) is None


def test_declares_that_sends_can_be_looked_up() -> None:
    assert sender_for().capabilities.lookup_by_reference is True


def test_the_api_key_stays_out_of_repr() -> None:
    assert "ib-key" not in repr(InfobipSettings(base_url=HOST, api_key="ib-key"))
