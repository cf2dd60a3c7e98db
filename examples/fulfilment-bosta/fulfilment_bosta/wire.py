"""Bosta's wire shapes, in one place: the paths, the request bodies built
from an order, the ``{success, message, data}`` envelope every answer comes
in, and the table from Bosta's delivery state codes to tracking statuses.

What is known about Bosta's v2 API, and what is modelled:

- ``POST /api/v2/deliveries`` creates a delivery: ``type`` 10 (send a
  parcel to a customer), ``businessReference`` (our merchant reference),
  ``cod`` (a plain number, always Egyptian pounds), ``receiver`` (name and
  phone) and ``dropOffAddress``, whose city and district are Bosta's own ids
  read from ``GET /api/v2/cities`` and ``GET /api/v2/cities/{id}/districts``;
- ``POST /api/v2/deliveries/search`` finds deliveries by tracking numbers or
  by business reference;
- the key goes raw in ``Authorization`` (no ``Bearer``);
- a refusal is ``success: false`` with Bosta's ``message``; 429 carries a
  ``Retry-After`` hint.

The sub-fields of ``dropOffAddress`` and ``receiver`` and the state codes
below follow what merchant integrations send and read; Bosta's reference
pages were not checked field by field, so every such name lives here and
nowhere else, and a correction is a change to this module alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from fulfilment.adapters.payloads import aware_time, dig, scalar_text, stripped_text
from fulfilment.core.domain import Address, Booking, Order, TrackingEvent
from fulfilment.core.domain import TrackingStatus as S
from fulfilment.core.ports import TrackingBatch

__all__ = [
    "CITIES",
    "COD_CURRENCY",
    "DELIVERIES",
    "PARTNER",
    "SEARCH",
    "STATUSES",
    "booking_of",
    "city_id",
    "deliveries_of",
    "delivery_body",
    "district_id",
    "districts_path",
    "failure_of",
    "search_by_reference",
    "search_by_tracking_numbers",
    "tracking_batch",
]

PARTNER = "bosta"
COD_CURRENCY = "EGP"

CITIES = "/api/v2/cities"
DELIVERIES = "/api/v2/deliveries"
SEARCH = "/api/v2/deliveries/search"

# Delivery type "send": a parcel from the business to a customer.
SEND = 10

# Bosta state codes -> normalised status.  A code not listed maps to
# ``unknown`` and keeps its raw value, so an operator sees it.
STATUSES: Mapping[str, S] = {
    "10": S.CREATED,  # pickup requested
    "20": S.CREATED,  # route assigned for pickup
    "21": S.PICKED_UP,  # picked up from the business
    "24": S.IN_TRANSIT,  # received at a Bosta warehouse
    "30": S.IN_TRANSIT,  # moving between hubs
    "41": S.OUT_FOR_DELIVERY,
    "45": S.DELIVERED,
    "46": S.RETURNED,  # returned to the business
    "47": S.DELIVERY_FAILED,  # exception: the attempt failed
    "48": S.CANCELLED,  # terminated before pickup
    "60": S.RETURN_TO_SENDER,  # on its way back to the business
}


# --- requests -----------------------------------------------------------------


def districts_path(city: str) -> str:
    return f"{CITIES}/{city}/districts"


def delivery_body(
    reference: str, order: Order, city: str, district: str | None
) -> dict[str, Any]:
    """The create-delivery body for *order* under *reference*, its drop-off
    in Bosta's city (and, when one matched, district) ids."""
    address = order.shipping_address or Address()
    collect = order.payment.collect if order.payment.is_cod else None
    body: dict[str, Any] = {
        "type": SEND,
        "businessReference": reference,
        "cod": _number(collect.amount) if collect else 0,
        "receiver": {
            "firstName": address.first_name or "",
            "lastName": address.last_name or "",
            "phone": _local_phone(order),
        },
        "dropOffAddress": {
            "cityId": city,
            "firstLine": address.line1 or "",
            "secondLine": address.line2 or "",
        },
        "specs": {"packageDetails": {"itemsCount": _items(order)}},
        "notes": order.name,
    }
    if district is not None:
        body["dropOffAddress"]["districtId"] = district
    return body


