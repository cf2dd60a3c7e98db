"""An in-memory delivery partner: the twin of the Aramex, Flextock and
Farfill adapters.

It keeps every parcel it accepted by merchant reference, refuses what a real
partner would refuse (no phone, no city, a COD currency it does not take, a
reference it already has), and can be told to fail the next calls, so the
booking worker's crash and timeout paths are tested against real state.
"""

from __future__ import annotations

import itertools
from collections import deque

from fulfilment.core.domain import Booking, Order
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerError,
    PartnerRejected,
    TransientPartnerError,
)
from fulfilment.core.ports import BookingRequest, Capabilities

__all__ = ["SANDBOX_CITIES", "MemoryDeliveryPartner"]

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
    def __init__(
        self,
        name: str = "memory",
        capabilities: Capabilities | None = None,
        cod_currencies: frozenset[str] = frozenset(),
        cities: frozenset[str] | None = None,
    ) -> None:
        self.name = name
        self.capabilities = capabilities or Capabilities(
            cod_currencies=cod_currencies, lookup_by_reference=True
        )
        self.cities = (
            cities
            if cities is not None
            else frozenset(
                c.casefold() for names in SANDBOX_CITIES.values() for c in names
            )
        )
        self.parcels: dict[str, Booking] = {}
        self.orders: dict[str, Order] = {}
        self.book_calls = 0
        self._numbers = itertools.count(1)
        self._failures: deque[PartnerError | str] = deque()

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
