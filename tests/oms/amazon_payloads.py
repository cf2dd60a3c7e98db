"""Amazon payloads for the adapter's tests: the reference's v0 fixtures
(C.7) and their v2026-01-01 equivalents, built from the same orders."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
SA = "A17E79C6D8DWNP"
EG = "ARBP9OOSHTCHU"


def v0_orders() -> dict[str, Any]:
    """The ``getOrders`` answer: a Saudi COD order, an Egyptian cancelled one."""
    return json.loads((FIXTURES / "c7_get_orders.json").read_text("utf-8"))


def v0_items() -> dict[str, Any]:
    """The ``getOrderItems`` answer of the Saudi order."""
    return json.loads((FIXTURES / "c7_order_items.json").read_text("utf-8"))


def v2026_order(**changes: Any) -> dict[str, Any]:
    """The Saudi COD order of C.7 as ``searchOrders`` returns it."""
    order: dict[str, Any] = {
        "orderId": "405-0000001-0000001",
        "createdTime": "2025-03-14T18:02:11Z",
        "lastUpdatedTime": "2025-03-14T18:35:40Z",
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": SA,
            "marketplaceName": "Amazon.sa",
        },
        "buyer": {
            "buyerName": "عبدالله القحطاني",
            "buyerEmail": "fake0001buyer@marketplace.amazon.sa",
        },
        "recipient": {
            "deliveryAddress": {
                "name": "عبدالله القحطاني",
                "addressLine1": "طريق الملك فهد، حي العليا",
                "addressLine2": "مبنى 12، الدور 3",
                "city": "الرياض",
                "stateOrRegion": "منطقة الرياض",
                "postalCode": "12211",
                "countryCode": "SA",
                "phone": "+966500000303",
                "addressType": "RESIDENTIAL",
            }
        },
        "proceeds": {"grandTotal": {"amount": "189.75", "currencyCode": "SAR"}},
        "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"},
        "orderItems": [
            _item("10000000000001", "OUD-50", "B0FAKE0001", "عطر عود 50 مل", "149.00"),
            _item("10000000000002", "BKH-01", "B0FAKE0002", "مبخرة بخور", "25.75"),
        ],
    }
    order.update(copy.deepcopy(changes))
    return order


def _item(item_id: str, sku: str, asin: str, title: str, price: str) -> dict[str, Any]:
    return {
        "orderItemId": item_id,
        "quantityOrdered": 1,
        "product": {
            "asin": asin,
            "title": title,
            "sellerSku": sku,
            "price": {"unitPrice": {"amount": price, "currencyCode": "SAR"}},
        },
        "fulfillment": {
            "quantityFulfilled": 0,
            "quantityUnfulfilled": 1,
            "shipping": {"shippingConstraints": {"cashOnDelivery": "MANDATORY"}},
        },
    }


def prepaid(order: dict[str, Any]) -> dict[str, Any]:
    """*order* without the cash-on-delivery constraint on its items."""
    for item in order["orderItems"]:
        item["fulfillment"]["shipping"]["shippingConstraints"] = {}
    return order
