"""The contract every delivery partner adapter keeps, and its twin too.

A test module subclasses :class:`DeliveryPartnerContract` and
:class:`TrackingContract` together with either :class:`LookupContract` or
:class:`NoLookupContract`, and either :class:`CancelContract` or
:class:`NoCancelContract`, and provides four fixtures:

- ``partner``: the adapter under test, wired to its loopback simulator (or
  the in-memory twin);
- ``store``: the store handle whose country the partner serves, one of
  :data:`fulfilment.testing.builders.COUNTRIES` (Morocco, Egypt, the UAE,
  Lebanon), which decides the test orders' city, phone and currency;
- ``partner_record``: a function ``reference -> dict | None`` reading what
  the partner side recorded for a merchant reference, as
  ``{"cod_amount": Decimal | None, "cod_currency": str | None,
  "phone": str | None, "city": str | None}``;
- ``clock``: the :class:`~fulfilment.core.clock.ManualClock` the partner side
  (simulator or twin) moves parcels on; tracking tests advance it.  A
  parcel must have left the warehouse one day after booking and reached
  the end of its journey (delivered or returned) within ten days.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from fulfilment.core.booking import booking_reference
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Booking, TrackingEvent, TrackingStatus
from fulfilment.core.errors import PartnerRejected
from fulfilment.core.ports import BookingRequest, DeliveryPartner
from fulfilment.testing.builders import make_order

Record = Callable[[str], dict[str, Any] | None]
JOURNEY = timedelta(days=10)
SETTLED = frozenset({TrackingStatus.DELIVERED, TrackingStatus.RETURNED})


def request_for(order: Any) -> BookingRequest:
    return BookingRequest(booking_reference(order), order)


def book(partner: DeliveryPartner, store: str, external_id: str) -> Booking:
    return partner.book(request_for(make_order(external_id, store=store)))


def never_booked(store: str) -> str:
    return f"{store}-never-booked"


def events_of(partner: DeliveryPartner, reference: str) -> tuple[TrackingEvent, ...]:
    batch = partner.track([reference])
    assert reference not in batch.missing
    return tuple(batch.events[reference])


def newest(events: tuple[TrackingEvent, ...]) -> TrackingEvent:
    return max(events, key=lambda event: event.occurred_at)


class DeliveryPartnerContract:
    def test_declares_a_name_and_capabilities(self, partner: DeliveryPartner) -> None:
        assert partner.name
        assert isinstance(partner, DeliveryPartner)

    def test_declared_currencies_agree_with_each_other(
        self, partner: DeliveryPartner
    ) -> None:
        capabilities = partner.capabilities

        if capabilities.currencies and capabilities.cash_on_delivery:
            assert capabilities.cod_currencies <= capabilities.currencies
        assert all(len(code) == 3 for code in capabilities.currencies)

    def test_a_partner_declaring_label_documents_hands_one_back(
        self, partner: DeliveryPartner, store: str
    ) -> None:
        booking = book(partner, store, "7008")

        assert bool(booking.label_url) is partner.capabilities.label_documents

    def test_books_a_cash_on_delivery_parcel_with_the_amount_to_collect(
        self, partner: DeliveryPartner, store: str, partner_record: Record
    ) -> None:
        order = make_order("7001", store=store, cod=True, amount="459.00")

        booking = partner.book(request_for(order))

        assert booking.partner == partner.name
        assert booking.reference
        record = partner_record(booking_reference(order))
        assert record is not None
        assert record["cod_amount"] == Decimal("459.00")
        assert record["cod_currency"] == order.currency

    def test_books_a_prepaid_parcel_with_nothing_to_collect(
        self, partner: DeliveryPartner, store: str, partner_record: Record
    ) -> None:
        order = make_order("7002", store=store, cod=False)

        partner.book(request_for(order))

        record = partner_record(booking_reference(order))
        assert record is not None
        assert not record["cod_amount"]

    def test_rejects_a_parcel_without_a_phone_in_the_partners_words(
        self, partner: DeliveryPartner, store: str
    ) -> None:
        order = make_order("7004", store=store, phone=None)

        with pytest.raises(PartnerRejected) as rejected:
            partner.book(request_for(order))

        assert rejected.value.partner == partner.name
        assert "phone" in str(rejected.value).lower()

    def test_rejects_an_unknown_city(
        self, partner: DeliveryPartner, store: str
    ) -> None:
        order = make_order("7005", store=store, city="Atlantis")

        with pytest.raises(PartnerRejected) as rejected:
            partner.book(request_for(order))

        assert "city" in str(rejected.value).lower()

    def test_a_cod_currency_the_partner_does_not_take_is_rejected(
        self, partner: DeliveryPartner, store: str
    ) -> None:
        allowed = partner.capabilities.cod_currencies
        assert allowed, "declare the COD currencies the partner takes"
        other = next(c for c in ("EUR", "USD", "GBP") if c not in allowed)
        order = make_order("7007", store=store, cod=True, currency=other)

        with pytest.raises(PartnerRejected) as rejected:
            partner.book(request_for(order))

        assert "currency" in str(rejected.value).lower() or other in str(rejected.value)


class LookupContract:
    """For partners that key parcels on the merchant reference and can be
    asked about one (``capabilities.lookup_by_reference``)."""

    def test_declares_lookup_by_reference(self, partner: DeliveryPartner) -> None:
        assert partner.capabilities.lookup_by_reference

    def test_finds_a_booking_by_merchant_reference(
        self, partner: DeliveryPartner, store: str
    ) -> None:
        order = make_order("7003", store=store)
        booking = partner.book(request_for(order))

        found = partner.find_booking(booking_reference(order))

        assert found is not None
        assert found.reference == booking.reference
        assert partner.find_booking(f"{store}-never-booked") is None

    def test_booking_a_reference_twice_never_makes_two_parcels(
        self, partner: DeliveryPartner, store: str, partner_record: Record
    ) -> None:
        order = make_order("7006", store=store)
        first = partner.book(request_for(order))

        try:
            second = partner.book(request_for(order))
        except PartnerRejected:
            second = first

        assert second.reference == first.reference


class NoLookupContract:
    """For partners that cannot be asked about a merchant reference: the
    booking worker must never retry blind, so the adapter says so."""

    def test_says_it_cannot_look_a_booking_up(self, partner: DeliveryPartner) -> None:
        assert not partner.capabilities.lookup_by_reference
        with pytest.raises(NotImplementedError):
            partner.find_booking("anything")


class TrackingContract:
    """Tracking by partner reference (``Booking.reference``), for every
    partner and the twin."""

    def test_declares_how_many_parcels_one_call_tracks(
        self, partner: DeliveryPartner
    ) -> None:
        capabilities = partner.capabilities

        assert capabilities.max_tracking_batch >= 1
        assert capabilities.batch_tracking == (capabilities.max_tracking_batch > 1)

    def test_a_booked_parcel_is_tracked_as_created_at_an_aware_utc_time(
        self, partner: DeliveryPartner, store: str, clock: ManualClock
    ) -> None:
        booking = book(partner, store, "7201")

        events = events_of(partner, booking.reference)

        assert TrackingStatus.CREATED in {event.status for event in events}
        assert all(event.occurred_at.utcoffset() == timedelta(0) for event in events)

    def test_an_unknown_parcel_is_missing_or_has_no_events_never_an_error(
        self, partner: DeliveryPartner, store: str
    ) -> None:
        unknown = never_booked(store)

        batch = partner.track([unknown])

        assert unknown in batch.missing or not batch.events.get(unknown)

    def test_several_parcels_are_tracked_together(
        self, partner: DeliveryPartner, store: str
    ) -> None:
        bookings = [book(partner, store, f"72{n:02d}") for n in range(2, 5)]
        asked = [booking.reference for booking in bookings]

        batch = partner.track([*asked, never_booked(store)])

        assert all(batch.events[reference] for reference in asked)
        assert not set(asked) & batch.missing

    def test_events_lie_between_the_booking_less_a_day_and_now(
        self, partner: DeliveryPartner, store: str, clock: ManualClock
    ) -> None:
        booked_at = clock.now()
        booking = book(partner, store, "7205")
        clock.advance(JOURNEY)

        events = events_of(partner, booking.reference)

        earliest = booked_at - timedelta(days=1)
        assert all(earliest <= event.occurred_at <= clock.now() for event in events)

    def test_a_parcel_moves_on_as_time_passes(
        self, partner: DeliveryPartner, store: str, clock: ManualClock
    ) -> None:
        booking = book(partner, store, "7206")
        clock.advance(JOURNEY)

        events = events_of(partner, booking.reference)

        assert newest(events).status in SETTLED
        assert all(event.code and event.description for event in events)


class CancelContract:
    """For partners that cancel a parcel until a courier has it."""

    def test_declares_it_can_cancel(self, partner: DeliveryPartner) -> None:
        assert partner.capabilities.cancel

    def test_cancels_a_parcel_still_at_the_warehouse(
        self, partner: DeliveryPartner, store: str
    ) -> None:
        booking = book(partner, store, "7301")

        cancelled = partner.cancel(booking.reference)

        assert cancelled is True
        statuses = {event.status for event in events_of(partner, booking.reference)}
        assert TrackingStatus.CANCELLED in statuses

    def test_cancelling_twice_is_harmless(
        self, partner: DeliveryPartner, store: str
    ) -> None:
        booking = book(partner, store, "7302")
        partner.cancel(booking.reference)

        again = partner.cancel(booking.reference)

        assert again is True

    def test_a_parcel_a_courier_has_is_not_cancelled(
        self, partner: DeliveryPartner, store: str, clock: ManualClock
    ) -> None:
        booking = book(partner, store, "7303")
        clock.advance(timedelta(days=1))

        with pytest.raises(PartnerRejected) as refused:
            partner.cancel(booking.reference)

        assert refused.value.partner == partner.name
        statuses = {event.status for event in events_of(partner, booking.reference)}
        assert TrackingStatus.CANCELLED not in statuses

    def test_cancelling_a_parcel_never_booked_is_rejected(
        self, partner: DeliveryPartner, store: str
    ) -> None:
        with pytest.raises(PartnerRejected):
            partner.cancel(never_booked(store))


class NoCancelContract:
    """For partners that offer no cancellation: the core must ask a person,
    so the adapter says so rather than pretending."""

    def test_says_it_cannot_cancel(self, partner: DeliveryPartner) -> None:
        assert not partner.capabilities.cancel
        with pytest.raises(NotImplementedError):
            partner.cancel("anything")
