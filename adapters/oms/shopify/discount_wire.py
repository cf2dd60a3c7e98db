"""Shopify's discount shapes, read and written as plain data (pure).

A code is created with ``discountCodeBasicCreate``: an amount off the whole
basket (``items: {all: true}``), either a share (``percentage``, a
fraction: 15 % is ``0.15``) or a sum in the shop's currency
(``discountAmount``, taken once from the order, not from each item), open
to one customer or to anyone, usable once.  ``customerSelection`` is the
older of Shopify's two ways to say who may use a code (``context`` is the
newer one); every stable version still takes it.

Shopify answers a refusal with ``userErrors`` and HTTP 200; a code the
shop already holds is ``TAKEN`` on the ``code`` field, and becomes
:class:`~fulfilment.core.errors.DiscountCodeTaken`, since the caller must
look the code up to learn whether it is its own.  Every other user error
is a rejection quoting Shopify's field path and words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fulfilment.core.errors import DiscountCodeTaken, OutcomeUnknown, PartnerRejected
from fulfilment.core.nps import DiscountKind
from fulfilment.core.ports import DiscountRequest, ExistingDiscount

from .client import PARTNER

__all__ = [
    "TAKEN",
    "basic_code_discount",
    "created_discount_id",
    "customer_gid",
    "existing_discount",
]

TAKEN = "TAKEN"
CREATE = "discountCodeBasicCreate"
_CUSTOMER_GID = re.compile(r"gid://shopify/Customer/\d+")


def customer_gid(customer_id: str) -> str:
    """The customer's global id from a GID or a numeric id.
    ``PartnerRejected`` for anything else: Shopify could not take it."""
    given = customer_id.strip()
    if given.isdigit():
        return f"gid://shopify/Customer/{given}"
    if _CUSTOMER_GID.fullmatch(given):
        return given
    raise PartnerRejected(
        f"customer id {customer_id!r} is neither a Shopify customer GID "
        "(gid://shopify/Customer/123) nor a numeric id",
        partner=PARTNER,
        code="invalid_customer",
    )


def basic_code_discount(request: DiscountRequest) -> dict[str, Any]:
    """The ``DiscountCodeBasicInput`` creating *request*'s code."""
    return {
        "title": request.title,
        "code": request.code,
        "startsAt": _iso(request.starts_at),
        "endsAt": _iso(request.ends_at),
        "customerSelection": _customer_selection(request.customer_id),
        "customerGets": {
            "value": _value(request.kind, request.value),
            "items": {"all": True},
        },
        "appliesOncePerCustomer": True,
        "usageLimit": 1,
    }


def created_discount_id(data: Mapping[str, Any]) -> str:
    """The new discount's id from a ``DiscountCodeBasicCreate`` answer.
    ``DiscountCodeTaken`` when the code is taken, ``PartnerRejected``
    quoting every other user error, ``OutcomeUnknown`` when the answer
    says neither (the mutation ran; its result is unreadable)."""
    payload = _map(data.get(CREATE))
    errors = [_map(e) for e in _list(payload.get("userErrors"))]
    if errors:
        raise _refusal(errors)
    discount_id = _text(_map(payload.get("codeDiscountNode")).get("id"))
    if discount_id is None:
        raise OutcomeUnknown(
            f"{CREATE} answered without a discount or user errors", partner=PARTNER
        )
    return discount_id


def existing_discount(data: Mapping[str, Any]) -> ExistingDiscount | None:
    """The discount of a ``CodeDiscountByCode`` answer, or None when the
    shop holds none under the code."""
    node = _map(data.get("codeDiscountNodeByCode"))
    discount_id = _text(node.get("id"))
    if discount_id is None:
        return None
    discount = _map(node.get("codeDiscount"))
    return ExistingDiscount(
        store_id=discount_id,
        title=_text(discount.get("title")) or "",
        starts_at=_time(discount.get("startsAt")),
        ends_at=_time(discount.get("endsAt")),
    )


def _customer_selection(customer_id: str | None) -> dict[str, Any]:
    if customer_id is None:
        return {"all": True}
    return {"customers": {"add": [customer_gid(customer_id)]}}


def _value(kind: DiscountKind, value: Decimal) -> dict[str, Any]:
    if kind is DiscountKind.PERCENTAGE:
        # Shopify's percentage is a Float fraction; 12.5 % travels as 0.125.
        return {"percentage": float(value / 100)}
    return {"discountAmount": {"amount": f"{value:f}", "appliesOnEachItem": False}}


def _refusal(errors: list[Mapping[str, Any]]) -> PartnerRejected:
    problems = tuple((_field(e.get("field")), str(e.get("message"))) for e in errors)
    message = "; ".join(f"{field}: {words}" for field, words in problems)
    codes = [_text(e.get("code")) for e in errors]
    taken = any(
        code == TAKEN and _field(e.get("field")).rsplit(".", 1)[-1] == "code"
        for code, e in zip(codes, errors, strict=True)
    )
    kind = DiscountCodeTaken if taken else PartnerRejected
    return kind(
        message,
        partner=PARTNER,
        problems=problems,
        code=TAKEN if taken else next((c for c in codes if c), None),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def _field(path: Any) -> str:
    if isinstance(path, Sequence) and not isinstance(path, str) and path:
        return ".".join(str(p) for p in path)
    return "basicCodeDiscount"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
