"""Flextock's wire mapping: the create-order body field by field, the
answers read back, and the status vocabulary kept as data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.adapters.pl3.flextock import wire
from fulfilment.adapters.pl3.flextock.settings import FlextockSettings
from fulfilment.core.domain import (
    Booking,
    Money,
    Order,
    Payment,
    PaymentMethod,
    Phone,
    TrackingStatus,
)
from fulfilment.testing.builders import make_order

SETTINGS = FlextockSettings(
    base_url="https://flextock.test",
    username="merchant",
    password="s3cret",
    vendor_name="Shemsi Egypt",
)
REFERENCE = "shemsi-egypt-9001"


def body_for(order: Order) -> dict[str, Any]:
    return wire.order_body(REFERENCE, order, SETTINGS)


def egyptian(**changes: Any) -> Order:
    return make_order("9001", store="shemsi-egypt", **changes)


def with_address(order: Order, **changes: Any) -> Order:
    assert order.shipping_address is not None
    return attrs.evolve(
        order, shipping_address=attrs.evolve(order.shipping_address, **changes)
    )


def test_the_order_body_has_exactly_the_observed_fields() -> None:
    body = body_for(egyptian())

    assert set(body) == {
        "order_code",
        "order_date",
        "shipping_fees",
        "is_free_shipping",
        "is_gift_order",
        "order_currency",
        "integration_source",
        "vendor_name",
        "customer_address",
        "line_items",
        "payment_data",
        "requires_self_delivery",
    }
    assert set(body["customer_address"]) == {
        "country",
        "city",
        "area",
        "address_line1",
        "first_name",
        "last_name",
        "phone_number",
    }
    assert body["line_items"] == [
        {
            "sku_code": "TAJ-BLUE",
            "quantity": 2,
            "sku_price": 229.5,
            "sku_promotional_price": None,
        }
    ]


def test_the_order_is_keyed_on_the_merchant_reference_in_egyptian_pounds() -> None:
    body = body_for(egyptian())

    assert body["order_code"] == REFERENCE
    assert body["order_currency"] == "EGP"
    assert body["order_date"] == "2026-11-02"
    assert body["vendor_name"] == "Shemsi Egypt"
    assert body["integration_source"] == "custom"
    assert body["requires_self_delivery"] is False
    assert body["is_gift_order"] is False
    assert body["customer_address"]["country"] == "Egypt"


def test_cash_on_delivery_sends_the_amount_to_collect() -> None:
    body = body_for(egyptian(cod=True, amount="459.00"))

    assert body["payment_data"] == [{"value": 459, "payment_type": "cash_on_delivery"}]


def test_a_prepaid_order_sends_the_total_as_prepaid() -> None:
    body = body_for(egyptian(cod=False, amount="1640.50"))

    assert body["payment_data"] == [{"value": 1640.5, "payment_type": "prepaid"}]


def test_a_partly_prepaid_cod_order_sends_both_parts() -> None:
    order = egyptian(cod=True, amount="500.00")
    partial = Payment(
        PaymentMethod.CASH_ON_DELIVERY, paid=False, collect=Money("300", "EGP")
    )

    body = body_for(attrs.evolve(order, payment=partial))

    assert body["payment_data"] == [
        {"value": 300, "payment_type": "cash_on_delivery"},
        {"value": 200, "payment_type": "prepaid"},
    ]


def test_the_total_above_the_lines_is_sent_as_shipping_fees() -> None:
    order = egyptian(amount="400.00")

    body = body_for(attrs.evolve(order, total=Money("460.00", "EGP")))

    assert body["shipping_fees"] == 60
    assert body["is_free_shipping"] is False
    assert body_for(order)["is_free_shipping"] is True


def test_arabic_names_and_addresses_survive_the_wire() -> None:
    order = with_address(
        egyptian(),
        first_name="أحمد",
        last_name="عبد الرحمن",
        line1="15 شارع عباس العقاد، مدينة نصر",
        line2="الحي السابع",
    )

    sent = json.loads(json.dumps(body_for(order), ensure_ascii=True))

    address = sent["customer_address"]
    assert address["first_name"] == "أحمد"
    assert address["last_name"] == "عبد الرحمن"
    assert address["address_line1"] == "15 شارع عباس العقاد، مدينة نصر"
    assert address["area"] == "الحي السابع"


def test_egyptian_phones_go_in_local_eleven_digit_form() -> None:
    body = body_for(egyptian(phone="+201001234567"))

    assert body["customer_address"]["phone_number"] == "01001234567"


def test_a_foreign_phone_stays_international() -> None:
    body = body_for(egyptian(phone="+971551234567"))

    assert body["customer_address"]["phone_number"] == "+971551234567"


def test_a_missing_phone_is_sent_blank_for_flextock_to_refuse() -> None:
    body = body_for(egyptian(phone=None))

    assert body["customer_address"]["phone_number"] == ""


def test_a_different_customer_phone_goes_as_the_secondary_number() -> None:
    order = egyptian()
    assert order.customer is not None
    other = Phone("01112345678", "+201112345678", True)

    body = body_for(
        attrs.evolve(order, customer=attrs.evolve(order.customer, phone=other))
    )

    assert body["customer_address"]["secondary_phone_number"] == "01112345678"


def test_the_order_date_is_the_calendar_day_in_cairo() -> None:
    late = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)

    body = body_for(egyptian(placed_at=late))

    assert body["order_date"] == "2026-11-03"


def test_each_sku_is_offered_once_with_its_name_and_price() -> None:
    order = egyptian()

    products = wire.products_for(order.lines + order.lines)

    assert products == [
        {"sku_code": "TAJ-BLUE", "sku_name": "Tajine plate", "price": 229.5}
    ]


@given(st.decimals(min_value=0, max_value=10**7, places=2))
def test_amounts_keep_their_value_as_json_numbers(amount: Decimal) -> None:
    order = egyptian(cod=True, amount=str(amount))

    value = body_for(order)["payment_data"][0]["value"]

    assert Decimal(json.dumps(value)) == amount


def test_nested_validation_errors_are_flattened_to_field_paths() -> None:
    body = {
        "customer_address": {"phone_number": ["This field may not be blank."]},
        "line_items": [{}, {"sku_code": ["SKU 'X' does not exist."]}],
        "order_currency": ["Currency 'USD' is not supported."],
    }

    assert wire.problems_of(body) == (
        ("customer_address.phone_number", "This field may not be blank."),
        ("line_items.1.sku_code", "SKU 'X' does not exist."),
        ("order_currency", "Currency 'USD' is not supported."),
    )
    assert wire.problems_of({"message": "Bad request."}) == (
        ("message", "Bad request."),
    )


def test_only_a_taken_order_code_counts_as_a_duplicate() -> None:
    taken = wire.problems_of(
        {"order_code": ["Order with this order code already exists."]}
    )
    blank = wire.problems_of({"order_code": ["This field may not be blank."]})

    assert wire.is_duplicate_order(taken)
    assert not wire.is_duplicate_order(blank)


def test_a_status_answer_is_read_as_one_object_or_a_list() -> None:
    entry = {"order_code": REFERENCE, "order_status": "pending", "tracking_url": None}

    assert wire.booking_from_status(entry, REFERENCE) == Booking("flextock", REFERENCE)
    assert wire.booking_from_status([entry], REFERENCE) == Booking(
        "flextock", REFERENCE
    )
    assert wire.booking_from_status([], REFERENCE) is None


def test_a_login_answer_without_an_access_token_is_refused() -> None:
    with pytest.raises(ValueError, match="access"):
        wire.token_of({"refresh": "r"})


@pytest.mark.parametrize("status", sorted(wire.status_tables().order_status))
def test_every_observed_status_is_read_whatever_its_case(status: str) -> None:
    shouted = f"  {status.upper()} "

    expected = wire.status_tables().order_status.status(status)
    assert wire.tracking_status(shouted) == expected


def test_statuses_map_onto_the_normalised_ones() -> None:
    assert wire.tracking_status("in transit") is TrackingStatus.IN_TRANSIT
    assert wire.tracking_status("delivered") is TrackingStatus.DELIVERED
    assert wire.tracking_status("returned to origin") is TrackingStatus.RETURNED
    assert wire.tracking_status("canceled") is TrackingStatus.CANCELLED
    assert wire.tracking_status("teleported") is TrackingStatus.UNKNOWN


def test_a_failed_attempt_sub_status_means_delivery_failed() -> None:
    status = wire.tracking_status("in transit", "Failed Attempt")

    assert status is TrackingStatus.DELIVERY_FAILED
