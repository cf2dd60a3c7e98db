"""The storage contract for pushed deliveries (``WebhookInbox``): every
store keeps a delivery once per id, durably, until it is processed.

Each test runs on memory, SQLite and MongoDB (see ``conftest.py``).  Times
are whole milliseconds, the resolution MongoDB keeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fulfilment.core.ports import Storage, WebhookDelivery
from tests.storage.conftest import Backend

T0 = datetime(2026, 12, 4, 9, 30, 0, 123000, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def delivery(delivery_id: str, **changes: Any) -> WebhookDelivery:
    fields: dict[str, Any] = {
        "delivery_id": delivery_id,
        "channel": "shopify",
        "store": "shemsi-egypt",
        "topic": "orders/create",
        "received_at": T0,
        "body": '{"id":6100000000001,"name":"#1041","note":"يرجى الاتصال"}',
        "triggered_at": T0 - SECOND,
    }
    return WebhookDelivery(**(fields | changes))


def test_a_new_delivery_is_kept_exactly(storage: Storage) -> None:
    sent = delivery("2b0f5a0e-0000-4000-8000-00000000c0de")

    kept = storage.webhooks.receive(sent)

    assert kept is True
    assert storage.webhooks.get(sent.delivery_id) == sent


def test_an_unknown_delivery_is_none(storage: Storage) -> None:
    assert storage.webhooks.get("no-such-delivery") is None


def test_a_delivery_id_is_kept_once_and_the_first_copy_stays(
    storage: Storage,
) -> None:
    storage.webhooks.receive(delivery("d-1", topic="orders/create"))

    again = storage.webhooks.receive(delivery("d-1", topic="orders/updated"))

    assert again is False
    found = storage.webhooks.get("d-1")
    assert found is not None
    assert found.topic == "orders/create"
    assert len(storage.webhooks.unprocessed(10)) == 1


def test_a_delivery_survives_a_new_handle_on_the_same_store(
    backend: Backend,
) -> None:
    backend.open().webhooks.receive(delivery("d-1"))

    reopened = backend.open()

    assert [d.delivery_id for d in reopened.webhooks.unprocessed(10)] == ["d-1"]
    assert reopened.webhooks.receive(delivery("d-1")) is False


def test_unprocessed_come_oldest_receipt_first_then_by_id(storage: Storage) -> None:
    for delivery_id, seconds in [("c", 2), ("b", 0), ("a", 0), ("d", 1)]:
        storage.webhooks.receive(
            delivery(delivery_id, received_at=T0 + seconds * SECOND)
        )

    found = storage.webhooks.unprocessed(3)

    assert [d.delivery_id for d in found] == ["a", "b", "d"]
    assert storage.webhooks.unprocessed(0) == []


def test_a_processed_delivery_leaves_the_unprocessed_and_keeps_its_outcome(
    storage: Storage,
) -> None:
    storage.webhooks.receive(delivery("d-1"))
    storage.webhooks.receive(delivery("d-2", received_at=T0 + SECOND))

    marked = storage.webhooks.mark_processed("d-1", "inserted", T0 + 5 * SECOND)

    assert marked is True
    assert [d.delivery_id for d in storage.webhooks.unprocessed(10)] == ["d-2"]
    done = storage.webhooks.get("d-1")
    assert done is not None
    assert done.processed_at == T0 + 5 * SECOND
    assert done.outcome == "inserted"
    assert done.body == delivery("d-1").body


def test_a_processed_delivery_still_counts_as_seen(storage: Storage) -> None:
    storage.webhooks.receive(delivery("d-1"))
    storage.webhooks.mark_processed("d-1", "stale", T0)

    again = storage.webhooks.receive(delivery("d-1"))

    assert again is False
    assert storage.webhooks.unprocessed(10) == []


def test_marking_an_unknown_delivery_changes_nothing(storage: Storage) -> None:
    assert storage.webhooks.mark_processed("no-such", "inserted", T0) is False
    assert storage.webhooks.get("no-such") is None
