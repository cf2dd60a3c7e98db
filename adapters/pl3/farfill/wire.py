"""Every assumption about Farfill's wire shape, as pure functions.

Observed: nothing.  Farfill (Dubai) publishes no API documentation, client
code or package; its API is issued privately on onboarding.  The whole shape
is therefore modelled, and must be confirmed with Farfill's account team.

Modelled on the documented Quiqup Fulfilment API (a UAE fulfilment partner
with the same job):

- OAuth2 client credentials, ``POST /oauth/token`` (form-encoded
  ``grant_type=client_credentials``, ``client_id``, ``client_secret``) →
  ``{access_token, token_type: "Bearer", expires_in}``;
- ``POST /api/fulfilment/orders`` keyed by a unique ``partner_order_id`` (our
  merchant reference), with ``service_kind`` (:data:`SERVICE_KINDS`),
  ``payment_mode`` ``paid_on_delivery`` (COD) or ``pre_paid`` and the
  ``currency`` (AED);
- order states, from Quiqup's Orders API state machine, kept as data in
  ``statuses.toml`` and read by :func:`status_table`.

Modelled beyond Quiqup's public pages (the simulator follows the same
model): the body's ``recipient``/``items``/``notes`` names and money as
decimal strings (``"459.00"``); the answer ``201 {"order": {...}}``;
validation errors ``422 {"errors": [{"field", "message"}]}``; a taken
``partner_order_id`` answered ``409`` with the same error shape; lookup by
``GET /api/fulfilment/orders?partner_order_id=`` → ``{"orders": [...]}``.

Tracking and cancelling, modelled the same way (Quiqup's public pages name
``GET``/``PATCH /api/fulfilment/orders/{id}`` but not these bodies):

- ``GET /api/fulfilment/orders/{id}`` → ``{"order": {..., "state",
  "state_updated_at", "events": [{"state", "occurred_at", "note"}]}}``, the
  events being the order's history, oldest first, times ISO 8601 with a
  zone; an unknown id is 404;
- ``PATCH /api/fulfilment/orders/{id}`` ``{"state": "cancelled"}`` → 200 with
  the order, now ``cancelled`` (repeating it changes nothing); refused with
  422 ``{"errors": [{"field": "state", "message": ...}]}`` once the order
  has been collected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fulfilment.adapters.pl3._bearer import AccessToken
from fulfilment.adapters.pl3._cities import canonical_city
from fulfilment.adapters.pl3._statuses import StatusTable, load_status_tables
from fulfilment.adapters.pl3._tracking import oldest_first
from fulfilment.core.domain import (
    Address,
    Booking,
    LineItem,
    Order,
    TrackingEvent,
    TrackingStatus,
)

from .settings import FarfillSettings

__all__ = [
    "CANCELLED",
    "PARTNER",
    "SERVICE_KINDS",
    "booking_from_list",
    "booking_of",
    "cancel_body",
    "is_cancelled",
    "is_duplicate_order",
    "order_body",
    "problems_of",
    "status_table",
    "token_form",
    "token_of",
    "tracking_events",
    "tracking_status",
]

PARTNER = "farfill"
COD = "paid_on_delivery"
PREPAID = "pre_paid"
SERVICE_KINDS = frozenset(
    {"partner_next_day", "partner_same_day", "partner_4hr", "partner_export"}
)
_CENTS = Decimal("0.01")

CANCELLED = "cancelled"


# --- requests ----------------------------------------------------------------


def token_form(settings: FarfillSettings) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": settings.client_id,
        "client_secret": settings.client_secret,
    }


def order_body(
    reference: str, order: Order, settings: FarfillSettings
) -> dict[str, Any]:
    """The create-order body for *order* under partner order id *reference*."""
    collect = order.payment.collect
    cod = order.payment.is_cod and collect is not None
    return {
        "partner_order_id": reference,
        "service_kind": settings.service_kind,
        "payment_mode": COD if cod else PREPAID,
        "payment_amount": money(collect.amount if collect and cod else Decimal(0)),
        "currency": collect.currency if collect and cod else order.currency,
        "recipient": _recipient(order),
        "items": [_item(line) for line in order.lines],
        "notes": order.note or None,
    }


def money(amount: Decimal) -> str:
    """A decimal string with two places: ``Decimal("459")`` → ``"459.00"``."""
    return str(amount.quantize(_CENTS))


def _recipient(order: Order) -> dict[str, Any]:
    address = order.shipping_address or Address()
    customer = order.customer
    phone = order.phone
    return {
        "name": address.full_name or (customer and customer.full_name) or "",
        "phone": (phone.e164 or phone.original) if phone else None,
        "email": customer.email if customer else None,
        "address": {
            "address1": address.line1 or "",
            "address2": address.line2 or "",
            "city": canonical_city(address.city),
            "country": address.country_code or "",
        },
    }


def _item(line: LineItem) -> dict[str, Any]:
    product = line.product
    return {
        "sku": product.sku
        or product.variant_id
        or product.external_id
        or line.external_id,
        "name": product.title,
        "quantity": line.quantity,
        "unit_price": money(line.unit_price.amount),
    }


# --- answers -----------------------------------------------------------------


def token_of(body: Any, now: datetime) -> AccessToken:
    """The bearer token of a token answer, expiring ``expires_in`` seconds
    after *now*."""
    if not isinstance(body, Mapping) or not body.get("access_token"):
        raise ValueError("token answer has no access_token")
    if str(body.get("token_type", "")).casefold() != "bearer":
        raise ValueError(f"token type {body.get('token_type')!r} is not Bearer")
    lifetime = body.get("expires_in")
    expires = now + timedelta(seconds=float(lifetime)) if lifetime else None
    return AccessToken(str(body["access_token"]), expires)


def booking_of(body: Any) -> Booking:
    """The booking in a create answer ``{"order": {...}}``."""
    order = body.get("order") if isinstance(body, Mapping) else None
    if not isinstance(order, Mapping) or not order.get("id"):
        raise ValueError("create answer has no order id")
    return _booking(order)


def booking_from_list(body: Any, reference: str) -> Booking | None:
    """The booking for *reference* in ``{"orders": [...]}``, or None."""
    orders = body.get("orders") if isinstance(body, Mapping) else None
    for order in orders or ():
        if isinstance(order, Mapping) and order.get("partner_order_id") == reference:
            return _booking(order)
    return None


def problems_of(body: Any) -> tuple[tuple[str, str], ...]:
    """``(field, message)`` pairs of an error answer; an OAuth-style or bare
    ``message`` answer becomes one pair."""
    if not isinstance(body, Mapping):
        return ()
    errors = body.get("errors")
    if isinstance(errors, list):
        return tuple(
            (str(e.get("field") or "base"), str(e.get("message", "")))
            for e in errors
            if isinstance(e, Mapping)
        )
    text = body.get("message") or body.get("error_description") or body.get("error")
    return (("base", str(text)),) if text else ()


def is_duplicate_order(status: int, problems: Sequence[tuple[str, str]]) -> bool:
    """Whether Farfill refused the order because its partner order id is
    already taken: a 409, or the id named among the errors."""
    return status == 409 or any(
        field == "partner_order_id" and "taken" in message.casefold()
        for field, message in problems
    )


def status_table() -> StatusTable:
    """Farfill order states → normalised statuses (``statuses.toml``)."""
    return load_status_tables(__package__)["state"]


def tracking_status(state: str) -> TrackingStatus:
    """The normalised status of a Farfill order state; unknown → ``unknown``."""
    return status_table().status(state)


def cancel_body() -> dict[str, str]:
    return {"state": CANCELLED}


def is_cancelled(body: Any) -> bool:
    """Whether an answer ``{"order": {...}}`` shows the order cancelled."""
    order = body.get("order") if isinstance(body, Mapping) else None
    state = order.get("state") if isinstance(order, Mapping) else None
    return str(state or "").strip().casefold() == CANCELLED


def tracking_events(body: Any, polled_at: datetime) -> tuple[TrackingEvent, ...]:
    """The history of the order in ``{"order": {...}}``, oldest first.

    An order whose answer has no ``events`` gives one event for its current
    ``state``, at ``state_updated_at`` or, lacking that, *polled_at*.  Raises
    ValueError naming the field for an answer outside the model.
    """
    order = body.get("order") if isinstance(body, Mapping) else None
    if not isinstance(order, Mapping):
        raise ValueError("order answer has no order")
    table = status_table()
    history = order.get("events") or []
    if not history:
        at = _time(order.get("state_updated_at"), "order.state_updated_at", polled_at)
        return (_event(order.get("state"), None, at, table),)
    return oldest_first(
        _history_event(entry, i, table) for i, entry in enumerate(history)
    )


def _history_event(entry: Any, index: int, table: StatusTable) -> TrackingEvent:
    path = f"order.events[{index}]"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{path}: not an object")
    at = _time(entry.get("occurred_at"), f"{path}.occurred_at")
    return _event(entry.get("state"), entry.get("note"), at, table)


def _booking(order: Mapping[str, Any]) -> Booking:
    return Booking(
        PARTNER, str(order["id"]), tracking_url=order.get("tracking_url") or None
    )


def _event(
    state: Any, note: Any, occurred_at: datetime, table: StatusTable
) -> TrackingEvent:
    code = str(state or "").strip()
    return TrackingEvent(
        code=code,
        status=table.status(code),
        description=str(note or "").strip() or code.replace("_", " "),
        occurred_at=occurred_at,
    )


def _time(value: Any, path: str, default: datetime | None = None) -> datetime:
    """An ISO 8601 time with a zone at *path*; *default* when absent."""
    if value is None and default is not None:
        return default
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{path}: {value!r} is not an ISO 8601 time") from None
    if moment.utcoffset() is None:
        raise ValueError(f"{path}: {value!r} has no time zone")
    return moment
