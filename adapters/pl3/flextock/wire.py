"""Every assumption about Flextock's wire shape, as pure functions.

Observed (public merchant code reflecting Flextock's private "External APIs
Integration" PDF, two independent codebases, marked "both" where they agree):

- login ``POST /base/auth/`` ``{username, password, key}`` → ``{access,
  refresh}``, then ``Authorization: Bearer <access>`` (both); ``key`` is sent
  only when one was issued (both);
- ``create-products`` ``{products: [{sku_code, sku_name, price}]}``, 1-100 a
  call, answered per item with a message, "SKU code already exists." for a
  known SKU; SKUs must exist before an order names them;
- ``create-order`` field names and ``{"message": "Order created
  successfully."}`` (both); ``order_code`` is the merchant's unique id;
- ``order-status`` ``{order_code}`` → ``{order_code, order_status,
  order_sub_status, courier_name, tracking_number, tracking_url}``, which
  merchant code accepts as one object or a list (both), and the batch form
  ``{order_code_array: [...]}`` answered with a list;
- the status vocabulary, kept as data in ``statuses.toml`` (lower case, with
  spaces), read by :func:`status_tables`;
- ``cancel-order`` ``{order_code, order_type: "outbound"}`` → a message,
  "Order cancelled successfully." or "Order cancellation is in progress".

Modelled, because nothing public says (the simulator follows the same model,
so confirm these with Flextock's account team):

- error bodies: Django REST Framework validation errors (the login is
  SimpleJWT's), e.g. ``{"customer_address": {"city": ["..."]}}`` or
  ``{"message": "..."}``; :func:`problems_of` flattens any such shape into
  ``(field.path, message)`` pairs;
- a second order with the same ``order_code`` is answered 400 with an
  ``order_code`` error saying it already exists (the reference notes this is
  "presumably rejected"); an unknown ``order_code`` in order-status is 404;
- phone numbers go as the merchant fixture shows them, Egyptian local form
  ``01001234567``;
- the domain has no shipping line, so the order total minus its lines is sent
  as ``shipping_fees``; a COD order partly paid ahead sends two
  ``payment_data`` entries (cash to collect and the prepaid rest);
- order-status reports the *current* status only, with no time: each answer
  becomes one event stamped with the poll time (or with an ISO 8601
  ``updated_at`` when an entry carries one, which no public code shows); an
  order code the batch answer leaves out is one Flextock does not know;
- a refused cancel is a 400 ``{"message": ...}`` (the simulator refuses once
  a driver has the parcel); cancelling an order already cancelled is
  answered with a message saying so, which counts as cancelled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from fulfilment.adapters.pl3._bearer import AccessToken
from fulfilment.adapters.pl3._cities import canonical_city
from fulfilment.adapters.pl3._statuses import StatusTable, load_status_tables
from fulfilment.core.domain import (
    Address,
    Booking,
    LineItem,
    Order,
    Phone,
    TrackingEvent,
    TrackingStatus,
)
from fulfilment.core.ports import TrackingBatch

from .settings import FlextockSettings

__all__ = [
    "ORDER_TYPE",
    "PARTNER",
    "PRODUCTS_PER_CALL",
    "StatusTables",
    "auth_body",
    "booking_for",
    "booking_from_status",
    "cancel_accepted",
    "cancel_body",
    "is_duplicate_order",
    "order_body",
    "problems_of",
    "product_problems",
    "products_for",
    "sku_of",
    "status_array_body",
    "status_body",
    "status_event",
    "status_tables",
    "token_of",
    "tracking_batch",
    "tracking_status",
]

PARTNER = "flextock"
PRODUCTS_PER_CALL = 100
COUNTRY = "Egypt"
COD = "cash_on_delivery"
PREPAID = "prepaid"
# Our parcels are outbound orders; Flextock also keeps inbound (returns).
ORDER_TYPE = "outbound"
_CANCEL_ACCEPTED = ("cancelled successfully", "cancellation is in progress")
_ALREADY_CANCELLED = ("already cancelled", "already canceled")
_SKU_KNOWN = ("created successfully", "already exists")


# --- requests ----------------------------------------------------------------


def auth_body(settings: FlextockSettings) -> dict[str, str]:
    body = {"username": settings.username, "password": settings.password}
    if settings.api_key:
        body["key"] = settings.api_key
    return body


def order_body(
    reference: str, order: Order, settings: FlextockSettings
) -> dict[str, Any]:
    """The create-order body for *order* under merchant code *reference*."""
    fees = _shipping_fees(order)
    return {
        "order_code": reference,
        "order_date": _local_date(order, settings.time_zone),
        "shipping_fees": _number(fees),
        "is_free_shipping": fees == 0,
        "is_gift_order": False,
        "order_currency": _currency(order),
        "integration_source": settings.integration_source,
        "vendor_name": settings.vendor_name,
        "customer_address": _customer_address(order),
        "line_items": [_line_item(line) for line in order.lines],
        "payment_data": _payment_data(order),
        "requires_self_delivery": False,
    }


def products_for(lines: Iterable[LineItem]) -> list[dict[str, Any]]:
    """create-products entries, one per distinct SKU, in order of first use."""
    products: dict[str, dict[str, Any]] = {}
    for line in lines:
        sku = sku_of(line)
        products.setdefault(
            sku,
            {
                "sku_code": sku,
                "sku_name": line.product.title,
                "price": _number(line.unit_price.amount),
            },
        )
    return list(products.values())


def status_body(reference: str) -> dict[str, str]:
    return {"order_code": reference}


def status_array_body(references: Sequence[str]) -> dict[str, list[str]]:
    """The batch form of order-status, used for tracking."""
    return {"order_code_array": list(references)}


def cancel_body(reference: str) -> dict[str, str]:
    return {"order_code": reference, "order_type": ORDER_TYPE}


def sku_of(line: LineItem) -> str:
    """The SKU Flextock stocks the line under.  A product without a SKU
    falls back to its variant or product id so the line is still named
    consistently across orders."""
    product = line.product
    return product.sku or product.variant_id or product.external_id or line.external_id


def _customer_address(order: Order) -> dict[str, Any]:
    address = order.shipping_address or Address()
    customer = order.customer
    body: dict[str, Any] = {
        "country": COUNTRY,
        "city": canonical_city(address.city),
        # Egyptian checkouts put the district in the second address line;
        # the city stands in when it is empty, as area is always expected.
        "area": address.line2 or canonical_city(address.city),
        "address_line1": address.line1 or "",
        "first_name": address.first_name or (customer and customer.first_name) or "",
        "last_name": address.last_name or (customer and customer.last_name) or "",
        "phone_number": _local_phone(order.phone),
    }
    secondary = _secondary_phone(order)
    if secondary:
        body["secondary_phone_number"] = secondary
    if order.note:
        body["note"] = order.note
    return body


def _line_item(line: LineItem) -> dict[str, Any]:
    return {
        "sku_code": sku_of(line),
        "quantity": line.quantity,
        "sku_price": _number(line.unit_price.amount),
        # The domain keeps the price paid, not a compare-at price.
        "sku_promotional_price": None,
    }


def _payment_data(order: Order) -> list[dict[str, Any]]:
    collect = order.payment.collect
    if not order.payment.is_cod or collect is None:
        return [{"value": _number(order.total.amount), "payment_type": PREPAID}]
    entries = [{"value": _number(collect.amount), "payment_type": COD}]
    paid_ahead = order.total.amount - collect.amount
    if paid_ahead > 0 and collect.currency == order.currency:
        entries.append({"value": _number(paid_ahead), "payment_type": PREPAID})
    return entries


def _currency(order: Order) -> str:
    collect = order.payment.collect
    return collect.currency if order.payment.is_cod and collect else order.currency


def _shipping_fees(order: Order) -> Decimal:
    lines = sum((line.total.amount for line in order.lines), Decimal(0))
    return max(order.total.amount - lines, Decimal(0))


def _local_date(order: Order, time_zone: str) -> str:
    return order.placed_at.astimezone(ZoneInfo(time_zone)).date().isoformat()


def _local_phone(phone: Phone | None) -> str:
    """``+201001234567`` → ``01001234567``; a foreign number stays E.164."""
    if phone is None:
        return ""
    if not phone.e164:
        return phone.original.strip()
    parsed = phonenumbers.parse(phone.e164)
    if parsed.country_code != 20:
        return phone.e164
    return "0" + phonenumbers.national_significant_number(parsed)


def _secondary_phone(order: Order) -> str | None:
    primary = order.phone
    others = [
        order.customer and order.customer.phone,
        order.shipping_address and order.shipping_address.phone,
    ]
    for other in others:
        if other and other.e164 and (primary is None or other.e164 != primary.e164):
            return _local_phone(other)
    return None


def _number(amount: Decimal) -> int | float:
    # JSON numbers, as merchant code sends them; an integral amount stays int.
    return int(amount) if amount == amount.to_integral_value() else float(amount)


# --- answers -----------------------------------------------------------------


def token_of(body: Any) -> AccessToken:
    """The access token of a login answer.  Flextock's token lifetime is not
    known, so it carries no expiry and is renewed when a call gets 401."""
    if not isinstance(body, Mapping) or not body.get("access"):
        raise ValueError("login answer has no access token")
    return AccessToken(str(body["access"]))


def booking_for(reference: str) -> Booking:
    """The booking create-order stands for: Flextock keys the order on our
    ``order_code``; the courier's tracking number only comes later."""
    return Booking(PARTNER, reference)


