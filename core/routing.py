"""Which delivery partner takes an order, and why.

Routing is data: per store an ordered list of rules, first match wins.  A
rule may test the destination country, cash on delivery and the parcel
weight, and names a partner or, with no partner, a hold reason.  The answer
carries an explanation, one line per rule considered, so an operator can ask
``fulfilment explain-route KEY`` and read why.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from .domain import Order
from .ports import Capabilities

__all__ = [
    "NO_PARTNER_FOR_STORE",
    "Route",
    "RoutingPolicy",
    "RoutingRule",
    "parcel_grams",
]

NO_PARTNER_FOR_STORE = "no_partner_for_store"


def parcel_grams(order: Order) -> int | None:
    """The weight of what ships, or None when any line's weight is unknown."""
    if any(line.grams is None for line in order.lines if line.quantity):
        return None
    return sum((line.grams or 0) * line.quantity for line in order.lines)


@attrs.frozen
class RoutingRule:
    """Send matching orders to ``partner``; with no partner, hold them with
    ``hold_reason``.  A test left as None matches everything."""

    partner: str | None
    country: str | None = None
    cash_on_delivery: bool | None = None
    max_weight_grams: int | None = None
    hold_reason: str = NO_PARTNER_FOR_STORE

    def mismatch(self, order: Order) -> str | None:
        """Why this rule does not apply to *order*, or None if it does."""
        country = order.shipping_address and order.shipping_address.country_code
        if self.country is not None and country != self.country:
            return f"destination {country or 'unknown'} is not {self.country}"
        if (
            self.cash_on_delivery is not None
            and order.payment.is_cod != self.cash_on_delivery
        ):
            wanted = "cash on delivery" if self.cash_on_delivery else "prepaid"
            return f"payment is not {wanted}"
        if self.max_weight_grams is None:
            return None
        weight = parcel_grams(order)
        if weight is None:
            # An unknown weight is no evidence of a light parcel.
            return "the parcel weight is unknown (a line has no weight)"
        if weight > self.max_weight_grams:
            return f"weight {weight} g is over {self.max_weight_grams} g"
        return None

    def describe(self) -> str:
        tests = [
            f"country={self.country}" if self.country else None,
            (
                f"cod={str(self.cash_on_delivery).lower()}"
                if self.cash_on_delivery is not None
                else None
            ),
            (
                f"weight<={self.max_weight_grams}g"
                if self.max_weight_grams is not None
                else None
            ),
        ]
        condition = " ".join(t for t in tests if t) or "any order"
        target = self.partner or f"hold ({self.hold_reason})"
        return f"{condition} -> {target}"


@attrs.frozen
class Route:
    store: str
    partner: str | None
    reason: str
    explanation: tuple[str, ...]

    @property
    def holds(self) -> bool:
        return self.partner is None


@attrs.frozen
class RoutingPolicy:
    """Rules per store handle."""

    rules: Mapping[str, tuple[RoutingRule, ...]] = attrs.field(factory=dict)

    @classmethod
    def one_partner_per_store(cls, partners: Mapping[str, str | None]) -> RoutingPolicy:
        return cls(
            {store: (RoutingRule(partner),) for store, partner in partners.items()}
        )

    def route(
        self, order: Order, capabilities: Mapping[str, Capabilities] | None = None
    ) -> Route:
        """The first rule that matches *order* and whose partner can take
        it.  With *capabilities* (by partner name), a matching rule whose
        partner declares it cannot (no cash collection, another country or
        currency) is passed over for a later one; when no later rule takes
        the order, the first such partner is kept, so booking refuses it
        with that partner's reason rather than a vaguer "no rule"."""
        store = order.key.store
        rules = self.rules.get(store)
        if not rules:
            return Route(
                store,
                None,
                NO_PARTNER_FOR_STORE,
                (f"store {store} has no routing rules",),
            )
        lines: list[str] = []
        refused: str | None = None
        for number, rule in enumerate(rules, start=1):
            label = f"rule {number} ({rule.describe()})"
            why_not = rule.mismatch(order)
            if why_not is not None:
                lines.append(f"{label}: skipped, {why_not}")
                continue
            if rule.partner is None:
                lines.append(f"{label}: matches")
                return Route(store, None, rule.hold_reason, tuple(lines))
            caps = (capabilities or {}).get(rule.partner)
            problem = caps.refusal(order, rule.partner) if caps else None
            if problem is None:
                lines.append(f"{label}: matches")
                return Route(store, rule.partner, "matched", tuple(lines))
            lines.append(f"{label}: matches, but {problem.message}")
            refused = refused or rule.partner
        lines.append("no rule matched")
        if refused is not None:
            return Route(store, refused, "matched", tuple(lines))
        return Route(store, None, NO_PARTNER_FOR_STORE, tuple(lines))
