"""Routing rules, first match wins, with an explanation."""

from __future__ import annotations

import attrs

from fulfilment.core.ports import Capabilities
from fulfilment.core.routing import RoutingPolicy, RoutingRule
from fulfilment.testing.builders import make_order

POLICY = RoutingPolicy(
    {
        "shemsiworld": (
            RoutingRule("aramex", max_weight_grams=2000),
            RoutingRule(None, hold_reason="too_heavy"),
        )
    }
)


def test_a_light_parcel_goes_to_the_partner() -> None:
    route = POLICY.route(make_order("1", quantity=2))  # 2 x 700 g

    assert route.partner == "aramex"
    assert route.explanation[0].endswith("matches")


def test_a_heavy_parcel_is_held_with_the_rules_reason() -> None:
    route = POLICY.route(make_order("2", quantity=3))  # 2100 g

    assert route.partner is None
    assert route.reason == "too_heavy"
    assert "weight 2100 g is over 2000 g" in route.explanation[0]


def test_an_unknown_weight_never_passes_a_weight_rule() -> None:
    order = make_order("3")
    unweighed = attrs.evolve(order, lines=(attrs.evolve(order.lines[0], grams=None),))

    route = POLICY.route(unweighed)

    assert route.partner is None
    assert "weight is unknown" in route.explanation[0]


def test_a_store_without_rules_is_held_with_no_partner() -> None:
    route = POLICY.route(make_order("4", store="shemsi-lebanon"))

    assert route.reason == "no_partner_for_store"
    assert route.explanation == ("store shemsi-lebanon has no routing rules",)


CASH_AND_CARD = RoutingPolicy(
    {"shemsi-egypt": (RoutingRule("prepaid-only"), RoutingRule("bosta"))}
)
CAN = {
    "prepaid-only": Capabilities(cash_on_delivery=False),
    "bosta": Capabilities(cod_currencies=frozenset({"EGP"})),
}


def test_a_cod_order_passes_over_a_partner_that_cannot_collect_cash() -> None:
    route = CASH_AND_CARD.route(make_order("4", store="shemsi-egypt", cod=True), CAN)

    assert route.partner == "bosta"
    assert route.explanation[0] == (
        "rule 1 (any order -> prepaid-only): matches, but prepaid-only cannot "
        "collect cash on delivery"
    )


def test_a_prepaid_order_stays_with_the_first_partner() -> None:
    route = CASH_AND_CARD.route(make_order("5", store="shemsi-egypt", cod=False), CAN)

    assert route.partner == "prepaid-only"


def test_with_no_partner_able_the_first_refusing_one_is_kept_for_its_reason() -> None:
    only = RoutingPolicy({"shemsi-egypt": (RoutingRule("prepaid-only"),)})

    route = only.route(make_order("6", store="shemsi-egypt", cod=True), CAN)

    assert route.partner == "prepaid-only"
    assert route.explanation[-1] == "no rule matched"
