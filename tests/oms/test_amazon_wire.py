"""Mapping SP-API orders (v0 and v2026-01-01) to the domain."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fulfilment.adapters.oms.amazon.wire import (
    FULFILLED_BY_AMAZON,
    SHIPPED_OUTSIDE,
    Rejected,
    map_v0_order,
    map_v2026_order,
)
from fulfilment.core.booking import FULFILLED_ELSEWHERE, Hold, decide
from fulfilment.core.domain import Order, PaymentMethod
from fulfilment.core.messages import NotifyEvent
from fulfilment.core.notices import notices_for
from fulfilment.core.routing import RoutingPolicy

from .amazon_payloads import prepaid, v0_items, v0_orders, v2026_order


def v2026(**changes: Any) -> Order:
    mapped = map_v2026_order(v2026_order(**changes), "amazon-sa")
    assert isinstance(mapped, Order)
    return mapped


def v0(index: int, items: Any = None, **changes: Any) -> Order:
    payload = {**v0_orders()["payload"]["Orders"][index], **changes}
    mapped = map_v0_order(payload, items, "amazon-sa")
    assert isinstance(mapped, Order)
    return mapped


def codes(order: Order) -> set[str]:
    return {p.code for p in order.source_problems}


def test_maps_the_saudi_cod_order_of_the_v0_fixture() -> None:
    order = v0(0, v0_items()["payload"]["OrderItems"])

    assert str(order.key) == "amazon:amazon-sa:405-0000001-0000001"
    assert order.placed_at == datetime(2025, 3, 14, 18, 2, 11, tzinfo=UTC)
    assert order.source_updated_at == datetime(2025, 3, 14, 18, 35, 40, tzinfo=UTC)
    assert order.total.amount == Decimal("189.75")
    assert order.currency == "SAR"
    assert order.payment.method is PaymentMethod.CASH_ON_DELIVERY
    assert order.payment.collect is not None
    assert order.payment.collect.amount == Decimal("189.75")
    assert [(line.product.sku, line.quantity) for line in order.lines] == [
        ("OUD-50", 1),
        ("BKH-01", 1),
    ]
    assert order.lines[0].unit_price.amount == Decimal("149.00")
    assert order.shipping_address is not None
    assert order.shipping_address.city == "الرياض"
    assert order.shipping_address.country_code == "SA"
    assert order.shipping_address.phone is not None
    assert order.shipping_address.phone.e164 == "+966500000303"
    assert order.source_problems == ()


def test_v2026_equivalent_maps_to_the_same_order_as_v0() -> None:
    old = v0(0, v0_items()["payload"]["OrderItems"])

    new = v2026()

    for field in ("key", "placed_at", "source_updated_at", "total", "payment"):
        assert getattr(new, field) == getattr(old, field), field
    assert new.shipping_address == old.shipping_address
    assert [(x.external_id, x.quantity, x.unit_price) for x in new.lines] == [
        (x.external_id, x.quantity, x.unit_price) for x in old.lines
    ]
    assert new.source_problems == ()


def test_v0_line_price_is_divided_by_the_quantity() -> None:
    items = v0_items()["payload"]["OrderItems"]
    items[0] = {
        **items[0],
        "QuantityOrdered": 2,
        "ItemPrice": {"CurrencyCode": "SAR", "Amount": "298.00"},
    }

    order = v0(0, items)

    assert order.lines[0].unit_price.amount == Decimal("149")
    assert order.lines[0].total.amount == Decimal("298")


def test_cancelled_in_both_spellings() -> None:
    old = v0(1, [])
    new = v2026(
        fulfillment={"fulfillmentStatus": "CANCELLED", "fulfilledBy": "MERCHANT"}
    )

    assert old.cancelled_at == datetime(2025, 3, 14, 6, 1, 27, tzinfo=UTC)
    assert old.financial_status == "Canceled"
    assert new.cancelled_at == new.source_updated_at
    # A cancelled order needs no address, items or total.
    assert old.source_problems == ()
    assert new.source_problems == ()
    assert old.total.currency == "EGP"


def test_an_afn_order_is_kept_but_never_booked() -> None:
    old = v0(0, v0_items()["payload"]["OrderItems"], FulfillmentChannel="AFN")
    new = v2026(fulfillment={"fulfillmentStatus": "SHIPPED", "fulfilledBy": "AMAZON"})

    for order in (old, new):
        assert order.fulfilled_by == FULFILLED_BY_AMAZON == "amazon"
        assert codes(order) == set()  # nothing for a person
        decision = decide(
            order,
            RoutingPolicy.one_partner_per_store({"amazon-sa": "aramex"}).route(order),
            {},
        )
        assert isinstance(decision, Hold)
        assert decision.reason == FULFILLED_ELSEWHERE


def test_prepaid_order_is_paid_and_collects_nothing() -> None:
    order = map_v2026_order(prepaid(v2026_order()), "amazon-sa")

    assert isinstance(order, Order)
    assert order.payment.method is PaymentMethod.PREPAID
    assert order.payment.paid
    assert order.payment.collect is None


def test_a_pending_order_is_held_not_flagged() -> None:
    payload = v2026_order(
        fulfillment={"fulfillmentStatus": "PENDING", "fulfilledBy": "MERCHANT"}
    )
    del payload["recipient"]

    order = map_v2026_order(payload, "amazon-sa")

    assert isinstance(order, Order)
    assert order.source_problems == ()
    decision = decide(
        order,
        RoutingPolicy.one_partner_per_store({"amazon-sa": "aramex"}).route(order),
        {},
    )
    assert isinstance(decision, Hold)


def test_an_order_shipped_elsewhere_is_not_booked() -> None:
    order = v2026(
        fulfillment={"fulfillmentStatus": "SHIPPED", "fulfilledBy": "MERCHANT"}
    )

    assert order.fulfilled_by == SHIPPED_OUTSIDE == "merchant"
    assert codes(order) == set()
    decision = decide(
        order,
        RoutingPolicy.one_partner_per_store({"amazon-sa": "aramex"}).route(order),
        {},
    )
    assert isinstance(decision, Hold)
    assert decision.reason == FULFILLED_ELSEWHERE


def test_the_buyer_email_is_the_relay_and_nobody_is_messaged() -> None:
    order = v2026()

    assert order.key.channel == "amazon"
    assert order.customer is not None
    assert order.customer.email == "fake0001buyer@marketplace.amazon.sa"
    assert notices_for(order, [NotifyEvent.SHIPPED, NotifyEvent.DELIVERED]) == []


def test_a_missing_address_is_a_problem_of_an_unshipped_order() -> None:
    payload = v2026_order()
    del payload["recipient"]

    order = map_v2026_order(payload, "amazon-sa")

    assert isinstance(order, Order)
    assert codes(order) == {"missing_address"}
    assert order.source_problems[0].field == "recipient.deliveryAddress"


def test_a_partial_address_without_restricted_fields_names_what_is_missing() -> None:
    orders = v0_orders()["payload"]["Orders"][0]
    orders["ShippingAddress"] = {
        "City": "الرياض",
        "StateOrRegion": "منطقة الرياض",
        "PostalCode": "12211",
        "CountryCode": "SA",
    }

    order = map_v0_order(orders, v0_items()["payload"]["OrderItems"], "amazon-sa")

    assert isinstance(order, Order)
    assert {(p.code, p.field) for p in order.source_problems} == {
        ("missing_address_line", "ShippingAddress.AddressLine1"),
        ("missing_phone", "ShippingAddress.Phone"),
    }


def test_unreadable_parts_become_problems_not_exceptions() -> None:
    order = v2026(
        lastUpdatedTime="yesterday",
        proceeds={"grandTotal": {"amount": "lots"}},
        orderItems=[{"orderItemId": "1", "quantityOrdered": "two"}],
    )

    assert {"unreadable_time", "unreadable_amount", "unreadable_quantity"} <= codes(
        order
    )
    assert order.raw["lastUpdatedTime"] == "yesterday"


def test_v0_items_that_could_not_be_read_are_a_problem() -> None:
    order = v0(0, None)

    assert "unreadable_lines" in codes(order)


def test_an_order_without_id_is_rejected() -> None:
    assert isinstance(map_v2026_order({"createdTime": "x"}, "amazon-sa"), Rejected)
    assert isinstance(map_v0_order(["not", "an", "order"], [], "amazon-sa"), Rejected)


def test_an_id_with_a_control_character_is_rejected_not_raised() -> None:
    payload = v2026_order(orderId="407-1000001-\x000000001")

    result = map_v2026_order(payload, "amazon-ae")

    assert isinstance(result, Rejected)
    assert "control characters" in result.reason
