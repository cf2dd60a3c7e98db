"""Builders of Shopify GraphQL ``Order`` nodes, in exactly the shape the
``orders`` connection returns them (reference C.3), for mapping and
simulator tests.  ``order_node()`` is a complete, deliverable Moroccan
cash-on-delivery order; keyword arguments replace top-level fields."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def money(amount: str, currency: str = "MAD") -> dict[str, Any]:
    return {"shopMoney": {"amount": amount, "currencyCode": currency}}


def line_node(
    number: int = 1,
    *,
    sku: str = "OUD-50",
    title: str = "Oud Perfume 50ml",
    quantity: int = 1,
    current: int | None = None,
    price: str = "390.0",
    currency: str = "MAD",
    weight: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A line item; *weight* (``{"unit", "value"}``) adds the variant's
    ``inventoryItem.measurement.weight``."""
    variant: dict[str, Any] = {
        "id": f"gid://shopify/ProductVariant/{4400000000000 + number}"
    }
    if weight is not None:
        variant["inventoryItem"] = {"measurement": {"weight": weight}}
    return {
        "id": f"gid://shopify/LineItem/{15000000000000 + number}",
        "sku": sku,
        "title": title,
        "quantity": quantity,
        "currentQuantity": quantity if current is None else current,
        "variant": variant,
        "product": {"id": f"gid://shopify/Product/{8800000000000 + number}"},
        "originalUnitPriceSet": money(price, currency),
    }


def address_node(**changes: Any) -> dict[str, Any]:
    address = {
        "firstName": "Yasmine",
        "lastName": "Benali",
        "address1": "12 Rue Ibn Batouta",
        "address2": None,
        "city": "Casablanca",
        "province": None,
        "provinceCode": None,
        "zip": "20250",
        "countryCodeV2": "MA",
        "phone": "0661234567",
    }
    return {**address, **changes}


def order_node(number: int = 1, **changes: Any) -> dict[str, Any]:
    legacy = str(6200000000000 + number)
    node = {
        "id": f"gid://shopify/Order/{legacy}",
        "legacyResourceId": legacy,
        "name": f"#{1000 + number}",
        "email": "yasmine.benali@example.com",
        "phone": None,
        "createdAt": "2025-03-14T17:07:45Z",
        "updatedAt": "2025-03-14T17:08:02Z",
        "cancelledAt": None,
        "cancelReason": None,
        "currencyCode": "MAD",
        "displayFinancialStatus": "PENDING",
        "paymentGatewayNames": ["Cash on Delivery (COD)"],
        "tags": ["COD"],
        "note": None,
        "customer": {
            "id": f"gid://shopify/Customer/{7200000000000 + number}",
            "firstName": "Yasmine",
            "lastName": "Benali",
            "email": "yasmine.benali@example.com",
            "phone": None,
            "locale": "fr",
        },
        "totalPriceSet": money("420.0"),
        "currentTotalPriceSet": money("420.0"),
        "totalOutstandingSet": money("420.0"),
        "shippingAddress": address_node(),
        "lineItems": {"nodes": [line_node(number * 10)]},
    }
    node.update(copy.deepcopy(changes))
    return node


def order_with_lines(number: int, count: int, **changes: Any) -> dict[str, Any]:
    lines = [line_node(number * 1000 + i, sku=f"SKU-{i}") for i in range(count)]
    return order_node(number, lineItems={"nodes": lines}, **changes)
