"""When a store is told that a parcel has left, and what it is told (pure).

A booked parcel counts as picked up the first time tracking moves its
order out of ``booked`` to anything but ``cancelled``: a partner that
reports only its current status may skip straight to delivered, and the
store must still learn the tracking number.  Each order is reported once,
under the ledger key ``store-fulfilment:<order key>``.
"""

from __future__ import annotations

from collections.abc import Mapping

from .domain import Order, OrderState
from .ports import ShipmentReport

__all__ = [
    "STORE_FULFILMENT",
    "picked_up",
    "report_payload",
    "shipment_report",
    "store_fulfilment_key",
]

STORE_FULFILMENT = "store-fulfilment"


def store_fulfilment_key(order_key: str) -> str:
    return f"{STORE_FULFILMENT}:{order_key}"


def picked_up(before: OrderState, after: OrderState) -> bool:
    """Whether a move from *before* to *after* is the parcel leaving."""
    return before is OrderState.BOOKED and after not in (
        OrderState.BOOKED,
        OrderState.CANCELLED,
    )


def report_payload(order: Order) -> dict[str, str]:
    """What the ledger entry keeps: enough to find the order again and to
    read the entry without it."""
    shipment = order.shipment
    assert shipment is not None, "only a booked order has a parcel to report"
    return {
        "order": str(order.key),
        "partner": shipment.partner,
        "tracking_number": shipment.reference,
    }


def shipment_report(order: Order, companies: Mapping[str, str]) -> ShipmentReport:
    """The report of *order*'s parcel.  *companies* names the carrier of
    each partner as the store should show it; a partner missing there is
    shown by its own name, capitalised (``aramex`` -> ``Aramex``, a name
    Shopify knows and links to the carrier's tracking page)."""
    shipment = order.shipment
    assert shipment is not None, "only a booked order has a parcel to report"
    company = companies.get(shipment.partner) or shipment.partner.title()
    return ShipmentReport(shipment.reference, company, shipment.tracking_url)
