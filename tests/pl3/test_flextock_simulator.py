"""The loopback Flextock: it checks what the real one checks, keeps its
world across runs, and fails the way it is told to, and the adapter copes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from fulfilment.adapters.pl3.flextock import wire
from fulfilment.core.booking import booking_reference
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Booking
from fulfilment.core.errors import PermanentPartnerError
from fulfilment.core.ports import BookingRequest
from fulfilment.runners.sandbox.flextock import (
    SANDBOX_PASSWORD,
    SANDBOX_USERNAME,
    FlextockSimulator,
)
from fulfilment.runners.sandbox.server import Fault, SimRequest, SimServer
from fulfilment.testing.builders import T0, make_order

from .test_flextock_contract import flextock_partner, loopback_client, sandbox_settings

Served = tuple[FlextockSimulator, str]
LOGIN = {"username": SANDBOX_USERNAME, "password": SANDBOX_PASSWORD}
ORDER = make_order("9100", store="shemsi-egypt")
REFERENCE = booking_reference(ORDER)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("flextock")
    sim = FlextockSimulator(data_dir=data_dir, clock=ManualClock(T0))
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def sim(served: Served) -> FlextockSimulator:
    simulator = served[0]
    with simulator.lock:
        simulator.state = simulator.initial_state()
        simulator.requests.clear()
        simulator.faults.clear()
        simulator.clock.set(T0)  # type: ignore[attr-defined]
    return simulator


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with loopback_client(served[1], 5.0) as client:
        yield client


def calls(sim: FlextockSimulator, route: str) -> int:
    return sum(1 for name, _ in sim.requests if name == route)


def bearer(http: httpx.Client) -> dict[str, str]:
    token = http.post("/base/auth/", json=LOGIN).json()["access"]
    return {"Authorization": f"Bearer {token}"}


def book(served: Served) -> Booking:
    partner = flextock_partner(served[1], served[0].clock)
    return partner.book(BookingRequest(REFERENCE, ORDER))


def test_a_new_order_is_pending_with_no_courier_yet(
    served: Served, sim: FlextockSimulator, http: httpx.Client
) -> None:
    book(served)

    answer = http.post(
        "/external-integration/order-status/",
        json={"order_code": REFERENCE},
        headers=bearer(http),
    )

    assert answer.json() == {
        "order_code": REFERENCE,
        "order_status": "pending",
        "order_sub_status": None,
        "courier_name": None,
        "tracking_number": None,
        "tracking_url": None,
    }


def test_a_second_run_continues_the_same_world(
    served: Served, sim: FlextockSimulator
) -> None:
    book(served)

    again = FlextockSimulator(data_dir=sim.data_dir, clock=sim.clock)
    login = again.dispatch(_post("/base/auth/", LOGIN))[0].body
    status = again.dispatch(
        _post(
            "/external-integration/order-status/",
            {"order_code": REFERENCE},
            login["access"],
        )
    )[0]

    assert status.status == 200
    assert status.body["order_status"] == "pending"
    assert "TAJ-BLUE" in again.state["products"]


def test_an_expired_token_is_renewed_without_the_caller_noticing(
    served: Served, sim: FlextockSimulator
) -> None:
    partner = flextock_partner(served[1], sim.clock)
    partner.book(BookingRequest(REFERENCE, ORDER))

    sim.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    found = partner.find_booking(REFERENCE)

    assert found == Booking("flextock", REFERENCE)
    assert calls(sim, "auth") == 2


def test_a_connection_dropped_after_creating_is_settled_by_a_lookup(
    served: Served, sim: FlextockSimulator
) -> None:
    sim.faults.add("create-order", Fault(drop_after=True))

    booking = book(served)

    assert booking == Booking("flextock", REFERENCE)
    assert calls(sim, "create-order") == 1
    assert list(sim.state["orders"]) == [REFERENCE]


def test_a_busy_flextock_is_retried_and_books_one_parcel(
    served: Served, sim: FlextockSimulator
) -> None:
    sim.faults.add("create-order", Fault(status=503, retry_after=0))

    book(served)

    assert calls(sim, "create-order") == 2
    assert list(sim.state["orders"]) == [REFERENCE]


def test_wrong_credentials_are_refused(served: Served, sim: FlextockSimulator) -> None:
    wrong = "not-the-sandbox-password"
    partner = flextock_partner(served[1], sim.clock, password=wrong)

    with pytest.raises(PermanentPartnerError) as refused:
        partner.book(BookingRequest(REFERENCE, ORDER))

    assert refused.value.status == 401
    assert sim.state["orders"] == {}


def test_calls_without_a_token_are_refused(
    sim: FlextockSimulator, http: httpx.Client
) -> None:
    answer = http.post("/external-integration/order-status/", json={"order_code": "x"})

    assert answer.status_code == 401
    assert answer.json()["code"] == "token_not_valid"


def test_an_order_naming_an_unknown_sku_is_refused(
    served: Served, sim: FlextockSimulator, http: httpx.Client
) -> None:
    body = wire.order_body(REFERENCE, ORDER, sandbox_settings(served[1]))

    answer = http.post(
        "/external-integration/create-order/", json=body, headers=bearer(http)
    )

    assert answer.status_code == 400
    assert answer.json() == {
        "line_items": [{"sku_code": ["SKU 'TAJ-BLUE' does not exist."]}]
    }


def test_a_known_sku_is_answered_already_exists(
    sim: FlextockSimulator, http: httpx.Client
) -> None:
    headers = bearer(http)
    products = {"products": wire.products_for(ORDER.lines)}

    http.post("/external-integration/create-products/", json=products, headers=headers)
    again = http.post(
        "/external-integration/create-products/", json=products, headers=headers
    )

    assert again.json() == {
        "response": [{"sku_code": "TAJ-BLUE", "message": "SKU code already exists."}]
    }


def test_order_status_answers_a_list_for_an_array_of_codes(
    served: Served, sim: FlextockSimulator, http: httpx.Client
) -> None:
    book(served)

    answer = http.post(
        "/external-integration/order-status/",
        json={"order_code_array": [REFERENCE, "shemsi-egypt-unknown"]},
        headers=bearer(http),
    )

    assert [entry["order_code"] for entry in answer.json()] == [REFERENCE]


def _post(path: str, body: Any, token: str | None = None) -> SimRequest:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return SimRequest("POST", path, {}, headers, json.dumps(body).encode())


# --- cancel-order on the wire ---------------------------------------------------

CANCEL = "/external-integration/cancel-order/"


def cancel(http: httpx.Client, code: str, order_type: str = "outbound") -> Any:
    body = {"order_code": code, "order_type": order_type}
    return http.post(CANCEL, json=body, headers=bearer(http))


def test_a_pending_order_is_cancelled_at_once_and_a_repeat_says_so(
    served: Served, sim: FlextockSimulator, http: httpx.Client
) -> None:
    book(served)

    first = cancel(http, REFERENCE)
    again = cancel(http, REFERENCE)

    assert (first.status_code, first.json()) == (
        200,
        {"message": "Order cancelled successfully."},
    )
    assert (again.status_code, again.json()) == (
        400,
        {"message": "Order is already canceled."},
    )


def test_a_packed_order_is_being_cancelled_and_a_repeat_meanwhile_agrees(
    served: Served, sim: FlextockSimulator, http: httpx.Client
) -> None:
    book(served)
    sim.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]

    first = cancel(http, REFERENCE)
    again = cancel(http, REFERENCE)

    progress = {"message": "Order cancellation is in progress"}
    assert (first.status_code, first.json()) == (200, progress)
    assert (again.status_code, again.json()) == (200, progress)


def test_an_order_a_driver_has_is_not_cancelled(
    served: Served, sim: FlextockSimulator, http: httpx.Client
) -> None:
    book(served)
    sim.clock.advance(timedelta(hours=6))  # type: ignore[attr-defined]

    answer = cancel(http, REFERENCE)
    status = http.post(
        "/external-integration/order-status/",
        json={"order_code": REFERENCE},
        headers=bearer(http),
    )

    assert answer.status_code == 400
    assert answer.json() == {"message": "Order cannot be canceled: a driver has it."}
    assert status.json()["order_status"] == "picked by driver"


def test_cancel_order_names_what_it_cannot_take(
    served: Served, sim: FlextockSimulator, http: httpx.Client
) -> None:
    book(served)

    unknown = cancel(http, "no-such-order")
    inbound = cancel(http, REFERENCE, order_type="inbound")

    assert (unknown.status_code, unknown.json()) == (
        404,
        {"message": "Order not found."},
    )
    assert inbound.status_code == 400
    assert inbound.json() == {"order_type": ["Only outbound orders."]}


def test_the_adapter_reads_every_cancel_answer_of_the_simulator(
    served: Served, sim: FlextockSimulator
) -> None:
    partner = flextock_partner(served[1], sim.clock)
    parcel = book(served).reference

    assert partner.cancel(parcel) is True
    assert partner.cancel(parcel) is True
    assert calls(sim, "cancel-order") == 2


def test_a_cancel_whose_answer_was_dropped_is_asked_again_and_holds(
    served: Served, sim: FlextockSimulator
) -> None:
    partner = flextock_partner(served[1], sim.clock)
    parcel = book(served).reference
    sim.faults.add("cancel-order", Fault(drop_after=True))

    assert partner.cancel(parcel) is True
    assert calls(sim, "cancel-order") == 2
