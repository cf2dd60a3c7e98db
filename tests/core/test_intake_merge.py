"""Folding a fetched source version into the stored order."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from fulfilment.core.domain import OrderState, Problem, Shipment
from fulfilment.core.intake import MergeOutcome, merge
from fulfilment.testing.builders import T0, make_order

S = OrderState
NOW = T0 + timedelta(days=1)


def newer(order, minutes=5, **changes):  # type: ignore[no-untyped-def]
    return attrs.evolve(
        order,
        source_updated_at=order.source_updated_at + timedelta(minutes=minutes),
        **changes,
    )


def test_a_new_order_starts_new() -> None:
    result = merge(None, make_order("1"), NOW)

    assert result.outcome is MergeOutcome.INSERTED
    assert result.order is not None
    assert result.order.state is S.NEW
    assert result.attention is None


def test_a_malformed_order_is_kept_with_its_problems_and_raised() -> None:
    broken = attrs.evolve(
        make_order("2"),
        source_problems=(Problem("missing_city", "no city", "shippingAddress.city"),),
    )

    result = merge(None, broken, NOW)

    assert result.order is not None
    assert result.order.state is S.NEEDS_ATTENTION
    assert result.order.source_problems == broken.source_problems
    assert result.attention is not None
    assert result.attention[0] == "malformed_order"
    assert "shippingAddress.city: no city" in result.attention[1]


def test_source_warnings_follow_the_newest_version_and_hold_nothing_up() -> None:
    warning = Problem("unusable_email", "not one address", "customer.email")
    warned = attrs.evolve(make_order("2w"), source_warnings=(warning,))
    stored = merge(None, warned, NOW)
    assert stored.order is not None

    fixed = merge(stored.order, newer(stored.order, source_warnings=()), NOW)

    assert (stored.order.state, stored.attention) == (S.NEW, None)
    assert stored.order.source_warnings == (warning,)
    assert fixed.order is not None
    assert fixed.order.source_warnings == ()


def test_an_older_version_never_replaces_a_newer_one() -> None:
    stored = make_order("3", name="#new")
    older = attrs.evolve(
        stored, name="#old", source_updated_at=stored.source_updated_at - timedelta(1)
    )

    result = merge(stored, older, NOW)

    assert result.outcome is MergeOutcome.STALE
    assert result.order is None


def test_the_same_version_twice_changes_nothing() -> None:
    stored = make_order("4")

    assert merge(stored, stored, NOW).outcome is MergeOutcome.UNCHANGED


def test_a_cancellation_before_booking_cancels() -> None:
    stored = make_order("5")

    result = merge(stored, newer(stored, cancelled_at=T0 + timedelta(hours=2)), NOW)

    assert result.order is not None
    assert result.order.state is S.CANCELLED


def test_a_cancellation_after_booking_is_recorded_for_the_cancel_step() -> None:
    booked = attrs.evolve(
        make_order("6"),
        state=S.BOOKED,
        partner="aramex",
        shipment=Shipment("aramex", "50300000001", "shemsiworld-6"),
    )

    result = merge(booked, newer(booked, cancelled_at=T0 + timedelta(hours=2)), NOW)

    assert result.order is not None
    assert result.order.state is S.BOOKED
    assert result.order.is_cancelled
    [problem] = result.order.problems
    assert problem.code == "cancelled_after_booking"
    assert "50300000001" in problem.message
    # The cancel step decides between the partner and a person.
    assert result.attention is None


@pytest.mark.parametrize(
    ("state", "reason", "advice"),
    [
        (S.DELIVERED, "cancelled_after_delivery", "arrange a return"),
        (S.RETURNED, "cancelled_after_return", "back in stock"),
    ],
)
def test_a_cancellation_after_the_journey_ended_goes_to_a_person(
    state: OrderState, reason: str, advice: str
) -> None:
    ended = attrs.evolve(
        make_order("13"),
        state=state,
        partner="flextock",
        shipment=Shipment("flextock", "shemsiworld-13", "shemsiworld-13"),
    )

    result = merge(ended, newer(ended, cancelled_at=T0 + timedelta(days=4)), NOW)

    assert result.order is not None
    assert result.order.state is state
    assert result.attention is not None
    assert result.attention[0] == reason
    assert "shemsiworld-13" in result.attention[1]
    assert advice in result.attention[1]
    assert [p.code for p in result.order.problems] == [reason]


def test_an_edit_after_booking_is_flagged() -> None:
    booked = attrs.evolve(make_order("7", quantity=2), state=S.BOOKED, partner="aramex")
    line = attrs.evolve(booked.lines[0], quantity=1)

    result = merge(booked, newer(booked, lines=(line,)), NOW)

    assert result.attention is not None
    assert result.attention[0] == "edited_after_booking"


def test_keeps_the_connectors_own_fields_on_refresh() -> None:
    stored = attrs.evolve(
        make_order("8"), state=S.ON_HOLD, hold_reason="no_partner_for_store"
    )

    result = merge(stored, newer(stored, note="call first"), NOW)

    assert result.order is not None
    assert result.order.note == "call first"
    assert result.order.state is S.ON_HOLD
    assert result.order.next_attempt_at is None


def test_a_fix_at_the_source_gives_a_rejected_order_a_fresh_start() -> None:
    rejected = attrs.evolve(
        make_order("9"),
        state=S.NEEDS_ATTENTION,
        problems=(Problem("aramex_err52", "City name is invalid"),),
        attempts=2,
    )

    result = merge(rejected, newer(rejected), NOW)

    assert result.order is not None
    assert result.order.state is S.NEW
    assert result.order.problems == ()
    assert result.order.attempts == 0


def test_a_new_address_after_booking_is_flagged() -> None:
    booked = attrs.evolve(make_order("10"), state=S.BOOKED, partner="aramex")
    moved = attrs.evolve(booked.shipping_address, line1="New street 99")

    result = merge(booked, newer(booked, shipping_address=moved), NOW)

    assert result.attention is not None
    assert result.attention[0] == "edited_after_booking"
    assert "shipping address" in result.attention[1]


def test_a_note_changed_after_booking_is_not_a_delivery_change() -> None:
    booked = attrs.evolve(make_order("11"), state=S.BOOKED, partner="aramex")

    result = merge(booked, newer(booked, note="gift wrap"), NOW)

    assert result.attention is None
    assert result.order is not None
    assert result.order.note == "gift wrap"


def test_a_cancellation_while_a_booking_is_unsettled_keeps_it_with_a_person() -> None:
    waiting = attrs.evolve(
        make_order("12"),
        state=S.NEEDS_ATTENTION,
        problems=(Problem("booking_outcome_unknown", "no answer from aramex"),),
    )

    result = merge(waiting, newer(waiting, cancelled_at=T0 + timedelta(hours=3)), NOW)

    assert result.order is not None
    assert result.order.state is S.NEEDS_ATTENTION
    assert result.attention is not None
    assert result.attention[0] == "cancelled_after_booking"


def test_an_order_shipped_elsewhere_is_not_handed_to_us_by_a_later_version() -> None:
    # Amazon ships its own (AFN) orders and never hands one over; a later
    # version that names no fulfiller (a partial payload, a channel that
    # reads differently) must not make the order ours to book.
    held = attrs.evolve(make_order("11"), state=S.ON_HOLD, fulfilled_by="amazon")

    result = merge(held, newer(held, fulfilled_by=None), NOW)

    assert result.order is not None
    assert result.order.fulfilled_by == "amazon"
    assert result.order.state is S.ON_HOLD
    assert result.attention is not None
    assert result.attention[0] == "fulfiller_changed"
    assert "amazon" in result.attention[1]


def test_a_cancelled_order_shipped_elsewhere_is_simply_cancelled() -> None:
    held = attrs.evolve(make_order("12"), state=S.ON_HOLD, fulfilled_by="amazon")

    result = merge(held, newer(held, fulfilled_by=None, cancelled_at=NOW), NOW)

    assert result.order is not None
    assert result.order.state is S.CANCELLED
    assert result.attention is None
