"""Webhooks from the sandbox shops, delivered the way Shopify delivers them.

Each change to a sandbox order (created, updated, cancelled) is queued as
one delivery per subscribed topic: a fresh ``X-Shopify-Webhook-Id``, the
order rendered as the bare REST resource (snake_case, numeric ids, money as
two-place decimal strings, times with the shop's UTC offset, tags as one
comma-separated string), signed with the subscription's secret.
:meth:`WebhookOutbox.deliver` then POSTs what is queued, and like Shopify:

- keeps every header and the body of a delivery fixed across its retries
  (a retry carries the original payload, not the order as it is now);
- retries a delivery that got no 2xx answer (or no answer at all) on the
  next call, up to :data:`MAX_ATTEMPTS` attempts in all, then drops it;
- may send a delivery twice (``duplicates``: the chance of a second copy)
  and in any order (``reorder``), as at-least-once unordered delivery
  allows.

Shopify spaces its retries over four hours; here each call of
:meth:`~WebhookOutbox.deliver` is the next round, so tests decide the pace.
The queue lives in memory only, beside the simulator's persisted state.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import attrs
import httpx

from fulfilment.adapters.oms.shopify.webhooks import (
    HMAC_HEADER,
    SHOP_HEADER,
    TOPIC_HEADER,
    TRIGGERED_AT_HEADER,
    VERSION_HEADER,
    WEBHOOK_ID_HEADER,
    sign,
)

__all__ = ["MAX_ATTEMPTS", "Sent", "Subscription", "WebhookOutbox", "rest_order"]

MAX_ATTEMPTS = 9  # the first try and Shopify's eight retries
API_VERSION = "2025-07"
Node = dict[str, Any]


@attrs.frozen
class Subscription:
    """Where one shop's deliveries go, signed with which secret."""

    address: str
    secret: str = attrs.field(repr=False)
    shop_domain: str
    topics: frozenset[str] = frozenset(
        {"orders/create", "orders/updated", "orders/cancelled"}
    )
    utc_offset: timedelta = timedelta(0)


@attrs.frozen
class _Delivery:
    address: str
    headers: dict[str, str]
    body: bytes = attrs.field(repr=False)
    attempts: int = 0

    @property
    def webhook_id(self) -> str:
        return self.headers[WEBHOOK_ID_HEADER]


@attrs.frozen
class Sent:
    """One POST made: the delivery's id and topic, and the answer (None
    when the receiver could not be reached)."""

    webhook_id: str
    topic: str
    status: int | None


