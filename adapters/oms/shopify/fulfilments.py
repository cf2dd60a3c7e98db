"""One Shopify store as :class:`~fulfilment.core.ports.StoreFulfilments`.

A shipment is reported as a fulfilment made with ``fulfillmentCreate``:
first the order's fulfillment orders are read (with the fulfilments it
already has), then one fulfilment ships what remains, carrying the
tracking number, carrier and tracking page.  Shopify takes no idempotency
key for it, so the tracking number serves as one: a fulfilment that
already carries it is handed back instead of a second being made, both
here and through :meth:`ShopifyFulfilments.find_shipment_report`, which
the worker calls after an attempt whose outcome it does not know.

The mutation is never repeated by the retry policy once it may have run;
``THROTTLED``, 429 and 503 answers (Shopify did nothing) are waited out
and retried at the edge like any query.
"""

from __future__ import annotations

import logging
from typing import Any

from fulfilment.core.domain import Order
from fulfilment.core.errors import PartnerRejected
from fulfilment.core.ports import ShipmentReport

from .client import PARTNER, ShopifyGraphQLClient
from .fulfilment_wire import (
    created_fulfilment_id,
    fulfillment_input,
    order_gid,
    recorded_with_number,
)
from .queries import (
    fulfillment_create_mutation,
    order_fulfillment_orders_query,
    order_fulfillments_query,
)

__all__ = ["ShopifyFulfilments"]

log = logging.getLogger(__name__)

MAX_LINES = 250  # Shopify refuses larger connection pages


class ShopifyFulfilments:
    """Shipment reports to one store through *client*."""

    def __init__(self, client: ShopifyGraphQLClient, store: str) -> None:
        self.store = store
        self._client = client

    def __repr__(self) -> str:
        return f"ShopifyFulfilments(store={self.store!r})"

    def report_shipment(self, order: Order, report: ShipmentReport) -> str:
        """The id of the fulfilment carrying *report* on *order*: one made
        now, or the one already there with the same tracking number."""
        current = self._read(order)
        earlier = recorded_with_number(current, report.tracking_number)
        if earlier is not None:
            log.info(
                "shopify.fulfilment_exists store=%s order=%s fulfilment=%s",
                self.store,
                order.key.external_id,
                earlier,
            )
            return earlier
        variables = {"fulfillment": fulfillment_input(current, report)}
        data = self._client.execute(
            fulfillment_create_mutation(),
            variables,
            what="fulfillment_create",
            idempotent=False,
        )
        created = created_fulfilment_id(data)
        log.info(
            "shopify.fulfilment_created store=%s order=%s fulfilment=%s",
            self.store,
            order.key.external_id,
            created,
        )
        return created

    def find_shipment_report(self, order: Order, tracking_number: str) -> str | None:
        data = self._client.execute(
            order_fulfillments_query(),
            {"id": order_gid(order.key.external_id)},
            what="order_fulfillments",
        )
        found = data.get("order")
        if not isinstance(found, dict):
            return None  # no order, so no fulfilment of it either
        return recorded_with_number(found, tracking_number)

    def _read(self, order: Order) -> dict[str, Any]:
        gid = order_gid(order.key.external_id)
        lines = min(MAX_LINES, max(20, len(order.lines) + 10))
        data = self._client.execute(
            order_fulfillment_orders_query(),
            {"id": gid, "lines": lines},
            what="order_fulfillment_orders",
        )
        found = data.get("order")
        if not isinstance(found, dict):
            raise PartnerRejected(
                f"the store has no order {gid}", partner=PARTNER, code="not_found"
            )
        return found
