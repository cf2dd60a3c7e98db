"""Query cost by Shopify's rules, checked against figures worked by hand."""

from __future__ import annotations

import pytest

from fulfilment.adapters.oms.shopify.cost import (
    actual_cost,
    parse_document,
    requested_cost,
)
from fulfilment.adapters.oms.shopify.queries import (
    order_line_items_query,
    orders_query,
)


def cost(text: str, **variables: object) -> int:
    return requested_cost(parse_document(text), variables)


def test_scalars_cost_nothing_and_an_object_costs_one() -> None:
    assert cost("{ shop { name email } }") == 1
    assert cost("{ shop { name billingAddress { city } } }") == 2


def test_a_connection_costs_two_plus_the_page_times_one_plus_the_node() -> None:
    # 2 + 10 * (1 + 0)
    assert cost("{ orders(first: 10) { nodes { id name } } }") == 12
    # 2 + 5 * (1 + customer 1)
    assert cost("{ orders(last: 5) { nodes { id customer { id } } } }") == 12


def test_page_info_edges_and_node_wrappers_add_nothing() -> None:
    text = """{ orders(first: 5) {
        pageInfo { hasNextPage endCursor }
        edges { cursor node { id customer { id } } }
    } }"""

    assert cost(text) == 12


def test_nested_connections_multiply() -> None:
    text = """{ orders(first: 2) { nodes {
        lineItems(first: 3) { nodes { variant { id } } }
    } } }"""

    # line items: 2 + 3 * (1 + 1) = 8; orders: 2 + 2 * (1 + 8) = 20
    assert cost(text) == 20


def test_page_size_comes_from_variables_or_their_defaults() -> None:
    text = "query($n: Int = 7) { orders(first: $n) { nodes { id } } }"

    assert cost(text, n=250) == 252
    assert cost(text) == 9


def test_fragments_are_counted_where_they_are_spread() -> None:
    text = """
    query { orders(first: 4) { nodes { ...O ... on Order { customer { id } } } } }
    fragment O on Order { totalPriceSet { shopMoney { amount } } }
    """

    # node: totalPriceSet 1 + shopMoney 1, customer 1 -> 3; 2 + 4 * (1 + 3)
    assert cost(text) == 18


def test_a_mutation_root_field_costs_ten() -> None:
    text = """mutation {
        tagsAdd(id: "gid://shopify/Order/1", tags: ["a"]) { userErrors { message } }
    }"""

    # 10 for the mutation field + 1 for userErrors

    assert cost(text) == 11


def test_the_operation_must_be_named_when_there_are_several() -> None:
    document = parse_document("query A { shop { name } } query B { shop { id } }")

    assert requested_cost(document, operation_name="B") == 1
    with pytest.raises(ValueError, match="2 operations"):
        requested_cost(document)


def test_the_orders_document_costs_91_points_per_order_with_ten_lines() -> None:
    # Per order: 1, customer 1, three money bags 2 each, shippingAddress 1, and
    # lineItems 2 + 10 * (1 + variant 1 + its weight 3 + product 1 + price 2)
    # = 82.  The weight (inventoryItem, measurement, weight) adds 30 a page.
    document = parse_document(orders_query())

    assert requested_cost(document, {"first": 10, "lines": 10}) == 912
    assert requested_cost(document, {"first": 11, "lines": 10}) == 1003
    assert requested_cost(document, {"first": 1, "lines": 3}) == 37


def test_the_line_items_follow_up_costs_one_for_the_order_plus_the_page() -> None:
    document = parse_document(order_line_items_query())

    # order 1 + (2 + 124 * 8), a line costing 1 + variant 4 + product 1 + price 2
    assert requested_cost(document, {"id": "x", "first": 124}) == 995
    assert requested_cost(document, {"id": "x", "first": 125}) == 1003


def test_actual_cost_counts_the_nodes_really_returned() -> None:
    document = parse_document(
        "{ orders(first: 10) { nodes { id customer { id } } pageInfo { hasNextPage } }}"
    )
    data = {
        "orders": {
            "nodes": [
                {"id": "1", "customer": {"id": "c"}},
                {"id": "2", "customer": None},
            ],
            "pageInfo": {"hasNextPage": False},
        }
    }

    # requested 2 + 10 * 2 = 22; actual 2 + 2 nodes + customers (1 + 1)
    assert requested_cost(document) == 22
    assert actual_cost(document, data) == 6


def test_actual_cost_of_no_data_is_zero() -> None:
    assert actual_cost(parse_document("{ shop { name } }"), None) == 0