class WebhookOutbox:
    """The deliveries the sandbox shops owe their subscribers."""

    def __init__(self) -> None:
        self._subscriptions: dict[str, Subscription] = {}
        self._queue: list[_Delivery] = []
        self._lock = threading.Lock()
        self.dropped: list[str] = []

    def subscribe(self, store: str, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions[store] = subscription

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def order_changed(self, store: str, topic: str, node: Mapping[str, Any]) -> None:
        """Queue *topic* for *store*'s order *node* (GraphQL shape), when
        the store has a subscription to it."""
        with self._lock:
            subscription = self._subscriptions.get(store)
            if subscription is None or topic not in subscription.topics:
                return
            body = json.dumps(
                rest_order(node, subscription.utc_offset), ensure_ascii=False
            ).encode("utf-8")
            self._queue.append(
                _Delivery(
                    subscription.address,
                    _headers(subscription, topic, body, _triggered(node)),
                    body,
                )
            )

    def deliver(
        self,
        client: httpx.Client,
        *,
        duplicates: float = 0.0,
        reorder: bool = False,
        rng: random.Random | None = None,
    ) -> list[Sent]:
        """POST every queued delivery once (one round), with a second copy
        by chance *duplicates* and shuffled with *reorder*; keep those that
        got no 2xx for the next round."""
        rng = rng or random.Random()
        with self._lock:
            queued, self._queue = self._queue, []
        sends = [d for d in queued for _ in range(1 + (rng.random() < duplicates))]
        if reorder:
            rng.shuffle(sends)
        answers: dict[str, bool] = {}
        sent = []
        for delivery in sends:
            status = _post(client, delivery)
            sent.append(
                Sent(delivery.webhook_id, delivery.headers[TOPIC_HEADER], status)
            )
            ok = status is not None and 200 <= status < 300
            answers[delivery.webhook_id] = answers.get(delivery.webhook_id, False) or ok
        self._retry([d for d in queued if not answers[d.webhook_id]])
        return sent

    def _retry(self, failed: list[_Delivery]) -> None:
        with self._lock:
            for delivery in failed:
                again = attrs.evolve(delivery, attempts=delivery.attempts + 1)
                if again.attempts >= MAX_ATTEMPTS:
                    self.dropped.append(delivery.webhook_id)
                else:
                    self._queue.append(again)


def _post(client: httpx.Client, delivery: _Delivery) -> int | None:
    try:
        answer = client.post(
            delivery.address, content=delivery.body, headers=delivery.headers
        )
    except httpx.HTTPError:
        return None
    return answer.status_code


def _headers(
    subscription: Subscription, topic: str, body: bytes, triggered: str
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        TOPIC_HEADER: topic,
        SHOP_HEADER: subscription.shop_domain,
        VERSION_HEADER: API_VERSION,
        WEBHOOK_ID_HEADER: str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        TRIGGERED_AT_HEADER: triggered,
        HMAC_HEADER: sign(body, subscription.secret),
    }


def _triggered(node: Mapping[str, Any]) -> str:
    updated = node.get("updatedAt")
    return updated if isinstance(updated, str) else ""


# --- the REST rendering of an order node ---------------------------------------


def rest_order(node: Mapping[str, Any], utc_offset: timedelta = timedelta(0)) -> Node:
    """The REST ``Order`` resource of a GraphQL order node, as a webhook
    body carries it."""
    number = _number(node.get("legacyResourceId") or node.get("id"))
    currency = node.get("currencyCode")
    order: Node = {
        "id": number,
        "admin_graphql_api_id": node.get("id"),
        "name": node.get("name"),
        "email": node.get("email"),
        "phone": node.get("phone"),
        "created_at": _shop_time(node.get("createdAt"), utc_offset),
        "updated_at": _shop_time(node.get("updatedAt"), utc_offset),
        "cancelled_at": _shop_time(node.get("cancelledAt"), utc_offset),
        "cancel_reason": _lower(node.get("cancelReason")),
        "currency": currency,
        "financial_status": _lower(node.get("displayFinancialStatus")),
        "payment_gateway_names": list(node.get("paymentGatewayNames") or []),
        "tags": ", ".join(node.get("tags") or []),
        "note": node.get("note"),
        "customer": _customer(node.get("customer")),
        "shipping_address": _address(node.get("shippingAddress")),
        "line_items": [_line(item) for item in _nodes(node.get("lineItems"))],
    }
    for graph, rest in (
        ("totalPriceSet", "total_price"),
        ("currentTotalPriceSet", "current_total_price"),
        ("totalOutstandingSet", "total_outstanding"),
    ):
        if isinstance(node.get(graph), Mapping):
            order[rest] = _amount(node[graph])
            order[f"{rest}_set"] = _money_set(node[graph], currency)
    locale = (node.get("customer") or {}).get("locale")
    if locale:
        order["customer_locale"] = locale
    return order


def _number(gid: Any) -> int | None:
    tail = str(gid or "").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _shop_time(value: Any, offset: timedelta) -> Any:
    if not isinstance(value, str):
        return value
    moment = datetime.fromisoformat(value)
    return moment.astimezone(timezone(offset)).isoformat()


def _amount(bag: Mapping[str, Any]) -> Any:
    amount = (bag.get("shopMoney") or {}).get("amount")
    try:
        return f"{Decimal(str(amount)):.2f}"
    except InvalidOperation:
        return amount


def _money_set(bag: Mapping[str, Any], currency: Any) -> Node:
    code = (bag.get("shopMoney") or {}).get("currencyCode") or currency
    money = {"amount": _amount(bag), "currency_code": code}
    return {"shop_money": money, "presentment_money": dict(money)}


def _customer(data: Any) -> Any:
    if not isinstance(data, Mapping):
        return data
    return {
        "id": _number(data.get("id")),
        "admin_graphql_api_id": data.get("id"),
        "email": data.get("email"),
        "first_name": data.get("firstName"),
        "last_name": data.get("lastName"),
        "phone": data.get("phone"),
    }


def _address(data: Any) -> Any:
    if not isinstance(data, Mapping):
        return data
    return {
        "first_name": data.get("firstName"),
        "last_name": data.get("lastName"),
        "address1": data.get("address1"),
        "address2": data.get("address2"),
        "city": data.get("city"),
        "province": data.get("province"),
        "province_code": data.get("provinceCode"),
        "zip": data.get("zip"),
        "country_code": data.get("countryCodeV2"),
        "phone": data.get("phone"),
        "company": data.get("company"),
    }


def _nodes(connection: Any) -> list[Any]:
    nodes = connection.get("nodes") if isinstance(connection, Mapping) else None
    return nodes if isinstance(nodes, list) else []


def _line(item: Any) -> Any:
    if not isinstance(item, Mapping):
        return item
    variant = item.get("variant") or {}
    price = item.get("originalUnitPriceSet") or {}
    return {
        "id": _number(item.get("id")),
        "admin_graphql_api_id": item.get("id"),
        "product_id": _number((item.get("product") or {}).get("id")),
        "variant_id": _number(variant.get("id")),
        "sku": item.get("sku"),
        "title": item.get("title"),
        "quantity": item.get("quantity"),
        "current_quantity": item.get("currentQuantity"),
        "price": _amount(price),
        "price_set": _money_set(price, None),
        "grams": _grams(variant),
    }


_GRAMS = {
    "GRAMS": Decimal(1),
    "KILOGRAMS": Decimal(1000),
    "OUNCES": Decimal("28.349523125"),
    "POUNDS": Decimal("453.59237"),
}


def _grams(variant: Mapping[str, Any]) -> int:
    weight = ((variant.get("inventoryItem") or {}).get("measurement") or {}).get(
        "weight"
    ) or {}
    factor = _GRAMS.get(weight.get("unit"))
    try:
        value = Decimal(str(weight.get("value")))
    except InvalidOperation:
        return 0
    if factor is None or not value.is_finite() or value <= 0:
        return 0
    return int((value * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP))
