"""From a REST ``Order`` (the body of an ``orders/*`` webhook) to the domain
:class:`Order`.

Pure functions.  Shopify pushes the bare REST resource (snake_case keys,
numeric ids, money as decimal strings beside optional ``*_set`` bags,
times with the shop's UTC offset, tags as one comma-separated string)
while polling reads the GraphQL node.  The two must become the same
order, or a webhook and the next poll would disagree about it; so this
module only translates the REST shape into the node shape and hands it to
:func:`.mapping.map_order`, which holds every business rule (cash on
delivery, current quantities, phones, problems).  What it adds back:

- ``raw`` is the REST payload as it came, for the audit;
- each problem's and warning's ``field`` is the path in the REST payload
  (``shipping_address.city``, ``line_items[2].current_quantity``), so a
  person looking at the webhook body finds it.

Translation rules, where the shapes differ:

- ids become the GraphQL ids the node would carry: the order's
  ``admin_graphql_api_id`` (else ``gid://shopify/Order/<id>``), likewise
  for the customer and each line item; ``product_id`` and ``variant_id``
  become ``gid://shopify/Product/<id>`` and ``…/ProductVariant/<id>``;
- a money field is its ``*_set.shop_money`` bag when present, else the
  plain amount in the order's ``currency``;
- ``financial_status`` and ``cancel_reason`` are upper-cased, as the
  GraphQL enums are;
- a line's ``grams`` (whole grams of one unit; 0 when none was entered)
  becomes the variant's weight in ``GRAMS``;
- the customer's locale is ``customer.locale`` when given, else the order's
  ``customer_locale``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from fulfilment.core.domain import Order, Problem

from .mapping import Rejected, map_order

__all__ = ["graphql_node", "map_rest_order", "rest_path"]

_ADDRESS = {
    "first_name": "firstName",
    "last_name": "lastName",
    "address1": "address1",
    "address2": "address2",
    "city": "city",
    "province": "province",
    "province_code": "provinceCode",
    "zip": "zip",
    "country_code": "countryCodeV2",
    "phone": "phone",
    "company": "company",
}
_CUSTOMER = {
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "phone": "phone",
    "locale": "locale",
}
_SAME = ("name", "email", "phone", "note", "tags")
_TIMES = {
    "created_at": "createdAt",
    "updated_at": "updatedAt",
    "cancelled_at": "cancelledAt",
}
_MONEY = {
    "total_price": "totalPriceSet",
    "current_total_price": "currentTotalPriceSet",
    "total_outstanding": "totalOutstandingSet",
}

# Node paths back to payload paths: a whole path by name, else each
# pattern in turn.
_PATHS = [
    (re.compile(r"^lineItems\.nodes\[(\d+)\]"), r"line_items[\1]"),
    (re.compile(r"^lineItems\b"), "line_items"),
    (re.compile(r"\.currentQuantity$"), ".current_quantity"),
    (re.compile(r"\.originalUnitPriceSet\.shopMoney\.amount$"), ".price"),
]
_NAMES = {
    "legacyResourceId": "id",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "cancelledAt": "cancelled_at",
    "currencyCode": "currency",
    "displayFinancialStatus": "financial_status",
    "shippingAddress": "shipping_address",
    "totalPriceSet.shopMoney.amount": "total_price",
    "currentTotalPriceSet.shopMoney.amount": "current_total_price",
    "totalOutstandingSet.shopMoney.amount": "total_outstanding",
    "totalPriceSet": "total_price",
    "customer.email": "customer.email",
    "customer.phone": "customer.phone",
    **{
        f"shippingAddress.{node}": f"shipping_address.{rest}"
        for rest, node in _ADDRESS.items()
    },
}


def map_rest_order(
    payload: Mapping[str, Any], store: str, *, country: str | None = None
) -> Order | Rejected:
    """Map one REST order of *store* to the domain, as :func:`.mapping.map_order`
    maps the GraphQL node of the same order."""
    if not isinstance(payload, Mapping):
        kind = type(payload).__name__
        return Rejected(f"the payload is a {kind}, not an object", payload)
    mapped = map_order(graphql_node(payload), store, country=country)
    if isinstance(mapped, Rejected):
        reason = mapped.reason.replace("legacyResourceId", "id")
        return Rejected(
            reason.replace("no Order id", "no admin_graphql_api_id"), payload
        )
    return attrs.evolve(
        mapped,
        raw=payload,
        source_problems=tuple(_located(p) for p in mapped.source_problems),
        source_warnings=tuple(_located(p) for p in mapped.source_warnings),
    )


def graphql_node(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The GraphQL ``Order`` node that says what *payload* says."""
    currency = payload.get("currency")
    node: dict[str, Any] = {
        "id": _gid(payload, "Order", payload.get("id")),
        "legacyResourceId": payload.get("id"),
        "currencyCode": currency,
        "displayFinancialStatus": _upper(payload.get("financial_status")),
        "cancelReason": _upper(payload.get("cancel_reason")),
        "paymentGatewayNames": payload.get("payment_gateway_names"),
        "customer": _customer(payload),
        "shippingAddress": _address(payload.get("shipping_address")),
        "lineItems": _lines(payload.get("line_items"), currency),
    }
    node |= {name: payload.get(name) for name in _SAME}
    node |= {graph: payload.get(rest) for rest, graph in _TIMES.items()}
    for rest, graph in _MONEY.items():
        if payload.get(rest) is not None or payload.get(f"{rest}_set") is not None:
            node[graph] = _money(payload, rest, currency)
    return node


