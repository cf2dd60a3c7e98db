"""Fulfilment orders and fulfilments of the sandbox's Shopify shops.

Shopify ships an order through its *fulfillment orders*: when the order is
created, its lines are grouped into one fulfillment order per location,
each with line items of its own whose ids are not the order's line ids.
``fulfillmentCreate`` takes quantities of those fulfillment-order line
items (sending an order's line id instead is the classic mistake, and
Shopify answers that the line item does not exist), records a fulfilment
with its tracking information, closes the fulfillment order once nothing
remains, and marks the order fulfilled.

The sandbox keeps one fulfillment order per order (one location), made the
first time the shop is asked anything after the order appeared, and
refuses what Shopify refuses, as ``userErrors`` with HTTP 200: an unknown
fulfillment order, a fulfillment-order line item it does not hold, a
quantity beyond what remains, a fulfillment order that is closed (a
cancelled order's is).  Quantities follow the order's lines, so an edit
that removes a line leaves nothing of it to fulfil.

The state lives in the shop's part of the simulator state, beside its
orders, so it is saved and reloaded with them::

    fulfillment_orders  order number -> [{id, status, createdAt, updatedAt,
                                         lineItems: [{id, lineItemId, fulfilled}]}]
    fulfillments        order number -> [Fulfillment node as served]
    next_ids            resource name -> the last number handed out

The wording of the refusals is Shopify's where integrators have quoted it
and the sandbox's own otherwise; clients must read ``userErrors`` as data,
not match their text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "FULFILLMENT_ORDER_BASE",
    "create_fulfilment",
    "fulfilment_order_views",
    "fulfilments_of",
    "open_fulfilment_orders",
    "order_lines",
    "order_number",
]

Node = dict[str, Any]

# Ids of the sandbox's fulfilment resources start here, well apart from the
# order and line ids of the seeds and test files, as on a real shop where
# a fulfillment-order line item never shares its number with an order line.
FULFILLMENT_ORDER_BASE = 5_300_000_000_000
_BASES = {
    "FulfillmentOrder": FULFILLMENT_ORDER_BASE,
    "FulfillmentOrderLineItem": 5_400_000_000_000,
    "Fulfillment": 5_700_000_000_000,
}
_FULFILLABLE = ("OPEN", "IN_PROGRESS")
_ACTIONS = {
    "OPEN": ("CREATE_FULFILLMENT", "HOLD", "MOVE"),
    "IN_PROGRESS": ("CREATE_FULFILLMENT", "HOLD"),
}
_GID = re.compile(r"gid://shopify/(?P<kind>\w+)/(?P<number>\d+)")


def open_fulfilment_orders(shop: Node, now: str) -> None:
    """Give every order of *shop* that has none its fulfillment order, made
    when the order was (or *now* for an order without a creation time)."""
    book = shop.setdefault("fulfillment_orders", {})
    shop.setdefault("fulfillments", {})
    for node in shop["orders"]:
        number = order_number(node)
        if number and number not in book:
            book[number] = [_new_fulfilment_order(shop, node, now)]


def fulfilment_order_views(shop: Node | None, order: Mapping[str, Any]) -> list[Node]:
    """The fulfillment orders of *order* as the API serves them, with each
    line item's total and remaining quantity and its order line."""
    if shop is None:
        return []
    lines = {str(line.get("id")): line for line in order_lines(order)}
    stored = shop.get("fulfillment_orders", {}).get(order_number(order), [])
    return [_view(fo, order, lines) for fo in stored]


def fulfilments_of(shop: Node | None, order: Mapping[str, Any]) -> list[Node]:
    if shop is None:
        return []
    found: list[Node] = shop.get("fulfillments", {}).get(order_number(order), [])
    return found


