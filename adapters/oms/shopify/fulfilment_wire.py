"""Shopify's fulfilment shapes, read and written as plain data (pure).

``fulfillmentCreate`` does not take the order's line items: it takes the
line items of the order's *fulfillment orders*, which have ids of their
own.  :func:`fulfillment_input` builds the request from what
``OrderFulfillmentOrders`` read: every fulfillment order that is open (or
in progress) and supports ``CREATE_FULFILLMENT``, each of its line items
with what remains of it, so one fulfilment ships everything still to
ship, under one tracking number.  Shopify wants the fulfillment orders of
one fulfilment at one location; an order split across locations is
refused with Shopify's words, for a person to ship by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fulfilment.core.errors import OutcomeUnknown, PartnerRejected
from fulfilment.core.ports import ShipmentReport

from .client import PARTNER

__all__ = [
    "created_fulfilment_id",
    "fulfillment_input",
    "order_gid",
    "recorded_with_number",
]

FULFILLABLE = frozenset({"OPEN", "IN_PROGRESS"})
CREATE_FULFILLMENT = "CREATE_FULFILLMENT"


def order_gid(external_id: str) -> str:
    return f"gid://shopify/Order/{external_id}"


def recorded_with_number(order: Mapping[str, Any], number: str) -> str | None:
    """The id of the order's fulfilment that carries tracking *number*."""
    for fulfilment in _list(order.get("fulfillments")):
        numbers = (
            _text(t.get("number")) for t in _list(fulfilment.get("trackingInfo"))
        )
        if number in numbers and _text(fulfilment.get("id")):
            return str(fulfilment["id"])
    return None


def fulfillment_input(
    order: Mapping[str, Any], report: ShipmentReport
) -> dict[str, Any]:
    """The ``FulfillmentInput`` shipping what remains of *order* (the
    ``order`` of an ``OrderFulfillmentOrders`` answer) with *report*'s
    tracking.  ``PartnerRejected`` when nothing can be fulfilled."""
    connection = _map(order.get("fulfillmentOrders"))
    nodes = _list(connection.get("nodes"))
    if _map(connection.get("pageInfo")).get("hasNextPage"):
        raise _too_many(order, "more fulfillment orders than one read holds")
    groups = [group for fo in nodes if (group := _group(order, fo)) is not None]
    if not groups:
        statuses = ", ".join(sorted({str(fo.get("status")) for fo in nodes})) or "none"
        raise PartnerRejected(
            f"order {order.get('name')} has nothing left to fulfil "
            f"(fulfillment orders: {statuses})",
            partner=PARTNER,
            code="nothing_to_fulfil",
        )
    tracking = {"number": report.tracking_number, "company": report.company}
    if report.url:
        tracking["url"] = report.url
    # The connector tells customers itself, in their language.
    return {
        "lineItemsByFulfillmentOrder": groups,
        "trackingInfo": tracking,
        "notifyCustomer": False,
    }


def created_fulfilment_id(data: Mapping[str, Any]) -> str:
    """The new fulfilment's id from a ``FulfillmentCreate`` answer.
    ``PartnerRejected`` quoting each user error; ``OutcomeUnknown`` when
    the answer says neither (the mutation ran, its result is unreadable)."""
    payload = _map(data.get("fulfillmentCreate"))
    errors = [_map(e) for e in _list(payload.get("userErrors"))]
    if errors:
        problems = tuple(
            (_field(e.get("field")), str(e.get("message"))) for e in errors
        )
        raise PartnerRejected(
            "; ".join(f"{field}: {message}" for field, message in problems),
            partner=PARTNER,
            problems=problems,
        )
    fulfilment_id = _text(_map(payload.get("fulfillment")).get("id"))
    if fulfilment_id is None:
        raise OutcomeUnknown(
            "fulfillmentCreate answered without a fulfilment or user errors",
            partner=PARTNER,
        )
    return fulfilment_id


def _group(order: Mapping[str, Any], fo: Mapping[str, Any]) -> dict[str, Any] | None:
    """One fulfillment order's part of the request, None when it takes no
    fulfilment or has nothing left."""
    actions = {_map(a).get("action") for a in _list(fo.get("supportedActions"))}
    if fo.get("status") not in FULFILLABLE or CREATE_FULFILLMENT not in actions:
        return None
    connection = _map(fo.get("lineItems"))
    if _map(connection.get("pageInfo")).get("hasNextPage"):
        raise _too_many(order, "a fulfillment order with more line items than one read")
    items = [
        {"id": str(item["id"]), "quantity": item["remainingQuantity"]}
        for item in map(_map, _list(connection.get("nodes")))
        if _text(item.get("id")) and _positive(item.get("remainingQuantity"))
    ]
    if not items or not _text(fo.get("id")):
        return None
    return {"fulfillmentOrderId": str(fo["id"]), "fulfillmentOrderLineItems": items}


def _too_many(order: Mapping[str, Any], what: str) -> PartnerRejected:
    return PartnerRejected(
        f"order {order.get('name')} has {what}; record the shipment in the "
        "Shopify admin",
        partner=PARTNER,
        code="too_large",
    )


def _field(path: Any) -> str:
    if isinstance(path, Sequence) and not isinstance(path, str) and path:
        return ".".join(str(p) for p in path)
    return "fulfillment"


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return (
        [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
    )
