"""The production shape: the workers, wired from a configuration file with
MongoDB storage, against the simulators, two runners at once."""

from __future__ import annotations

import json
import threading
import uuid
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


def test_two_runners_on_mongodb_book_every_order_once(
    tmp_path: Path, mongo: MongoServer
) -> None:
    registry = Registry.discover()
    world = SandboxWorld(tmp_path / "sandbox", registry=registry)
    world.shopify.load_orders(seed_orders(world.clock.now()))

    with world:
        path = mongo_config(world, mongo, tmp_path)
        config = load_config(path, registry.adapters())
        apps = [build_app(config, registry) for _ in range(2)]
        try:
            apps[0].run("fetch-new-orders")
            results: list[dict[str, Any]] = []
            start = threading.Barrier(2)

            def book(app: App) -> None:
                start.wait()
                results.append(app.run("create-fulfilment-requests"))

            threads = [threading.Thread(target=book, args=(a,)) for a in apps]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            orders = apps[0].storage.orders.list()
        finally:
            for app in apps:
                app.close()

    sandbox = tmp_path / "sandbox"
    aramex = json.loads((sandbox / "aramex.json").read_text())["shipments"]
    flextock = json.loads((sandbox / "flextock.json").read_text())["orders"]
    farfill = json.loads((sandbox / "farfill.json").read_text())["orders"]
    booked = [o for o in orders if o.state is OrderState.BOOKED]
    assert len(booked) == len(aramex) + len(flextock) + len(farfill)
    assert len({o.shipment.reference for o in booked if o.shipment}) == len(booked)
    ran = [r for r in results if "skipped" not in r]
    assert len(ran) >= 1


def test_claims_keep_two_bookers_off_one_order_on_mongodb(
    tmp_path: Path, mongo: MongoServer
) -> None:
    registry = Registry.discover()
    world = SandboxWorld(tmp_path / "sandbox", registry=registry)
    world.shopify.load_orders(seed_orders(world.clock.now()))

    with world:
        path = mongo_config(world, mongo, tmp_path)
        config = load_config(path, registry.adapters())
        apps = [build_app(config, registry) for _ in range(2)]
        try:
            apps[0].run("fetch-new-orders")
            start = threading.Barrier(2)
            outcomes: list[str] = []

            def book(app: App) -> None:
                start.wait()
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

            threads = [threading.Thread(target=book, args=(a,)) for a in apps]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            orders = apps[0].storage.orders.list()
        finally:
            for app in apps:
                app.close()

    sandbox = tmp_path / "sandbox"
    parcels = (
        len(json.loads((sandbox / "aramex.json").read_text())["shipments"])
        + len(json.loads((sandbox / "flextock.json").read_text())["orders"])
        + len(json.loads((sandbox / "farfill.json").read_text())["orders"])
    )
    booked = [o for o in orders if o.state is OrderState.BOOKED]
    assert parcels == len(booked) == outcomes.count("booked")
