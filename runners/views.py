"""How orders, reports and summaries look to a person or a script.

Plain data for ``--json`` (stable keys, decimal strings, ISO times) and the
text tables the CLI prints otherwise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from fulfilment.core.domain import Order, OrderState
from fulfilment.core.ports import AttentionItem

__all__ = ["attention_json", "order_json", "order_table", "orders_summary"]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def order_json(order: Order, *, detail: bool = False) -> dict[str, Any]:
    collect = order.payment.collect
    phone = order.phone
    shipment = order.shipment
    view: dict[str, Any] = {
        "key": str(order.key),
        "store": order.key.store,
        "channel": order.key.channel,
        "name": order.name,
        "state": order.state.value,
        "placed_at": _iso(order.placed_at),
        "payment": order.payment.method.value,
        "paid": order.payment.paid,
        "cod_amount": str(collect.amount) if collect else None,
        "currency": order.currency,
        "total": str(order.total.amount),
        "phone": phone.e164 if phone else None,
        "partner": order.partner,
        "partner_reference": shipment.reference if shipment else None,
        "hold_reason": order.hold_reason,
        "problems": [
            {"code": p.code, "message": p.message, "field": p.field}
            for p in order.all_problems
        ],
    }
    if detail:
        view |= _detail(order)
    return view


def _detail(order: Order) -> dict[str, Any]:
    address = order.shipping_address
    shipment = order.shipment
    return {
        "source_updated_at": _iso(order.source_updated_at),
        "cancelled_at": _iso(order.cancelled_at),
        "financial_status": order.financial_status,
        "customer": order.customer.full_name if order.customer else None,
        "phone_original": order.phone.original if order.phone else None,
        "address": {
            "line1": address.line1,
            "line2": address.line2,
            "city": address.city,
            "country": address.country_code,
        }
        if address
        else None,
        "lines": [
            {
                "sku": line.product.sku,
                "title": line.product.title,
                "quantity": line.quantity,
                "ordered_quantity": line.ordered_quantity,
                "unit_price": str(line.unit_price.amount),
            }
            for line in order.lines
        ],
        "shipment": {
            "partner": shipment.partner,
            "reference": shipment.reference,
            "merchant_reference": shipment.merchant_reference,
            "label_url": shipment.label_url,
            "tracking_url": shipment.tracking_url,
            "status": shipment.status.value,
            "booked_at": _iso(shipment.booked_at),
        }
        if shipment
        else None,
        "attempts": order.attempts,
        "next_attempt_at": _iso(order.next_attempt_at),
    }


def order_table(orders: Iterable[Order]) -> str:
    rows = [("KEY", "NAME", "STATE", "PAYMENT", "PARTNER", "REFERENCE", "PROBLEM")]
    for o in orders:
        problem = o.all_problems[0].code if o.all_problems else ""
        rows.append(
            (
                str(o.key),
                o.name,
                o.state.value,
                "COD" if o.payment.is_cod else "prepaid",
                o.partner or "-",
                o.shipment.reference if o.shipment else "-",
                problem,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def orders_summary(orders: list[Order]) -> dict[str, Any]:
    booked_states = {
        OrderState.BOOKED,
        OrderState.IN_TRANSIT,
        OrderState.OUT_FOR_DELIVERY,
        OrderState.DELIVERED,
        OrderState.DELIVERY_FAILED,
        OrderState.RETURNED,
    }
    return {
        "total": len(orders),
        "by_state": dict(sorted(Counter(o.state.value for o in orders).items())),
        "by_store": dict(sorted(Counter(o.key.store for o in orders).items())),
        "booked_by_partner": dict(
            sorted(
                Counter(
                    o.shipment.partner
                    for o in orders
                    if o.shipment and o.state in booked_states
                ).items()
            )
        ),
    }


def attention_json(item: AttentionItem) -> dict[str, Any]:
    return {
        "subject": item.subject,
        "reason": item.reason,
        "message": item.message,
        "raised_at": _iso(item.raised_at),
        "problems": [{"code": p.code, "message": p.message} for p in item.problems],
    }
