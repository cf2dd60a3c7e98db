"""The contract every delivery partner adapter keeps, and its twin too.

A test module subclasses :class:`DeliveryPartnerContract` together with
either :class:`LookupContract` or :class:`NoLookupContract`, and provides
three fixtures:

- ``partner``: the adapter under test, wired to its loopback simulator (or
  the in-memory twin);
- ``store``: the store handle whose country the partner serves;
- ``partner_record``: a function ``reference -> dict | None`` reading what
  the partner side recorded for a merchant reference, as
  ``{"cod_amount": Decimal | None, "cod_currency": str | None,
  "phone": str | None, "city": str | None}``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from fulfilment.core.booking import booking_reference
from fulfilment.core.errors import PartnerRejected
from fulfilment.core.ports import BookingRequest, DeliveryPartner
from tests.builders import make_order

Record = Callable[[str], dict[str, Any] | None]


def request_for(order: Any) -> BookingRequest:
    return BookingRequest(booking_reference(order), order)


class DeliveryPartnerContract:
    def test_declares_a_name_and_capabilities(self, partner: DeliveryPartner) -> None:
        assert partner.name
        assert isinstance(partner, DeliveryPartner)

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
