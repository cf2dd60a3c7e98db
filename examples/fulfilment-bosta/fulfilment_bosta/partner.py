"""Bosta, doorstep delivery in Egypt, as a ``DeliveryPartner``.

Booking reads Bosta's city list once (and a city's districts once each) to
turn the order's city into Bosta's ids, then creates the delivery under the
merchant reference as ``businessReference``.  Bosta does not refuse a second
delivery with a reference it has seen, so two things keep an order from
becoming two parcels:

- ``book`` first searches for the reference and answers an existing
  delivery instead of creating another;
- a create whose answer was lost is never repeated blind: one search
  settles the usual case where Bosta did create it; when the search finds
  nothing or fails, the original ``OutcomeUnknown`` goes to the booking
  worker, which asks again before any new attempt.

What Bosta cannot be asked, the adapter refuses before any call: cash in a
currency other than EGP, and a city that is not in Bosta's list (both as
``PartnerRejected``, so the order goes to a person with the reason).

Tracking searches by tracking number, many at a time; Bosta reports each
delivery's current state, so one event per delivery per poll.  This adapter
offers no cancellation (``capabilities.cancel`` is False): the core asks a
person instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.domain import Booking, Order
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerError,
    PartnerRejected,
    PermanentPartnerError,
)
from fulfilment.core.ports import BookingRequest, Capabilities, Clock, TrackingBatch

from . import wire
from .client import Answer, BostaClient
from .settings import SEARCH_PAGE_LIMIT, BostaSettings

__all__ = ["CAPABILITIES", "BostaDeliveryPartner"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# What Bosta can do, declared to the connector, which refuses before any
# call an order Bosta could not take: Egypt only, EGP only, no labels or
# cancellation through this adapter.  A configured account may only make the
# tracking batch smaller.
CAPABILITIES = Capabilities(
    cash_on_delivery=True,
    cod_currencies=frozenset({wire.COD_CURRENCY}),
    countries=frozenset({"EG"}),
    currencies=frozenset({wire.COD_CURRENCY}),
    lookup_by_reference=True,
    cancel=False,
    batch_tracking=True,
    max_tracking_batch=SEARCH_PAGE_LIMIT,
    label_documents=False,
)

# Statuses with which Bosta refuses what was sent, in its own words.
_REFUSED = frozenset({400, 404, 409, 422})


class BostaDeliveryPartner:
    """Books Egyptian orders with Bosta, finds them by merchant reference
    and tracks them in batches.  Cash on delivery in EGP only."""

    name = wire.PARTNER

    def __init__(
        self,
        settings: BostaSettings,
        client: BostaClient,
        retry: RetryPolicy,
        clock: Clock,
    ) -> None:
        self.capabilities = attrs.evolve(
            CAPABILITIES,
            batch_tracking=settings.max_tracking_batch > 1,
            max_tracking_batch=settings.max_tracking_batch,
        )
        self._settings = settings
        self._client = client
        self._retry = retry
        self._clock = clock
        self._cities: list[Any] | None = None
        self._districts: dict[str, list[Any]] = {}

    def book(self, request: BookingRequest) -> Booking:
        existing = self.find_booking(request.reference)
        if existing is not None:
            log.info("bosta.already_booked reference=%s", request.reference)
            return existing
        body = self._delivery_body(request.reference, request.order)
        try:
            answer = self._call(
                lambda: self._client.create_delivery(body),
                idempotent=False,
                what="bosta.create_delivery",
            )
        except OutcomeUnknown as unknown:
            return self._settle(request.reference, unknown)
        booking = _read(wire.booking_of, _data(answer, "create delivery"))
        log.info("bosta.booked reference=%s", request.reference)
        return booking

    def find_booking(self, reference: str) -> Booking | None:
        deliveries = self._search(wire.search_by_reference(reference))
        mine = [d for d in deliveries if d.get("businessReference") == reference]
        return _read(wire.booking_of, mine[0]) if mine else None

    def track(self, references: Sequence[str]) -> TrackingBatch:
        """The current state of each tracking number in *references*,
        ``max_tracking_batch`` numbers a call; numbers Bosta does not know
        come back in ``missing``."""
        numbers = list(dict.fromkeys(str(r) for r in references))
        size = self._settings.max_tracking_batch
        events: dict[str, Any] = {}
        missing: set[str] = set()
        for start in range(0, len(numbers), size):
            chunk = numbers[start : start + size]
            polled_at = self._clock.now()
            found = self._search(wire.search_by_tracking_numbers(chunk))
            batch = wire.tracking_batch(found, chunk, polled_at)
            events |= batch.events
            missing |= batch.missing
        return TrackingBatch(events, frozenset(missing))

    def cancel(self, reference: str) -> bool:
        raise NotImplementedError("the Bosta adapter offers no cancellation")

    # --- steps -----------------------------------------------------------

    def _delivery_body(self, reference: str, order: Order) -> dict[str, Any]:
        collect = order.payment.collect if order.payment.is_cod else None
        if collect is not None and collect.currency != wire.COD_CURRENCY:
            raise _rejected(
                "cod",
                f"Bosta collects cash in {wire.COD_CURRENCY} only, "
                f"not {collect.currency}",
            )
        address = order.shipping_address
        city = wire.city_id(self._city_list(), address.city if address else None)
        if city is None or address is None:
            raise _rejected(
                "dropOffAddress.city",
                f"city {address and address.city!r} is not in Bosta's city list",
            )
        district = wire.district_id(self._district_list(city), address)
        return wire.delivery_body(reference, order, city, district)

    def _city_list(self) -> list[Any]:
        if self._cities is None:
            answer = self._call(
                self._client.cities, idempotent=True, what="bosta.cities"
            )
            self._cities = _listed(_data(answer, "cities"), "cities")
        return self._cities

    def _district_list(self, city: str) -> list[Any]:
        if city not in self._districts:
            answer = self._call(
                lambda: self._client.districts(city),
                idempotent=True,
                what="bosta.districts",
            )
            self._districts[city] = _listed(_data(answer, "districts"), "districts")
        return self._districts[city]

    def _search(self, body: dict[str, Any]) -> list[Mapping[str, Any]]:
        answer = self._call(
            lambda: self._client.search(body), idempotent=True, what="bosta.search"
        )
        return _read(wire.deliveries_of, _data(answer, "search deliveries"))

    def _settle(self, reference: str, unknown: OutcomeUnknown) -> Booking:
        try:
            found = self.find_booking(reference)
        except PartnerError as lookup_failed:
            log.warning(
                "bosta.outcome_unsettled reference=%s error=%s",
                reference,
                lookup_failed,
            )
            found = None
        if found is None:
            raise unknown
        log.info("bosta.outcome_settled reference=%s", reference)
        return found

    def _call(self, fn: Callable[[], T], *, idempotent: bool, what: str) -> T:
        return self._retry.call(fn, idempotent=idempotent, what=what)


def _data(answer: Answer, operation: str) -> Any:
    """The envelope's ``data`` when Bosta says success; its ``message`` as
    a rejection or, for an answer outside the contract, a permanent error."""
    failure = wire.failure_of(answer.body, f"HTTP {answer.status}")
    if answer.ok and failure is None:
        return answer.body.get("data")
    if answer.status in _REFUSED:
        raise PartnerRejected(
            failure or "refused",
            partner=wire.PARTNER,
            problems=(("message", failure or "refused"),),
            status=answer.status,
        )
    raise PermanentPartnerError(
        f"unexpected answer to {operation}: {failure}",
        partner=wire.PARTNER,
        status=answer.status,
    )


def _read(reader: Callable[[Any], T], data: Any) -> T:
    try:
        return reader(data)
    except ValueError as error:
        raise PermanentPartnerError(str(error), partner=wire.PARTNER) from error


def _listed(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise PermanentPartnerError(f"the {what} answer is not a list", partner="bosta")
    return data


def _rejected(field: str, message: str) -> PartnerRejected:
    return PartnerRejected(
        f"{field}: {message}", partner=wire.PARTNER, problems=((field, message),)
    )
