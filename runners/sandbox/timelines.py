"""Where a simulated parcel goes after booking, decided once, from its id.

Every partner simulator asks this module for a parcel's timeline when it
books the parcel: a list of :class:`Milestone` (a :class:`Step` and the time
it happens, on the simulator's clock), kept in the simulator's JSON state.
Tracking then shows only the milestones whose time has come, so a demo that
advances a :class:`~fulfilment.core.clock.ManualClock` over simulated days
sees parcels move.  Each simulator renders steps in its own vocabulary (an
Aramex update code, a Flextock status pair, a Farfill state) and may leave a
step out when its partner has no word for it.

The scenario is a pure function of the parcel id.  The id's trailing number
(AWBs and order ids count up) plus a stable hash of the rest picks a place on
:data:`WHEEL`, so the same id always gets the same scenario and any eight
consecutive ids of one partner show every scenario in the fixed shares:

==========================  =====  =============================================
scenario                    share  what happens
==========================  =====  =============================================
delivered                   4/8    delivered 2 to 4 days after booking
failed_then_delivered       2/8    a failed attempt on day 2, delivered day 3
returned                    1/8    two failed attempts, sent back, returned day 5
unknown_code                1/8    a step no status table knows on day 1, then
                                   delivered on day 3
==========================  =====  =============================================

Times get a few minutes of deterministic jitter so parcels booked together
do not move in lockstep.  A parcel can be cancelled while it is still at the
warehouse (:data:`CANCELLABLE`); after that the courier has it.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import attrs

from fulfilment.core.domain import ensure_utc

__all__ = [
    "CANCELLABLE",
    "WHEEL",
    "Milestone",
    "Scenario",
    "Step",
    "build",
    "cancel",
    "cancelled_by",
    "from_json",
    "latest",
    "reached",
    "scenario_for",
    "to_json",
]


class Step(enum.StrEnum):
    """What happens to a parcel, in words no partner uses."""

    CREATED = "created"
    READY = "ready"  # packed, waiting for the courier
    PICKED_UP = "picked_up"
    AT_HUB = "at_hub"  # received at the origin facility
    DEPARTED = "departed"
    AT_DESTINATION = "at_destination"  # at the delivering station
    ODD = "odd"  # something no status table knows
    OUT_FOR_DELIVERY = "out_for_delivery"
    FAILED_ATTEMPT = "failed_attempt"
    DELIVERED = "delivered"
    RETURNING = "returning"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class Scenario(enum.StrEnum):
    DELIVERED = "delivered"
    FAILED_THEN_DELIVERED = "failed_then_delivered"
    RETURNED = "returned"
    UNKNOWN_CODE = "unknown_code"


_D, _F, _R, _U = Scenario
# A parcel's place on the wheel picks its scenario; the order spreads the
# rare ones so a few consecutive parcels already show several scenarios.
WHEEL: tuple[Scenario, ...] = (_D, _F, _D, _R, _D, _U, _D, _F)

# Steps after which a parcel can still be cancelled: it has not left us.
CANCELLABLE = frozenset({Step.CREATED, Step.READY})

_FIRST_LEG = ((Step.READY, 1.5), (Step.PICKED_UP, 5), (Step.AT_HUB, 8))
_LAST_DIGITS = re.compile(r"(\d*)$")
_MAX_JITTER_MINUTES = 40


@attrs.frozen
class Milestone:
    step: Step
    at: datetime = attrs.field(converter=ensure_utc)


def scenario_for(parcel_id: str) -> Scenario:
    """The scenario of *parcel_id*; the same id always gets the same one."""
    return WHEEL[_place(parcel_id) % len(WHEEL)]


def build(parcel_id: str, booked_at: datetime) -> list[Milestone]:
    """The whole timeline of *parcel_id*, booked at *booked_at*: ``CREATED``
    exactly at booking, then each step later than the one before."""
    plan = [*_FIRST_LEG, *_rest(scenario_for(parcel_id), _delivery_days(parcel_id))]
    milestones = [Milestone(Step.CREATED, booked_at)]
    for index, (step, hours) in enumerate(plan):
        jitter = _jitter_minutes(parcel_id, index)
        at = booked_at + timedelta(hours=hours, minutes=jitter)
        milestones.append(Milestone(step, at))
    return milestones


def reached(timeline: Iterable[Milestone], now: datetime) -> list[Milestone]:
    """The milestones that have happened by *now*, oldest first."""
    return [milestone for milestone in timeline if milestone.at <= now]


def latest(
    timeline: Iterable[Milestone], now: datetime, shown: Iterable[Step]
) -> Milestone | None:
    """The newest milestone by *now* among the *shown* steps, if any."""
    visible = set(shown)
    found = [m for m in reached(timeline, now) if m.step in visible]
    return found[-1] if found else None


def cancelled_by(timeline: Iterable[Milestone]) -> datetime | None:
    """When the parcel is (or will be) cancelled; None if it never is."""
    return next((m.at for m in timeline if m.step is Step.CANCELLED), None)


def cancel(
    timeline: Sequence[Milestone], now: datetime, delay: timedelta = timedelta(0)
) -> list[Milestone] | None:
    """The timeline after a cancel request at *now*: what has happened so
    far, then ``CANCELLED`` after *delay*.  None when the parcel has gone
    past :data:`CANCELLABLE` (the request is refused); a timeline already
    ending in a cancellation is returned as it is."""
    if cancelled_by(timeline) is not None:
        return list(timeline)
    so_far = reached(timeline, now)
    if any(milestone.step not in CANCELLABLE for milestone in so_far):
        return None
    return [*so_far, Milestone(Step.CANCELLED, now + delay)]


def to_json(timeline: Iterable[Milestone]) -> list[list[str]]:
    """``[[step, ISO time], ...]``, for a simulator's JSON state."""
    return [[m.step.value, m.at.isoformat()] for m in timeline]


