"""The Bosta adapter over HTTP, routed by respx: the raw-key header, the
envelope, refusals in Bosta's words, checks made before any call, a lost
create answer settled by a search, and 429 with its retry hint."""

from __future__ import annotations

import json
from collections.abc import Iterator

import attrs
import httpx
import pytest
import respx
from fulfilment_bosta.client import BostaClient
from fulfilment_bosta.partner import BostaDeliveryPartner
from fulfilment_bosta.settings import BostaSettings

from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Booking, TrackingStatus
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerRejected,
    TransientPartnerError,
)
from fulfilment.core.ports import BookingRequest
from fulfilment.testing.builders import T0, make_order

HOST = "https://bosta.sandbox.invalid"
KEY = "key-123"
ORDER = make_order("9001", store="shemsi-egypt", amount="350.50")
REFERENCE = "shemsi-egypt-9001"
CITIES = {
    "success": True,
    "message": "",
    "data": [{"_id": "c-cairo", "name": "Cairo", "nameAr": "القاهرة"}],
}
DISTRICTS = {
    "success": True,
    "message": "",
    "data": [{"_id": "d-maadi", "name": "Maadi", "nameAr": "المعادي"}],
}
NOTHING = {"success": True, "message": "", "data": {"deliveries": [], "count": 0}}
CREATED = {
    "success": True,
    "message": "Delivery created successfully",
    "data": {"_id": "x1", "trackingNumber": "5000000001"},
}


def partner(retry: RetryPolicy | None = None) -> BostaDeliveryPartner:
    settings = BostaSettings(base_url=HOST, api_key=KEY)
    client = BostaClient(httpx.Client(base_url=HOST), KEY)
    return BostaDeliveryPartner(
        settings, client, retry or RetryPolicy.for_tests(), ManualClock(T0)
    )


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(
        base_url=HOST, assert_all_called=False, assert_all_mocked=True
    ) as mock:
        mock.get("/api/v2/cities").respond(200, json=CITIES)
        mock.get("/api/v2/cities/c-cairo/districts").respond(200, json=DISTRICTS)
        yield mock


def test_books_with_the_raw_key_and_bostas_city_id(router: respx.MockRouter) -> None:
    router.post("/api/v2/deliveries/search").respond(200, json=NOTHING)
    create = router.post("/api/v2/deliveries").respond(201, json=CREATED)

    booking = partner().book(BookingRequest(REFERENCE, ORDER))

    assert booking == Booking("bosta", "5000000001")
    sent = create.calls.last.request
    body = json.loads(sent.content)
    assert sent.headers["Authorization"] == KEY
    assert body["businessReference"] == REFERENCE
    assert body["cod"] == 350.5
    assert body["dropOffAddress"]["cityId"] == "c-cairo"
    assert body["receiver"]["phone"] == "01001234567"


def test_a_district_named_in_the_province_is_sent_by_id(
    router: respx.MockRouter,
) -> None:
    router.post("/api/v2/deliveries/search").respond(200, json=NOTHING)
    create = router.post("/api/v2/deliveries").respond(201, json=CREATED)
    address = ORDER.shipping_address
    assert address is not None
    order = attrs.evolve(
        ORDER, shipping_address=attrs.evolve(address, province="maadi")
    )

    partner().book(BookingRequest(REFERENCE, order))

    body = json.loads(create.calls.last.request.content)
    assert body["dropOffAddress"]["districtId"] == "d-maadi"


def test_an_existing_delivery_is_answered_instead_of_a_second_one(
    router: respx.MockRouter,
) -> None:
    found = {
        "success": True,
        "message": "",
        "data": {
            "deliveries": [
                {"trackingNumber": "5000000009", "businessReference": REFERENCE}
            ],
            "count": 1,
        },
    }
    router.post("/api/v2/deliveries/search").respond(200, json=found)
    create = router.post("/api/v2/deliveries").respond(201, json=CREATED)

    booking = partner().book(BookingRequest(REFERENCE, ORDER))

    assert booking.reference == "5000000009"
    assert not create.called