def create_fulfilment(shop: Node, fulfilment: Mapping[str, Any], now: str) -> Node:
    """``fulfillmentCreate``: the payload, ``{fulfillment, userErrors}``.
    Nothing changes unless every part of the request is valid."""
    groups = fulfilment.get("lineItemsByFulfillmentOrder") or []
    if not groups:
        return _refused(
            ["fulfillment", "lineItemsByFulfillmentOrder"],
            "Line items by fulfillment order can't be blank.",
        )
    plan: list[tuple[Node, Node, list[tuple[Node, int]]]] = []
    errors: list[Node] = []
    for index, group in enumerate(groups):
        path = ["fulfillment", "lineItemsByFulfillmentOrder", str(index)]
        planned = _plan_group(shop, group, path, errors)
        if planned is not None:
            plan.append(planned)
    if not errors and len({id(order) for order, _, _ in plan}) > 1:
        errors.append(
            _error(["fulfillment"], "All fulfillment orders must belong to one order.")
        )
    if not errors and not any(items for _, _, items in plan):
        errors.append(_error(["fulfillment"], "There is nothing left to fulfill."))
    if errors:
        return {"fulfillment": None, "userErrors": errors}
    return {"fulfillment": _apply(shop, plan, fulfilment, now), "userErrors": []}


# --- building and viewing fulfillment orders ---------------------------------


def _new_fulfilment_order(shop: Node, order: Mapping[str, Any], now: str) -> Node:
    created = order.get("createdAt") or now
    return {
        "id": _new_gid(shop, "FulfillmentOrder"),
        "status": "OPEN",
        "createdAt": created,
        "updatedAt": created,
        "lineItems": [
            {
                "id": _new_gid(shop, "FulfillmentOrderLineItem"),
                "lineItemId": str(line.get("id")),
                "fulfilled": 0,
            }
            for line in order_lines(order)
        ],
    }


def _view(fo: Node, order: Mapping[str, Any], lines: Mapping[str, Node]) -> Node:
    status = _status(fo, order)
    return {
        "id": fo["id"],
        "status": status,
        "supportedActions": [{"action": a} for a in _ACTIONS.get(status, ())],
        "createdAt": fo["createdAt"],
        "updatedAt": fo["updatedAt"],
        "lineItems": [
            {
                "id": item["id"],
                "totalQuantity": _total(item, lines),
                "remainingQuantity": _remaining(item, lines),
                "lineItem": lines.get(item["lineItemId"]),
            }
            for item in fo["lineItems"]
            if item["lineItemId"] in lines
        ],
    }


def _status(fo: Node, order: Mapping[str, Any]) -> str:
    """A cancelled order's fulfillment orders are closed."""
    if order.get("cancelledAt") is not None:
        return "CLOSED"
    return str(fo["status"])


def _total(item: Node, lines: Mapping[str, Node]) -> int:
    line = lines.get(item["lineItemId"]) or {}
    quantity = line.get("currentQuantity", line.get("quantity"))
    return quantity if isinstance(quantity, int) and quantity > 0 else 0


def _remaining(item: Node, lines: Mapping[str, Node]) -> int:
    return max(0, _total(item, lines) - int(item["fulfilled"]))


# --- fulfillmentCreate ----------------------------------------------------------


def _plan_group(
    shop: Node, group: Mapping[str, Any], path: list[str], errors: list[Node]
) -> tuple[Node, Node, list[tuple[Node, int]]] | None:
    found = _find_fulfilment_order(shop, str(group.get("fulfillmentOrderId")))
    if found is None:
        errors.append(
            _error([*path, "fulfillmentOrderId"], "Fulfillment order does not exist.")
        )
        return None
    order, fo = found
    status = _status(fo, order)
    if status not in _FULFILLABLE:
        number = _number(fo["id"])
        errors.append(
            _error(
                ["fulfillment"],
                f"Fulfillment order {number} has an unfulfillable "
                f"status= {status.lower()}.",
            )
        )
        return None
    lines = {str(line.get("id")): line for line in order_lines(order)}
    wanted = group.get("fulfillmentOrderLineItems")
    if wanted is None:
        everything = [(i, _remaining(i, lines)) for i in fo["lineItems"]]
        return order, fo, [(i, q) for i, q in everything if q > 0]
    items = _plan_items(fo, lines, wanted, path, errors)
    return order, fo, items


def _plan_items(
    fo: Node,
    lines: Mapping[str, Node],
    wanted: list[Mapping[str, Any]],
    path: list[str],
    errors: list[Node],
) -> list[tuple[Node, int]]:
    by_id = {item["id"]: item for item in fo["lineItems"]}
    taken: dict[str, int] = {}
    chosen = []
    for index, entry in enumerate(wanted):
        where = [*path, "fulfillmentOrderLineItems", str(index)]
        item = by_id.get(str(entry.get("id")))
        if item is None:
            errors.append(
                _error([*where, "id"], "Fulfillment order line item does not exist.")
            )
            continue
        quantity = int(entry.get("quantity") or 0)
        so_far = taken.get(item["id"], 0)
        if quantity <= 0 or so_far + quantity > _remaining(item, lines):
            errors.append(
                _error(
                    [*where, "quantity"],
                    "Invalid fulfillment order line item quantity requested.",
                )
            )
            continue
        taken[item["id"]] = so_far + quantity
        chosen.append((item, quantity))
    return chosen


