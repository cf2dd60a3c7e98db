"""Deciding whether, and with whom, an order can be booked.

Pure: given an order, its route and the chosen partner's capabilities, say
book, hold (and re-check later) or ask a person.  The worker in
``workers/create_fulfilment_requests.py`` carries the decision out.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import attrs

from .domain import Order, Problem, minor_units
from .ports import Capabilities
from .routing import Route

__all__ = [
    "AWAITING_PAYMENT",
    "FULFILLED_ELSEWHERE",
    "MAX_COD_AMOUNT",
    "Attend",
    "Book",
    "Decision",
    "Hold",
    "booking_reference",
    "decide",
]

AWAITING_PAYMENT = "awaiting_payment"
FULFILLED_ELSEWHERE = "fulfilled_elsewhere"


@attrs.frozen
class Book:
    partner: str


@attrs.frozen
class Hold:
    reason: str
    message: str


@attrs.frozen
class Attend:
    problems: tuple[Problem, ...]


Decision = Book | Hold | Attend


def booking_reference(order: Order) -> str:
    """The merchant reference a partner sees: unique per order and stable,
    so a partner that keys on it cannot book the same order twice."""
    return f"{order.key.store}-{order.key.external_id}"


# Cash a courier collects at a door.  Anything above this is a data error
# (an extra digit, a currency mix-up), not an order to send out.
MAX_COD_AMOUNT = Decimal("100000")


def decide(
    order: Order, route: Route, capabilities: Mapping[str, Capabilities]
) -> Decision:
    if order.fulfilled_by is not None:
        # Not ours to ship: kept for reporting, with nothing for a person
        # to do (an address it lacks is its fulfiller's business).
        return Hold(
            FULFILLED_ELSEWHERE,
            f"shipped by {order.fulfilled_by}, not by the connector; kept for "
            "reporting and never booked",
        )
    if order.source_problems:
        return Attend(order.source_problems)
    refunded = _refunded(order)
    if refunded is not None:
        return Attend((refunded,))
    implausible = _implausible_amounts(order)
    if implausible:
        return Attend(implausible)
    if route.partner is None:
        return Hold(route.reason, "; ".join(route.explanation))
    if not order.payment.is_cod and not order.payment.paid:
        return Hold(
            AWAITING_PAYMENT,
            f"prepaid order is {order.financial_status or 'unpaid'}; "
            "it is booked once the payment arrives",
        )
    caps = capabilities.get(route.partner)
    if caps is None:
        return Attend(
            (
                Problem(
                    "partner_not_configured",
                    f"routing sends this order to {route.partner!r}, "
                    "which is not configured",
                ),
            )
        )
    return _check_capabilities(order, route.partner, caps)


# Financial statuses that say the money went back (or never will come):
# such an order left open in the shop is a question for a person, not a
# parcel to send with cash to collect for it.
MONEY_RETURNED = frozenset({"REFUNDED", "VOIDED"})


def _refunded(order: Order) -> Problem | None:
    status = (order.financial_status or "").upper()
    if status not in MONEY_RETURNED:
        return None
    return Problem(
        "refunded_before_shipping",
        f"the order is {status.lower()} in the store but not cancelled; "
        "cancel it there, or mark it paid again if it should still ship",
        "financial_status",
    )


def _implausible_amounts(order: Order) -> tuple[Problem, ...]:
    problems = []
    if order.total.amount < 0:
        problems.append(
            Problem(
                "invalid_total",
                f"the order total {order.total} is negative",
                "total",
            )
        )
    collect = order.payment.collect
    if order.payment.is_cod and collect is not None:
        if collect.amount <= 0:
            problems.append(
                Problem(
                    "invalid_cod_amount",
                    f"cash on delivery of {collect} leaves nothing to collect",
                    "payment.collect",
                )
            )
        elif collect.amount > MAX_COD_AMOUNT:
            problems.append(
                Problem(
                    "implausible_cod_amount",
                    f"cash on delivery of {collect} is above the "
                    f"{MAX_COD_AMOUNT} a courier can be asked to collect",
                    "payment.collect",
                )
            )
        elif _too_fine(collect.amount, collect.currency):
            problems.append(
                Problem(
                    "invalid_cod_amount",
                    f"cash on delivery of {collect} is finer than "
                    f"{collect.currency} coins allow",
                    "payment.collect",
                )
            )
    return tuple(problems)


def _too_fine(amount: Decimal, currency: str) -> bool:
    places = minor_units(currency)
    return amount != amount.quantize(Decimal(1).scaleb(-places))


def _check_capabilities(order: Order, partner: str, caps: Capabilities) -> Decision:
    refused = caps.refusal(order, partner)
    return Book(partner) if refused is None else Attend((refused,))
