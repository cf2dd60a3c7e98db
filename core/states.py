"""The order state machine.

Intake and booking move an order between the pre-shipping states; tracking
only ever moves a booked order forward along the delivery path::

    new ──► booking ──► booked ──► in_transit ──► out_for_delivery ──► delivered
     │  ▲      │                        ▲   │           │   ▲              │
     │  │      ▼                        │   ▼           ▼   │              ▼
     │  └── (retry)                     │  delivery_failed ─┘        returned
     ▼                                  └── (re-attempt)    (only once a return starts)
    on_hold / needs_attention / cancelled

A late tracking event that is older than what we know never rewinds the
state: :func:`advance` compares ranks, and the only way back from
``delivered`` is a return.  Tracking never cancels an order; a cancellation
the partner accepted does, from any delivery state before the end (some
partners can still stop a parcel the courier has).
"""

from __future__ import annotations

from .domain import OrderState, TrackingStatus

__all__ = [
    "ACTIVE_DELIVERY",
    "PRE_BOOKING",
    "TERMINAL",
    "InvalidTransition",
    "advance",
    "can_move",
    "check_move",
]

S = OrderState

PRE_BOOKING = frozenset({S.NEW, S.ON_HOLD, S.NEEDS_ATTENTION})
ACTIVE_DELIVERY = frozenset(
    {S.BOOKED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERY_FAILED}
)
TERMINAL = frozenset({S.DELIVERED, S.RETURNED, S.CANCELLED})

_MOVES: dict[OrderState, frozenset[OrderState]] = {
    S.NEW: frozenset({S.ON_HOLD, S.NEEDS_ATTENTION, S.BOOKING, S.CANCELLED}),
    S.ON_HOLD: frozenset({S.NEW, S.NEEDS_ATTENTION, S.BOOKING, S.CANCELLED}),
    S.NEEDS_ATTENTION: frozenset({S.NEW, S.ON_HOLD, S.CANCELLED, S.BOOKING}),
    S.BOOKING: frozenset({S.BOOKED, S.NEW, S.ON_HOLD, S.NEEDS_ATTENTION}),
    S.BOOKED: frozenset(ACTIVE_DELIVERY | TERMINAL) - {S.BOOKED},
    S.IN_TRANSIT: frozenset(
        {S.OUT_FOR_DELIVERY, S.DELIVERY_FAILED, S.DELIVERED, S.RETURNED, S.CANCELLED}
    ),
    S.OUT_FOR_DELIVERY: frozenset(
        {S.DELIVERY_FAILED, S.DELIVERED, S.RETURNED, S.IN_TRANSIT, S.CANCELLED}
    ),
    S.DELIVERY_FAILED: frozenset(
        {S.OUT_FOR_DELIVERY, S.DELIVERED, S.RETURNED, S.IN_TRANSIT, S.CANCELLED}
    ),
    S.DELIVERED: frozenset({S.RETURNED}),
    S.RETURNED: frozenset(),
    S.CANCELLED: frozenset(),
}


class InvalidTransition(ValueError):
    """A programming error: code tried a move the state machine forbids."""


def can_move(current: OrderState, target: OrderState) -> bool:
    return target == current or target in _MOVES[current]


def check_move(current: OrderState, target: OrderState) -> OrderState:
    if not can_move(current, target):
        raise InvalidTransition(f"an order cannot move from {current} to {target}")
    return target


# How far along the delivery path each tracking status is.  A status whose
# rank is lower than the order's current rank is history, not news.
_RANK = {
    S.BOOKED: 0,
    S.IN_TRANSIT: 1,
    S.OUT_FOR_DELIVERY: 2,
    S.DELIVERY_FAILED: 2,
    S.DELIVERED: 3,
    S.RETURNED: 4,
}

_STATE_FOR_STATUS: dict[TrackingStatus, OrderState | None] = {
    TrackingStatus.CREATED: S.BOOKED,
    TrackingStatus.PICKED_UP: S.IN_TRANSIT,
    TrackingStatus.IN_TRANSIT: S.IN_TRANSIT,
    TrackingStatus.ON_HOLD: S.IN_TRANSIT,
    TrackingStatus.OUT_FOR_DELIVERY: S.OUT_FOR_DELIVERY,
    TrackingStatus.DELIVERY_FAILED: S.DELIVERY_FAILED,
    TrackingStatus.DELIVERED: S.DELIVERED,
    TrackingStatus.RETURN_TO_SENDER: S.IN_TRANSIT,
    TrackingStatus.RETURNED: S.RETURNED,
    TrackingStatus.CANCELLED: None,
    TrackingStatus.UNKNOWN: None,
}


def advance(
    current: OrderState, status: TrackingStatus, *, return_started: bool = False
) -> OrderState:
    """The order state after a tracking event of *status*, never backwards.

    Between out-for-delivery and a failed attempt the latest event wins
    (a courier retries); ``delivered`` only gives way to ``returned``, and
    ``returned`` needs a return to have started (``return_started``) unless
    the partner reports the parcel back with the shipper outright.
    """
    target = _STATE_FOR_STATUS[status]
    if current not in _RANK or target is None:
        return current
    if target is S.RETURNED:
        if current is S.DELIVERED and not return_started:
            return current
        return S.RETURNED
    if _RANK[target] < _RANK[current]:
        return current
    if _RANK[target] == _RANK[current] and current is not target:
        # Same rank: out_for_delivery <-> delivery_failed, latest wins.
        return target if can_move(current, target) else current
    return target if can_move(current, target) else current
