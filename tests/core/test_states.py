"""The state machine moves a booked order forward only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.core.domain import OrderKey, OrderState, TrackingStatus
from fulfilment.core.states import ACTIVE_DELIVERY, TERMINAL, advance, can_move

S = OrderState
T = TrackingStatus
RANK = {
    S.BOOKED: 0,
    S.IN_TRANSIT: 1,
    S.OUT_FOR_DELIVERY: 2,
    S.DELIVERY_FAILED: 2,
    S.DELIVERED: 3,
    S.RETURNED: 4,
}


@given(st.lists(st.sampled_from(list(TrackingStatus))), st.booleans())
def test_tracking_never_moves_an_order_backwards(
    statuses: list[TrackingStatus], return_started: bool
) -> None:
    state = S.BOOKED
    for status in statuses:
        after = advance(state, status, return_started=return_started)

        assert RANK[after] >= RANK[state]
        assert can_move(state, after)
        state = after


@given(st.lists(st.sampled_from(list(TrackingStatus))))
def test_delivered_gives_way_only_to_a_started_return(
    statuses: list[TrackingStatus],
) -> None:
    state = S.DELIVERED
    for status in statuses:
        state = advance(state, status, return_started=False)

    assert state is S.DELIVERED


def test_a_failed_attempt_then_a_new_round_goes_out_again() -> None:
    state = advance(S.IN_TRANSIT, T.DELIVERY_FAILED)

    assert state is S.DELIVERY_FAILED
    assert advance(state, T.OUT_FOR_DELIVERY) is S.OUT_FOR_DELIVERY


def test_a_late_older_event_does_not_rewind() -> None:
    assert advance(S.OUT_FOR_DELIVERY, T.PICKED_UP) is S.OUT_FOR_DELIVERY


def test_terminal_states_go_nowhere_but_a_return() -> None:
    for state in TERMINAL - {S.DELIVERED}:
        assert all(not can_move(state, t) for t in S if t is not state)
    assert [t for t in S if t is not S.DELIVERED and can_move(S.DELIVERED, t)] == [
        S.RETURNED
    ]


def test_a_cancellation_the_partner_accepted_ends_any_delivery() -> None:
    assert all(can_move(state, S.CANCELLED) for state in ACTIVE_DELIVERY)


def test_tracking_alone_never_cancels_an_order() -> None:
    assert all(advance(state, T.CANCELLED) is state for state in ACTIVE_DELIVERY)


@pytest.mark.parametrize("external_id", ["", "62\x0000", "62\n00", "\x7f"])
def test_an_order_key_refuses_an_empty_id_or_control_characters(
    external_id: str,
) -> None:
    with pytest.raises(ValueError, match="without control characters"):
        OrderKey("shopify", "shemsiworld", external_id)
