"""The Twilio adapter over HTTP, routed by respx: the form it posts, the
receipt it reads, and what each of Twilio's refusals and failures means."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from fulfilment.adapters.notify.common import BODY_REFUSED, INVALID_RECIPIENT, OPTED_OUT
from fulfilment.adapters.notify.twilio import TwilioClient, TwilioSettings
from fulfilment.adapters.notify.twilio.adapter import TwilioSmsSender
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.ports import Receipt
from fulfilment.testing.notifiers import ARABIC, EGYPT, MOROCCO, UAE, sms

HOST = "https://api.twilio.test"
ACCOUNT = "AC" + "a" * 32
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
TLS = ssl.create_default_context()
CREATED = {
    "sid": "SM" + "c" * 32,
    "account_sid": ACCOUNT,
    "to": MOROCCO,
    "status": "queued",
    "num_segments": "2",
}


def settings(**changes: Any) -> TwilioSettings:
    values: dict[str, Any] = {
        "account_sid": ACCOUNT,
        "auth_token": "tw-token",
        "sender": "SHEMSI",
        "base_url": HOST,
        **changes,
    }
    return TwilioSettings(**values)


def sender_for(
    config: TwilioSettings | None = None, retry: RetryPolicy | None = None
) -> TwilioSmsSender:
    config = config or settings()
    http = httpx.Client(base_url=HOST, verify=TLS)
    client = TwilioClient(http, config.account_sid, config.basic_auth())
    return TwilioSmsSender(config, client, retry or RetryPolicy.for_tests())


def form_of(route: respx.Route, index: int = -1) -> dict[str, str]:
    fields = parse_qs(route.calls[index].request.content.decode())
    return {name: values[0] for name, values in fields.items()}


def twilio_error(code: int, status: int = 400) -> httpx.Response:
    body = {
        "code": code,
        "message": f"error {code}",
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return httpx.Response(status, json=body)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(
        base_url=HOST, assert_all_called=True, assert_all_mocked=True
    ) as mock:
        yield mock


def test_posts_a_form_with_basic_auth_to_the_accounts_messages(
    router: respx.MockRouter,
) -> None:
    route = router.post(MESSAGES).respond(201, json=CREATED)

    sender_for().send_sms(sms(MOROCCO, "Votre commande est expédiée"))

    request = route.calls.last.request
    expected = base64.b64encode(f"{ACCOUNT}:tw-token".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_of(route) == {
        "To": MOROCCO,
        "From": "SHEMSI",
        "Body": "Votre commande est expédiée",
    }


def test_an_api_key_authenticates_instead_of_the_auth_token(
    router: respx.MockRouter,
) -> None:
    route = router.post(MESSAGES).respond(201, json=CREATED)
    config = settings(auth_token=None, api_key_sid="SKkey", api_key_secret="shh")

    sender_for(config).send_sms(sms(MOROCCO))

    expected = base64.b64encode(b"SKkey:shh").decode()
    assert route.calls.last.request.headers["Authorization"] == f"Basic {expected}"


def test_a_messaging_service_picks_the_sender_when_none_is_configured(
    router: respx.MockRouter,
) -> None:
    route = router.post(MESSAGES).respond(201, json=CREATED)
    config = settings(sender=None, messaging_service_sid="MG" + "b" * 32)

    sender_for(config).send_sms(sms(UAE, ARABIC))

    form = form_of(route)
    assert "From" not in form
    assert form["MessagingServiceSid"] == "MG" + "b" * 32
    assert form["Body"] == ARABIC


def test_the_sender_id_follows_the_destination_country(
    router: respx.MockRouter,
) -> None:
    route = router.post(MESSAGES).respond(201, json=CREATED)
    sender = sender_for(settings(senders={"AE": "SHEMSI AE", "EG": "+15005550006"}))

    sender.send_sms(sms(UAE, ref="ae"))
    sender.send_sms(sms(EGYPT, ref="eg"))
    sender.send_sms(sms(MOROCCO, ref="ma"))

    assert [form_of(route, i)["From"] for i in range(3)] == [
        "SHEMSI AE",
        "+15005550006",
        "SHEMSI",
    ]


def test_the_receipt_carries_twilios_sid_status_and_segment_count(
    router: respx.MockRouter,
) -> None:
    router.post(MESSAGES).respond(201, json=CREATED)

    receipt = sender_for().send_sms(sms(MOROCCO))

    assert receipt == Receipt("twilio", "SM" + "c" * 32, "queued", 2)


@pytest.mark.parametrize(
    ("code", "neutral"),
    [
        (21211, INVALID_RECIPIENT),
        (21614, INVALID_RECIPIENT),
        (21610, OPTED_OUT),
        (21617, BODY_REFUSED),
    ],
)
def test_refusals_of_this_message_are_rejections_with_a_neutral_code(
    router: respx.MockRouter, code: int, neutral: str
) -> None:
    router.post(MESSAGES).mock(return_value=twilio_error(code))

    with pytest.raises(PartnerRejected) as rejected:
        sender_for().send_sms(sms(MOROCCO))

    assert rejected.value.code == neutral
    assert rejected.value.problems == ((str(code), f"error {code}"),)


def test_the_recipients_number_is_masked_in_twilios_words(
    router: respx.MockRouter,
) -> None:
    body = {"code": 21211, "message": f"Invalid 'To' Phone Number: {MOROCCO}"}
    router.post(MESSAGES).respond(400, json=body)

    with pytest.raises(PartnerRejected) as rejected:
        sender_for().send_sms(sms(MOROCCO))

    assert MOROCCO not in str(rejected.value)
    assert MOROCCO not in repr(rejected.value.problems)
    assert "+212******567" in str(rejected.value)


@pytest.mark.parametrize("code", [21408, 21606, 21608])
def test_account_set_up_refusals_are_permanent_errors(
    router: respx.MockRouter, code: int
) -> None:
    router.post(MESSAGES).mock(return_value=twilio_error(code))

    with pytest.raises(PermanentPartnerError) as broken:
        sender_for().send_sms(sms(MOROCCO))

    assert broken.value.code == str(code)


def test_refused_credentials_are_a_permanent_error(router: respx.MockRouter) -> None:
    route = router.post(MESSAGES).mock(return_value=twilio_error(20003, 401))

    with pytest.raises(PermanentPartnerError):
        sender_for().send_sms(sms(MOROCCO))

    assert route.call_count == 1


def test_a_429_is_retried_after_the_wait_twilio_asks_for(
    router: respx.MockRouter,
) -> None:
    waits: list[float] = []
    route = router.post(MESSAGES)
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "3"}, json={"code": 20429}),
        httpx.Response(201, json=CREATED),
    ]

    receipt = sender_for(retry=RetryPolicy(sleep=waits.append)).send_sms(sms(MOROCCO))

    assert receipt.message_id == CREATED["sid"]
    assert waits == [3.0]
    assert route.call_count == 2


def test_a_429_that_never_ends_is_a_transient_error(router: respx.MockRouter) -> None:
    route = router.post(MESSAGES).respond(429, json={"code": 20429})

    with pytest.raises(TransientPartnerError) as busy:
        sender_for(retry=RetryPolicy.for_tests(attempts=3)).send_sms(sms(MOROCCO))

    assert not isinstance(busy.value, OutcomeUnknown)
    assert route.call_count == 3


def test_a_5xx_is_an_unknown_outcome_and_is_not_sent_again(
    router: respx.MockRouter,
) -> None:
    route = router.post(MESSAGES).respond(500, json={"message": "oops"})

    with pytest.raises(OutcomeUnknown):
        sender_for().send_sms(sms(MOROCCO))

    assert route.call_count == 1


def test_a_read_timeout_is_an_unknown_outcome_and_is_not_sent_again(
    router: respx.MockRouter,
) -> None:
    route = router.post(MESSAGES).mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(OutcomeUnknown):
        sender_for().send_sms(sms(MOROCCO))

    assert route.call_count == 1


def test_a_refused_connection_is_retried_because_nothing_was_sent(
    router: respx.MockRouter,
) -> None:
    route = router.post(MESSAGES)
    route.side_effect = [
        httpx.ConnectError("refused"),
        httpx.Response(201, json=CREATED),
    ]

    receipt = sender_for().send_sms(sms(MOROCCO))

    assert receipt.status == "queued"
    assert route.call_count == 2


def test_an_accepted_answer_without_a_sid_is_an_unknown_outcome(
    router: respx.MockRouter,
) -> None:
    router.post(MESSAGES).respond(201, text="<html>proxy</html>")

    with pytest.raises(OutcomeUnknown):
        sender_for().send_sms(sms(MOROCCO))


def test_says_it_cannot_look_a_send_up() -> None:
    sender = sender_for()

    assert sender.capabilities.lookup_by_reference is False
    assert not hasattr(sender, "find_sent")


def test_settings_need_credentials_and_a_way_to_choose_the_sender() -> None:
    with pytest.raises(ValueError, match="auth_token"):
        settings(auth_token=None)
    with pytest.raises(ValueError, match="sender"):
        settings(sender=None)
    with pytest.raises(ValueError, match="account SID"):
        settings(account_sid="nope")


def test_the_auth_token_stays_out_of_repr() -> None:
    assert "tw-token" not in repr(settings())
