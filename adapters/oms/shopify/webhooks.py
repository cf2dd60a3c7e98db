"""Shopify webhooks: who sent a delivery, and what order it holds.

Pure functions over bytes and text; the receiver that speaks HTTP lives in
``fulfilment.runners.webhooks``.

A delivery is an HTTPS POST whose body is the bare REST resource of its
topic (for ``orders/*``, the order object itself).  Shopify signs the raw
body: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the exact
bytes, keyed with the app's client secret.  After the secret is rotated,
deliveries signed with the old one keep arriving for a while (up to an
hour), so a shop may have two secrets and either one verifies.  The
comparison runs in constant time and every secret is tried, so the time
taken says nothing about which one came close.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import Any

from fulfilment.core.domain import Order
from fulfilment.core.ports import WebhookDelivery

from .mapping import CHANNEL, Rejected
from .rest_mapping import map_rest_order

__all__ = [
    "HMAC_HEADER",
    "ORDER_TOPICS",
    "SHOP_HEADER",
    "TOPIC_HEADER",
    "TRIGGERED_AT_HEADER",
    "VERSION_HEADER",
    "WEBHOOK_ID_HEADER",
    "parse_body",
    "read_delivery",
    "sign",
    "verify",
]

# Header names as Shopify documents them; HTTP/2 sends them lower-cased and
# readers compare them without regard to case.
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
SHOP_HEADER = "X-Shopify-Shop-Domain"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"
VERSION_HEADER = "X-Shopify-API-Version"

# The topics whose body is an order.  ``orders/cancelled`` carries the
# order with ``cancelled_at`` set, so it needs nothing of its own.
ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/cancelled"})


def sign(body: bytes, secret: str) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value for *body* under *secret*."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(body: bytes, signature: str | None, secrets: Iterable[str]) -> bool:
    """Whether *signature* is *body*'s under one of *secrets*.  An empty or
    absent signature, or no secret at all, never verifies."""
    if not signature:
        return False
    given = signature.strip().encode("ascii", "replace")
    matches = [
        hmac.compare_digest(sign(body, secret).encode("ascii"), given)
        for secret in secrets
        if secret
    ]
    return any(matches)


def parse_body(body: bytes) -> dict[str, Any] | str:
    """The JSON object in *body*, or what is wrong with it."""
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return "the body is not UTF-8 text"
    except json.JSONDecodeError as error:
        return f"the body is not JSON ({error.msg} at character {error.pos})"
    if not isinstance(value, dict):
        return f"the body is a JSON {type(value).__name__}, not an object"
    return value


def read_delivery(
    delivery: WebhookDelivery, *, country: str | None = None
) -> Order | str:
    """The order a kept delivery holds, or why it holds none (a topic that
    is not an order's, a body that cannot be read, an order with no id)."""
    if delivery.channel != CHANNEL or delivery.topic not in ORDER_TOPICS:
        return f"topic {delivery.topic!r} of {delivery.channel} carries no order"
    payload = parse_body(delivery.body.encode("utf-8"))
    if isinstance(payload, str):
        return payload
    mapped = map_rest_order(payload, delivery.store, country=country)
    if isinstance(mapped, Rejected):
        return mapped.reason
    return mapped
