"""Flextock tracking and cancelling over HTTP, routed by respx: order-status
in its batch form, one current-status event per order, and cancel-order's
answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.pl3.flextock import wire
from fulfilment.adapters.pl3.flextock.client import FlextockClient
from fulfilment.adapters.pl3.flextock.partner import FlextockDeliveryPartner
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import TrackingStatus
from fulfilment.core.errors import PartnerRejected, PermanentPartnerError
from fulfilment.testing.builders import T0

from .test_flextock_adapter import (
    AUTH,
    HOST,
    STATUS,
    TLS,
    partner_for,
    settings,
    tokens,
)

CANCEL = "/external-integration/cancel-order/"
CODE, OTHER, UNKNOWN = "shemsi-egypt-8001", "shemsi-egypt-8002", "shemsi-egypt-0"


def entry(
    code: str,
    status: str,
    sub: str | None = None,
    *,
    courier: str | None = None,
    updated_at: str | None = None,
    tracking_url: str | None = None,
) -> dict[str, Any]:
    """One order-status entry; ``updated_at`` only when given, as no public
    code shows Flextock sending one."""
    found = {
        "order_code": code,
        "order_status": status,
        "order_sub_status": sub,
        "courier_name": courier,
        "tracking_number": "SBX0000000001" if courier else None,
        "tracking_url": tracking_url,
    }
    return found | ({"updated_at": updated_at} if updated_at else {})


def partner_on(clock: ManualClock) -> FlextockDeliveryPartner:
    client = FlextockClient(httpx.Client(base_url=HOST, verify=TLS))
    return FlextockDeliveryPartner(settings(), client, RetryPolicy.for_tests(), clock)


def sent_body(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


def answer_for_codes(request: httpx.Request) -> httpx.Response:
    codes = json.loads(request.content)["order_code_array"]
    return httpx.Response(200, json=[entry(code, "pending") for code in codes])


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(
        base_url=HOST, assert_all_called=True, assert_all_mocked=True
    ) as mock:
        mock.post(AUTH).mock(side_effect=tokens("tok-1", "tok-2"))
        yield mock


# --- tracking -------------------------------------------------------------------


def test_asks_order_status_for_all_codes_at_once(router: respx.MockRouter) -> None:
    status = router.post(STATUS).respond(200, json=[entry(CODE, "in transit")])

    partner_for().track([CODE, OTHER, CODE])

    assert sent_body(status) == {"order_code_array": [CODE, OTHER]}


def test_each_order_gets_one_event_for_its_current_status_at_poll_time(
    router: respx.MockRouter,
) -> None:
    answer = [
        entry(CODE, "in transit", courier="Bosta"),
        entry(OTHER, "delivered"),
    ]
    router.post(STATUS).respond(200, json=answer)

    batch = partner_for().track([CODE, OTHER, UNKNOWN])

    [moving] = batch.events[CODE]
    assert moving.status is TrackingStatus.IN_TRANSIT
    assert moving.code == "in transit"
    assert moving.description == "in transit; courier Bosta"
    assert moving.occurred_at == T0
    assert batch.events[OTHER][0].status is TrackingStatus.DELIVERED
    assert batch.missing == frozenset({UNKNOWN})


def test_the_couriers_tracking_page_comes_with_the_status(
    router: respx.MockRouter,
) -> None:
    page = "https://track.sandbox-express.test/SBX0000000001"
    router.post(STATUS).respond(
        200,
        json=[
            entry(CODE, "in transit", courier="Bosta", tracking_url=page),
            entry(OTHER, "pending"),
        ],
    )

    batch = partner_for().track([CODE, OTHER])

    assert batch.links == {CODE: page}


def test_reads_an_answer_given_as_one_object(router: respx.MockRouter) -> None:
    router.post(STATUS).respond(200, json=entry(CODE, "returning"))

    batch = partner_for().track([CODE])

    assert batch.events[CODE][0].status is TrackingStatus.RETURN_TO_SENDER


@pytest.mark.parametrize(
    ("status", "sub", "expected"),
    [
        ("in transit", "failed attempt", TrackingStatus.DELIVERY_FAILED),
        ("In Transit", "Rescheduled", TrackingStatus.IN_TRANSIT),
        ("returning", "damaged", TrackingStatus.RETURN_TO_SENDER),
        ("returned to origin", None, TrackingStatus.RETURNED),
        ("in transit", "lost", TrackingStatus.UNKNOWN),
        ("lost", None, TrackingStatus.UNKNOWN),
        ("canceled", None, TrackingStatus.CANCELLED),
        ("in transit", "a remark nobody listed", TrackingStatus.IN_TRANSIT),
    ],
)
def test_status_and_sub_status_map_through_the_table(
    status: str, sub: str | None, expected: TrackingStatus
) -> None:
    batch = wire.tracking_batch([entry(CODE, status, sub)], [CODE], T0)

    [event] = batch.events[CODE]
    assert event.status is expected
    assert event.code == (f"{status} / {sub}" if sub else status)


def test_an_unknown_status_keeps_its_raw_words() -> None:
    answer = [entry(CODE, "address verification")]

    [event] = wire.tracking_batch(answer, [CODE], T0).events[CODE]

    assert event.status is TrackingStatus.UNKNOWN
    assert (event.code, event.description) == ("address verification",) * 2


def test_a_time_flextock_gives_is_used_instead_of_the_poll_time() -> None:
    given = "2026-11-01T15:30:00+02:00"
    answer = [entry(CODE, "delivered", updated_at=given)]

    [event] = wire.tracking_batch(answer, [CODE], T0).events[CODE]

    assert event.occurred_at == datetime(2026, 11, 1, 13, 30, tzinfo=UTC)


@pytest.mark.parametrize("given", ["yesterday", "2026-11-01T15:30:00"])
def test_an_unreadable_or_zoneless_time_falls_back_to_the_poll_time(
    given: str,
) -> None:
    answer = [entry(CODE, "delivered", updated_at=given)]

    [event] = wire.tracking_batch(answer, [CODE], T0).events[CODE]

    assert event.occurred_at == T0


def test_the_poll_time_comes_from_the_injected_clock(
    router: respx.MockRouter,
) -> None:
    router.post(STATUS).respond(200, json=[entry(CODE, "pending")])
    clock = ManualClock(T0 + timedelta(days=3))

    [event] = partner_on(clock).track([CODE]).events[CODE]

    assert event.occurred_at == clock.now()


def test_codes_flextock_answers_404_for_are_all_missing(
    router: respx.MockRouter,
) -> None:
    router.post(STATUS).respond(404, json={"message": "Order not found."})

    batch = partner_for().track([CODE, OTHER])

    assert batch.missing == frozenset({CODE, OTHER})
    assert batch.events == {}


def test_an_answer_outside_the_contract_is_a_permanent_error(
    router: respx.MockRouter,
) -> None:
    router.post(STATUS).respond(400, json={"order_code_array": ["Not a list."]})

    with pytest.raises(PermanentPartnerError):
        partner_for().track([CODE])


def test_codes_are_asked_in_batches_of_the_configured_size(
    router: respx.MockRouter,
) -> None:
    status = router.post(STATUS).mock(side_effect=answer_for_codes)
    codes = [f"shemsi-egypt-90{n}" for n in range(5)]
    partner = partner_for(settings(max_tracking_batch=2))

    batch = partner.track(codes)

    sizes = [len(sent_body(status, i)["order_code_array"]) for i in range(3)]
    assert sizes == [2, 2, 1]
    assert sorted(batch.events) == codes


def test_a_busy_flextock_is_retried_while_tracking(router: respx.MockRouter) -> None:
    status = router.post(STATUS)
    status.side_effect = [
        httpx.Response(503, headers={"Retry-After": "0"}),
        httpx.Response(200, json=[entry(CODE, "pending")]),
    ]

    batch = partner_for().track([CODE])

    assert batch.events[CODE]
    assert status.call_count == 2


def test_declares_batch_tracking_and_cancellation() -> None:
    capabilities = partner_for().capabilities

    assert capabilities.batch_tracking
    assert capabilities.max_tracking_batch == 50
    assert capabilities.cancel


# --- cancelling -----------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    ["Order cancelled successfully.", "Order cancellation is in progress"],
)
def test_a_cancel_flextock_accepts_is_true(
    router: respx.MockRouter, message: str
) -> None:
    cancel = router.post(CANCEL).respond(200, json={"message": message})

    cancelled = partner_for().cancel(CODE)

    assert cancelled is True
    assert sent_body(cancel) == {"order_code": CODE, "order_type": "outbound"}
    assert cancel.calls.last.request.headers["Authorization"] == "Bearer tok-1"


def test_a_refused_cancel_is_rejected_in_flextocks_words(
    router: respx.MockRouter,
) -> None:
    refusal = {"message": "Order cannot be canceled: a driver has it."}
    router.post(CANCEL).respond(400, json=refusal)

    with pytest.raises(PartnerRejected, match="a driver has it") as rejected:
        partner_for().cancel(CODE)

    assert rejected.value.status == 400


def test_an_order_already_cancelled_counts_as_cancelled(
    router: respx.MockRouter,
) -> None:
    router.post(CANCEL).respond(400, json={"message": "Order is already canceled."})

    assert partner_for().cancel(CODE) is True


def test_cancelling_a_code_flextock_does_not_know_is_rejected(
    router: respx.MockRouter,
) -> None:
    router.post(CANCEL).respond(404, json={"message": "Order not found."})

    with pytest.raises(PartnerRejected, match="not found"):
        partner_for().cancel(UNKNOWN)


def test_a_success_answer_that_says_nothing_of_cancelling_is_false(
    router: respx.MockRouter,
) -> None:
    router.post(CANCEL).respond(200, json={"message": "OK"})

    assert partner_for().cancel(CODE) is False


def test_a_cancel_whose_answer_was_lost_is_asked_again(
    router: respx.MockRouter,
) -> None:
    cancel = router.post(CANCEL)
    cancel.side_effect = [
        httpx.ReadTimeout("slow"),
        httpx.Response(400, json={"message": "Order is already canceled."}),
    ]

    assert partner_for().cancel(CODE) is True
    assert cancel.call_count == 2