def search_by_reference(reference: str) -> dict[str, Any]:
    return {"businessReference": reference, "pageLimit": 1}


def search_by_tracking_numbers(numbers: Sequence[str]) -> dict[str, Any]:
    return {"trackingNumbers": ",".join(numbers), "pageLimit": len(numbers)}


def _number(amount: Decimal) -> int | float:
    # JSON numbers: whole pounds as integers, piastres as a two-place float.
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _local_phone(order: Order) -> str | None:
    """Bosta's dialling form of an Egyptian number: ``01xxxxxxxxx``."""
    phone = order.phone
    if phone is None or not phone.e164:
        return None
    if phone.e164.startswith("+20"):
        return "0" + phone.e164.removeprefix("+20")
    return phone.e164


def _items(order: Order) -> int:
    return sum(line.quantity for line in order.lines) or 1


# --- answers --------------------------------------------------------------------


def failure_of(body: Any, fallback: str) -> str | None:
    """Bosta's words when the envelope says ``success: false``, else None."""
    if isinstance(body, Mapping) and body.get("success") is True:
        return None
    return (stripped_text(dig(body, "message")) if body else None) or fallback


def booking_of(data: Any) -> Booking:
    """The booking in a created (or found) delivery."""
    number = scalar_text(dig(data, "trackingNumber"))
    if not number:
        raise ValueError("the delivery has no trackingNumber")
    return Booking(PARTNER, number)


def deliveries_of(data: Any) -> list[Mapping[str, Any]]:
    """The deliveries of a search answer's ``data``."""
    found = dig(data, "deliveries")
    if not isinstance(found, list):
        raise ValueError("the search answer has no deliveries list")
    return [d for d in found if isinstance(d, Mapping)]


def tracking_batch(
    deliveries: Iterable[Mapping[str, Any]], asked: Sequence[str], polled_at: datetime
) -> TrackingBatch:
    """One event per delivery (Bosta reports the current state only), keyed
    by tracking number; numbers Bosta did not answer are missing."""
    events: dict[str, tuple[TrackingEvent, ...]] = {}
    for delivery in deliveries:
        number = scalar_text(delivery.get("trackingNumber"))
        if number in asked:
            events[number] = (_event(delivery, polled_at),)
    return TrackingBatch(events, frozenset(asked) - events.keys())


def _event(delivery: Mapping[str, Any], polled_at: datetime) -> TrackingEvent:
    code = scalar_text(dig(delivery, "state", "code")) or "unknown"
    return TrackingEvent(
        code=code,
        status=STATUSES.get(code, S.UNKNOWN),
        description=stripped_text(dig(delivery, "state", "value")) or code,
        occurred_at=aware_time(delivery.get("updatedAt")) or polled_at,
        location=stripped_text(dig(delivery, "dropOffAddress", "city", "name")),
    )


def city_id(cities: Any, name: str | None) -> str | None:
    """Bosta's id of the city called *name* (English or Arabic, any case)."""
    return _id_named(cities, name)


def district_id(districts: Any, address: Address) -> str | None:
    """The district the address names in its province or second line."""
    for candidate in (address.province, address.line2):
        found = _id_named(districts, candidate)
        if found:
            return found
    return None


def _id_named(entries: Any, name: str | None) -> str | None:
    wanted = (name or "").strip().casefold()
    if not wanted or not isinstance(entries, list):
        return None
    for entry in entries:
        names = (dig(entry, "name"), dig(entry, "nameAr"))
        if any(isinstance(n, str) and n.strip().casefold() == wanted for n in names):
            return scalar_text(dig(entry, "_id"))
    return None