def _apply(
    shop: Node,
    plan: list[tuple[Node, Node, list[tuple[Node, int]]]],
    fulfilment: Mapping[str, Any],
    now: str,
) -> Node:
    order = plan[0][0]
    lines = {str(line.get("id")): line for line in order_lines(order)}
    for _, fo, items in plan:
        for item, quantity in items:
            item["fulfilled"] = int(item["fulfilled"]) + quantity
        left = any(_remaining(item, lines) for item in fo["lineItems"])
        fo["status"] = "IN_PROGRESS" if left else "CLOSED"
        fo["updatedAt"] = now
    number = order_number(order)
    records = shop["fulfillments"].setdefault(number, [])
    record = {
        "id": _new_gid(shop, "Fulfillment"),
        "name": f"{order.get('name')}.{len(records) + 1}",
        "status": "SUCCESS",
        "createdAt": now,
        "updatedAt": now,
        "trackingInfo": _tracking(fulfilment.get("trackingInfo") or {}),
        "notifyCustomer": bool(fulfilment.get("notifyCustomer")),
        "lines": [
            {"id": item["id"], "lineItemId": item["lineItemId"], "quantity": quantity}
            for _, _, items in plan
            for item, quantity in items
        ],
    }
    records.append(record)
    order["displayFulfillmentStatus"] = _display_status(shop, order)
    order["updatedAt"] = now
    return record


def _tracking(given: Mapping[str, Any]) -> list[Node]:
    """One entry per tracking number: ``number`` and ``url``, or the
    ``numbers`` and ``urls`` lists side by side; the company for all."""
    numbers = given.get("numbers") or ([given["number"]] if given.get("number") else [])
    urls = given.get("urls") or ([given["url"]] if given.get("url") else [])
    return [
        {
            "company": given.get("company"),
            "number": number,
            "url": urls[i] if i < len(urls) else None,
        }
        for i, number in enumerate(numbers)
    ]


def _display_status(shop: Node, order: Mapping[str, Any]) -> str:
    views = fulfilment_order_views(shop, order)
    items = [item for fo in views for item in fo["lineItems"]]
    if all(item["remainingQuantity"] == 0 for item in items):
        return "FULFILLED"
    return "PARTIALLY_FULFILLED"


def _find_fulfilment_order(shop: Node, gid: str) -> tuple[Node, Node] | None:
    if _kind(gid) != "FulfillmentOrder":
        return None
    orders = {order_number(node): node for node in shop["orders"]}
    for number, fos in shop.get("fulfillment_orders", {}).items():
        for fo in fos:
            if fo["id"] == gid and number in orders:
                return orders[number], fo
    return None


# --- ids and errors --------------------------------------------------------------


def _new_gid(shop: Node, kind: str) -> str:
    counters = shop.setdefault("next_ids", {})
    counters[kind] = int(counters.get(kind, 0)) + 1
    return f"gid://shopify/{kind}/{_BASES[kind] + counters[kind]}"


def _kind(gid: str) -> str | None:
    match = _GID.fullmatch(gid)
    return match["kind"] if match else None


def _number(gid: str) -> str:
    return gid.rsplit("/", 1)[-1]


def _error(field: list[str], message: str) -> Node:
    return {"field": field, "message": message}


def _refused(field: list[str], message: str) -> Node:
    return {"fulfillment": None, "userErrors": [_error(field, message)]}


def order_number(node: Mapping[str, Any]) -> str:
    """The order's number: its ``legacyResourceId``, else its GID's tail."""
    legacy = node.get("legacyResourceId")
    if legacy is not None:
        return str(legacy)
    return str(node.get("id", "")).rsplit("/", 1)[-1]


def order_lines(node: Mapping[str, Any]) -> list[Node]:
    """The order's line item nodes (the list itself, not a copy)."""
    items = node.get("lineItems")
    nodes = items.get("nodes") if isinstance(items, Mapping) else None
    return nodes if isinstance(nodes, list) else []
