"""The Flextock adapter over HTTP, routed by respx: login and token reuse,
SKUs before orders, and every way a booking can go wrong."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.pl3.flextock.client import FlextockClient
from fulfilment.adapters.pl3.flextock.partner import FlextockDeliveryPartner
from fulfilment.adapters.pl3.flextock.settings import FlextockSettings
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

HOST = "https://flextock.test"
AUTH = "/base/auth/"
PRODUCTS = "/external-integration/create-products/"
CREATE = "/external-integration/create-order/"
STATUS = "/external-integration/order-status/"
CREATED = {"message": "Order created successfully."}
TAKEN = {"order_code": ["Order with this order code already exists."]}

# One TLS context for every client of the module: building one per client
# costs more than the whole routed test.
TLS = ssl.create_default_context()
ORDER = make_order("8001", store="shemsi-egypt")
REFERENCE = booking_reference(ORDER)


def settings(**changes: Any) -> FlextockSettings:
    values: dict[str, Any] = {
        "base_url": HOST,
        "username": "merchant",
        "password": "s3cret",
        "vendor_name": "Shemsi Egypt",
        **changes,
    }
    return FlextockSettings(**values)


def partner_for(config: FlextockSettings | None = None) -> FlextockDeliveryPartner:
    client = FlextockClient(httpx.Client(base_url=HOST, verify=TLS))
    return FlextockDeliveryPartner(
        config or settings(), client, RetryPolicy.for_tests(), ManualClock(T0)
    )


def tokens(*names: str) -> list[httpx.Response]:
    return [httpx.Response(200, json={"access": n, "refresh": "r"}) for n in names]


def status_of(reference: str) -> dict[str, object]:
    return {
        "order_code": reference,
        "order_status": "pending",
        "order_sub_status": None,
        "courier_name": None,
        "tracking_number": None,
        "tracking_url": None,
    }


def sku_answer(request: httpx.Request) -> httpx.Response:
    products = json.loads(request.content)["products"]
    answers = [
        {"sku_code": p["sku_code"], "message": "SKU created successfully."}
        for p in products
    ]
    return httpx.Response(200, json={"response": answers})


def sent(route: respx.Route, index: int = -1) -> httpx.Request:
    return route.calls[index].request


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(
        base_url=HOST, assert_all_called=True, assert_all_mocked=True
    ) as mock:
        yield mock


@pytest.fixture
def logged_in(router: respx.MockRouter) -> respx.Route:
    """Login answers a fresh token each time; SKUs are always accepted."""
    router.post(PRODUCTS).mock(side_effect=sku_answer)
    return router.post(AUTH).mock(side_effect=tokens("tok-1", "tok-2", "tok-3"))


def test_logs_in_then_books_with_the_bearer_token(
    router: respx.MockRouter, logged_in: respx.Route
) -> None:
    create = router.post(CREATE).respond(200, json=CREATED)

    booking = partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert booking == Booking("flextock", REFERENCE)
    assert json.loads(sent(logged_in).content) == {
        "username": "merchant",
        "password": "s3cret",
    }
    assert sent(create).headers["Authorization"] == "Bearer tok-1"
    assert json.loads(sent(create).content)["order_code"] == REFERENCE


def test_sends_the_login_key_only_when_one_is_configured(
    router: respx.MockRouter, logged_in: respx.Route
) -> None:
    router.post(CREATE).respond(200, json=CREATED)

    partner_for(settings(api_key="k-123")).book(BookingRequest(REFERENCE, ORDER))

    assert json.loads(sent(logged_in).content)["key"] == "k-123"


def test_reuses_the_token_for_later_calls(
    router: respx.MockRouter, logged_in: respx.Route
) -> None:
    router.post(CREATE).respond(200, json=CREATED)
    status = router.post(STATUS).respond(200, json=status_of(REFERENCE))
    partner = partner_for()

    partner.book(BookingRequest(REFERENCE, ORDER))
    partner.find_booking(REFERENCE)

    assert logged_in.call_count == 1
    assert sent(status).headers["Authorization"] == "Bearer tok-1"


def test_logs_in_again_once_when_a_call_is_answered_401(
    router: respx.MockRouter, logged_in: respx.Route
) -> None:
    create = router.post(CREATE)
    create.side_effect = [httpx.Response(401), httpx.Response(200, json=CREATED)]

    booking = partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert booking.reference == REFERENCE
    assert logged_in.call_count == 2
    assert sent(create).headers["Authorization"] == "Bearer tok-2"


def test_a_second_401_in_a_row_is_a_permanent_error(
    router: respx.MockRouter, logged_in: respx.Route
) -> None:
    create = router.post(CREATE).respond(401, json={"code": "token_not_valid"})

    with pytest.raises(PermanentPartnerError) as broken:
        partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert broken.value.status == 401
    assert create.call_count == 2
    assert logged_in.call_count == 2


def test_refused_credentials_are_a_permanent_error(router: respx.MockRouter) -> None:
    router.post(AUTH).respond(401, json={"detail": "No active account found"})

    with pytest.raises(PermanentPartnerError):
        partner_for().book(BookingRequest(REFERENCE, ORDER))


def test_validation_errors_are_rejected_in_flextocks_words(
    router: respx.MockRouter, logged_in: respx.Route
) -> None:
    router.post(CREATE).respond(
        400,
        json={
            "customer_address": {"city": ["City 'Atlantis' is not a valid city."]},
            "line_items": [{}, {"quantity": ["Ensure this value is >= 1."]}],
        },
    )

    with pytest.raises(PartnerRejected) as rejected:
        partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert rejected.value.problems == (
        ("customer_address.city", "City 'Atlantis' is not a valid city."),
        ("line_items.1.quantity", "Ensure this value is >= 1."),
    )
    assert "City 'Atlantis' is not a valid city." in str(rejected.value)


def test_a_taken_order_code_returns_the_existing_booking(
    router: respx.MockRouter, logged_in: respx.Route
) -> None:
    create = router.post(CREATE).respond(400, json=TAKEN)
    status = router.post(STATUS).respond(200, json=status_of(REFERENCE))

    booking = partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert booking == Booking("flextock", REFERENCE)
    assert create.call_count == 1
    assert json.loads(sent(status).content) == {"order_code": REFERENCE}


def test_a_taken_order_code_that_cannot_be_found_needs_a_person(
    router: respx.MockRouter, logged_in: respx.Route
) -> None:
    router.post(CREATE).respond(400, json=TAKEN)
    router.post(STATUS).respond(404, json={"message": "Order not found."})

    with pytest.raises(PartnerRejected) as rejected:
        partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert "already exists" in str(rejected.value)


def test_a_503_is_retried_and_books_once(
    router: respx.MockRouter, logged_in: respx.Route
) -> None:
    create = router.post(CREATE)
    create.side_effect = [
        httpx.Response(503, headers={"Retry-After": "1"}),
        httpx.Response(200, json=CREATED),
    ]

    booking = partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert booking.reference == REFERENCE
    assert create.call_count == 2


def test_a_read_timeout_while_creating_is_settled_by_one_lookup(
    router: respx.MockRouter, logged_in: respx.Route
) -> None:
    create = router.post(CREATE).mock(side_effect=httpx.ReadTimeout("no answer"))
    status = router.post(STATUS).respond(200, json=status_of(REFERENCE))

    booking = partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert booking == Booking("flextock", REFERENCE)
    assert create.call_count == 1
    assert status.call_count == 1


def test_a_read_timeout_with_no_order_found_stays_unknown(
    router: respx.MockRouter, logged_in: respx.Route
) -> None:
    create = router.post(CREATE).mock(side_effect=httpx.ReadTimeout("no answer"))
    router.post(STATUS).respond(404, json={"message": "Order not found."})

    with pytest.raises(OutcomeUnknown):
        partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert create.call_count == 1


def test_creates_each_sku_once_and_remembers_it(router: respx.MockRouter) -> None:
    router.post(AUTH).mock(side_effect=tokens("tok-1"))
    products = router.post(PRODUCTS).respond(
        200,
        json={
            "response": [
                {"sku_code": "TAJ-BLUE", "message": "SKU code already exists."}
            ]
        },
    )
    router.post(CREATE).respond(200, json=CREATED)
    partner = partner_for()
    second = make_order("8002", store="shemsi-egypt")

    partner.book(BookingRequest(REFERENCE, ORDER))
    partner.book(BookingRequest(booking_reference(second), second))

    assert products.call_count == 1
    assert json.loads(sent(products).content) == {
        "products": [
            {"sku_code": "TAJ-BLUE", "sku_name": "Tajine plate", "price": 229.5}
        ]
    }


def test_a_refused_sku_rejects_the_booking_before_any_order_is_sent(
    router: respx.MockRouter,
) -> None:
    router.post(AUTH).mock(side_effect=tokens("tok-1"))
    router.post(PRODUCTS).respond(
        200,
        json={"response": [{"sku_code": "TAJ-BLUE", "message": "price is invalid"}]},
    )

    with pytest.raises(PartnerRejected) as rejected:
        partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert rejected.value.problems == (("products.TAJ-BLUE", "price is invalid"),)


def test_finds_nothing_for_an_order_code_flextock_does_not_know(
    router: respx.MockRouter,
) -> None:
    router.post(AUTH).mock(side_effect=tokens("tok-1"))
    router.post(STATUS).respond(404, json={"message": "Order not found."})

    assert partner_for().find_booking("shemsi-egypt-404") is None


def test_finds_a_booking_in_a_list_shaped_status_answer(
    router: respx.MockRouter,
) -> None:
    router.post(AUTH).mock(side_effect=tokens("tok-1"))
    answer = {**status_of(REFERENCE), "tracking_url": "https://courier.test/t/1"}
    router.post(STATUS).respond(200, json=[answer])

    found = partner_for().find_booking(REFERENCE)

    assert found == Booking(
        "flextock", REFERENCE, tracking_url="https://courier.test/t/1"
    )


def test_an_unexpected_status_is_a_contract_error(
    router: respx.MockRouter, logged_in: respx.Route
) -> None:
    router.post(CREATE).respond(405, text="Method not allowed")

    with pytest.raises(PermanentPartnerError) as broken:
        partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert broken.value.status == 405


def test_settings_name_no_host_of_their_own_and_hide_secrets() -> None:
    shown = repr(settings(api_key="k-123"))

    assert "s3cret" not in shown
    assert "k-123" not in shown
    no_host = {"username": "u", "password": "p", "vendor_name": "v"}
    with pytest.raises(TypeError):
        FlextockSettings(**no_host)
    with pytest.raises(ValueError, match="base_url"):
        settings(base_url=" ")


@pytest.mark.parametrize(
    "body",
    [b"", b'{"message": "Order created succ', b"<html><body>Log in</body></html>"],
    ids=["empty", "cut-off", "html"],
)
def test_a_200_without_flextocks_json_is_looked_up_not_taken_as_booked(
    router: respx.MockRouter, logged_in: respx.Route, body: bytes
) -> None:
    router.post(CREATE).respond(200, content=body)
    status = router.post(STATUS).respond(404, json={"detail": "Not found."})

    with pytest.raises(OutcomeUnknown):
        partner_for().book(BookingRequest(REFERENCE, ORDER))

    assert status.called
