"""The Farfill adapter over HTTP, routed by respx: OAuth2 tokens kept until
they expire, and every way a booking can go wrong."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from fulfilment.adapters.pl3.farfill.client import FarfillClient
from fulfilment.adapters.pl3.farfill.partner import FarfillDeliveryPartner
from fulfilment.adapters.pl3.farfill.settings import FarfillSettings
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.booking import booking_reference
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Booking
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
)
from fulfilment.core.ports import BookingRequest
from fulfilment.testing.builders import T0, make_order

HOST = "https://farfill.test"
OAUTH = "/oauth/token"
ORDERS = "/api/fulfilment/orders"
SETTINGS = FarfillSettings(
    base_url=HOST,
    client_id="shemsi-uae",
    client_secret="fake-secret",
)
# One TLS context for every client of the module: building one per client
# costs more than the whole routed test.
TLS = ssl.create_default_context()
ORDER = make_order("8101", store="shemsi-uae")
REFERENCE = booking_reference(ORDER)
TAKEN = {"errors": [{"field": "partner_order_id", "message": "has already been taken"}]}


def farfill_order(
    reference: str = REFERENCE, order_id: str = "FF00000001"
) -> dict[str, str]:
    return {
        "id": order_id,
        "partner_order_id": reference,
        "state": "pending",
        "tracking_url": f"https://track.farfill.test/orders/{order_id}",
    }


BOOKED = Booking(
    "farfill", "FF00000001", tracking_url="https://track.farfill.test/orders/FF00000001"
)


def partner_for(clock: ManualClock | None = None) -> FarfillDeliveryPartner:
    client = FarfillClient(httpx.Client(base_url=HOST, verify=TLS))
    return FarfillDeliveryPartner(
        SETTINGS, client, RetryPolicy.for_tests(), clock or ManualClock(T0)
    )


def tokens(*names: str, lifetime: int = 3600) -> list[httpx.Response]:
    return [
        httpx.Response(
            200,
            json={"access_token": n, "token_type": "Bearer", "expires_in": lifetime},
        )
        for n in names
    ]


def sent(route: respx.Route, index: int = -1) -> httpx.Request:
    return route.calls[index].request


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(
        base_url=HOST, assert_all_called=True, assert_all_mocked=True
    ) as mock:
        yield mock


@pytest.fixture
def authorised(router: respx.MockRouter) -> respx.Route:
    """The token endpoint answers a fresh token each time."""
    return router.post(OAUTH).mock(side_effect=tokens("tok-1", "tok-2", "tok-3"))


def test_asks_for_a_client_credentials_token_then_books_with_it(
    router: respx.MockRouter, authorised: respx.Route
) -> None:
    create = router.post(ORDERS).respond(201, json={"order": farfill_order()})

    booking = partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert booking == BOOKED
    form = parse_qs(sent(authorised).content.decode())
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": ["shemsi-uae"],
        "client_secret": ["fake-secret"],
    }
    assert sent(authorised).headers["Content-Type"] == (
        "application/x-www-form-urlencoded"
    )
    assert sent(create).headers["Authorization"] == "Bearer tok-1"
    assert json.loads(sent(create).content)["partner_order_id"] == REFERENCE


def test_reuses_the_token_until_it_expires(
    router: respx.MockRouter, authorised: respx.Route
) -> None:
    router.post(ORDERS).respond(201, json={"order": farfill_order()})
    lookup = router.get(ORDERS).respond(200, json={"orders": [farfill_order()]})
    clock = ManualClock(T0)
    partner = partner_for(clock)

    partner.book(BookingRequest(REFERENCE, ORDER))
    partner.find_booking(REFERENCE)
    clock.advance(timedelta(minutes=59, seconds=30))
    partner.find_booking(REFERENCE)

    assert authorised.call_count == 2
    assert sent(lookup, 0).headers["Authorization"] == "Bearer tok-1"
    assert sent(lookup, 1).headers["Authorization"] == "Bearer tok-2"


def test_asks_for_a_new_token_once_when_a_call_is_answered_401(
    router: respx.MockRouter, authorised: respx.Route
) -> None:
    create = router.post(ORDERS)
    create.side_effect = [
        httpx.Response(401, json={"error": "invalid_token"}),
        httpx.Response(201, json={"order": farfill_order()}),
    ]

    booking = partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert booking == BOOKED
    assert authorised.call_count == 2
    assert sent(create).headers["Authorization"] == "Bearer tok-2"


def test_a_second_401_in_a_row_is_a_permanent_error(
    router: respx.MockRouter, authorised: respx.Route
) -> None:
    create = router.post(ORDERS).respond(401, json={"error": "invalid_token"})

    with pytest.raises(PermanentPartnerError) as broken:
        partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert broken.value.status == 401
    assert create.call_count == 2


def test_an_unknown_client_is_a_permanent_error(router: respx.MockRouter) -> None:
    router.post(OAUTH).respond(401, json={"error": "invalid_client"})

    with pytest.raises(PermanentPartnerError):
        partner_for().book(BookingRequest(REFERENCE, ORDER))


def test_validation_errors_are_rejected_field_by_field_in_farfills_words(
    router: respx.MockRouter, authorised: respx.Route
) -> None:
    router.post(ORDERS).respond(
        422,
        json={
            "errors": [
                {"field": "recipient.phone", "message": "can't be blank"},
                {"field": "currency", "message": "USD is not accepted; use AED"},
            ]
        },
    )

    with pytest.raises(PartnerRejected) as rejected:
        partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert rejected.value.problems == (
        ("recipient.phone", "can't be blank"),
        ("currency", "USD is not accepted; use AED"),
    )
    assert rejected.value.status == 422


def test_a_taken_partner_order_id_returns_the_existing_booking(
    router: respx.MockRouter, authorised: respx.Route
) -> None:
    create = router.post(ORDERS).respond(409, json=TAKEN)
    lookup = router.get(ORDERS).respond(200, json={"orders": [farfill_order()]})

    booking = partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert booking == BOOKED
    assert create.call_count == 1
    assert sent(lookup).url.params["partner_order_id"] == REFERENCE


def test_a_taken_id_that_cannot_be_found_needs_a_person(
    router: respx.MockRouter, authorised: respx.Route
) -> None:
    router.post(ORDERS).respond(409, json=TAKEN)
    router.get(ORDERS).respond(200, json={"orders": []})

    with pytest.raises(PartnerRejected) as rejected:
        partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert rejected.value.problems == (("partner_order_id", "has already been taken"),)


def test_a_503_is_retried_and_books_once(
    router: respx.MockRouter, authorised: respx.Route
) -> None:
    create = router.post(ORDERS)
    create.side_effect = [
        httpx.Response(503, headers={"Retry-After": "2"}),
        httpx.Response(201, json={"order": farfill_order()}),
    ]

    booking = partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert booking == BOOKED
    assert create.call_count == 2


def test_a_read_timeout_while_creating_is_settled_by_one_lookup(
    router: respx.MockRouter, authorised: respx.Route
) -> None:
    create = router.post(ORDERS).mock(side_effect=httpx.ReadTimeout("no answer"))
    lookup = router.get(ORDERS).respond(200, json={"orders": [farfill_order()]})

    booking = partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert booking == BOOKED
    assert create.call_count == 1
    assert lookup.call_count == 1


def test_a_read_timeout_with_no_order_found_stays_unknown(
    router: respx.MockRouter, authorised: respx.Route
) -> None:
    create = router.post(ORDERS).mock(side_effect=httpx.ReadTimeout("no answer"))
    router.get(ORDERS).respond(200, json={"orders": []})

    with pytest.raises(OutcomeUnknown):
        partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert create.call_count == 1


def test_an_unanswered_token_request_is_retried_even_while_booking(
    router: respx.MockRouter,
) -> None:
    token = router.post(OAUTH)
    token.side_effect = [httpx.ReadTimeout("no answer"), *tokens("tok-1")]
    router.post(ORDERS).respond(201, json={"order": farfill_order()})

    booking = partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert booking == BOOKED
    assert token.call_count == 2


def test_an_unreadable_created_answer_is_settled_by_a_lookup(
    router: respx.MockRouter, authorised: respx.Route
) -> None:
    router.post(ORDERS).respond(201, text="<html>created</html>")
    router.get(ORDERS).respond(200, json={"orders": [farfill_order()]})

    assert partner_for().book(BookingRequest(REFERENCE, ORDER)) == BOOKED


def test_finds_nothing_for_a_reference_farfill_does_not_know(
    router: respx.MockRouter, authorised: respx.Route
) -> None:
    router.get(ORDERS).respond(200, json={"orders": []})

    assert partner_for().find_booking("shemsi-uae-404") is None


def test_settings_name_no_host_of_their_own_and_hide_the_secret() -> None:
    no_host = {"client_id": "c", "client_secret": "s"}

    assert "fake-secret" not in repr(SETTINGS)
    with pytest.raises(TypeError):
        FarfillSettings(**no_host)
    with pytest.raises(ValueError, match="client_id"):
        FarfillSettings(**{**no_host, "client_id": ""}, base_url=HOST)
