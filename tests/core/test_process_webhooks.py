"""process-webhooks against the in-memory twins: pushed deliveries arrive
duplicated and in any order, and the store still ends at each order's
newest version; polling afterwards books nothing twice."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from fulfilment.adapters.oms.memory import MemoryOrderSource
from fulfilment.adapters.pl3.memory import MemoryDeliveryPartner
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order, OrderState
from fulfilment.core.ports import Capabilities, WebhookDelivery
from fulfilment.core.routing import RoutingPolicy
from fulfilment.core.workers.create_fulfilment_requests import (
    BookingSettings,
    create_fulfilment_requests,
)
from fulfilment.core.workers.fetch_new_orders import IntakeSettings, fetch_new_orders
from fulfilment.core.workers.process_webhooks import (
    UNREADABLE_WEBHOOK,
    WebhookReport,
    process_webhooks,
)
from fulfilment.testing.builders import T0, make_order

MINUTE = timedelta(minutes=1)


def version(external_id: str, minutes: int) -> Order:
    """Order *external_id* as the source had it *minutes* after T0 (its
    note says which version it is)."""
    order = make_order(external_id, updated_at=T0 + minutes * MINUTE)
    return attrs.evolve(order, note=f"v{minutes}")


def delivery(delivery_id: str, external_id: str, minutes: int) -> WebhookDelivery:
    body = json.dumps({"id": external_id, "version": minutes})
    return WebhookDelivery(
        delivery_id, "shopify", "shemsiworld", "orders/updated", T0, body
    )


def read(delivery: WebhookDelivery) -> Order | str:
    """Stands for the Shopify reader: the body names an order version."""
    payload = json.loads(delivery.body)
    if "id" not in payload:
        return "the payload has no id"
    return version(payload["id"], payload["version"])


class World:
    def __init__(self) -> None:
        self.clock = ManualClock(T0 + timedelta(hours=1))
        self.storage = MemoryStorage()
        self.partner = MemoryDeliveryPartner(
            "aramex", Capabilities(cod_currencies=frozenset({"MAD"}))
        )

    def receive(self, *deliveries: WebhookDelivery) -> list[bool]:
        return [self.storage.webhooks.receive(d) for d in deliveries]

    def process(self, limit: int = 500) -> WebhookReport:
        return process_webhooks(
            inbox=self.storage.webhooks,
            read=read,
            orders=self.storage.orders,
            attention=self.storage.attention,
            clock=self.clock,
            limit=limit,
        )

    def book(self) -> None:
        create_fulfilment_requests(
            orders=self.storage.orders,
            partners={"aramex": self.partner},
            routing=RoutingPolicy.one_partner_per_store({"shemsiworld": "aramex"}),
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            clock=self.clock,
            owner="runner-1",
            settings=BookingSettings(),
        )

    def note(self, external_id: str) -> str | None:
        [order] = [
            o for o in self.storage.orders.list() if o.key.external_id == external_id
        ]
        return order.note


def test_a_late_older_delivery_never_overwrites_a_newer_order() -> None:
    world = World()
    world.receive(delivery("d-3", "1001", 3))
    world.process()

    world.receive(delivery("d-1", "1001", 1))
    report = world.process()

    assert world.note("1001") == "v3"
    assert report.details == (("d-1", "stale"),)


def test_in_one_batch_only_the_newest_version_counts() -> None:
    world = World()
    world.receive(
        delivery("d-2", "1001", 2),
        delivery("d-5", "1001", 5),
        delivery("d-5-again", "1001", 5),
        delivery("d-1", "1001", 1),
    )

    report = world.process()

    assert world.note("1001") == "v5"
    assert dict(report.details) == {
        "d-2": "stale",
        "d-5": "inserted",
        "d-5-again": "unchanged",
        "d-1": "stale",
    }
    assert world.storage.webhooks.unprocessed(10) == []


def test_a_delivery_id_seen_again_is_not_processed_again() -> None:
    world = World()
    world.receive(delivery("d-1", "1001", 1))
    world.process()

    kept_again = world.receive(delivery("d-1", "1001", 1))

    assert kept_again == [False]
    assert world.process().processed == 0


def test_an_unreadable_delivery_is_set_aside_for_a_person() -> None:
    world = World()
    broken = WebhookDelivery(
        "d-x", "shopify", "shemsiworld", "orders/create", T0, '{"name": "#1"}'
    )
    world.receive(broken)

    report = world.process()

    assert report.outcomes == {"set_aside": 1}
    [item] = world.storage.attention.open_items()
    assert item.reason == UNREADABLE_WEBHOOK
    assert item.subject == "webhook:shemsiworld:d-x"
    assert item.store == "shemsiworld"
    assert "no id" in item.message
    assert world.storage.orders.list() == []


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["1001", "1002", "1003"]), st.integers(1, 9)),
        min_size=1,
        max_size=20,
    ),
    st.randoms(use_true_random=False),
    st.integers(min_value=1, max_value=5),
)
def test_any_order_and_duplication_of_deliveries_ends_at_the_newest_versions(
    changes: list[tuple[str, int]], rng: random.Random, batch: int
) -> None:
    world = World()
    deliveries = [delivery(f"d-{i}", key, v) for i, (key, v) in enumerate(changes)]
    sent = deliveries + [rng.choice(deliveries) for _ in deliveries]
    rng.shuffle(sent)

    for start in range(0, len(sent), batch):
        world.receive(*sent[start : start + batch])
        world.process(limit=batch)
    world.process()

    newest = {key: max(v for k, v in changes if k == key) for key, _ in changes}
    assert {k: world.note(k) for k in newest} == {k: f"v{v}" for k, v in newest.items()}
    assert world.storage.webhooks.unprocessed(100) == []


def test_an_order_a_webhook_brought_in_is_booked_once_when_polling_sees_it() -> None:
    world = World()
    world.receive(delivery("d-1", "1001", 1))
    world.process()
    world.book()
    source = MemoryOrderSource("shemsiworld")
    source.put(version("1001", 1))

    fetch_new_orders(
        source=source,
        orders=world.storage.orders,
        cursors=world.storage.cursors,
        attention=world.storage.attention,
        clock=world.clock,
        settings=IntakeSettings(first_run_lookback=timedelta(days=1)),
    )
    world.book()

    [order] = world.storage.orders.list()
    assert order.state is OrderState.BOOKED
    assert world.partner.book_calls == 1
    effects = world.storage.ledger.for_subject(str(order.key))
    assert [e.key for e in effects if e.kind == "booking"] == [f"book:{order.key}"]
