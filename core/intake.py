"""Folding a newly fetched source version of an order into the stored one.

Pure functions.  The source owns the fields it sent (customer, address,
lines, payment, cancellation, raw payload); the connector owns state,
problems, shipment and booking attempts.  A stored version is only replaced
by a strictly newer source version, so a duplicate delivery or an old page
read again after an overlap changes nothing.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from datetime import datetime

import attrs

from .domain import Order, OrderState, Problem
from .states import ACTIVE_DELIVERY, PRE_BOOKING

__all__ = [
    "AFTER_BOOKING_PROBLEMS",
    "CANCELLED_AFTER_BOOKING",
    "CANCELLED_AFTER_DELIVERY",
    "CANCELLED_AFTER_RETURN",
    "SOURCE_FIELDS",
    "Merge",
    "MergeOutcome",
    "merge",
]

S = OrderState

SOURCE_FIELDS = (
    "name",
    "placed_at",
    "source_updated_at",
    "customer",
    "shipping_address",
    "lines",
    "total",
    "payment",
    "financial_status",
    "cancelled_at",
    "cancel_reason",
    "tags",
    "note",
    "source_problems",
    "source_warnings",
    "fulfilled_by",
    "raw",
)

CANCELLED_AFTER_BOOKING = "cancelled_after_booking"
CANCELLED_AFTER_DELIVERY = "cancelled_after_delivery"
CANCELLED_AFTER_RETURN = "cancelled_after_return"
EDITED_AFTER_BOOKING = "edited_after_booking"
FULFILLER_CHANGED = "fulfiller_changed"
MALFORMED_ORDER = "malformed_order"
# Problems that mean a parcel may exist at the partner.
UNSETTLED_BOOKING = frozenset({"booking_outcome_unknown", "booking_crashed"})
AFTER_BOOKING_PROBLEMS = frozenset({CANCELLED_AFTER_BOOKING, EDITED_AFTER_BOOKING})
# States in which the parcel's journey is over: nothing is left to cancel.
_JOURNEY_OVER = frozenset({S.DELIVERED, S.RETURNED})


class MergeOutcome(enum.StrEnum):
    INSERTED = "inserted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STALE = "stale"


@attrs.frozen
class Merge:
    """What intake decided for one fetched order.  ``order`` is what to
    store (None when nothing changes); ``attention`` names a reason a
    person must look at it, with the text to show."""

    key: str
    outcome: MergeOutcome
    order: Order | None
    attention: tuple[str, str] | None = None


def merge(stored: Order | None, fetched: Order, now: datetime) -> Merge:
    key = str(fetched.key)
    if stored is None:
        first = _first_state(fetched)
        return Merge(key, MergeOutcome.INSERTED, first, _malformed(first))
    if fetched.source_updated_at < stored.source_updated_at:
        return Merge(key, MergeOutcome.STALE, None)
    if fetched.source_updated_at == stored.source_updated_at:
        return Merge(key, MergeOutcome.UNCHANGED, None)

    refreshed = attrs.evolve(
        stored, **{name: getattr(fetched, name) for name in SOURCE_FIELDS}
    )
    return _apply_change(stored, refreshed, now)


def _fulfiller_changed(stored: Order, refreshed: Order) -> Merge:
    """A version that no longer names who ships an order someone else was
    shipping.  Who fulfils an order does not change hands at the source, so
    this is read as a doubt, not as a handover: the order stays theirs (it
    is never booked, which would send the goods twice) and a person checks
    it at the source."""
    problem = Problem(
        FULFILLER_CHANGED,
        f"first seen as shipped by {stored.fulfilled_by}, a newer version names "
        "no one else to ship it; it is kept as theirs and not booked: check it "
        "at the source and ship it by hand if it really is ours",
        "fulfilled_by",
    )
    order = attrs.evolve(
        refreshed,
        state=stored.state,
        fulfilled_by=stored.fulfilled_by,
        problems=_with(stored.problems, problem),
    )
    return Merge(
        str(refreshed.key), MergeOutcome.UPDATED, order, (problem.code, problem.message)
    )


def _malformed(order: Order) -> tuple[str, str] | None:
    if order.state is not S.NEEDS_ATTENTION:
        return None
    problems = "; ".join(
        f"{p.field}: {p.message}" if p.field else p.message
        for p in order.source_problems
    )
    return (MALFORMED_ORDER, f"the order could not be read in full: {problems}")


def _first_state(order: Order) -> Order:
    if order.is_cancelled:
        state = S.CANCELLED
    elif order.source_problems:
        state = S.NEEDS_ATTENTION
    else:
        state = S.NEW
    # Sources hand over orders in the default state, new: most arrive
    # already as they are to be kept, and building a second, equal Order
    # for each is a large share of a backfill's time.
    return order if order.state is state else attrs.evolve(order, state=state)


def _apply_change(stored: Order, refreshed: Order, now: datetime) -> Merge:
    key = str(refreshed.key)
    updated = MergeOutcome.UPDATED
    newly_cancelled = refreshed.is_cancelled and not stored.is_cancelled

    if stored.state in PRE_BOOKING:
        unsettled = {p.code for p in stored.problems} & UNSETTLED_BOOKING
        if refreshed.is_cancelled and unsettled:
            problem = Problem(
                CANCELLED_AFTER_BOOKING,
                "cancelled in the store while a booking of it was unsettled; "
                "check the partner and cancel the parcel there if it exists",
            )
            order = attrs.evolve(refreshed, problems=_with(stored.problems, problem))
            return Merge(key, updated, order, (problem.code, problem.message))
        if refreshed.is_cancelled:
            return Merge(key, updated, attrs.evolve(refreshed, state=S.CANCELLED))
        if stored.fulfilled_by is not None and refreshed.fulfilled_by is None:
            return _fulfiller_changed(stored, refreshed)
        if refreshed.source_problems:
            broken = attrs.evolve(refreshed, state=S.NEEDS_ATTENTION)
            return Merge(key, updated, broken, _malformed(broken))
        # A change at the source is how people fix an order (a corrected
        # address, a payment that arrived), so it earns a fresh attempt: an
        # order waiting for attention starts over, a held one is re-checked.
        state = S.NEW if stored.state is S.NEEDS_ATTENTION else stored.state
        return Merge(
            key,
            updated,
            attrs.evolve(
                refreshed, state=state, problems=(), next_attempt_at=None, attempts=0
            ),
        )

    if newly_cancelled and (
        stored.state in ACTIVE_DELIVERY or stored.state is S.BOOKING
    ):
        # Only recorded: the cancel-bookings step asks the partner to cancel
        # the parcel, and asks a person only where the partner cannot.
        problem = Problem(
            CANCELLED_AFTER_BOOKING,
            f"cancelled in the store at {_when(refreshed)} after it was booked "
            f"with {stored.partner}; shipment {_shipment_ref(stored)} is to be "
            "cancelled there",
        )
        order = attrs.evolve(refreshed, problems=_with(stored.problems, problem))
        return Merge(key, updated, order)

    if newly_cancelled and stored.state in _JOURNEY_OVER:
        problem = _cancelled_too_late(stored, refreshed)
        order = attrs.evolve(refreshed, problems=_with(stored.problems, problem))
        return Merge(key, updated, order, (problem.code, problem.message))

    changed = _delivery_changes(stored, refreshed)
    if stored.state in ACTIVE_DELIVERY and changed:
        problem = Problem(
            EDITED_AFTER_BOOKING,
            f"{', '.join(changed)} changed in the store after booking with "
            f"{stored.partner}; the parcel may not match the order",
        )
        order = attrs.evolve(refreshed, problems=_with(stored.problems, problem))
        return Merge(key, updated, order, (problem.code, problem.message))

    return Merge(key, updated, refreshed)


def delivery_fingerprint(order: Order) -> str:
    """A short digest of what a partner is told about an order (items,
    address, phone, cash to collect), to notice later edits."""
    views = [view(order) for view in _DELIVERY_VIEWS.values()]
    return "fp:" + hashlib.sha256(repr(views).encode()).hexdigest()[:16]


def _delivery_changes(stored: Order, refreshed: Order) -> list[str]:
    """What a partner was told that no longer holds: items, where to go,
    whom to call, how much cash to collect."""
    return [
        name
        for name, view in _DELIVERY_VIEWS.items()
        if view(stored) != view(refreshed)
    ]


def _lines(order: Order) -> object:
    return sorted((line.external_id, line.quantity) for line in order.lines)


def _address(order: Order) -> object:
    found = order.shipping_address
    return attrs.evolve(found, phone=None) if found else None


def _phone(order: Order) -> object:
    return order.phone.e164 if order.phone else None


def _cash(order: Order) -> object:
    return order.payment.collect


_DELIVERY_VIEWS: dict[str, Callable[[Order], object]] = {
    "items": _lines,
    "shipping address": _address,
    "phone": _phone,
    "amount to collect": _cash,
}


def _with(problems: tuple[Problem, ...], problem: Problem) -> tuple[Problem, ...]:
    return (*(p for p in problems if p.code != problem.code), problem)


def _cancelled_too_late(stored: Order, refreshed: Order) -> Problem:
    """A cancellation that arrives after the parcel was delivered or came
    back: no partner call can help, a person settles it with the customer
    (a return, a refund) or with the stock."""
    shipment = _shipment_ref(stored)
    if stored.state is S.DELIVERED:
        return Problem(
            CANCELLED_AFTER_DELIVERY,
            f"cancelled in the store at {_when(refreshed)} after shipment "
            f"{shipment} was delivered by {stored.partner}; nothing is left to "
            "cancel with the partner: arrange a return with the customer if the "
            "goods should come back",
        )
    return Problem(
        CANCELLED_AFTER_RETURN,
        f"cancelled in the store at {_when(refreshed)} after shipment {shipment} "
        f"came back from {stored.partner}; nothing is left to cancel with the "
        "partner: check that the goods are back in stock",
    )


def _when(order: Order) -> str:
    return f"{order.cancelled_at:%Y-%m-%d %H:%M} UTC"


def _shipment_ref(order: Order) -> str:
    return order.shipment.reference if order.shipment else "(unknown reference)"
