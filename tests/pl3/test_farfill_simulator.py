"""The loopback Farfill: it checks what the modelled API checks, keeps its
world across runs, and fails the way it is told to, and the adapter copes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from fulfilment.adapters.pl3.farfill import wire
from fulfilment.core.booking import booking_reference
from fulfilment.core.clock import ManualClock
from fulfilment.core.errors import PermanentPartnerError
from fulfilment.core.ports import BookingRequest
from fulfilment.runners.sandbox.farfill import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    FarfillSimulator,
)
from fulfilment.runners.sandbox.server import Fault, SimRequest, SimServer
from fulfilment.testing.builders import T0, make_order

from .test_farfill_contract import farfill_partner, loopback_client, sandbox_settings

Served = tuple[FarfillSimulator, str]
CLIENT = {
    "grant_type": "client_credentials",
    "client_id": SANDBOX_CLIENT_ID,
    "client_secret": SANDBOX_CLIENT_SECRET,
}
ORDER = make_order("9300", store="shemsi-uae")
REFERENCE = booking_reference(ORDER)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("farfill")
    sim = FarfillSimulator(data_dir=data_dir, clock=ManualClock(T0))
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def sim(served: Served) -> FarfillSimulator:
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


def calls(sim: FarfillSimulator, route: str) -> int:
    return sum(1 for name, _ in sim.requests if name == route)


def bearer(http: httpx.Client) -> dict[str, str]:
    token = http.post("/oauth/token", data=CLIENT).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def book(served: Served) -> Any:
    partner = farfill_partner(served[1], served[0].clock)
    return partner.book(BookingRequest(REFERENCE, ORDER))


def test_a_token_answer_says_bearer_and_its_lifetime(
    sim: FarfillSimulator, http: httpx.Client
) -> None:
    answer = http.post("/oauth/token", data=CLIENT).json()

    assert answer["expires_in"] == 3600
    assert answer["token_type"] == "Bearer"


def test_a_new_order_is_pending_and_can_be_fetched_by_id(
    served: Served, sim: FarfillSimulator, http: httpx.Client
) -> None:
    booking = book(served)

    answer = http.get(
        f"/api/fulfilment/orders/{booking.reference}", headers=bearer(http)
    )

    assert answer.json()["order"]["state"] == "pending"
    assert answer.json()["order"]["partner_order_id"] == REFERENCE


def test_a_second_run_continues_the_same_world(
    served: Served, sim: FarfillSimulator
) -> None:
    booking = book(served)

    again = FarfillSimulator(data_dir=sim.data_dir, clock=sim.clock)
    token = again.dispatch(_token_request())[0].body["access_token"]
    found = again.dispatch(_lookup(REFERENCE, token))[0]

    assert [o["id"] for o in found.body["orders"]] == [booking.reference]


def test_an_expired_token_is_replaced_before_it_fails(
    served: Served, sim: FarfillSimulator
) -> None:
    partner = farfill_partner(served[1], sim.clock)
    partner.book(BookingRequest(REFERENCE, ORDER))

    sim.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    partner.find_booking(REFERENCE)

    assert calls(sim, "token") == 2


def test_a_revoked_token_is_renewed_once_on_401(
    served: Served, sim: FarfillSimulator
) -> None:
    partner = farfill_partner(served[1], sim.clock)
    partner.book(BookingRequest(REFERENCE, ORDER))

    sim.expire_tokens()
    found = partner.find_booking(REFERENCE)

    assert found is not None
    assert calls(sim, "token") == 2
    assert calls(sim, "list-orders") == 2


def test_a_connection_dropped_after_creating_is_settled_by_a_lookup(
    served: Served, sim: FarfillSimulator
) -> None:
    sim.faults.add("create-order", Fault(drop_after=True))

    booking = book(served)

    assert booking.reference == "FF00000001"
    assert calls(sim, "create-order") == 1
    assert len(sim.state["orders"]) == 1


def test_a_busy_farfill_is_retried_and_books_one_parcel(
    served: Served, sim: FarfillSimulator
) -> None:
    sim.faults.add("create-order", Fault(status=503, retry_after=0))

    book(served)

    assert calls(sim, "create-order") == 2
    assert len(sim.state["orders"]) == 1


def test_an_unknown_client_is_refused(served: Served, sim: FarfillSimulator) -> None:
    partner = farfill_partner(served[1], sim.clock, client_id="stranger")

    with pytest.raises(PermanentPartnerError) as refused:
        partner.book(BookingRequest(REFERENCE, ORDER))

    assert refused.value.status == 401


def test_calls_without_a_token_are_refused(
    sim: FarfillSimulator, http: httpx.Client
) -> None:
    answer = http.get("/api/fulfilment/orders", params={"partner_order_id": "x"})

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"


def test_a_taken_partner_order_id_is_a_conflict(
    served: Served, sim: FarfillSimulator, http: httpx.Client
) -> None:
    book(served)
    body = wire.order_body(REFERENCE, ORDER, sandbox_settings(served[1]))

    answer = http.post("/api/fulfilment/orders", json=body, headers=bearer(http))

    assert answer.status_code == 409
    assert answer.json() == {
        "errors": [{"field": "partner_order_id", "message": "has already been taken"}]
    }


def test_an_order_without_items_or_a_service_kind_is_refused(
    sim: FarfillSimulator, http: httpx.Client
) -> None:
    body = {"partner_order_id": "x-1", "payment_mode": "pre_paid", "currency": "AED"}

    answer = http.post("/api/fulfilment/orders", json=body, headers=bearer(http))

    fields = {error["field"] for error in answer.json()["errors"]}
    assert answer.status_code == 422
    assert {"service_kind", "payment_amount", "recipient", "items"} <= fields


def _token_request() -> SimRequest:
    form = "&".join(f"{k}={v}" for k, v in CLIENT.items())
    return SimRequest("POST", "/oauth/token", {}, {}, form.encode())


def _lookup(reference: str, token: str) -> SimRequest:
    return SimRequest(
        "GET",
        "/api/fulfilment/orders",
        {"partner_order_id": [reference]},
        {"authorization": f"Bearer {token}"},
        b"",
    )


# --- cancelling on the wire -----------------------------------------------------


def cancel(http: httpx.Client, order_id: str, body: Any = None) -> Any:
    return http.patch(
        f"/api/fulfilment/orders/{order_id}",
        json=body if body is not None else {"state": "cancelled"},
        headers=bearer(http),
    )


def test_a_pending_order_is_cancelled_and_a_repeat_changes_nothing(
    served: Served, sim: FarfillSimulator, http: httpx.Client
) -> None:
    order_id = book(served).reference

    first = cancel(http, order_id)
    sim.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    again = cancel(http, order_id)

    assert first.status_code == again.status_code == 200
    assert first.json()["order"]["state"] == "cancelled"
    assert again.json()["order"] == first.json()["order"]
    states = [e["state"] for e in again.json()["order"]["events"]]
    assert states == ["pending", "cancelled"]


def test_a_collected_order_is_not_cancelled_and_says_why(
    served: Served, sim: FarfillSimulator, http: httpx.Client
) -> None:
    order_id = book(served).reference
    sim.clock.advance(timedelta(hours=6))  # type: ignore[attr-defined]

    answer = cancel(http, order_id)

    assert answer.status_code == 422
    assert answer.json() == {
        "errors": [{"field": "state", "message": "cannot be cancelled once collected"}]
    }
    order = http.get(f"/api/fulfilment/orders/{order_id}", headers=bearer(http))
    assert order.json()["order"]["state"] == "collected"


def test_only_a_cancellation_can_be_patched_and_only_on_a_known_order(
    served: Served, sim: FarfillSimulator, http: httpx.Client
) -> None:
    order_id = book(served).reference

    other = cancel(http, order_id, {"state": "delivery_complete"})
    unknown = cancel(http, "FF99999999")

    assert other.status_code == 422
    assert other.json() == {
        "errors": [{"field": "state", "message": "only cancelled can be set"}]
    }
    assert unknown.status_code == 404
    assert unknown.json() == {"errors": [{"field": "id", "message": "not found"}]}


def test_a_cancel_whose_answer_was_dropped_is_asked_again_and_holds(
    served: Served, sim: FarfillSimulator
) -> None:
    partner = farfill_partner(served[1], sim.clock)
    order_id = book(served).reference
    sim.faults.add("update-order", Fault(drop_after=True))

    assert partner.cancel(order_id) is True
    assert calls(sim, "update-order") == 2
