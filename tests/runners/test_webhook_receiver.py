"""The webhook receiver at the HTTP level (httpx's ASGI transport): what it
keeps, what it refuses and with which status, and what it logs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import pytest

from fulfilment.adapters.oms.shopify.webhooks import sign, verify
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.adapters.storage.sqlite import SQLiteSettings, SQLiteStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import OrderState
from fulfilment.runners.webhooks import ShopKeys, WebhookReceiver
from fulfilment.testing.builders import T0

SECRET = "shpss_sandbox_secret_current"
OLD_SECRET = "shpss_sandbox_secret_previous"
DOMAIN = "shemsiworld.myshopify.com"
BODY = json.dumps(
    {
        "id": 6200000000001,
        "admin_graphql_api_id": "gid://shopify/Order/6200000000001",
        "name": "#1001",
        "email": "yasmine.benali@example.com",
        "phone": "+212661234567",
        "created_at": "2025-03-14T18:07:45+01:00",
        "updated_at": "2025-03-14T18:08:02+01:00",
        "currency": "MAD",
        "financial_status": "pending",
        "payment_gateway_names": ["Cash on Delivery (COD)"],
        "total_price": "420.00",
        "tags": "COD",
        "shipping_address": {
            "first_name": "Yasmine",
            "address1": "12 Rue Ibn Batouta",
            "city": "Casablanca",
            "country_code": "MA",
            "phone": "0661234567",
        },
        "line_items": [
            {"id": 15000000000010, "sku": "OUD-50", "title": "Oud", "quantity": 1,
             "current_quantity": 1, "price": "420.00", "grams": 300},
        ],
    },
    ensure_ascii=False,
).encode("utf-8")  # fmt: skip


def headers(
    body: bytes = BODY,
    *,
    secret: str = SECRET,
    webhook_id: str = "wh-1",
    topic: str = "orders/create",
    **changes: str,
) -> dict[str, str]:
    sent = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": DOMAIN,
        "X-Shopify-API-Version": "2025-07",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Triggered-At": "2025-03-14T17:08:02.123456Z",
        "X-Shopify-Hmac-Sha256": sign(body, secret),
    }
    return {**sent, **changes}


class Harness:
    def __init__(self, process: Callable[[], object] | None = None, **options: Any):
        self.storage = MemoryStorage()
        self.clock = ManualClock(T0)
        self.receiver = WebhookReceiver(
            shops={DOMAIN: ShopKeys("shemsiworld", (SECRET, OLD_SECRET))},
            inbox=self.storage.webhooks,
            clock=self.clock,
            process=process,
            **options,
        )

    def post(
        self, body: bytes = BODY, sent: Mapping[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.receiver)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://receiver"
            ) as client:
                answer = await client.post(
                    kw.pop("path", "/webhooks/shopify"),
                    content=body,
                    headers=dict(sent if sent is not None else headers(body)),
                )
                await self.receiver.drained()
                return answer

        return asyncio.run(go())

    def kept(self) -> list[str]:
        return [d.delivery_id for d in self.storage.webhooks.unprocessed(100)]


def test_shopifys_reference_signature_verifies() -> None:
    body = b'{"id":6100000000001,"name":"#1041"}'

    expected = "hdaE6DNh9VaVGECpJTBy6Cl0Bz+J7WCGUYAEztqaCzQ="

    assert sign(body, "shpss_fake_app_secret_0001") == expected
    assert verify(body, expected, ["other", "shpss_fake_app_secret_0001"])
    assert not verify(body + b" ", expected, ["shpss_fake_app_secret_0001"])
    assert not verify(body, "", ["shpss_fake_app_secret_0001"])
    assert not verify(body, expected, [])


def test_a_signed_delivery_is_kept_as_it_came_and_answered_200() -> None:
    harness = Harness()

    answer = harness.post()

    assert answer.status_code == 200
    kept = harness.storage.webhooks.get("wh-1")
    assert kept is not None
    assert kept.body.encode("utf-8") == BODY
    assert (kept.store, kept.topic, kept.channel) == (
        "shemsiworld",
        "orders/create",
        "shopify",
    )
    assert kept.received_at == T0
    assert kept.triggered_at is not None
    assert kept.triggered_at.year == 2025


def test_a_duplicate_delivery_is_answered_200_and_kept_once() -> None:
    harness = Harness()
    harness.post()

    again = harness.post()

    assert again.status_code == 200
    assert again.text == "duplicate"
    assert harness.kept() == ["wh-1"]


def test_a_delivery_signed_with_the_previous_secret_is_kept_during_a_rotation() -> None:
    harness = Harness()

    answer = harness.post(BODY, headers(secret=OLD_SECRET))

    assert answer.status_code == 200
    assert harness.kept() == ["wh-1"]


@pytest.mark.parametrize(
    "forged",
    [
        headers(secret="shpss_someone_elses_secret"),
        headers(BODY + b" "),
        {k: v for k, v in headers().items() if k != "X-Shopify-Hmac-Sha256"},
        headers(**{"X-Shopify-Hmac-Sha256": "not base64 at all"}),
    ],
    ids=["wrong-secret", "other-body", "no-signature", "garbage-signature"],
)
def test_a_forged_or_unsigned_delivery_is_refused_with_401_and_not_kept(
    forged: dict[str, str],
) -> None:
    harness = Harness()

    answer = harness.post(BODY, forged)

    assert answer.status_code == 401
    assert harness.kept() == []


def test_a_delivery_from_an_unknown_shop_is_refused_with_401() -> None:
    harness = Harness()
    sent = headers(**{"X-Shopify-Shop-Domain": "someone-else.myshopify.com"})

    answer = harness.post(BODY, sent)

    assert answer.status_code == 401
    assert harness.kept() == []


def test_the_shop_domain_and_header_names_are_read_without_regard_to_case() -> None:
    harness = Harness()
    sent = {k.lower(): v for k, v in headers().items()}
    sent["x-shopify-shop-domain"] = DOMAIN.upper()

    answer = harness.post(BODY, sent)

    assert answer.status_code == 200
    assert harness.kept() == ["wh-1"]


def test_a_signed_body_that_is_not_json_is_refused_with_400_naming_the_webhook(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness()
    body = b'{"id": 6200000000001, "name": '

    with caplog.at_level(logging.WARNING):
        answer = harness.post(body, headers(body, webhook_id="wh-broken"))

    assert answer.status_code == 400
    assert "not JSON" in answer.text
    assert harness.kept() == []
    assert "webhook_id=wh-broken" in caplog.text
    assert "reason=malformed_body" in caplog.text


def test_a_signed_json_array_is_refused_with_400() -> None:
    harness = Harness()

    answer = harness.post(b"[1, 2]", headers(b"[1, 2]"))

    assert answer.status_code == 400
    assert "not an object" in answer.text


def test_a_signed_delivery_without_a_webhook_id_is_refused_with_400() -> None:
    harness = Harness()
    sent = {k: v for k, v in headers().items() if k != "X-Shopify-Webhook-Id"}

    answer = harness.post(BODY, sent)

    assert answer.status_code == 400
    assert harness.kept() == []


def test_a_webhook_id_longer_than_any_shopify_sends_is_refused_with_400(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness()
    sent = {**headers(), "X-Shopify-Webhook-Id": "w" * 8000}

    answer = harness.post(BODY, sent)

    assert answer.status_code == 400
    assert "over 255 characters" in answer.text
    assert harness.kept() == []
    assert "w" * 81 not in caplog.text


def test_a_topic_that_carries_no_order_is_answered_200_and_ignored() -> None:
    harness = Harness()

    answer = harness.post(BODY, headers(topic="products/update"))

    assert answer.status_code == 200
    assert answer.text == "ignored"
    assert harness.kept() == []


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_limit_is_refused_with_413(declared: bool) -> None:
    harness = Harness(max_body_bytes=1024)
    body = b'{"note": "' + b"x" * 2000 + b'"}'
    sent = headers(body)

    async def stream() -> Any:
        yield body[:1000]
        yield body[1000:]

    answer = harness.post(body if declared else stream(), sent)  # type: ignore[arg-type]

    assert answer.status_code == 413
    assert harness.kept() == []


def test_other_paths_and_methods_are_refused() -> None:
    harness = Harness()

    assert harness.post(path="/elsewhere").status_code == 404

    async def get() -> int:
        transport = httpx.ASGITransport(app=harness.receiver)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as c:
            return (await c.get("/webhooks/shopify")).status_code

    assert asyncio.run(get()) == 405


def test_logs_name_the_delivery_but_never_a_secret_or_a_contact(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness()

    with caplog.at_level(logging.DEBUG):
        harness.post()
        harness.post(BODY, headers(secret="shpss_wrong"))

    assert "webhook_id=wh-1" in caplog.text
    for private in (SECRET, OLD_SECRET, "yasmine.benali", "661234567", "Ibn Batouta"):
        assert private not in caplog.text


def test_a_kept_delivery_is_read_into_the_order_store_after_the_answer() -> None:
    from fulfilment.adapters.oms.shopify.webhooks import read_delivery
    from fulfilment.core.workers.process_webhooks import process_webhooks

    def process() -> object:
        return process_webhooks(
            inbox=harness.storage.webhooks,
            read=lambda d: read_delivery(d, country="MA"),
            orders=harness.storage.orders,
            attention=harness.storage.attention,
            clock=harness.clock,
        )

    harness = Harness(process=process)

    answer = harness.post()

    assert answer.status_code == 200
    [order] = harness.storage.orders.list()
    assert str(order.key) == "shopify:shemsiworld:6200000000001"
    assert order.state is OrderState.NEW
    assert harness.kept() == []
    kept = harness.storage.webhooks.get("wh-1")
    assert kept is not None
    assert kept.outcome == "inserted"


def test_a_delivery_the_store_cannot_keep_is_answered_503_for_a_retry(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    storage = SQLiteStorage(SQLiteSettings(str(tmp_path / "db.sqlite3")))
    storage.close()
    receiver = WebhookReceiver(
        shops={DOMAIN: ShopKeys("shemsiworld", (SECRET,))},
        inbox=storage.webhooks,
        clock=ManualClock(T0),
    )
    harness = Harness()
    harness.receiver = receiver

    with caplog.at_level(logging.ERROR):
        answer = harness.post()

    assert answer.status_code == 503
    assert "webhooks.store_failed webhook_id=wh-1" in caplog.text
