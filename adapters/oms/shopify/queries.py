"""The GraphQL documents the adapter sends, read from the package's
``.graphql`` files on first use (nothing is read at import time)."""

from __future__ import annotations

import functools
from importlib import resources

__all__ = ["order_line_items_query", "orders_query"]

_FRAGMENTS = ("line_item.graphql",)


@functools.cache
def orders_query() -> str:
    """``ChangedOrders``: one page of orders changed inside a window."""
    return _load("orders.graphql", *_FRAGMENTS)


@functools.cache
def order_line_items_query() -> str:
    """``OrderLineItems``: the line items of one order after a cursor."""
    return _load("order_line_items.graphql", *_FRAGMENTS)


def _load(*names: str) -> str:
    package = resources.files(__package__)
    return "\n".join(package.joinpath(name).read_text("utf-8") for name in names)
