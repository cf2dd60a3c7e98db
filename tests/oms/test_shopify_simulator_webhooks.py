"""The sandbox Shopify's webhooks: REST bodies our mapping reads as the
GraphQL node they came from, Shopify's headers and signature, retries of
the original payload, and a drop after the last retry."""

from __future__ import annotations

import json
from datetime import timedelta

import attrs
import httpx

from fulfilment.adapters.oms.shopify.mapping import map_order
from fulfilment.adapters.oms.shopify.rest_mapping import map_rest_order
from fulfilment.adapters.oms.shopify.webhooks import verify
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order
from fulfilment.runners.sandbox.seed import STORES, seed_orders
from fulfilment.runners.sandbox.shopify import ShopifySimulator
from fulfilment.runners.sandbox.shopify_webhooks import (
    MAX_ATTEMPTS,
    Subscription,
    rest_order,
)
from fulfilment.testing.builders import T0
from tests.oms.nodes import order_node

SECRET = "shpss_sandbox_secret"
ADDRESS = "http://receiver.invalid/webhooks/shopify"


def comparable(order: Order) -> Order:
    def plain(problems: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(attrs.evolve(p, field=None, message="") for p in problems)  # type: ignore[misc]

    return attrs.evolve(
        order,
        raw={},
        source_problems=plain(order.source_problems),  # type: ignore[arg-type]
        source_warnings=plain(order.source_warnings),  # type: ignore[arg-type]
    )


def test_every_seeded_order_reads_the_same_from_its_webhook_body() -> None:
    for store, nodes in seed_orders(T0).items():
        country = STORES[store].country
        for node in nodes:
            body = rest_order(node, timedelta(hours=1))
            pushed = map_rest_order(body, store, country=country)
            polled = map_order(node, store, country=country)

            assert isinstance(pushed, Order), node["name"]
            assert isinstance(polled, Order)
            assert comparable(pushed) == comparable(polled), node["name"]


class Receiver:
    """A stand-in HTTP peer that answers with the statuses it is given."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)


def shop() -> ShopifySimulator:
    simulator = ShopifySimulator(clock=ManualClock(T0))
    simulator.webhooks.subscribe(
        "shemsiworld",
        Subscription(ADDRESS, SECRET, "shemsiworld.myshopify.com"),
    )
    return simulator


def test_a_new_order_is_pushed_signed_with_shopifys_headers() -> None:
    simulator = shop()
    simulator.add_order("shemsiworld", order_node(1))
    receiver = Receiver()

    with httpx.Client(transport=httpx.MockTransport(receiver)) as client:
        sent = simulator.webhooks.deliver(client)

    [request] = receiver.seen
    assert [s.status for s in sent] == [200]
    assert request.headers["X-Shopify-Topic"] == "orders/create"
    assert request.headers["X-Shopify-Shop-Domain"] == "shemsiworld.myshopify.com"
    assert request.headers["X-Shopify-API-Version"] == "2025-07"
    assert verify(request.content, request.headers["X-Shopify-Hmac-Sha256"], [SECRET])
    body = json.loads(request.content)
    assert body["id"] == 6200000000001
    assert body["total_price"] == "420.00"
    assert body["tags"] == "COD"
    assert "order" not in body  # the bare resource, no wrapper


def test_a_cancellation_pushes_an_update_and_a_cancel() -> None:
    simulator = shop()
    simulator.add_order("shemsiworld", order_node(1))
    simulator.cancel_order("shemsiworld", "6200000000001")
    receiver = Receiver()

    with httpx.Client(transport=httpx.MockTransport(receiver)) as client:
        sent = simulator.webhooks.deliver(client)

    assert [s.topic for s in sent] == [
        "orders/create",
        "orders/updated",
        "orders/cancelled",
    ]
    cancelled = json.loads(receiver.seen[-1].content)
    assert cancelled["cancelled_at"] is not None
    assert cancelled["financial_status"] == "voided"


def test_a_refused_delivery_is_retried_with_its_original_payload() -> None:
    simulator = shop()
    simulator.add_order("shemsiworld", order_node(1))
    receiver = Receiver(503)

    with httpx.Client(transport=httpx.MockTransport(receiver)) as client:
        first = simulator.webhooks.deliver(client)
        simulator.update_order("shemsiworld", "6200000000001", note="changed since")
        second = simulator.webhooks.deliver(client)

    assert [s.status for s in first] == [503]
    assert [(s.topic, s.status) for s in second] == [
        ("orders/create", 200),
        ("orders/updated", 200),
    ]
    retry = receiver.seen[1]
    assert retry.headers["X-Shopify-Webhook-Id"] == first[0].webhook_id
    assert retry.content == receiver.seen[0].content
    assert json.loads(retry.content)["note"] is None


def test_a_delivery_is_dropped_after_its_last_retry() -> None:
    simulator = shop()
    simulator.add_order("shemsiworld", order_node(1))
    receiver = Receiver(*[500] * MAX_ATTEMPTS)

    with httpx.Client(transport=httpx.MockTransport(receiver)) as client:
        for _ in range(MAX_ATTEMPTS):
            simulator.webhooks.deliver(client)

    assert len(receiver.seen) == MAX_ATTEMPTS
    assert simulator.webhooks.pending() == 0
    assert len(simulator.webhooks.dropped) == 1


def test_a_shop_without_a_subscription_pushes_nothing() -> None:
    simulator = shop()

    simulator.add_order("shemsi-egypt", order_node(2))

    assert simulator.webhooks.pending() == 0
