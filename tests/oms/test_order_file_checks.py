"""Order nodes the Shopify schema cannot represent are refused before the
sandbox loads them; orders that fit the schema but lack business data are
not (the connector reports those itself)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from fulfilment.adapters.oms.shopify.mapping import map_order
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order
from fulfilment.runners.sandbox.seed import seed_orders
from fulfilment.runners.sandbox.shopify import (
    InvalidOrderNodes,
    ShopifySimulator,
    check_order_nodes,
)

from .nodes import address_node, fixture, line_node, order_node

NOW = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)
Change = Callable[[dict[str, Any]], object]


def without(field: str) -> Change:
    return lambda node: node.pop(field)


def setting(field: str, value: Any) -> Change:
    return lambda node: node.__setitem__(field, value)


def on_address(**changes: Any) -> Change:
    return setting("shippingAddress", address_node(**changes))


def on_first_line(**changes: Any) -> Change:
    return lambda node: node["lineItems"]["nodes"][0].update(changes)


def problems_of(change: Change) -> list[str]:
    node = order_node(7)
    change(node)
    return check_order_nodes({"shemsiworld": [order_node(1), node]})


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (without("name"), "name: missing"),
        (without("createdAt"), "createdAt: missing"),
        (without("updatedAt"), "updatedAt: missing"),
        (
            setting("cancelReason", "ALIENS"),
            'cancelReason: "ALIENS" is not a valid OrderCancelReason',
        ),
        (
            setting("displayFinancialStatus", "WHATEVER"),
            'displayFinancialStatus: "WHATEVER" is not a valid '
            "OrderDisplayFinancialStatus",
        ),
        (
            on_address(countryCodeV2="XY"),
            'shippingAddress.countryCodeV2: "XY" is not a valid CountryCode',
        ),
        (
            on_address(countryCodeV2="ae"),
            'shippingAddress.countryCodeV2: "ae" is not a valid CountryCode',
        ),
        (
            setting("currencyCode", "dirham"),
            'currencyCode: "dirham" is not a valid CurrencyCode',
        ),
        (
            on_first_line(quantity="two"),
            'lineItems.nodes[0].quantity: "two" is not a valid Int',
        ),
        (
            on_first_line(quantity=10**12),
            "lineItems.nodes[0].quantity: 1000000000000 is not a valid Int "
            "(a GraphQL Int has 32 bits)",
        ),
        (setting("tags", "COD, VIP"), 'tags: "COD, VIP" is not a list of String'),
        (
            setting("paymentGatewayNames", ["manual", None]),
            "paymentGatewayNames[1]: null is not a valid String",
        ),
        (
            setting("updatedAt", "last tuesday"),
            'updatedAt: "last tuesday" is not an ISO 8601 time',
        ),
        (
            setting("updatedAt", "2025-03-14T17:08:02"),
            'updatedAt: "2025-03-14T17:08:02" has no time zone (end it with Z for UTC)',
        ),
        (
            setting("shippingAddress", "Dubai"),
            'shippingAddress: "Dubai" is not a MailingAddress object',
        ),
        (
            setting("totalPriceSet", {"shopMoney": {"amount": "a lot"}}),
            'totalPriceSet.shopMoney.amount: "a lot" is not a decimal amount',
        ),
        (
            setting("id", "6200000000007"),
            'id: "6200000000007" is not an order id like gid://shopify/Order/1001',
        ),
        (
            setting("legacyResourceId", "6200000000008"),
            'legacyResourceId: "6200000000008" does not match id '
            "gid://shopify/Order/6200000000007",
        ),
        (
            setting("lineItems", [line_node(1)]),
            'lineItems: [{"id": "gid://shopify/LineItem/15000000000001", "sku": "... '
            "is not an object with a list of nodes",
        ),
        (
            without("lineItems"),
            'lineItems: missing (an order without lines has {"nodes": []})',
        ),
        (
            on_first_line(
                variant={
                    "id": "v",
                    "inventoryItem": {
                        "measurement": {"weight": {"unit": "STONES", "value": 1}}
                    },
                }
            ),
            "lineItems.nodes[0].variant.inventoryItem.measurement.weight.unit: "
            '"STONES" is not a valid WeightUnit',
        ),
    ],
)
def test_a_node_the_schema_cannot_represent_is_named_with_the_field_and_why(
    change: Change, problem: str
) -> None:
    found = problems_of(change)

    label, _, said = found[0].partition("): ")
    assert len(found) == 1
    assert label.startswith("shemsiworld[1] (")
    assert said == problem


def test_the_label_falls_back_to_the_id_then_to_the_index_alone() -> None:
    unnamed = order_node(2)
    del unnamed["name"]
    nodes = [order_node(1, currencyCode="dirham"), unnamed, {}]

    found = check_order_nodes({"shemsi-uae": nodes})

    assert found[0].startswith("shemsi-uae[0] (#1001): currencyCode:")
    assert (
        found[1] == "shemsi-uae[1] (gid://shopify/Order/6200000000002): name: missing"
    )
    assert found[2].startswith("shemsi-uae[2]: ")


def test_the_example_line_reads_as_documented() -> None:
    nodes = [order_node(n, name=f"#300{n + 1}") for n in range(4)]
    nodes[3]["cancelReason"] = "ALIENS"

    assert check_order_nodes({"shemsi-uae": nodes}) == [
        'shemsi-uae[3] (#3004): cancelReason: "ALIENS" is not a valid OrderCancelReason'
    ]


def test_an_empty_object_lists_every_required_field() -> None:
    found = check_order_nodes({"shemsiworld": [{}]})

    assert found == [
        "shemsiworld[0]: id: missing",
        "shemsiworld[0]: legacyResourceId: missing",
        "shemsiworld[0]: name: missing",
        "shemsiworld[0]: createdAt: missing",
        "shemsiworld[0]: updatedAt: missing",
        "shemsiworld[0]: currencyCode: missing",
        "shemsiworld[0]: paymentGatewayNames: missing",
        "shemsiworld[0]: tags: missing",
        'shemsiworld[0]: lineItems: missing (an order without lines has {"nodes": []})',
    ]


def test_every_problem_of_one_node_is_listed_not_only_the_first() -> None:
    node = order_node(1, cancelReason="ALIENS", currencyCode="dirham", tags="COD")
    del node["updatedAt"]

    found = check_order_nodes({"shemsiworld": [node]})

    assert [line.split(": ")[1] for line in found] == [
        "updatedAt",
        "cancelReason",
        "currencyCode",
        "tags",
    ]


def test_a_repeated_id_names_the_node_that_had_it_first() -> None:
    nodes = [order_node(1), order_node(2), order_node(1, name="#1099")]

    assert check_order_nodes({"shemsiworld": nodes}) == [
        "shemsiworld[2] (#1099): id: gid://shopify/Order/6200000000001 is also "
        "the id of shemsiworld[0] (#1001)"
    ]


def test_the_same_id_in_two_stores_is_no_problem() -> None:
    assert (
        check_order_nodes(
            {"shemsiworld": [order_node(1)], "shemsi-uae": [order_node(1)]}
        )
        == []
    )


def test_something_that_is_not_an_object_is_not_an_order() -> None:
    assert check_order_nodes({"shemsiworld": ["#1001", None]}) == [
        'shemsiworld[0]: "#1001" is not an Order object',
        "shemsiworld[1]: null is not an Order object",
    ]


def test_line_items_past_the_first_page_are_checked_and_counted_from_zero() -> None:
    lines = [line_node(n, sku=f"L{n}") for n in range(300)]
    lines[3]["quantity"] = "three"
    lines[270]["quantity"] = "many"
    node = order_node(1, lineItems={"nodes": lines})

    assert check_order_nodes({"shemsiworld": [node]}) == [
        'shemsiworld[0] (#1001): lineItems.nodes[3].quantity: "three" is not a '
        "valid Int",
        'shemsiworld[0] (#1001): lineItems.nodes[270].quantity: "many" is not a '
        "valid Int",
    ]


# --- what passes ----------------------------------------------------------------


def test_the_seeded_world_and_the_reference_orders_fit_the_schema() -> None:
    reference = fixture("c3_orders_response.json")["data"]["orders"]["nodes"]

    assert check_order_nodes(seed_orders(NOW)) == []
    assert check_order_nodes({"shemsi-uae": reference}) == []


def test_an_order_without_city_phone_or_items_fits_and_keeps_its_problems() -> None:
    node = order_node(1, shippingAddress=address_node(city=None, phone="01x 23"))
    node["lineItems"] = {"nodes": []}

    assert check_order_nodes({"shemsi-egypt": [node]}) == []
    order = map_order(node, "shemsi-egypt", country="EG")
    assert isinstance(order, Order)
    assert {p.code for p in order.source_problems} >= {"missing_city", "no_items"}


def test_weights_may_stop_at_any_level() -> None:
    lines = [
        line_node(1),
        line_node(2, weight={"unit": "OUNCES", "value": 4}),
        {**line_node(3), "variant": None},
        {**line_node(4), "variant": {"id": "v", "inventoryItem": None}},
        {**line_node(5), "variant": {"id": "v", "inventoryItem": {"measurement": {}}}},
    ]

    assert (
        check_order_nodes({"shemsiworld": [order_node(1, lineItems={"nodes": lines})]})
        == []
    )


# --- loading --------------------------------------------------------------------


def test_loading_a_bad_node_loads_nothing_and_lists_every_problem() -> None:
    sim = ShopifySimulator(clock=ManualClock(NOW))
    sim.load_orders({"shemsiworld": [order_node(9)]})
    bad = order_node(2, cancelReason="ALIENS")
    orders = {"shemsiworld": [order_node(1), bad], "shemsi-uae": [{}]}

    with pytest.raises(InvalidOrderNodes) as caught:
        sim.load_orders(orders)

    assert isinstance(caught.value, ValueError)
    assert caught.value.problems == check_order_nodes(orders)
    assert len(caught.value.problems) == 10
    lines = str(caught.value).splitlines()
    assert lines[0] == (
        "10 problem(s) in order nodes that do not fit the Shopify schema; "
        "nothing was loaded:"
    )
    assert lines[1:] == [f"  {p}" for p in caught.value.problems]
    assert [n["name"] for n in sim.orders("shemsiworld")] == ["#1009"]
    assert sim.orders("shemsi-uae") == []
