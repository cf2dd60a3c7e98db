"""The attention queue end to end: workers wired from a configuration
file talk to the loopback Shopify and Aramex simulators, and an operator
acts on what they raised through ``fulfilment attention``.

Aramex refuses a parcel for a city it does not know (ERR52, in its own
words); an order with no city cannot be read in full.  Both reach the one
queue with their reason and words, and the operator retries the refused
one by its ID."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import OrderKey, OrderState
from fulfilment.runners.cli import main
from fulfilment.runners.config import load_config
from fulfilment.runners.plugins import Registry
from fulfilment.runners.sandbox.seed import seed_orders
from fulfilment.runners.sandbox.world import SandboxWorld
from fulfilment.runners.toml_writer import dumps
from fulfilment.runners.wiring import App, build_app
from fulfilment.testing.builders import T0

STORE = "shemsiworld"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxWorld]:
    # One world per module: stopping its servers costs half a second each.
    folder = tmp_path_factory.mktemp("attention")
    sandbox = SandboxWorld(folder / "sandbox", clock=ManualClock(T0))
    with sandbox:
        yield sandbox


def plain_orders(clock: ManualClock, count: int) -> list[dict[str, Any]]:
    nodes = seed_orders(clock.now())[STORE]
    return [n for n in nodes if n.get("cancelledAt") is None][:count]


@pytest.fixture
def app(world: SandboxWorld, tmp_path: Path) -> Iterator[App]:
    clock: ManualClock = world.clock  # type: ignore[assignment]
    clock.set(T0)
    for simulator in world.simulators.values():
        simulator.reset()
    misspelt, cityless = plain_orders(clock, 2)
    misspelt["shippingAddress"]["city"] = "Casablanka"
    cityless["shippingAddress"]["city"] = None
    world.shopify.load_orders({STORE: [misspelt, cityless]})
    registry = Registry.discover()
    path = tmp_path / "fulfilment.toml"
    path.write_text(dumps(world.config(database=str(tmp_path / "db.sqlite3"))))
    opened = build_app(load_config(path, registry.adapters()), registry, clock=clock)
    clock.advance(timedelta(minutes=5))  # past intake's lag
    opened.run("fetch-new-orders")
    opened.run("create-fulfilment-requests")
    yield opened
    opened.close()


def cli(
    capsys: pytest.CaptureFixture[str], app: App, *args: str
) -> tuple[int, str, str]:
    code = main(["--config", str(app.config.path), "attention", *args])
    out, err = capsys.readouterr()
    return code, out, err


def listed(capsys: pytest.CaptureFixture[str], app: App, *args: str) -> list[Any]:
    code, out, _ = cli(capsys, app, "list", "--json", *args)
    assert code == 0
    return list(json.loads(out))


def test_a_refusal_and_an_unreadable_order_reach_the_queue_in_their_words(
    capsys: pytest.CaptureFixture[str], app: App
) -> None:
    (refused,) = listed(capsys, app, "--reason", "rejected_by_partner")
    (unreadable,) = listed(capsys, app, "--reason", "malformed_order")

    assert refused["store"] == STORE
    assert "City name is invalid (Casablanka)" in refused["message"]
    assert refused["problems"][0]["code"] == "aramex_err52"
    assert "could not be read in full" in unreadable["message"]
    assert "city" in unreadable["message"]
    code, shown, _ = cli(capsys, app, "show", refused["id"])
    assert code == 0
    assert "retry     sends the order back to booking" in shown


def test_a_retried_refusal_is_booked_again_and_a_new_refusal_gets_a_new_id(
    capsys: pytest.CaptureFixture[str], app: App
) -> None:
    (refused,) = listed(capsys, app, "--reason", "rejected_by_partner")

    code, out, _ = cli(capsys, app, "retry", refused["id"], "--by", "amina")
    key = OrderKey.parse(refused["subject"])
    order = app.storage.orders.get(key)
    app.run("create-fulfilment-requests")  # the city is still wrong

    assert code == 0
    assert out.startswith(f"{key}: back to new")
    assert order is not None
    assert order.state is OrderState.NEW
    (again,) = listed(capsys, app, "--reason", "rejected_by_partner")
    assert again["id"] != refused["id"]
    assert again["id"].endswith("-2")
    _, history, _ = cli(capsys, app, "show", refused["id"], "--json")
    earlier = json.loads(history)
    assert (earlier["open"], earlier["resolved_by"], earlier["note"]) == (
        False,
        "amina",
        "sent back to booking",
    )
