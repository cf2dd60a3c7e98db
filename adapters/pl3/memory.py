"""An in-memory delivery partner: the twin of the Aramex, Flextock and
Farfill adapters.

It keeps every parcel it accepted by merchant reference, refuses what a real
partner would refuse (no phone, no city, a COD currency it does not take, a
reference it already has), and can be told to fail the next calls, so the
booking worker's crash and timeout paths are tested against real state.

Parcels move on the clock it is given: each booked parcel gets the events of
its *script* (by default only ``created``, at booking), and ``track`` shows
those whose time has come, plus any a test adds with :meth:`add_event`.
``cancel`` works while no event beyond ``created`` has happened, like the
real partners that cancel at all, is harmless to repeat, and can be told to
fail or to lose its answer (:meth:`fail_next_cancel`).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from datetime import timedelta

from fulfilment.core.clock import SystemClock
from fulfilment.core.domain import Booking, Order, TrackingEvent, TrackingStatus
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerError,
    PartnerRejected,
    TransientPartnerError,
)
from fulfilment.core.ports import BookingRequest, Capabilities, Clock, TrackingBatch

__all__ = [
    "CREATED_ONLY",
    "DELIVERED_IN_TWO_DAYS",
    "SANDBOX_CITIES",
    "MemoryDeliveryPartner",
    "ScriptStep",
]

# One scripted event: how long after booking, its status, code, description.
ScriptStep = tuple[timedelta, TrackingStatus, str, str]
_S = TrackingStatus
CREATED_ONLY: tuple[ScriptStep, ...] = (
    (timedelta(0), _S.CREATED, "created", "Parcel registered"),
)
DELIVERED_IN_TWO_DAYS: tuple[ScriptStep, ...] = (
    *CREATED_ONLY,
    (timedelta(hours=4), _S.PICKED_UP, "picked_up", "Picked up from the shipper"),
    (timedelta(hours=20), _S.IN_TRANSIT, "in_transit", "Left the origin hub"),
    (timedelta(hours=44), _S.OUT_FOR_DELIVERY, "out", "Out for delivery"),
    (timedelta(hours=47), _S.DELIVERED, "delivered", "Delivered"),
)
# Statuses after which a parcel can still be cancelled.
_CANCELLABLE = frozenset({_S.CREATED, _S.CANCELLED})

# The cities the sandbox world delivers to, per country.
SANDBOX_CITIES = {
    "MA": (
        "Casablanca",
        "Rabat",
        "Marrakech",
        "Fes",
        "Tangier",
        "Agadir",
        "Meknes",
        "Oujda",
        "Kenitra",
        "Tetouan",
    ),
    "EG": ("Cairo", "Giza", "Alexandria"),
    "AE": ("Dubai", "Abu Dhabi", "Sharjah"),
    "LB": ("Beirut", "Jounieh", "Tripoli"),
}


class MemoryDeliveryPartner:
    """The twin.  Without *capabilities* it can do everything a partner can
    (lookup, batch tracking of up to 50, cancel); pass ``Capabilities`` to
    play a partner that cannot.  *clock* times bookings and tracking (the
    system clock by default); *script* is the timeline every booked parcel
    follows."""

    def __init__(
        self,
        name: str = "memory",
        capabilities: Capabilities | None = None,
        cod_currencies: frozenset[str] = frozenset(),
        cities: frozenset[str] | None = None,
        *,
        clock: Clock | None = None,
        script: Sequence[ScriptStep] = CREATED_ONLY,
    ) -> None:
        self.name = name
        self.capabilities = capabilities or Capabilities(
            cod_currencies=cod_currencies,
            lookup_by_reference=True,
            cancel=True,
            batch_tracking=True,
            max_tracking_batch=50,
            label_documents=True,
        )
        self.clock: Clock = clock or SystemClock()
        self._script = tuple(script)
        self.cities = (
            cities
            if cities is not None
            else frozenset(
                c.casefold() for names in SANDBOX_CITIES.values() for c in names
            )
        )
        self.parcels: dict[str, Booking] = {}
        self.orders: dict[str, Order] = {}
        self.events: dict[str, list[TrackingEvent]] = {}
        # Tracking pages learnt after booking (a courier's), by reference.
        self.links: dict[str, str] = {}
        self.book_calls = 0
        self.track_calls: list[tuple[str, ...]] = []
        self.cancel_calls: list[str] = []
        self._numbers = itertools.count(1)
        self._failures: deque[PartnerError | str] = deque()
        self._track_failures: deque[PartnerError] = deque()
        self._cancel_failures: deque[PartnerError | str] = deque()

    def fail_next(self, *failures: PartnerError | str) -> None:
        """Queue failures for the next ``book`` calls.  An exception is
        raised before anything is recorded; the string ``"lost_reply"``
        records the parcel and then raises ``OutcomeUnknown``, as a timeout
        after the partner acted would."""
        self._failures.extend(failures)

    def book(self, request: BookingRequest) -> Booking:
        self.book_calls += 1
        failure = self._failures.popleft() if self._failures else None
        if isinstance(failure, PartnerError):
            raise failure
        if request.reference in self.parcels:
            raise PartnerRejected(
                f"reference {request.reference} already exists",
                partner=self.name,
                code="duplicate_reference",
            )
        self._validate(request)
        booking = Booking(
            self.name,
            f"{self.name.upper()[:3]}{next(self._numbers):08d}",
            label_url=f"memory://{self.name}/labels/{request.reference}.pdf",
        )
        self.parcels[request.reference] = booking
        self.orders[request.reference] = request.order
        self.events[booking.reference] = self._scripted_events()
        if failure == "lost_reply":
            raise OutcomeUnknown("reply lost after booking", partner=self.name)
        return booking

    def find_booking(self, reference: str) -> Booking | None:
        if not self.capabilities.lookup_by_reference:
            raise NotImplementedError(f"{self.name} cannot look bookings up")
        failure = self._failures[0] if self._failures else None
        if isinstance(failure, TransientPartnerError):
            self._failures.popleft()
            raise failure
        return self.parcels.get(reference)

    def fail_next_track(self, *failures: PartnerError) -> None:
        """Queue errors for the next ``track`` calls, one each."""
        self._track_failures.extend(failures)

    def add_event(self, reference: str, event: TrackingEvent) -> None:
        """Record an event for the parcel with partner reference
        *reference* (a booked one, or one only tracking knows)."""
        self.events.setdefault(reference, []).append(event)

    def track(self, references: Sequence[str]) -> TrackingBatch:
        """Events up to the clock's now of each parcel in *references*, by
        partner reference; references never booked or added are missing."""
        asked = tuple(dict.fromkeys(map(str, references)))
        self.track_calls.append(asked)
        if self._track_failures:
            raise self._track_failures.popleft()
        known = [reference for reference in asked if reference in self.events]
        events = {reference: self._happened(reference) for reference in known}
        links = {r: self.links[r] for r in known if r in self.links}
        return TrackingBatch(events, frozenset(asked) - set(known), links)

    def fail_next_cancel(self, *failures: PartnerError | str) -> None:
        """Queue failures for the next ``cancel`` calls, as for
        :meth:`fail_next`: an exception is raised before anything happens;
        ``"lost_reply"`` cancels the parcel, then raises ``OutcomeUnknown``."""
        self._cancel_failures.extend(failures)

    def cancel(self, reference: str) -> bool:
        """Cancel the parcel with partner reference *reference* while
        nothing beyond ``created`` has happened to it; True, also when it
        was already cancelled.  ``PartnerRejected`` once it moved or for an
        unknown reference; ``NotImplementedError`` when the capabilities
        say this partner cannot cancel."""
        if not self.capabilities.cancel:
            raise NotImplementedError(f"{self.name} cannot cancel parcels")
        self.cancel_calls.append(reference)
        failure = self._cancel_failures.popleft() if self._cancel_failures else None
        if isinstance(failure, PartnerError):
            raise failure
        accepted = self._cancel(reference)
        if failure == "lost_reply":
            raise OutcomeUnknown("reply lost after cancelling", partner=self.name)
        return accepted

    def is_cancelled(self, reference: str) -> bool:
        """Whether the parcel with partner reference *reference* is
        cancelled by the clock's now."""
        happened = self._happened(reference) if reference in self.events else ()
        return any(event.status is _S.CANCELLED for event in happened)

    def _cancel(self, reference: str) -> bool:
        if reference not in self.events:
            raise PartnerRejected(
                f"parcel {reference} is unknown", partner=self.name, code="not_found"
            )
        happened = self._happened(reference)
        if any(event.status not in _CANCELLABLE for event in happened):
            raise PartnerRejected(
                f"parcel {reference} has left the warehouse",
                partner=self.name,
                code="too_late",
            )
        if not any(event.status is _S.CANCELLED for event in happened):
            self.events[reference] = [*happened, self._cancelled_event()]
        return True

    def _happened(self, reference: str) -> tuple[TrackingEvent, ...]:
        now = self.clock.now()
        return tuple(e for e in self.events[reference] if e.occurred_at <= now)

    def _scripted_events(self) -> list[TrackingEvent]:
        booked_at = self.clock.now()
        return [
            TrackingEvent(code, status, description, booked_at + after)
            for after, status, code, description in self._script
        ]

    def _cancelled_event(self) -> TrackingEvent:
        return TrackingEvent(
            "cancelled",
            _S.CANCELLED,
            "Cancelled at the merchant's request",
            self.clock.now(),
        )

    def _validate(self, request: BookingRequest) -> None:
        order = request.order
        address = order.shipping_address
        problems = []
        if address is None or not address.city:
            problems.append(("missing_city", "consignee city is required"))
        elif address.city.casefold() not in self.cities:
            problems.append(("invalid_city", f"city name is invalid ({address.city})"))
        phone = order.phone
        if phone is None or phone.e164 is None:
            problems.append(("missing_phone", "consignee phone is required"))
        collect = order.payment.collect
        allowed = self.capabilities.cod_currencies
        if collect is not None and allowed and collect.currency not in allowed:
            problems.append(
                (
                    "cod_currency",
                    f"COD currency {collect.currency} is not accepted, only "
                    f"{', '.join(sorted(allowed))}",
                )
            )
        if problems:
            raise PartnerRejected(
                "; ".join(m for _, m in problems),
                partner=self.name,
                problems=tuple(problems),
            )
