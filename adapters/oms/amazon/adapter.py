"""One Amazon store as an :class:`~fulfilment.core.ports.OrderSource`.

Both Orders API versions sit behind the one port.  With ``2026-01-01``
a page is one ``searchOrders`` call carrying its items, buyer, recipient,
total and fulfilment (asked for with ``includedData``).  With ``v0`` a
page is one ``getOrders`` call under a restricted data token, followed by
the ``getOrderItems`` pages of each order.

Amazon refuses a ``lastUpdatedBefore`` less than two minutes before its
own now.  The window's upper bound is therefore clamped to
:data:`MIN_LAG` before the clock's now; the intake worker re-reads an
overlap of the previous window on its next run, so the few seconds cut
off here are read then.  The bound a walk started with travels inside the
page token, because Amazon wants every page of a walk asked with the same
parameters.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from fulfilment.adapters.payloads import dig, stripped_text
from fulfilment.core.domain import Order
from fulfilment.core.errors import IncompleteRead, PartnerError
from fulfilment.core.ports import Clock, OrderPage, SourceWindow

from .client import SpApiClient
from .wire import CHANNEL, Rejected, map_v0_order, map_v2026_order

__all__ = ["INCLUDED_DATA", "MIN_LAG", "AmazonOrderSource", "amazon_time"]

log = logging.getLogger(__name__)

# Two minutes is Amazon's rule; the margin covers our clock running behind
# Amazon's and the time the request takes to arrive.
MIN_LAG = timedelta(minutes=2, seconds=10)
INCLUDED_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT")
_SEPARATOR = "|"


class AmazonOrderSource:
    """Changed orders of one Amazon store (one or more marketplaces of a
    seller account), page by page.

    ``rejected`` counts the orders that could not become orders at all (no
    id); each is logged as ``amazon.order_rejected``.
    """

    channel = CHANNEL

    def __init__(
        self,
        client: SpApiClient,
        store: str,
        marketplace_ids: tuple[str, ...],
        *,
        clock: Clock,
        api_version: str = "2026-01-01",
        page_size: int = 100,
    ) -> None:
        self.store = store
        self.rejected = 0
        self._client = client
        self._marketplaces = marketplace_ids
        self._clock = clock
        self._version = api_version
        self._page_size = page_size

    def __repr__(self) -> str:
        return f"AmazonOrderSource(store={self.store!r}, api={self._version})"

    def fetch_changed_orders(
        self, window: SourceWindow, page: str | None = None
    ) -> OrderPage:
        """One page of orders updated inside *window* (its upper bound at
        least two minutes in the past); *page* is the ``next_page`` of the
        previous call."""
        before, token = self._walk(window, page)
        if window.since is not None and window.since >= before:
            # Nothing can be asked of Amazon yet; the next run reads it.
            return OrderPage((), None)
        if self._version == "v0":
            orders, next_token = self._v0_page(window.since, before, token)
        else:
            orders, next_token = self._v2026_page(window.since, before, token)
        next_page = (
            f"{amazon_time(before)}{_SEPARATOR}{next_token}" if next_token else None
        )
        log.debug(
            "amazon.page_read store=%s orders=%d more=%s",
            self.store,
            len(orders),
            bool(next_page),
        )
        return OrderPage(tuple(orders), next_page)

    def _walk(
        self, window: SourceWindow, page: str | None
    ) -> tuple[datetime, str | None]:
        """The upper bound of this walk and Amazon's token for the page."""
        if page:
            stamp, _, token = page.partition(_SEPARATOR)
            try:
                before = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=UTC
                )
            except ValueError as error:
                raise IncompleteRead(
                    f"{self.store}: page token {page[:40]!r} is not one this "
                    "source handed out"
                ) from error
            return before, token
        latest = self._clock.now() - MIN_LAG
        before = min(window.until, latest).replace(microsecond=0)
        return before, None

    # --- v2026-01-01 ---------------------------------------------------------

    def _v2026_page(
        self, since: datetime | None, before: datetime, token: str | None
    ) -> tuple[list[Order], str | None]:
        params: dict[str, Any] = {
            "marketplaceIds": ",".join(self._marketplaces),
            "lastUpdatedAfter": amazon_time(since or before - timedelta(days=30)),
            "lastUpdatedBefore": amazon_time(before),
            "maxResultsPerPage": self._page_size,
            "includedData": ",".join(INCLUDED_DATA),
        }
        if token:
            params["paginationToken"] = token
        body = self._client.search_orders(params)
        payloads = body.get("orders")
        if not isinstance(payloads, list):
            raise IncompleteRead(
                f"{self.store}: the searchOrders answer holds no orders list"
            )
        next_token = stripped_text(dig(body, "pagination", "nextToken"))
        return self._keep(
            [map_v2026_order(p, self.store) for p in payloads]
        ), next_token

    # --- v0 ------------------------------------------------------------------

    def _v0_page(
        self, since: datetime | None, before: datetime, token: str | None
    ) -> tuple[list[Order], str | None]:
        params: dict[str, Any] = {
            "MarketplaceIds": ",".join(self._marketplaces),
            "LastUpdatedAfter": amazon_time(since or before - timedelta(days=30)),
            "LastUpdatedBefore": amazon_time(before),
            "MaxResultsPerPage": self._page_size,
        }
        if token:
            params["NextToken"] = token
        payload = dig(self._client.get_orders(params), "payload")
        payloads = dig(payload, "Orders")
        if not isinstance(payloads, list):
            raise IncompleteRead(
                f"{self.store}: the getOrders answer holds no Orders list"
            )
        mapped = [map_v0_order(p, self._items(p), self.store) for p in payloads]
        return self._keep(mapped), stripped_text(dig(payload, "NextToken"))

    def _items(self, order: Any) -> list[Any] | None:
        """Every ``OrderItems`` entry of *order*, following ``NextToken``;
        None when Amazon refused them (the order then carries a problem)."""
        order_id = stripped_text(dig(order, "AmazonOrderId"))
        if order_id is None:
            return None
        items: list[Any] = []
        token: str | None = None
        while True:
            try:
                payload = dig(self._client.get_order_items(order_id, token), "payload")
            except PartnerError as error:
                if error.status in (400, 404):
                    log.warning(
                        "amazon.items_unreadable store=%s order=%s error=%s",
                        self.store,
                        order_id,
                        error,
                    )
                    return None
                raise
            page = dig(payload, "OrderItems")
            if not isinstance(page, list):
                return None
            items += page
            token = stripped_text(dig(payload, "NextToken"))
            if not token:
                return items

    def _keep(self, mapped: list[Order | Rejected]) -> list[Order]:
        orders = []
        for result in mapped:
            if isinstance(result, Rejected):
                self.rejected += 1
                log.warning(
                    "amazon.order_rejected store=%s reason=%s",
                    self.store,
                    result.reason,
                )
                continue
            orders.append(result)
        return orders


def amazon_time(moment: datetime) -> str:
    """*moment* as Amazon reads it: UTC with ``Z``, to the second (an
    offset's ``+`` is easily lost in a query string)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
