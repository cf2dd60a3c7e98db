"""One Shopify store as an :class:`~fulfilment.core.ports.OrderSource`.

Reads the ``orders`` connection sorted by ``UPDATED_AT`` with the window as
a search filter, one cursor page per call.  The page size is the largest
that keeps the query's requested cost (priced with :mod:`.cost` on the very
document that is sent) under Shopify's single-query limit, or under the
bucket when the shop's bucket is smaller.  An order with more line items
than the first page is completed with follow-up queries before it is
mapped, so no order is ever handed on with lines missing unknowingly.

The source is also the store's :class:`~fulfilment.core.ports.StoreFulfilments`
and :class:`~fulfilment.core.ports.StoreDiscounts`: shipment reports go
through :class:`.fulfilments.ShopifyFulfilments` and discount codes through
:class:`.discounts.ShopifyDiscounts`, on the same client, so they share its
cost bucket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from fulfilment.core.domain import Order
from fulfilment.core.errors import ConfigurationError, IncompleteRead
from fulfilment.core.ports import (
    DiscountRequest,
    ExistingDiscount,
    OrderPage,
    ShipmentReport,
    SourceWindow,
)

from .client import QueryCostError, ShopifyGraphQLClient
from .cost import parse_document, requested_cost
from .discounts import ShopifyDiscounts
from .fulfilments import ShopifyFulfilments
from .mapping import CHANNEL, Rejected, map_order
from .queries import order_line_items_query, orders_query

__all__ = ["MAX_PAGE_SIZE", "ShopifyOrderSource", "window_filter"]

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 250  # Shopify refuses larger connection pages


class ShopifyOrderSource:
    """Changed orders of one store, page by page.

    ``rejected`` counts the nodes that could not become orders at all (no
    usable id); each is logged as ``shopify.order_rejected``.
    """

    channel = CHANNEL

    def __init__(
        self,
        client: ShopifyGraphQLClient,
        store: str,
        *,
        line_items_per_order: int = 10,
        country: str | None = None,
    ) -> None:
        self.store = store
        self.rejected = 0
        self._client = client
        self._lines = line_items_per_order
        self._country = country
        self._page_size: int | None = None
        self._fulfilments = ShopifyFulfilments(client, store)
        self._discounts = ShopifyDiscounts(client, store)

    @property
    def client(self) -> ShopifyGraphQLClient:
        """The GraphQL client the source talks through (one per shop)."""
        return self._client

    def __repr__(self) -> str:
        return f"ShopifyOrderSource(store={self.store!r})"

    def fetch_changed_orders(
        self, window: SourceWindow, page: str | None = None
    ) -> OrderPage:
        """One page of orders changed inside *window*, oldest change first;
        *page* is the ``next_page`` of the previous call."""
        variables = {
            "after": page,
            "query": window_filter(window),
            "lines": self._lines,
        }
        connection = self._read_page(variables)
        nodes = [self._complete_lines(node) for node in connection["nodes"]]
        orders = self._map(nodes)
        info = connection.get("pageInfo") or {}
        next_page = info.get("endCursor") if info.get("hasNextPage") else None
        if info.get("hasNextPage") and not next_page:
            raise IncompleteRead(
                f"{self.store}: a next page was announced without a cursor"
            )
        log.debug(
            "shopify.page_read store=%s orders=%d more=%s",
            self.store,
            len(orders),
            bool(next_page),
        )
        return OrderPage(tuple(orders), next_page)

    def page_size(self) -> int:
        """The orders per page: the largest size whose requested cost fits."""
        if self._page_size is None:
            self._page_size = self._fitting_size(self._client.cost_limit)
        return self._page_size

    def report_shipment(self, order: Order, report: ShipmentReport) -> str:
        """Mark *order* fulfilled in the store with *report*'s tracking; the
        id of the fulfilment (see :class:`.fulfilments.ShopifyFulfilments`)."""
        return self._fulfilments.report_shipment(order, report)

    def find_shipment_report(self, order: Order, tracking_number: str) -> str | None:
        return self._fulfilments.find_shipment_report(order, tracking_number)

    def create_discount(self, request: DiscountRequest) -> str:
        """Create a single-use discount code in the store; the id of the
        discount (see :class:`.discounts.ShopifyDiscounts`)."""
        return self._discounts.create_discount(request)

    def find_discount(self, code: str) -> ExistingDiscount | None:
        return self._discounts.find_discount(code)

    # --- reading -------------------------------------------------------------

    def _read_page(self, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        size = self.page_size()
        try:
            data = self._query_orders(variables, size)
        except QueryCostError as error:
            # Our price and Shopify's disagree, or the bucket is smaller than
            # the limit: ask for half (or what fits) once, and keep that size.
            self._page_size = max(1, min(size // 2, self._fitting_size(error.limit)))
            log.warning(
                "shopify.page_shrunk store=%s from=%d to=%d cost=%d limit=%g",
                self.store,
                size,
                self._page_size,
                error.cost,
                error.limit,
            )
            data = self._query_orders(variables, self._page_size)
        connection = data.get("orders")
        if not isinstance(connection, Mapping) or not isinstance(
            connection.get("nodes"), list
        ):
            raise IncompleteRead(f"{self.store}: the answer holds no orders connection")
        return connection

    def _query_orders(self, variables: Mapping[str, Any], size: int) -> dict[str, Any]:
        return self._client.execute(
            orders_query(), {**variables, "first": size}, what="orders"
        )

    def _complete_lines(self, node: Any) -> Any:
        """*node* with every line item, following ``lineItems`` pages.  When
        the order vanishes mid-read, ``hasNextPage`` stays true and the
        mapping reports the lines as incomplete."""
        items = node.get("lineItems") if isinstance(node, Mapping) else None
        info = items.get("pageInfo") if isinstance(items, Mapping) else None
        if not isinstance(info, Mapping) or not isinstance(node.get("id"), str):
            return node
        nodes = list(items.get("nodes") or ())
        while info.get("hasNextPage") and info.get("endCursor"):
            page = self._line_page(node["id"], info["endCursor"])
            if page is None:
                break
            nodes += page["nodes"]
            info = page["pageInfo"]
        return {**node, "lineItems": {**items, "pageInfo": dict(info), "nodes": nodes}}

    def _line_page(self, order_id: str, after: str) -> Mapping[str, Any] | None:
        variables = {"id": order_id, "after": after, "first": self._line_page_size()}
        data = self._client.execute(
            order_line_items_query(), variables, what="order_line_items"
        )
        page = (data.get("order") or {}).get("lineItems")
        if not isinstance(page, Mapping) or not isinstance(page.get("nodes"), list):
            return None
        if not isinstance(page.get("pageInfo"), Mapping):
            return None
        return page

    def _map(self, nodes: list[Any]) -> list[Order]:
        orders = []
        for node in nodes:
            mapped = map_order(node, self.store, country=self._country)
            if isinstance(mapped, Rejected):
                self.rejected += 1
                log.warning(
                    "shopify.order_rejected store=%s reason=%s",
                    self.store,
                    mapped.reason,
                )
                continue
            orders.append(mapped)
        return orders

    # --- sizing --------------------------------------------------------------

    def _fitting_size(self, limit: float) -> int:
        document = parse_document(orders_query())
        size = _largest_size(
            lambda n: requested_cost(document, {"first": n, "lines": self._lines}),
            limit,
        )
        if size is None:
            raise ConfigurationError(
                f"shopify store {self.store}: one order with line_items_per_order="
                f"{self._lines} costs more than the limit of {limit:g} points"
            )
        return size

    def _line_page_size(self) -> int:
        document = parse_document(order_line_items_query())
        size = _largest_size(
            lambda n: requested_cost(document, {"first": n}),
            self._client.cost_limit,
        )
        return size or 1


def _largest_size(cost: Callable[[int], int], limit: float) -> int | None:
    """The largest page size n <= 250 with ``cost(n) <= limit``, None when
    not even one fits.  A binary search: cost grows with n."""
    if cost(1) > limit:
        return None
    low, high = 1, MAX_PAGE_SIZE
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if cost(middle) <= limit else (low, middle - 1)
    return low


def window_filter(window: SourceWindow) -> str:
    """The search filter for *window*, in the syntax Shopify documents:
    ``updated_at:>='2025-03-01T00:00:00Z' AND updated_at:<'…'``.  Times are
    sent in UTC to the second; a fraction is dropped, which only widens the
    lower bound and leaves the last instant of the upper one to the next
    run's overlap."""
    until = f"updated_at:<'{_iso(window.until)}'"
    if window.since is None:
        return until
    return f"updated_at:>='{_iso(window.since)}' AND {until}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