def booking_from_status(body: Any, reference: str) -> Booking | None:
    """The booking in an order-status answer (one object or a list), or None
    when it does not mention *reference*."""
    entries = body if isinstance(body, list) else [body]
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("order_code") == reference:
            return Booking(
                PARTNER, reference, tracking_url=entry.get("tracking_url") or None
            )
    return None


def product_problems(body: Any) -> tuple[list[str], tuple[tuple[str, str], ...]]:
    """Split a create-products answer into SKUs Flextock now knows and
    ``(products.<sku>, message)`` problems for the ones it refused."""
    known: list[str] = []
    problems: list[tuple[str, str]] = []
    items = body.get("response", []) if isinstance(body, Mapping) else []
    for item in items:
        sku, message = str(item.get("sku_code")), str(item.get("message", ""))
        if any(ok in message.casefold() for ok in _SKU_KNOWN):
            known.append(sku)
        else:
            problems.append((f"products.{sku}", message))
    return known, tuple(problems)


def problems_of(body: Any) -> tuple[tuple[str, str], ...]:
    """Flatten a validation answer into ``(field.path, message)`` pairs;
    ``message``/``detail``/``non_field_errors`` keep their own name."""
    return tuple(_flatten(body, ()))


def is_duplicate_order(problems: Sequence[tuple[str, str]]) -> bool:
    """Whether Flextock refused the order because its code is taken.  No
    error code is published, so the field and its wording are the signal."""
    return any(
        path == "order_code" and "exist" in message.casefold()
        for path, message in problems
    )


