"""Webhooks end to end: the sandbox Shopify pushes a storm of duplicated,
reordered deliveries (some retried after the receiver was unreachable)
and a forger pushes its own, to the real receiver served by uvicorn on a
loopback socket.  Forged ones are refused, each order is stored once at
its newest version and booked once with the loopback partner, and
polling afterwards changes nothing."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fulfilment.adapters.payloads import aware_time
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order, OrderState
from fulfilment.runners.config import load_config
from fulfilment.runners.plugins import Registry
from fulfilment.runners.sandbox.shopify_webhooks import Subscription, WebhookOutbox
from fulfilment.runners.sandbox.world import SandboxWorld
from fulfilment.runners.toml_writer import dumps
from fulfilment.runners.webhooks import (
    bind,
    processor,
    receiver_for,
    serve_in_thread,
)
from fulfilment.runners.wiring import App, build_app
from fulfilment.testing.builders import T0
from tests.oms.nodes import address_node, order_node

STORE = "shemsiworld"
DOMAIN = "shemsiworld.myshopify.com"
SECRET = "shpss_sandbox_current_secret"
PREVIOUS = "shpss_sandbox_previous_secret"
PAST_THE_LAG = timedelta(minutes=5)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxWorld]:
    folder = tmp_path_factory.mktemp("webhooks")
    sandbox = SandboxWorld(folder / "sandbox", clock=ManualClock(T0))
    with sandbox:
        yield sandbox


def app_for(world: SandboxWorld, folder: Path, **webhooks: Any) -> App:
    data = world.config(database=str(folder / "db.sqlite3"))
    data["stores"][STORE]["webhooks"] = {
        "secret": SECRET,
        "previous_secret": PREVIOUS,
    }
    data["webhooks"] = webhooks
    path = folder / "fulfilment.toml"
    path.write_text(dumps(data))
    registry = Registry.discover()
    return build_app(
        load_config(path, registry.adapters()), registry, clock=world.clock
    )  # type: ignore[arg-type]


def free_port() -> int:
    sock = bind("127.0.0.1", 0)
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def iso(world: SandboxWorld) -> str:
    return world.clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def place_orders(world: SandboxWorld, count: int, first: int = 1) -> list[str]:
    """*count* bookable orders placed in the sandbox shop, a minute apart;
    every other one edited later, the third one cancelled."""
    world.shopify.load_orders({STORE: []})
    ids = []
    for number in range(first, first + count):
        node = order_node(number, createdAt=iso(world), updatedAt=iso(world))
        ids.append(str(world.shopify.add_order(STORE, node)["legacyResourceId"]))
        world.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    for order_id in ids[::2]:
        world.shopify.update_order(STORE, order_id, note="leave it with the guard")
        world.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    if count > 2:
        world.shopify.cancel_order(STORE, ids[2])
    return ids


def forged(address: str, order_id: str, world: SandboxWorld) -> WebhookOutbox:
    """A forger who knows the address and the shop's domain, not its
    secret, and claims a newer version with another address."""
    rogue = WebhookOutbox()
    rogue.subscribe(STORE, Subscription(address, "shpss_guessed", DOMAIN))
    node = order_node(
        int(order_id) - 6200000000000,
        updatedAt="2030-01-01T00:00:00Z",
        shippingAddress=address_node(city="Forged City"),
    )
    rogue.order_changed(STORE, "orders/updated", node)
    return rogue


def stored(app: App) -> dict[str, Order]:
    return {o.key.external_id: o for o in app.storage.orders.list(store=STORE)}


def shipments_created(world: SandboxWorld) -> int:
    return sum(
        1
        for name, _ in world.simulators["aramex"].requests
        if name == "CreateShipments"
    )


def test_a_webhook_storm_stores_each_order_once_newest_and_books_it_once(
    world: SandboxWorld, tmp_path: Path
) -> None:
    app = app_for(world, tmp_path)
    port = free_port()
    address = f"http://127.0.0.1:{port}/webhooks/shopify"
    world.shopify.webhooks.subscribe(
        STORE, Subscription(address, SECRET, DOMAIN, utc_offset=timedelta(hours=1))
    )
    ids = place_orders(world, 6)
    queued = world.shopify.webhooks.pending()
    rng = random.Random(14)
    booked_before = shipments_created(world)

    with httpx.Client(timeout=5) as client:
        unreachable = world.shopify.webhooks.deliver(client, duplicates=0.5, rng=rng)
        serving = serve_in_thread(
            receiver_for(app.config, app.storage.webhooks, app.clock), port=port
        )
        try:
            storm = world.shopify.webhooks.deliver(
                client, duplicates=0.5, reorder=True, rng=rng
            )
            refused = forged(address, ids[0], world).deliver(client)
        finally:
            serving.stop()
    app.run("process-webhooks")

    assert {s.status for s in unreachable} == {None}
    assert {s.status for s in storm} == {200}
    assert len(storm) > queued  # duplicates were sent
    assert world.shopify.webhooks.pending() == 0
    assert [s.status for s in refused] == [401]
    orders = stored(app)
    assert sorted(orders) == sorted(ids)
    for node in world.shopify.orders(STORE):
        order = orders[str(node["legacyResourceId"])]
        assert order.source_updated_at == aware_time(node["updatedAt"])
        assert order.shipping_address is not None
        assert order.shipping_address.city == "Casablanca"
    assert orders[ids[2]].state is OrderState.CANCELLED
    assert orders[ids[0]].note == "leave it with the guard"
    assert len(app.storage.webhooks.unprocessed(100)) == 0

    app.run("create-fulfilment-requests")
    world.clock.advance(PAST_THE_LAG)  # type: ignore[attr-defined]
    app.run("fetch-new-orders")
    app.run("create-fulfilment-requests")

    after = stored(app)
    bookable = [i for i in ids if i != ids[2]]
    assert {after[i].state for i in bookable} == {OrderState.BOOKED}
    assert shipments_created(world) - booked_before == len(bookable)
    references = {after[i].shipment.reference for i in bookable if after[i].shipment}
    assert len(references) == len(bookable)
    app.close()


def test_the_receiver_reads_and_books_right_after_a_delivery_when_asked(
    world: SandboxWorld, tmp_path: Path
) -> None:
    app = app_for(world, tmp_path, book_on_receipt=True)
    receiver = receiver_for(app.config, app.storage.webhooks, app.clock, processor(app))
    serving = serve_in_thread(receiver)
    world.shopify.webhooks.subscribe(
        STORE, Subscription(f"{serving.url}/webhooks/shopify", PREVIOUS, DOMAIN)
    )
    [order_id] = place_orders(world, 1, first=50)

    try:
        with httpx.Client(timeout=5) as client:
            sent = world.shopify.webhooks.deliver(client)
        booked = _eventually(lambda: stored(app).get(order_id), OrderState.BOOKED)
    finally:
        serving.stop()
        app.close()

    assert {s.status for s in sent} == {200}
    assert booked


def _eventually(find: Any, state: OrderState, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        order = find()
        if order is not None and order.state is state:
            return True
        time.sleep(0.05)
    return False
