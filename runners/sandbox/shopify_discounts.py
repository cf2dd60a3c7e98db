"""Discount codes of the sandbox's Shopify shops.

``discountCodeBasicCreate`` makes an amount-off code discount: a share of
the basket (``percentage``, a fraction above 0 and at most 1) or a sum in
the shop's currency (``discountAmount``), for everyone or for listed
customers.  Like Shopify, the sandbox refuses with ``userErrors`` (HTTP
200, nothing created) and checks everything before it makes anything:

- a code, a title and a start are required (``BLANK``), a code is at most
  255 characters (``TOO_LONG``) and unique in the shop without regard to
  case (``TAKEN`` on ``["basicCodeDiscount", "code"]``, the answer a
  client must read as "look it up");
- an end, when given, is after the start (``END_DATE_BEFORE_START_DATE``);
- the value is exactly one of a percentage or an amount (``INVALID``), the
  percentage inside (0, 1] (``VALUE_OUTSIDE_RANGE``), the amount above 0
  (``GREATER_THAN``);
- the items are all items (the only kind the sandbox knows) and the
  customers are everyone or customers the shop knows from its orders
  (``INVALID`` for one it does not).

``codeDiscountNodeByCode`` finds a code without regard to case.  The
wording of the messages is Shopify's where integrators have quoted it
(the ``TAKEN`` one) and the sandbox's own otherwise.

The state lives in the shop's part of the simulator state, so it is saved
and reloaded with the orders::

    discounts   [DiscountCodeNode as served: {id, codeDiscount: {...}}]
    next_ids    resource name -> the last number handed out
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "MAX_CODE_LENGTH",
    "create_discount",
    "discount_by_code",
    "discount_status",
    "plant_discount",
]

Node = dict[str, Any]

MAX_CODE_LENGTH = 255
INPUT = "basicCodeDiscount"
TAKEN_MESSAGE = "Code must be unique. Please try a different code."
# Well apart from the order, line and fulfilment ids, as on a real shop.
_BASES = {
    "DiscountCodeNode": 1_200_000_000_000,
    "DiscountRedeemCode": 1_300_000_000_000,
}


def create_discount(shop: Node, given: Mapping[str, Any], now: str) -> Node:
    """``discountCodeBasicCreate``: the payload, ``{codeDiscountNode,
    userErrors}``.  Nothing changes unless every part is valid."""
    errors = _problems(shop, given)
    if errors:
        return {"codeDiscountNode": None, "userErrors": errors}
    node = _new_node(shop, given, now)
    shop.setdefault("discounts", []).append(node)
    return {"codeDiscountNode": node, "userErrors": []}


def discount_by_code(shop: Node | None, code: str) -> Node | None:
    """The discount node holding *code* (without regard to case)."""
    wanted = code.strip().casefold()
    for node in (shop or {}).get("discounts", []):
        codes = node["codeDiscount"].get("codes", [])
        if any(c["code"].casefold() == wanted for c in codes):
            found: Node = node
            return found
    return None


def plant_discount(
    shop: Node, *, code: str, title: str, starts_at: str, ends_at: str | None
) -> Node:
    """A 10 % code for everyone, as someone in the shop's admin makes one:
    no checks at all (a test's someone-else's code)."""
    given = {
        "title": title,
        "code": code,
        "startsAt": starts_at,
        "endsAt": ends_at,
        "customerSelection": {"all": True},
        "customerGets": {"value": {"percentage": 0.1}, "items": {"all": True}},
    }
    node = _new_node(shop, given, starts_at)
    shop.setdefault("discounts", []).append(node)
    return node


def discount_status(discount: Mapping[str, Any], now: str) -> str:
    """``SCHEDULED`` before its start, ``EXPIRED`` from its end, else
    ``ACTIVE``."""
    moment = _parse(now)
    starts, ends = _parse(discount.get("startsAt")), _parse(discount.get("endsAt"))
    if moment is not None and starts is not None and moment < starts:
        return "SCHEDULED"
    if moment is not None and ends is not None and moment >= ends:
        return "EXPIRED"
    return "ACTIVE"


# --- checking ------------------------------------------------------------------


def _problems(shop: Node, given: Mapping[str, Any]) -> list[Node]:
    return [
        *_text_problems(shop, given),
        *_date_problems(given),
        *_value_problems(given.get("customerGets")),
        *_customer_problems(shop, given.get("customerSelection")),
        *_limit_problems(given.get("usageLimit")),
    ]


def _text_problems(shop: Node, given: Mapping[str, Any]) -> list[Node]:
    errors = []
    if not _filled(given.get("title")):
        errors.append(_error(["title"], "Title can't be blank.", "BLANK"))
    code = given.get("code")
    if not _filled(code):
        errors.append(_error(["code"], "Code can't be blank.", "BLANK"))
    elif len(code) > MAX_CODE_LENGTH:
        message = f"Code is too long (maximum is {MAX_CODE_LENGTH} characters)"
        errors.append(_error(["code"], message, "TOO_LONG"))
    elif discount_by_code(shop, code) is not None:
        errors.append(_error(["code"], TAKEN_MESSAGE, "TAKEN"))
    return errors


def _date_problems(given: Mapping[str, Any]) -> list[Node]:
    raw_start, raw_end = given.get("startsAt"), given.get("endsAt")
    if raw_start is None:
        return [_error(["startsAt"], "Starts at can't be blank.", "BLANK")]
    starts, ends = _parse(raw_start), _parse(raw_end)
    if starts is None:
        return [_error(["startsAt"], "Starts at is invalid.", "INVALID")]
    if raw_end is None:
        return []
    if ends is None:
        return [_error(["endsAt"], "Ends at is invalid.", "INVALID")]
    if ends <= starts:
        return [
            _error(
                ["endsAt"],
                "Ends at needs to be after starts_at",
                "END_DATE_BEFORE_START_DATE",
            )
        ]
    return []


def _value_problems(gets: Any) -> list[Node]:
    if not isinstance(gets, Mapping):
        return [_error(["customerGets"], "Customer gets can't be blank.", "BLANK")]
    errors = []
    items = gets.get("items")
    if not isinstance(items, Mapping) or items.get("all") is not True:
        errors.append(
            _error(
                ["customerGets", "items"],
                "The sandbox discounts all items only (items: {all: true}).",
                "INVALID",
            )
        )
    value = gets.get("value")
    value = value if isinstance(value, Mapping) else {}
    given = [k for k in ("percentage", "discountAmount") if value.get(k) is not None]
    if len(given) != 1:
        message = "Value must be exactly one of percentage or discountAmount."
        return [*errors, _error(["customerGets", "value"], message, "INVALID")]
    if given == ["percentage"]:
        return errors + _percentage_problems(value["percentage"])
    return errors + _amount_problems(value["discountAmount"])


def _percentage_problems(percentage: Any) -> list[Node]:
    if isinstance(percentage, int | float) and 0 < percentage <= 1:
        return []
    return [
        _error(
            ["customerGets", "value", "percentage"],
            "Value must be between 0.0 and 1.0",
            "VALUE_OUTSIDE_RANGE",
        )
    ]


def _amount_problems(amount: Any) -> list[Node]:
    value = _decimal(amount.get("amount") if isinstance(amount, Mapping) else None)
    if value is not None and value > 0:
        return []
    return [
        _error(
            ["customerGets", "value", "discountAmount", "amount"],
            "Amount must be greater than 0",
            "GREATER_THAN",
        )
    ]


def _customer_problems(shop: Node, selection: Any) -> list[Node]:
    if not isinstance(selection, Mapping):
        message = "Customer selection can't be blank."
        return [_error(["customerSelection"], message, "BLANK")]
    added = _map(selection.get("customers")).get("add") or []
    everyone = selection.get("all") is True
    if everyone == bool(added):
        message = "Choose either all customers or a list of customers."
        return [_error(["customerSelection"], message, "INVALID")]
    known = _customers(shop)
    return [
        _error(
            ["customerSelection", "customers", "add", str(i)],
            "Customer does not exist.",
            "INVALID",
        )
        for i, gid in enumerate(added)
        if gid not in known
    ]


def _limit_problems(limit: Any) -> list[Node]:
    if limit is None or (isinstance(limit, int) and limit > 0):
        return []
    return [
        _error(["usageLimit"], "Usage limit must be greater than 0", "GREATER_THAN")
    ]


# --- making ------------------------------------------------------------------------


def _new_node(shop: Node, given: Mapping[str, Any], now: str) -> Node:
    gets = _map(given.get("customerGets"))
    value = _served_value(shop, _map(gets.get("value")))
    discount = {
        "__typename": "DiscountCodeBasic",
        "title": given["title"],
        "summary": _summary(value),
        "startsAt": _iso(given["startsAt"]),
        "endsAt": _iso(given["endsAt"]) if given.get("endsAt") else None,
        "createdAt": now,
        "usageLimit": given.get("usageLimit"),
        "appliesOncePerCustomer": bool(given.get("appliesOncePerCustomer")),
        "asyncUsageCount": 0,
        "codes": [
            {
                "id": _new_gid(shop, "DiscountRedeemCode"),
                "code": given["code"],
                "asyncUsageCount": 0,
            }
        ],
        "customerGets": {
            "value": value,
            "items": {"__typename": "AllDiscountItems", "allItems": True},
        },
        "customerSelection": _served_selection(shop, given["customerSelection"]),
    }
    return {"id": _new_gid(shop, "DiscountCodeNode"), "codeDiscount": discount}


def _served_value(shop: Node, value: Mapping[str, Any]) -> Node:
    if value.get("percentage") is not None:
        return {"__typename": "DiscountPercentage", "percentage": value["percentage"]}
    amount = _map(value.get("discountAmount"))
    return {
        "__typename": "DiscountAmount",
        "amount": {
            "amount": f"{_decimal(amount.get('amount')):f}",
            "currencyCode": _currency(shop),
        },
        "appliesOnEachItem": bool(amount.get("appliesOnEachItem")),
    }


def _served_selection(shop: Node, selection: Mapping[str, Any]) -> Node:
    if selection.get("all") is True:
        return {"__typename": "DiscountCustomerAll", "allCustomers": True}
    known = _customers(shop)
    added = _map(selection.get("customers")).get("add") or []
    return {
        "__typename": "DiscountCustomers",
        "customers": [copy.deepcopy(known[gid]) for gid in added],
    }


def _summary(value: Mapping[str, Any]) -> str:
    if value["__typename"] == "DiscountPercentage":
        share = Decimal(str(value["percentage"])) * 100
        return f"{share.normalize():f}% off entire order"
    money = value["amount"]
    return f"{money['amount']} {money['currencyCode']} off entire order"


def _customers(shop: Node) -> dict[str, Node]:
    """The shop's customers by GID, as its orders name them."""
    found: dict[str, Node] = {}
    for order in shop.get("orders", []):
        customer = order.get("customer")
        if isinstance(customer, Mapping) and isinstance(customer.get("id"), str):
            found.setdefault(customer["id"], dict(customer))
    return found


def _currency(shop: Node) -> str:
    """The shop's currency, as its orders are priced (the sandbox keeps no
    shop settings); USD for a shop without orders."""
    for order in shop.get("orders", []):
        if isinstance(order.get("currencyCode"), str):
            currency: str = order["currencyCode"]
            return currency
    return "USD"


# --- small helpers -------------------------------------------------------------


def _new_gid(shop: Node, kind: str) -> str:
    counters = shop.setdefault("next_ids", {})
    counters[kind] = int(counters.get(kind, 0)) + 1
    return f"gid://shopify/{kind}/{_BASES[kind] + counters[kind]}"


def _error(field: list[str], message: str, code: str) -> Node:
    return {"field": [INPUT, *field], "message": message, "code": code}


def _filled(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def _iso(value: str) -> str:
    parsed = _parse(value)
    assert parsed is not None, "checked before"
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        return None
    return parsed if parsed.is_finite() else None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