def _flatten(node: Any, path: tuple[str, ...]) -> Iterable[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _flatten(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            step = (*path, str(index)) if isinstance(value, Mapping | list) else path
            yield from _flatten(value, step)
    elif node is not None and str(node).strip():
        yield ".".join(path) or "message", str(node)


# --- tracking and cancelling ---------------------------------------------------


class StatusTables:
    """Flextock's two vocabularies from ``statuses.toml``: ``order_status``
    gives the status, ``order_sub_status`` may override it."""

    def __init__(self, tables: Mapping[str, StatusTable]) -> None:
        self.order_status = tables["order_status"]
        self.order_sub_status = tables["order_sub_status"]

    def status(
        self, order_status: str, sub_status: str | None = None
    ) -> TrackingStatus:
        """The sub-status's own status when it has one, else the
        order_status's; ``unknown`` for an order_status not in the table."""
        own = self.order_sub_status.get(sub_status) if sub_status else None
        return own or self.order_status.status(order_status)


def status_tables() -> StatusTables:
    return StatusTables(load_status_tables(__package__))


def tracking_status(order_status: str, sub_status: str | None = None) -> TrackingStatus:
    """The normalised status of a Flextock status pair; case and spacing are
    ignored and an unknown order_status maps to ``unknown``."""
    return status_tables().status(order_status, sub_status)


def tracking_batch(
    body: Any, references: Sequence[str], polled_at: datetime
) -> TrackingBatch:
    """One event per order code of *references* that the order-status
    answer (a list, or one object) mentions; the others are ``missing``.
    A ``tracking_url`` in an entry is the courier's page for that parcel."""
    entries = body if isinstance(body, list) else [body]
    tables = status_tables()
    wanted = set(references)
    known = [
        entry
        for entry in entries
        if isinstance(entry, Mapping) and entry.get("order_code") in wanted
    ]
    events = {
        str(entry["order_code"]): (status_event(entry, polled_at, tables),)
        for entry in known
    }
    # The courier's tracking page appears once a courier has the parcel.
    links = {
        str(entry["order_code"]): str(entry["tracking_url"])
        for entry in known
        if isinstance(entry.get("tracking_url"), str) and entry["tracking_url"]
    }
    return TrackingBatch(events, frozenset(wanted - events.keys()), links)


def status_event(
    entry: Mapping[str, Any], polled_at: datetime, tables: StatusTables
) -> TrackingEvent:
    """The current status of one order-status entry as an event.  Its code
    is ``order_status`` or ``"order_status / order_sub_status"`` as Flextock
    wrote them; its time is the entry's ``updated_at`` when it has a
    readable aware one, else *polled_at*."""
    status = str(entry.get("order_status") or "").strip()
    sub = str(entry.get("order_sub_status") or "").strip()
    courier = str(entry.get("courier_name") or "").strip()
    words = [status, sub, f"courier {courier}" if courier else ""]
    return TrackingEvent(
        code=f"{status} / {sub}" if sub else status,
        status=tables.status(status, sub or None),
        description="; ".join(word for word in words if word),
        occurred_at=_entry_time(entry.get("updated_at")) or polled_at,
    )


def cancel_accepted(body: Any, *, ok: bool) -> bool:
    """Whether a cancel-order answer says the order is cancelled, is being
    cancelled, or already was.  A success status must say one of these;
    a refusal counts only when it says the order was already cancelled
    (a repeated cancel, e.g. after a lost answer)."""
    words = [message for _, message in problems_of(body)]
    text = " ".join(words).casefold()
    phrases = (*_CANCEL_ACCEPTED, *_ALREADY_CANCELLED) if ok else _ALREADY_CANCELLED
    return any(phrase in text for phrase in phrases)


def _entry_time(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return moment if moment and moment.utcoffset() is not None else None