def from_json(data: Iterable[Sequence[str]]) -> list[Milestone]:
    return [Milestone(Step(step), datetime.fromisoformat(at)) for step, at in data]


# --- scenarios ------------------------------------------------------------------


def _rest(scenario: Scenario, days: int) -> list[tuple[Step, float]]:
    """The steps after the first leg, as hours after booking."""
    if scenario is Scenario.DELIVERED:
        return [
            (Step.DEPARTED, 20),
            (Step.AT_DESTINATION, 24 * (days - 1) + 6),
            (Step.OUT_FOR_DELIVERY, 24 * days - 4),
            (Step.DELIVERED, 24 * days - 1),
        ]
    if scenario is Scenario.UNKNOWN_CODE:
        return [
            (Step.DEPARTED, 20),
            (Step.ODD, 30),
            (Step.AT_DESTINATION, 50),
            (Step.OUT_FOR_DELIVERY, 68),
            (Step.DELIVERED, 71),
        ]
    second_day = [
        (Step.DEPARTED, 20),
        (Step.AT_DESTINATION, 30),
        (Step.OUT_FOR_DELIVERY, 44),
        (Step.FAILED_ATTEMPT, 48),
        (Step.OUT_FOR_DELIVERY, 68),
    ]
    if scenario is Scenario.FAILED_THEN_DELIVERED:
        return [*second_day, (Step.DELIVERED, 71)]
    return [
        *second_day,
        (Step.FAILED_ATTEMPT, 72),
        (Step.RETURNING, 80),
        (Step.RETURNED, 120),
    ]


def _delivery_days(parcel_id: str) -> int:
    return 2 + _digest(parcel_id, "days") % 3


def _place(parcel_id: str) -> int:
    digits = _LAST_DIGITS.search(parcel_id)
    number = digits.group(1) if digits else ""
    prefix = parcel_id[: len(parcel_id) - len(number)]
    return _digest(prefix, "wheel") + int(number or 0)


def _jitter_minutes(parcel_id: str, index: int) -> int:
    return _digest(parcel_id, f"jitter{index}") % _MAX_JITTER_MINUTES


def _digest(text: str, salt: str) -> int:
    """A stable hash (unlike ``hash()``, the same in every process)."""
    digest = hashlib.sha256(f"{salt}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big")
