"""The REST shape of an order (a webhook's body) maps to the same domain
order as its GraphQL node (what polling reads).

The property generates one order, renders it both ways as Shopify would
(GraphQL: GIDs, ``Z`` times, ``shopMoney`` bags, a tag list; REST: numeric
ids, the shop's UTC offset, decimal strings with two places, one
comma-separated tag string) and proves both mappings agree on everything
but ``raw`` and where a problem points.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from fulfilment.adapters.oms.shopify.mapping import Rejected, map_order
from fulfilment.adapters.oms.shopify.rest_mapping import (
    graphql_node,
    map_rest_order,
    rest_path,
)
from fulfilment.core.domain import Order, PaymentMethod
from tests.oms.nodes import fixture

STORE = "shemsiworld"
OFFSETS = [timedelta(0), timedelta(hours=1), timedelta(hours=4), -timedelta(hours=5)]
WORDS = st.text(alphabet="abcdeflmnoprstu ابتثجحدرزسشعمنوي-'", min_size=0, max_size=12)
PHONES = ["+212612345678", "0612345678", "+971500000101", "12", "", None]
EMAILS = ["layla.h.fixture@example.com", "two@@example.com", None]
GATEWAYS = [
    ["Cash on Delivery (COD)"],
    ["shopify_payments"],
    ["manual"],
    [],
    ["COD Custom", "gift_card"],
]
STATUSES = ["pending", "paid", "authorized", "refunded", "partially_refunded"]
REASONS = ["customer", "fraud", "inventory", "declined", "other"]


@st.composite
def amounts(draw: st.DrawFn) -> Decimal:
    cents = draw(st.integers(min_value=0, max_value=2_000_000))
    return Decimal(cents) / 100


@st.composite
def times(draw: st.DrawFn) -> datetime:
    seconds = draw(st.integers(min_value=0, max_value=3 * 365 * 86400))
    return datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


@st.composite
def addresses(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.booleans()) and draw(st.booleans()):
        return None
    return {
        "first_name": draw(WORDS),
        "last_name": draw(WORDS),
        "address1": draw(WORDS),
        "address2": draw(st.none() | WORDS),
        "city": draw(st.sampled_from(["Casablanca", "دبي", "", "Rabat "])),
        "province": draw(st.none() | WORDS),
        "province_code": draw(st.sampled_from([None, "CAS", "DU"])),
        "zip": draw(st.sampled_from([None, "20000"])),
        "country_code": draw(st.sampled_from(["MA", "AE", None])),
        "phone": draw(st.sampled_from(PHONES)),
        "company": draw(st.none() | WORDS),
    }


@st.composite
def lines(draw: st.DrawFn, number: int) -> dict[str, Any]:
    quantity = draw(st.integers(min_value=0, max_value=5))
    return {
        "id": 15_000_000_000_000 + number,
        "sku": draw(st.sampled_from(["OUD-50", "BKH-01", None])),
        "title": draw(WORDS),
        "quantity": quantity,
        "current_quantity": draw(st.integers(min_value=0, max_value=quantity)),
        "price": draw(amounts()),
        "grams": draw(st.integers(min_value=0, max_value=5000)),
        "variant_id": draw(st.none() | st.just(4_400_000_000_000 + number)),
        "product_id": draw(st.none() | st.just(8_800_000_000_000 + number)),
    }


@st.composite
def order_specs(draw: st.DrawFn) -> dict[str, Any]:
    created = draw(times())
    cancelled = draw(st.none() | st.just(created + timedelta(hours=1)))
    customer = draw(st.booleans())
    count = draw(st.integers(min_value=0, max_value=4))
    return {
        "id": draw(st.integers(min_value=1, max_value=10**13)),
        "name": f"#{draw(st.integers(min_value=1001, max_value=99999))}",
        "email": draw(st.sampled_from(EMAILS)),
        "phone": draw(st.sampled_from(PHONES)),
        "created_at": created,
        "updated_at": created + timedelta(seconds=draw(st.integers(0, 10**6))),
        "cancelled_at": cancelled,
        "cancel_reason": draw(st.sampled_from(REASONS)) if cancelled else None,
        "currency": draw(st.sampled_from(["MAD", "AED", "EGP"])),
        "financial_status": draw(st.sampled_from(STATUSES)),
        "gateways": draw(st.sampled_from(GATEWAYS)),
        "tags": draw(st.lists(st.sampled_from(["COD", "VIP", "whatsapp confirm"]))),
        "note": draw(st.none() | WORDS),
        "total": draw(amounts()),
        "current_total": draw(st.none() | amounts()),
        "outstanding": draw(st.none() | amounts()),
        "customer": {
            "id": 7_200_000_000_000 + draw(st.integers(1, 999)),
            "first_name": draw(WORDS),
            "last_name": draw(WORDS),
            "email": draw(st.sampled_from(EMAILS)),
            "phone": draw(st.sampled_from(PHONES)),
            "locale": draw(st.sampled_from(["ar", "fr", None])),
        }
        if customer
        else None,
        "address": draw(addresses()),
        "lines": [draw(lines(n)) for n in range(count)],
        "offset": draw(st.sampled_from(OFFSETS)),
    }


# --- the two renderings ------------------------------------------------------


def _z(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _shop_time(moment: datetime | None, offset: timedelta) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone(offset)).isoformat()


def _bag(amount: Decimal, currency: str) -> dict[str, Any]:
    # GraphQL writes the shortest decimal ("99.0"); REST two places.
    return {"shopMoney": {"amount": str(amount.normalize()), "currencyCode": currency}}


def _two_places(amount: Decimal) -> str:
    return f"{amount:.2f}"


def as_graphql(spec: dict[str, Any]) -> dict[str, Any]:
    currency = spec["currency"]
    node: dict[str, Any] = {
        "id": f"gid://shopify/Order/{spec['id']}",
        "legacyResourceId": str(spec["id"]),
        "name": spec["name"],
        "email": spec["email"],
        "phone": spec["phone"],
        "createdAt": _z(spec["created_at"]),
        "updatedAt": _z(spec["updated_at"]),
        "cancelledAt": _z(spec["cancelled_at"]),
        "cancelReason": (spec["cancel_reason"] or "").upper() or None,
        "currencyCode": currency,
        "displayFinancialStatus": spec["financial_status"].upper(),
        "paymentGatewayNames": spec["gateways"],
        "tags": spec["tags"],
        "note": spec["note"],
        "totalPriceSet": _bag(spec["total"], currency),
        "shippingAddress": _graphql_address(spec["address"]),
        "lineItems": {
            "pageInfo": {"hasNextPage": False, "endCursor": None},
            "nodes": [_graphql_line(line, currency) for line in spec["lines"]],
        },
    }
    if spec["current_total"] is not None:
        node["currentTotalPriceSet"] = _bag(spec["current_total"], currency)
    if spec["outstanding"] is not None:
        node["totalOutstandingSet"] = _bag(spec["outstanding"], currency)
    customer = spec["customer"]
    node["customer"] = customer and {
        "id": f"gid://shopify/Customer/{customer['id']}",
        "firstName": customer["first_name"],
        "lastName": customer["last_name"],
        "email": customer["email"],
        "phone": customer["phone"],
        "locale": customer["locale"],
    }
    return node


def _graphql_address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if address is None:
        return None
    names = {"first_name": "firstName", "last_name": "lastName"}
    names |= {"province_code": "provinceCode", "country_code": "countryCodeV2"}
    return {names.get(k, k): v for k, v in address.items()}


def _graphql_line(line: dict[str, Any], currency: str) -> dict[str, Any]:
    weight = {"unit": "KILOGRAMS", "value": line["grams"] / 1000}
    variant = None
    if line["variant_id"] is not None or line["grams"]:
        variant = {
            "id": line["variant_id"]
            and f"gid://shopify/ProductVariant/{line['variant_id']}",
            "inventoryItem": {"measurement": {"weight": weight}},
        }
    product = line["product_id"] and {
        "id": f"gid://shopify/Product/{line['product_id']}"
    }
    return {
        "id": f"gid://shopify/LineItem/{line['id']}",
        "sku": line["sku"],
        "title": line["title"],
        "quantity": line["quantity"],
        "currentQuantity": line["current_quantity"],
        "variant": variant,
        "product": product,
        "originalUnitPriceSet": _bag(line["price"], currency),
    }


def as_rest(spec: dict[str, Any]) -> dict[str, Any]:
    offset = spec["offset"]
    customer = spec["customer"]
    payload: dict[str, Any] = {
        "id": spec["id"],
        "admin_graphql_api_id": f"gid://shopify/Order/{spec['id']}",
        "name": spec["name"],
        "email": spec["email"],
        "phone": spec["phone"],
        "created_at": _shop_time(spec["created_at"], offset),
        "updated_at": _shop_time(spec["updated_at"], offset),
        "cancelled_at": _shop_time(spec["cancelled_at"], offset),
        "cancel_reason": spec["cancel_reason"],
        "currency": spec["currency"],
        "financial_status": spec["financial_status"],
        "payment_gateway_names": spec["gateways"],
        "tags": ", ".join(spec["tags"]),
        "note": spec["note"],
        "total_price": _two_places(spec["total"]),
        "customer_locale": customer and customer["locale"],
        "customer": customer and {k: v for k, v in customer.items() if k != "locale"},
        "shipping_address": spec["address"],
        "line_items": [
            {**line, "price": _two_places(line["price"])} for line in spec["lines"]
        ],
    }
    if spec["current_total"] is not None:
        payload["current_total_price"] = _two_places(spec["current_total"])
    if spec["outstanding"] is not None:
        payload["total_outstanding"] = _two_places(spec["outstanding"])
    return payload


def comparable(order: Order) -> Order:
    """*order* without what differs by design: ``raw`` and where each
    problem points (checked on its own)."""

    def plain(problems: Any) -> tuple[Any, ...]:
        return tuple(attrs.evolve(p, field=None, message="") for p in problems)

    return attrs.evolve(
        order,
        raw={},
        source_problems=plain(order.source_problems),
        source_warnings=plain(order.source_warnings),
    )


@settings(max_examples=60, deadline=None)
@given(order_specs())
def test_a_webhook_payload_maps_to_the_order_polling_reads(
    spec: dict[str, Any],
) -> None:
    polled = map_order(as_graphql(spec), STORE, country="MA")
    pushed = map_rest_order(as_rest(spec), STORE, country="MA")

    assert isinstance(polled, Order)
    assert isinstance(pushed, Order)
    assert comparable(pushed) == comparable(polled)
    assert [p.field for p in pushed.source_problems] == [
        rest_path(p.field) if p.field else None for p in polled.source_problems
    ]
    assert pushed.raw == as_rest(spec)


def test_the_reference_order_maps_the_same_from_rest_and_graphql() -> None:
    rest = fixture("c1_orders_rest.json")["orders"][0]
    node = fixture("c3_orders_response.json")["data"]["orders"]["nodes"][0]

    pushed = map_rest_order(rest, "shemsi-uae", country="AE")
    polled = map_order(node, "shemsi-uae", country="AE")

    assert isinstance(pushed, Order)
    assert isinstance(polled, Order)
    assert str(pushed.key) == "shopify:shemsi-uae:6100000000001" == str(polled.key)
    assert pushed.source_updated_at == polled.source_updated_at
    assert pushed.placed_at == polled.placed_at
    assert pushed.payment.method is PaymentMethod.CASH_ON_DELIVERY
    assert pushed.payment.collect == polled.payment.collect
    assert pushed.shipping_address == polled.shipping_address
    assert [(ln.external_id, ln.quantity) for ln in pushed.lines] == [
        (ln.external_id, ln.quantity) for ln in polled.lines
    ]
    assert pushed.tags == polled.tags == ("COD", "whatsapp-confirm")
    assert pushed.source_problems == ()


def test_a_problem_points_at_the_field_of_the_rest_payload() -> None:
    rest = fixture("c1_orders_rest.json")["orders"][0]
    broken = {**rest, "shipping_address": {**rest["shipping_address"], "city": ""}}
    broken["line_items"] = [{**broken["line_items"][0], "current_quantity": "two"}]

    mapped = map_rest_order(broken, "shemsi-uae", country="AE")

    assert isinstance(mapped, Order)
    fields = {p.code: p.field for p in mapped.source_problems}
    assert fields["missing_city"] == "shipping_address.city"
    assert fields["unreadable_quantity"] == "line_items[0].current_quantity"


def test_a_payload_with_no_id_is_rejected_naming_the_rest_fields() -> None:
    mapped = map_rest_order({"name": "#1041"}, STORE)

    assert isinstance(mapped, Rejected)
    assert "admin_graphql_api_id" in mapped.reason
    assert mapped.raw == {"name": "#1041"}


def test_the_node_carries_the_gids_graphql_would() -> None:
    rest = fixture("c1_orders_rest.json")["orders"][0]

    node = graphql_node(rest)

    assert node["id"] == "gid://shopify/Order/6100000000001"
    assert node["lineItems"]["nodes"][0]["product"] == {
        "id": "gid://shopify/Product/8800000000001"
    }
    assert node["displayFinancialStatus"] == "PENDING"