def test_a_refusal_quotes_bostas_message(router: respx.MockRouter) -> None:
    router.post("/api/v2/deliveries/search").respond(200, json=NOTHING)
    router.post("/api/v2/deliveries").respond(
        400, json={"success": False, "message": '"receiver.phone" is required.'}
    )

    with pytest.raises(PartnerRejected) as rejected:
        partner().book(BookingRequest(REFERENCE, ORDER))

    assert rejected.value.partner == "bosta"
    assert '"receiver.phone" is required.' in str(rejected.value)


def test_cash_in_another_currency_is_refused_before_any_call(
    router: respx.MockRouter,
) -> None:
    order = make_order("9002", store="shemsi-egypt", currency="USD")
    search = router.post("/api/v2/deliveries/search").respond(200, json=NOTHING)
    create = router.post("/api/v2/deliveries").respond(201, json=CREATED)

    with pytest.raises(PartnerRejected, match="EGP only, not USD"):
        partner().book(BookingRequest("shemsi-egypt-9002", order))

    assert not create.called
    assert search.call_count == 1  # the duplicate check, nothing sent


def test_a_city_outside_bostas_list_is_refused_naming_it(
    router: respx.MockRouter,
) -> None:
    order = make_order("9003", store="shemsi-egypt", city="Luxor")
    router.post("/api/v2/deliveries/search").respond(200, json=NOTHING)
    create = router.post("/api/v2/deliveries").respond(201, json=CREATED)

    with pytest.raises(PartnerRejected, match="'Luxor' is not in Bosta's city"):
        partner().book(BookingRequest("shemsi-egypt-9003", order))

    assert not create.called


def test_a_lost_create_answer_is_settled_by_one_search(
    router: respx.MockRouter,
) -> None:
    found = {
        "success": True,
        "message": "",
        "data": {
            "deliveries": [
                {"trackingNumber": "5000000002", "businessReference": REFERENCE}
            ],
            "count": 1,
        },
    }
    router.post("/api/v2/deliveries/search").mock(
        side_effect=[httpx.Response(200, json=NOTHING), httpx.Response(200, json=found)]
    )
    create = router.post("/api/v2/deliveries").mock(
        side_effect=httpx.ReadTimeout("lost")
    )

    booking = partner().book(BookingRequest(REFERENCE, ORDER))

    assert booking.reference == "5000000002"
    assert create.call_count == 1  # never sent twice


def test_a_lost_answer_with_nothing_found_stays_unknown(
    router: respx.MockRouter,
) -> None:
    router.post("/api/v2/deliveries/search").respond(200, json=NOTHING)
    router.post("/api/v2/deliveries").mock(side_effect=httpx.ReadTimeout("lost"))

    with pytest.raises(OutcomeUnknown):
        partner().book(BookingRequest(REFERENCE, ORDER))


def test_429_is_transient_with_bostas_retry_hint(router: respx.MockRouter) -> None:
    router.post("/api/v2/deliveries/search").respond(
        429,
        json={"success": False, "message": "Too many requests."},
        headers={"Retry-After": "17"},
    )

    with pytest.raises(TransientPartnerError) as busy:
        partner(RetryPolicy.for_tests(attempts=2)).find_booking(REFERENCE)

    assert busy.value.retry_after == 17


def test_tracking_maps_state_codes_and_names_the_unknown(
    router: respx.MockRouter,
) -> None:
    def delivery(number: str, code: int, value: str) -> dict[str, object]:
        return {
            "trackingNumber": number,
            "state": {"code": code, "value": value},
            "updatedAt": "2026-11-03T10:00:00+02:00",
        }

    search = router.post("/api/v2/deliveries/search").respond(
        200,
        json={
            "success": True,
            "message": "",
            "data": {
                "deliveries": [
                    delivery("1", 45, "Delivered"),
                    delivery("2", 105, "Under investigation"),
                ]
            },
        },
    )

    batch = partner().track(["1", "2", "3"])

    assert json.loads(search.calls.last.request.content)["trackingNumbers"] == "1,2,3"
    (delivered,) = batch.events["1"]
    (odd,) = batch.events["2"]
    assert delivered.status is TrackingStatus.DELIVERED
    assert delivered.occurred_at.isoformat() == "2026-11-03T08:00:00+00:00"
    assert (odd.status, odd.code) == (TrackingStatus.UNKNOWN, "105")
    assert batch.missing == frozenset({"3"})