def rest_path(field: str) -> str:
    """The path in the REST payload of a field path in the GraphQL node."""
    if field in _NAMES:
        return _NAMES[field]
    for pattern, replacement in _PATHS:
        field = pattern.sub(replacement, field)
    return field


def _located(problem: Problem) -> Problem:
    if problem.field is None:
        return problem
    return attrs.evolve(problem, field=rest_path(problem.field))


def _gid(item: Mapping[str, Any], kind: str, number: Any) -> str | None:
    given = item.get("admin_graphql_api_id")
    if isinstance(given, str) and given.strip():
        return given
    return _gid_of(kind, number)


def _gid_of(kind: str, number: Any) -> str | None:
    if isinstance(number, bool) or not isinstance(number, int | str):
        return None
    text = str(number).strip()
    return f"gid://shopify/{kind}/{text}" if text else None


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _money(item: Mapping[str, Any], name: str, currency: Any) -> Any:
    """The ``shopMoney`` bag of field *name*: its ``*_set.shop_money`` when
    there is one, else the plain amount in *currency*."""
    bag = item.get(f"{name}_set")
    shop = bag.get("shop_money") if isinstance(bag, Mapping) else None
    if isinstance(shop, Mapping):
        amount, code = shop.get("amount"), shop.get("currency_code")
        return {"shopMoney": {"amount": amount, "currencyCode": code or currency}}
    return {"shopMoney": {"amount": item.get(name), "currencyCode": currency}}


def _customer(payload: Mapping[str, Any]) -> Any:
    data = payload.get("customer")
    if not isinstance(data, Mapping):
        return data
    customer = {graph: data.get(rest) for rest, graph in _CUSTOMER.items()}
    customer["id"] = _gid(data, "Customer", data.get("id"))
    if customer["locale"] is None:
        customer["locale"] = payload.get("customer_locale")
    return customer


def _address(data: Any) -> Any:
    if not isinstance(data, Mapping):
        return data
    return {graph: data.get(rest) for rest, graph in _ADDRESS.items()}


def _lines(items: Any, currency: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        return {"nodes": items}
    return {"nodes": [_line(item, currency) for item in items]}


def _line(item: Any, currency: Any) -> Any:
    if not isinstance(item, Mapping):
        return item
    line: dict[str, Any] = {
        "id": _gid(item, "LineItem", item.get("id")),
        "sku": item.get("sku"),
        "title": item.get("title"),
        "quantity": item.get("quantity"),
        "variant": _variant(item),
        "product": _reference("Product", item.get("product_id")),
        "originalUnitPriceSet": _money(item, "price", currency),
    }
    if "current_quantity" in item:
        line["currentQuantity"] = item["current_quantity"]
    return line


def _variant(item: Mapping[str, Any]) -> dict[str, Any] | None:
    grams = item.get("grams")
    weight = None
    if isinstance(grams, int | float) and not isinstance(grams, bool):
        weight = {"measurement": {"weight": {"unit": "GRAMS", "value": grams}}}
    variant_id = _gid_of("ProductVariant", item.get("variant_id"))
    if variant_id is None and weight is None:
        return None
    return {"id": variant_id, "inventoryItem": weight}


def _reference(kind: str, number: Any) -> dict[str, Any] | None:
    gid = _gid_of(kind, number)
    return None if gid is None else {"id": gid}
