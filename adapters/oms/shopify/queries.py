"""The GraphQL documents the adapter sends, read from the package's
``.graphql`` files on first use (nothing is read at import time)."""

from __future__ import annotations

import functools
from importlib import resources

__all__ = [
    "code_discount_by_code_query",
    "discount_code_basic_create_mutation",
    "fulfillment_create_mutation",
    "order_fulfillment_orders_query",
    "order_fulfillments_query",
    "order_line_items_query",
    "orders_query",
]

_FRAGMENTS = ("line_item.graphql",)
_FULFILLMENT_FRAGMENTS = ("recorded_fulfillment.graphql",)


@functools.cache
def orders_query() -> str:
    """``ChangedOrders``: one page of orders changed inside a window."""
    return _load("orders.graphql", *_FRAGMENTS)


@functools.cache
def order_line_items_query() -> str:
    """``OrderLineItems``: the line items of one order after a cursor."""
    return _load("order_line_items.graphql", *_FRAGMENTS)


@functools.cache
def order_fulfillment_orders_query() -> str:
    """``OrderFulfillmentOrders``: what a fulfilment of one order can take,
    and the fulfilments it already has."""
    return _load("order_fulfillment_orders.graphql", *_FULFILLMENT_FRAGMENTS)


@functools.cache
def order_fulfillments_query() -> str:
    """``OrderFulfillments``: the fulfilments one order already has."""
    return _load("order_fulfillments.graphql", *_FULFILLMENT_FRAGMENTS)


@functools.cache
def fulfillment_create_mutation() -> str:
    """``FulfillmentCreate``: record a shipment with its tracking."""
    return _load("fulfillment_create.graphql", *_FULFILLMENT_FRAGMENTS)


@functools.cache
def discount_code_basic_create_mutation() -> str:
    """``DiscountCodeBasicCreate``: create one single-use discount code."""
    return _load("discount_code_basic_create.graphql")


@functools.cache
def code_discount_by_code_query() -> str:
    """``CodeDiscountByCode``: the discount a shop holds under a code."""
    return _load("code_discount_by_code.graphql")


def _load(*names: str) -> str:
    package = resources.files(__package__)
    return "\n".join(package.joinpath(name).read_text("utf-8") for name in names)
