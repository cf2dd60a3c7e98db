"""Farfill tracking and cancelling over HTTP, routed by respx: an order's
history read per Farfill id, and the cancel modelled as a state change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.pl3.farfill import wire
from fulfilment.core.domain import TrackingStatus
from fulfilment.core.errors import PartnerRejected, PermanentPartnerError
from fulfilment.testing.builders import T0

from .test_farfill_adapter import OAUTH, ORDERS, farfill_order, partner_for, tokens

ORDER_ID, OTHER_ID, UNKNOWN_ID = "FF00000001", "FF00000002", "FF99999999"


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


HISTORY = [
    {"state": "pending", "occurred_at": at(0), "note": "Order received"},
    {"state": "collected", "occurred_at": at(5), "note": "Collected by courier"},
    {"state": "out_for_delivery", "occurred_at": at(44), "note": None},
    {"state": "delivery_failed", "occurred_at": at(48), "note": "Not reachable"},
]


def order_answer(
    order_id: str = ORDER_ID, events: list[dict[str, Any]] | None = None, **more: Any
) -> dict[str, Any]:
    history = HISTORY if events is None else events
    current = history[-1] if history else {"state": "pending", "occurred_at": at(0)}
    order = farfill_order(order_id=order_id) | {
        "state": current["state"],
        "state_updated_at": current["occurred_at"],
        "events": history,
    }
    return {"order": order | more}


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(
        base_url="https://farfill.test", assert_all_called=True, assert_all_mocked=True
    ) as mock:
        mock.post(OAUTH).mock(side_effect=tokens("tok-1", "tok-2"))
        yield mock


# --- tracking -------------------------------------------------------------------


def test_reads_each_orders_history_oldest_first(router: respx.MockRouter) -> None:
    shuffled = [HISTORY[2], HISTORY[0], HISTORY[3], HISTORY[1]]
    get = router.get(f"{ORDERS}/{ORDER_ID}").respond(
        200, json=order_answer(events=shuffled)
    )

    batch = partner_for().track([ORDER_ID])

    events = batch.events[ORDER_ID]
    assert [e.status for e in events] == [
        TrackingStatus.CREATED,
        TrackingStatus.PICKED_UP,
        TrackingStatus.OUT_FOR_DELIVERY,
        TrackingStatus.DELIVERY_FAILED,
    ]
    assert [e.code for e in events][-1] == "delivery_failed"
    assert events[1].description == "Collected by courier"
    assert events[2].description == "out for delivery"
    assert events[0].occurred_at == T0
    assert get.calls.last.request.headers["Authorization"] == "Bearer tok-1"


def test_tracks_several_orders_one_call_each_and_misses_unknown_ones(
    router: respx.MockRouter,
) -> None:
    router.get(f"{ORDERS}/{ORDER_ID}").respond(200, json=order_answer())
    router.get(f"{ORDERS}/{OTHER_ID}").respond(200, json=order_answer(OTHER_ID))
    router.get(f"{ORDERS}/{UNKNOWN_ID}").respond(
        404, json={"errors": [{"field": "id", "message": "not found"}]}
    )

    batch = partner_for().track([ORDER_ID, OTHER_ID, UNKNOWN_ID, ORDER_ID])

    assert set(batch.events) == {ORDER_ID, OTHER_ID}
    assert batch.missing == frozenset({UNKNOWN_ID})
    assert router.calls.call_count == 4  # one token, three orders


def test_an_order_without_a_history_is_one_event_for_its_state() -> None:
    body = order_answer(events=[], state="collected", state_updated_at=at(5))

    [event] = wire.tracking_events(body, T0 + timedelta(days=1))

    assert event.status is TrackingStatus.PICKED_UP
    assert event.occurred_at == T0 + timedelta(hours=5)


def test_without_a_state_time_the_poll_time_stands_in() -> None:
    body = {"order": {"id": ORDER_ID, "state": "at_depot"}}

    [event] = wire.tracking_events(body, T0)

    assert (event.status, event.occurred_at) == (TrackingStatus.IN_TRANSIT, T0)


def test_a_state_nobody_modelled_is_unknown_with_its_raw_words() -> None:
    events = [{"state": "address_verification", "occurred_at": at(30), "note": "Held"}]

    [event] = wire.tracking_events(order_answer(events=events), T0)

    assert event.status is TrackingStatus.UNKNOWN
    assert (event.code, event.description) == ("address_verification", "Held")


@pytest.mark.parametrize("when", ["2026-11-02T09:00:00", "soon", None])
def test_a_history_time_without_a_zone_is_a_contract_error(
    router: respx.MockRouter, when: str | None
) -> None:
    events = [{"state": "pending", "occurred_at": when}]
    router.get(f"{ORDERS}/{ORDER_ID}").respond(200, json=order_answer(events=events))

    with pytest.raises(PermanentPartnerError, match=r"events\[0\]\.occurred_at"):
        partner_for().track([ORDER_ID])


def test_times_with_an_offset_are_read_as_utc() -> None:
    events = [{"state": "pending", "occurred_at": "2026-11-02T13:00:00+04:00"}]

    [event] = wire.tracking_events(order_answer(events=events), T0)

    assert event.occurred_at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_declares_tracking_one_order_a_call_and_cancellation() -> None:
    capabilities = partner_for().capabilities

    assert not capabilities.batch_tracking
    assert capabilities.max_tracking_batch == 1
    assert capabilities.cancel


# --- cancelling -----------------------------------------------------------------


def test_cancels_by_setting_the_state_to_cancelled(router: respx.MockRouter) -> None:
    cancelled = [{"state": "cancelled", "occurred_at": at(1), "note": None}]
    patch = router.patch(f"{ORDERS}/{ORDER_ID}").respond(
        200, json=order_answer(events=cancelled)
    )

    result = partner_for().cancel(ORDER_ID)

    assert result is True
    assert json.loads(patch.calls.last.request.content) == {"state": "cancelled"}


def test_a_collected_order_is_not_cancelled_in_farfills_words(
    router: respx.MockRouter,
) -> None:
    refusal = {
        "errors": [{"field": "state", "message": "cannot be cancelled once collected"}]
    }
    router.patch(f"{ORDERS}/{ORDER_ID}").respond(422, json=refusal)

    with pytest.raises(PartnerRejected, match="once collected") as rejected:
        partner_for().cancel(ORDER_ID)

    assert rejected.value.problems == (("state", "cannot be cancelled once collected"),)


def test_cancelling_an_unknown_order_is_rejected(router: respx.MockRouter) -> None:
    router.patch(f"{ORDERS}/{UNKNOWN_ID}").respond(
        404, json={"errors": [{"field": "id", "message": "not found"}]}
    )

    with pytest.raises(PartnerRejected, match="not found"):
        partner_for().cancel(UNKNOWN_ID)


def test_a_success_answer_showing_another_state_is_false(
    router: respx.MockRouter,
) -> None:
    router.patch(f"{ORDERS}/{ORDER_ID}").respond(200, json=order_answer())

    assert partner_for().cancel(ORDER_ID) is False


def test_a_cancel_whose_answer_was_lost_is_sent_again(
    router: respx.MockRouter,
) -> None:
    cancelled = [{"state": "cancelled", "occurred_at": at(1), "note": None}]
    patch = router.patch(f"{ORDERS}/{ORDER_ID}")
    patch.side_effect = [
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json=order_answer(events=cancelled)),
    ]

    assert partner_for().cancel(ORDER_ID) is True
    assert patch.call_count == 2
