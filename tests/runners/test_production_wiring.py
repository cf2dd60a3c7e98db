"""The production shape: the workers, wired from a configuration file with
MongoDB storage, against the simulators, two runners at once."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fulfilment.core.domain import OrderState
from fulfilment.core.workers.create_fulfilment_requests import (
    create_fulfilment_requests,
)
from fulfilment.runners.config import load_config
from fulfilment.runners.plugins import Registry
from fulfilment.runners.sandbox.seed import seed_orders
from fulfilment.runners.sandbox.world import SandboxWorld
from fulfilment.runners.toml_writer import dumps
from fulfilment.runners.wiring import App, build_app
from tests.support.mongo import MongoServer


def mongo_config(world: SandboxWorld, mongo: MongoServer, folder: Path) -> Path:
    data = world.config()
    data["environment"] = "sandbox"
    data["storage"] = {
        "backend": "mongodb",
        "uri": mongo.uri,
        "database": f"{mongo.database_prefix}_{uuid.uuid4().hex[:8]}",
    }
    path = folder / "fulfilment.toml"
    path.write_text(dumps(data))
    return path


@contextlib.contextmanager
def two_runners(folder: Path, mongo: MongoServer) -> Iterator[tuple[list[App], Any]]:
    """A seeded sandbox world and two runners wired to one MongoDB database,
    with intake already run by the first."""
    registry = Registry.discover()
    world = SandboxWorld(folder / "sandbox", registry=registry)
    world.shopify.load_orders(seed_orders(world.clock.now()))
    with world:
        config = load_config(mongo_config(world, mongo, folder), registry.adapters())
        apps = [build_app(config, registry) for _ in range(2)]
        try:
            apps[0].run("fetch-new-orders")
            yield apps, config
        finally:
            for app in apps:
                app.close()


def at_once(apps: list[App], work: Callable[[App], None]) -> None:
    start = threading.Barrier(len(apps))

    def run(app: App) -> None:
        start.wait()
        work(app)

    threads = [threading.Thread(target=run, args=(a,)) for a in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def parcels_at_partners(folder: Path) -> int:
    sandbox = folder / "sandbox"
    return (
        len(json.loads((sandbox / "aramex.json").read_text())["shipments"])
        + len(json.loads((sandbox / "flextock.json").read_text())["orders"])
        + len(json.loads((sandbox / "farfill.json").read_text())["orders"])
    )


def test_two_runners_on_mongodb_book_every_order_once(
    tmp_path: Path, mongo: MongoServer
) -> None:
    results: list[dict[str, Any]] = []

    with two_runners(tmp_path, mongo) as (apps, _):
        at_once(apps, lambda app: results.append(app.run("create-fulfilment-requests")))
        orders = apps[0].storage.orders.list()

    booked = [o for o in orders if o.state is OrderState.BOOKED]
    assert len(booked) == parcels_at_partners(tmp_path)
    assert len({o.shipment.reference for o in booked if o.shipment}) == len(booked)
    assert any("skipped" not in r for r in results)


def test_claims_keep_two_bookers_off_one_order_on_mongodb(
    tmp_path: Path, mongo: MongoServer
) -> None:
    outcomes: list[str] = []

    with two_runners(tmp_path, mongo) as (apps, config):

        def book(app: App) -> None:
            report = create_fulfilment_requests(
                orders=app.storage.orders,
                partners=app.partners,
                routing=config.routing_policy(),
                ledger=app.storage.ledger,
                attention=app.storage.attention,
                clock=app.clock,
                owner=app.owner,
            )
            outcomes.extend(o.outcome for o in report.outcomes)

        at_once(apps, book)
        orders = apps[0].storage.orders.list()

    booked = [o for o in orders if o.state is OrderState.BOOKED]
    assert parcels_at_partners(tmp_path) == len(booked) == outcomes.count("booked")
