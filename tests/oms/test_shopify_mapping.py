"""Mapping GraphQL ``Order`` nodes to domain orders (reference A.6, A.7, C.3)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from fulfilment.adapters.oms.shopify.mapping import (
    Rejected,
    is_cod_gateway,
    map_order,
)
from fulfilment.core.domain import Money, Order, OrderKey, PaymentMethod

from .nodes import address_node, fixture, line_node, money, order_node


def mapped(node: dict[str, Any], store: str = "shemsiworld", **kw: Any) -> Order:
    order = map_order(node, store, **kw)
    assert isinstance(order, Order), order
    return order


def problems(order: Order) -> set[tuple[str, str | None]]:
    return {(p.code, p.field) for p in order.source_problems}


@pytest.fixture
def c3_nodes() -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = fixture("c3_orders_response.json")["data"]["orders"][
        "nodes"
    ]
    return nodes


# --- the reference's two orders ----------------------------------------------


def test_maps_the_reference_cod_order_with_its_key_times_and_lines(
    c3_nodes: list[dict[str, Any]],
) -> None:
    order = mapped(c3_nodes[0], "shemsi-uae")

    assert order.key == OrderKey("shopify", "shemsi-uae", "6100000000001")
    assert str(order.key) == "shopify:shemsi-uae:6100000000001"
    assert order.name == "#1041"
    assert order.placed_at == datetime(2025, 3, 14, 17, 7, 45, tzinfo=UTC)
    assert order.source_updated_at == datetime(2025, 3, 14, 17, 8, 2, tzinfo=UTC)
    assert [(line.product.sku, line.quantity) for line in order.lines] == [
        ("OUD-50", 2),
        ("BKH-01", 1),
    ]
    assert order.lines[0].unit_price == Money(Decimal("99"), "AED")
    assert order.tags == ("COD", "whatsapp-confirm")
    assert order.note == "يرجى الاتصال قبل التوصيل"
    assert order.source_problems == ()


def test_amounts_without_trailing_zeros_compare_as_decimals(
    c3_nodes: list[dict[str, Any]],
) -> None:
    order = mapped(c3_nodes[0], "shemsi-uae")

    assert order.total == Money(Decimal("253.00"), "AED")
    assert order.total.amount == Decimal("253.0")


def test_reference_cod_order_collects_its_total_on_delivery(
    c3_nodes: list[dict[str, Any]],
) -> None:
    order = mapped(c3_nodes[0], "shemsi-uae")

    assert order.payment.method is PaymentMethod.CASH_ON_DELIVERY
    assert order.payment.collect == Money(Decimal("253"), "AED")
    assert order.payment.paid is False
    assert order.payment.gateways == ("Cash on Delivery (COD)",)


def test_reference_cancelled_order_keeps_its_reason_and_its_removed_line_in_raw(
    c3_nodes: list[dict[str, Any]],
) -> None:
    order = mapped(c3_nodes[1], "shemsi-uae")

    assert order.is_cancelled
    assert order.cancelled_at == datetime(2025, 3, 15, 8, 40, 31, tzinfo=UTC)
    assert order.cancel_reason == "CUSTOMER"
    assert order.lines == ()
    assert order.raw["lineItems"]["nodes"][0]["currentQuantity"] == 0
    assert order.source_problems == ()  # a cancelled order is not delivered


def test_phones_become_e164_and_keep_what_was_typed(
    c3_nodes: list[dict[str, Any]],
) -> None:
    order = mapped(c3_nodes[0], "shemsi-uae")

    assert order.shipping_address is not None
    assert order.shipping_address.phone is not None
    assert order.shipping_address.phone.e164 == "+971500000101"
    assert order.customer is not None
    assert order.customer.email == "layla.h.fixture@example.com"
    assert order.customer.phone is not None
    assert order.customer.phone.original == "+971500000101"


def test_keeps_the_node_as_raw_payload(c3_nodes: list[dict[str, Any]]) -> None:
    order = mapped(c3_nodes[0], "shemsi-uae")

    assert order.raw == c3_nodes[0]


# --- payment -------------------------------------------------------------------


@pytest.mark.parametrize(
    "gateway",
    [
        "Cash on Delivery (COD)",
        "cash on delivery",
        "Advanced Cash on Delivery",
        "COD Custom",
        "cod",
        "cash_on_delivery",
        "Paiement à la livraison (COD)",
    ],
)
def test_recognises_cash_on_delivery_gateways_by_name(gateway: str) -> None:
    assert is_cod_gateway(gateway)


@pytest.mark.parametrize(
    "gateway", ["shopify_payments", "Bank Deposit", "manual", "Codpay", "paypal"]
)
def test_other_gateways_are_not_cash_on_delivery(gateway: str) -> None:
    assert not is_cod_gateway(gateway)


def test_a_third_party_cod_app_is_cash_on_delivery() -> None:
    order = mapped(order_node(paymentGatewayNames=["COD Custom"]))

    assert order.payment.is_cod


def test_collects_only_what_is_outstanding_after_a_deposit() -> None:
    node = order_node(
        displayFinancialStatus="PARTIALLY_PAID", totalOutstandingSet=money("300.0")
    )

    order = mapped(node)

    assert order.payment.collect == Money(Decimal(300), "MAD")


def test_collects_the_current_total_when_nothing_is_reported_outstanding() -> None:
    node = order_node(totalOutstandingSet=money("0.0"))

    order = mapped(node)

    assert order.payment.is_cod
    assert order.payment.collect == Money(Decimal(420), "MAD")


def test_a_pending_manual_payment_with_an_amount_due_is_cash_on_delivery() -> None:
    node = order_node(paymentGatewayNames=["manual"], tags=[])

    order = mapped(node)

    assert order.payment.method is PaymentMethod.CASH_ON_DELIVERY
    assert order.payment.collect == Money(Decimal(420), "MAD")


def test_a_cod_order_already_marked_paid_has_nothing_to_collect() -> None:
    node = order_node(displayFinancialStatus="PAID", totalOutstandingSet=money("0.0"))

    order = mapped(node)

    assert order.payment.method is PaymentMethod.PREPAID
    assert order.payment.paid is True


@pytest.mark.parametrize(
    ("status", "paid"),
    [
        ("PAID", True),
        ("PARTIALLY_REFUNDED", True),
        ("AUTHORIZED", True),
        ("PENDING", False),
        ("EXPIRED", False),
    ],
)
def test_prepaid_orders_count_as_paid_only_in_paid_statuses(
    status: str, paid: bool
) -> None:
    node = order_node(
        paymentGatewayNames=["shopify_payments"],
        displayFinancialStatus=status,
        totalOutstandingSet=money("0.0" if paid else "420.0"),
    )

    order = mapped(node)

    assert order.payment.method is PaymentMethod.PREPAID
    assert order.payment.paid is paid
    assert order.payment.collect is None
    assert order.financial_status == status


def test_a_bank_deposit_awaiting_payment_is_prepaid_and_unpaid() -> None:
    node = order_node(paymentGatewayNames=["Bank Deposit"], tags=[])

    order = mapped(node)

    assert (order.payment.method, order.payment.paid) == (PaymentMethod.PREPAID, False)


# --- edits and cancellations ---------------------------------------------------------


def test_an_edited_order_uses_current_quantities_and_current_total() -> None:
    node = order_node(
        totalPriceSet=money("860.0"),
        currentTotalPriceSet=money("420.0"),
        totalOutstandingSet=money("420.0"),
        updatedAt="2025-03-15T02:00:00Z",
        lineItems={
            "nodes": [
                line_node(1, quantity=1),
                line_node(2, sku="MSK-100", quantity=2, current=0, price="220.0"),
            ]
        },
    )

    order = mapped(node)

    assert [(line.product.sku, line.quantity) for line in order.lines] == [
        ("OUD-50", 1)
    ]
    assert order.total == Money(Decimal(420), "MAD")
    assert order.payment.collect == Money(Decimal(420), "MAD")
    assert len(order.raw["lineItems"]["nodes"]) == 2


def test_a_line_partly_removed_keeps_both_quantities() -> None:
    node = order_node(lineItems={"nodes": [line_node(1, quantity=3, current=1)]})

    order = mapped(node)

    assert (order.lines[0].quantity, order.lines[0].ordered_quantity) == (1, 3)


def test_total_falls_back_to_the_original_total_when_no_current_total() -> None:
    node = order_node(totalPriceSet=money("500.0"))
    del node["currentTotalPriceSet"]

    order = mapped(node)

    assert order.total == Money(Decimal(500), "MAD")


def test_a_cancelled_order_is_not_checked_for_delivery_details() -> None:
    node = order_node(
        cancelledAt="2025-03-15T08:40:31Z",
        cancelReason="FRAUD",
        shippingAddress=None,
        lineItems={"nodes": [line_node(1, current=0)]},
    )

    order = mapped(node)

    assert (order.cancel_reason, order.source_problems) == ("FRAUD", ())


# --- phones ------------------------------------------------------------------------


def test_reads_arabic_indic_digits_with_the_address_country() -> None:
    node = order_node(shippingAddress=address_node(phone="٠٦٦١٢٣٤٥٦٧"))

    order = mapped(node)

    assert order.phone is not None
    assert order.phone.e164 == "+212661234567"
    assert order.phone.original == "٠٦٦١٢٣٤٥٦٧"


def test_reads_phones_with_the_country_of_the_address_not_the_store() -> None:
    node = order_node(
        shippingAddress=address_node(countryCodeV2="EG", phone="01001234567")
    )

    order = mapped(node, country="MA")

    assert order.phone is not None
    assert order.phone.e164 == "+201001234567"


def test_a_usable_customer_phone_makes_up_for_an_unreadable_address_phone() -> None:
    node = order_node(
        shippingAddress=address_node(phone="01x 23"), phone="+212661234567"
    )

    order = mapped(node)

    assert order.source_problems == ()
    assert order.phone is not None
    assert order.phone.e164 == "+212661234567"


def test_an_unreadable_phone_with_no_other_is_a_problem_on_that_field() -> None:
    node = order_node(shippingAddress=address_node(phone="01x 23"))

    order = mapped(node)

    assert problems(order) == {("invalid_phone", "shippingAddress.phone")}
    assert "01x 23" not in order.source_problems[0].message  # masked


def test_no_phone_anywhere_is_a_problem() -> None:
    node = order_node(shippingAddress=address_node(phone=None))

    order = mapped(node)

    assert problems(order) == {("missing_phone", "shippingAddress.phone")}


# --- malformed nodes ------------------------------------------------------------------


def test_a_malformed_node_still_becomes_an_order_with_each_problem_located() -> None:
    node = order_node(
        createdAt="yesterday",
        totalPriceSet=money("12,50"),
        currentTotalPriceSet=None,
        shippingAddress=address_node(city=" ", address1=None, phone="01x 23"),
        lineItems={"nodes": [line_node(1, current=0)]},
    )

    order = mapped(node)

    assert problems(order) == {
        ("unreadable_time", "createdAt"),
        ("unreadable_amount", "totalPriceSet.shopMoney.amount"),
        ("missing_city", "shippingAddress.city"),
        ("missing_address_line", "shippingAddress.address1"),
        ("invalid_phone", "shippingAddress.phone"),
        ("no_items", "lineItems"),
    }
    assert order.raw is node
    assert order.total == Money(Decimal(0), "MAD")
    assert order.placed_at == order.source_updated_at


def test_an_order_without_shipping_address_is_a_problem() -> None:
    node = order_node(shippingAddress=None, phone="0661234567")

    order = mapped(node, country="MA")

    assert problems(order) == {("missing_address", "shippingAddress")}


def test_without_any_country_a_local_number_cannot_be_read() -> None:
    node = order_node(shippingAddress=None, phone="0661234567")

    order = mapped(node)

    assert ("invalid_phone", "customer.phone") in problems(order)


def test_unreadable_line_parts_are_located_by_index() -> None:
    bad_quantity = line_node(2, current=None, quantity=None)
    bad_quantity["currentQuantity"] = "two"
    bad_price = line_node(3)
    bad_price["originalUnitPriceSet"] = money("NaN")
    node = order_node(lineItems={"nodes": [line_node(1), bad_quantity, bad_price, {}]})

    order = mapped(node)

    assert problems(order) == {
        ("unreadable_quantity", "lineItems.nodes[1].currentQuantity"),
        (
            "unreadable_amount",
            "lineItems.nodes[2].originalUnitPriceSet.shopMoney.amount",
        ),
        ("unreadable_line", "lineItems.nodes[3]"),
    }
    assert len(order.lines) == 2


# --- weights -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "value", "grams"),
    [
        ("GRAMS", 350.0, 350),
        ("GRAMS", 350.5, 351),  # half up
        ("KILOGRAMS", 1.2, 1200),
        ("KILOGRAMS", 0.28, 280),
        ("OUNCES", 4.0, 113),  # 113.398...
        ("OUNCES", 1, 28),  # 28.3495...
        ("POUNDS", 0.7, 318),  # 317.514...
        ("POUNDS", 2.5, 1134),  # 1133.98...
    ],
)
def test_a_line_weighs_its_unit_weight_in_whole_grams(
    unit: str, value: float, grams: int
) -> None:
    line = line_node(1, weight={"unit": unit, "value": value})

    order = mapped(order_node(lineItems={"nodes": [line]}))

    assert order.lines[0].grams == grams
    assert order.source_problems == ()


@pytest.mark.parametrize(
    "variant",
    [
        None,
        {"id": "gid://shopify/ProductVariant/1"},
        {"id": "gid://shopify/ProductVariant/1", "inventoryItem": None},
        {
            "id": "gid://shopify/ProductVariant/1",
            "inventoryItem": {"measurement": None},
        },
        {"id": "v", "inventoryItem": {"measurement": {"weight": None}}},
        {"id": "v", "inventoryItem": {"measurement": {"weight": {"unit": "GRAMS"}}}},
    ],
)
def test_a_line_without_a_weight_has_unknown_grams_and_no_problem(
    variant: Any,
) -> None:
    line = {**line_node(1), "variant": variant}

    order = mapped(order_node(lineItems={"nodes": [line]}))

    assert order.lines[0].grams is None
    assert order.source_problems == ()


@pytest.mark.parametrize(
    "weight",
    [
        {"unit": "GRAMS", "value": 0.0},  # what Shopify stores when none is typed
        {"unit": "GRAMS", "value": -5},
        {"unit": "STONES", "value": 2},
        {"unit": "KILOGRAMS", "value": "heavy"},
        {"unit": "KILOGRAMS", "value": True},
        {"unit": ["GRAMS"], "value": 3},
    ],
)
def test_a_zero_or_unreadable_weight_is_unknown_never_zero(weight: Any) -> None:
    line = line_node(1, weight=weight)

    order = mapped(order_node(lineItems={"nodes": [line]}))

    assert order.lines[0].grams is None


def test_missing_line_items_and_times_are_problems_not_crashes() -> None:
    node = order_node(lineItems=None, currencyCode="??")
    del node["createdAt"]
    del node["updatedAt"]

    order = mapped(node)

    assert problems(order) >= {
        ("unreadable_lines", "lineItems"),
        ("missing_time", "createdAt"),
        ("missing_time", "updatedAt"),
    }
    assert order.placed_at == datetime(1970, 1, 1, tzinfo=UTC)
    assert order.currency == "MAD"  # read from the total's money instead


def test_a_naive_time_is_unreadable() -> None:
    order = mapped(order_node(updatedAt="2025-03-14T17:08:02"))

    assert ("unreadable_time", "updatedAt") in problems(order)


def test_line_items_left_unread_are_a_problem() -> None:
    node = order_node()
    node["lineItems"]["pageInfo"] = {"hasNextPage": True, "endCursor": "abc"}

    order = mapped(node)

    assert ("incomplete_lines", "lineItems") in problems(order)


def test_the_numeric_id_is_taken_from_the_gid_when_legacy_id_is_missing() -> None:
    node = order_node(legacyResourceId=None, id="gid://shopify/Order/6200000000099")

    order = mapped(node)

    assert order.key.external_id == "6200000000099"


@pytest.mark.parametrize(
    "node",
    [
        {"name": "#1001"},
        {"id": "gid://shopify/Customer/5", "legacyResourceId": ""},
        ["not", "an", "object"],
        {"legacyResourceId": "62000\x0000099"},
    ],
)
def test_a_node_without_any_usable_id_is_rejected_not_raised(node: Any) -> None:
    result = map_order(node, "shemsiworld")

    assert isinstance(result, Rejected)
    assert result.raw == node


# --- e-mail addresses ----------------------------------------------------------

INJECTED = "x@example.com\r\nBcc: evil@attacker.example"


def with_email(address: Any) -> dict[str, Any]:
    customer = {**order_node()["customer"], "email": address}
    return order_node(email=address, customer=customer)


@pytest.mark.parametrize(
    "address",
    [
        INJECTED,
        "x@example.com\nBcc: evil@attacker.example",
        "layla @example.com",
        "layla\t@example.com",
        "layla\x00@example.com",
        "layla\u202e@example.com",
        "layla.example.com",
        "layla@home@example.com",
        "a@b.com, c@d.com",
        "<layla@example.com>",
        '"Ali Baba"@example.com',
        "layla@",
        "@example.com",
        "layla@localhost",
        "layla@example..com",
        "layla..h@example.com",
        "layla@-example.com",
    ],
)
def test_an_unusable_email_is_set_aside_and_the_order_still_books(
    address: str,
) -> None:
    order = mapped(with_email(address))

    assert order.customer is not None
    assert order.customer.email is None
    assert order.source_problems == ()  # a bad e-mail never stops a parcel
    (warning,) = order.source_warnings
    assert (warning.code, warning.field) == ("unusable_email", "customer.email")
    assert "evil" not in warning.message
    assert "layla" not in warning.message
    assert order.raw["customer"]["email"] == address  # kept as sent


@pytest.mark.parametrize(
    "address",
    [
        "layla.h@example.com",
        "Layla+orders@Example.COM",
        "o'brien@example.ie",
        "أحمد@مثال.مصر",
        "layla@مثال.مصر",
        "yasmine@xn--mgbh0fb.xn--wgbh1c",
    ],
)
def test_a_plausible_email_is_kept_as_written(address: str) -> None:
    order = mapped(with_email(address))

    assert order.customer is not None
    assert order.customer.email == address
    assert order.source_warnings == ()


def test_a_usable_order_email_makes_up_for_an_unusable_customer_email() -> None:
    node = with_email(INJECTED)
    node["email"] = "yasmine.benali@example.com"

    order = mapped(node)

    assert order.customer is not None
    assert order.customer.email == "yasmine.benali@example.com"
    assert order.source_warnings == ()


def test_an_unusable_order_email_is_located_on_its_own_field() -> None:
    node = order_node(email="layla at example.com", customer=None)

    order = mapped(node)

    assert order.customer is not None
    assert order.customer.email is None
    assert [(w.code, w.field) for w in order.source_warnings] == [
        ("unusable_email", "email")
    ]
