"""``fulfilment demo``: the whole pipeline on loopback simulators.

Starts the sandbox world in the data folder, seeds the four Shopify stores
(or loads ``--orders FILE``), writes a ready configuration to
``<data dir>/fulfilment.toml``, and runs the workers through the same
loader, plugin registry and composition root an operator uses.  Running it
again over the same folder continues the same world: the SQLite store, the
ledger and the simulators' state are all there, so nothing is booked twice.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import views
from .config import load_config
from .plugins import Registry
from .sandbox.seed import seed_orders
from .sandbox.server import Fault
from .sandbox.world import SandboxWorld
from .toml_writer import dumps
from .usage import UsageError
from .wiring import build_app

__all__ = ["print_summary", "run_demo"]

STORE_HANDLES = ("shemsiworld", "shemsi-egypt", "shemsi-uae", "shemsi-lebanon")


def run_demo(
    *, data_dir: Path | None = None, orders_file: Path | None = None
) -> dict[str, Any]:
    created = data_dir is None
    folder = Path(data_dir or tempfile.mkdtemp(prefix="fulfilment-demo-")).resolve()
    registry = Registry.discover()
    world = SandboxWorld(folder / "sandbox", registry=registry)
    world.lock()
    fresh = not world.shopify.has_orders()
    if orders_file is not None:
        orders = _read_orders(orders_file)
        try:
            world.shopify.load_orders(orders)
        except ValueError as error:
            raise UsageError(
                f"{orders_file}: orders Shopify could not serve:\n{error}"
            ) from error
    elif fresh:
        world.shopify.load_orders(seed_orders(world.clock.now()))

    with world:
        if fresh:
            _inject_first_run_faults(world)
        config_path = folder / "fulfilment.toml"
        config_path.write_text(_config_text(world), encoding="utf-8")
        config = load_config(config_path, registry.adapters())
        app = build_app(config, registry)
        try:
            intake = app.run("fetch-new-orders")
            booking = app.run("create-fulfilment-requests")
            orders = app.storage.orders.list()
            attention = app.storage.attention.open_items()
        finally:
            app.close()

    return _summary(
        folder,
        created=created,
        config_path=config_path,
        reports=(intake, booking),
        orders=orders,
        attention=attention,
    )


def _read_orders(path: Path) -> dict[str, list[dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: cannot read orders: {error}") from error
    if not isinstance(data, dict):
        raise UsageError(
            f"{path}: expected a JSON object mapping store handles to order lists"
        )
    unknown = sorted(set(data) - set(STORE_HANDLES))
    if unknown:
        raise UsageError(
            f"{path}: unknown store handle(s) {', '.join(unknown)}; "
            f"known: {', '.join(STORE_HANDLES)}"
        )
    for handle, nodes in data.items():
        if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
            raise UsageError(
                f"{path}: {handle}: expected a list of Shopify Order objects"
            )
    return data


def _inject_first_run_faults(world: SandboxWorld) -> None:
    """Partners fail now and then; the demo shows the adapters riding it out."""
    world.simulators["farfill"].faults.add(
        "create-order", Fault(status=503, retry_after=0.1)
    )
    world.simulators["aramex"].faults.add(
        "CreateShipments", Fault(status=429, retry_after=0.1)
    )


def _config_text(world: SandboxWorld) -> str:
    header = (
        "# Written by `fulfilment demo` for its sandbox world.  Start the\n"
        "# simulators again with `fulfilment sandbox serve --data-dir "
        f"{world.data_dir}`\n"
        "# and use this file with `fulfilment --config <this file> ...`.\n\n"
    )
    return header + dumps(world.config())


def _summary(
    folder: Path,
    *,
    created: bool,
    config_path: Path,
    reports: tuple[dict[str, Any], dict[str, Any]],
    orders: list[Any],
    attention: list[Any],
) -> dict[str, Any]:
    intake, booking = reports
    overview = views.orders_summary(orders)
    ingested = sum(s.get("ingested", 0) for s in intake.get("stores", {}).values())
    failed = {
        handle: counts["error"]
        for handle, counts in intake.get("stores", {}).items()
        if "error" in counts
    }
    return {
        "data_dir": str(folder),
        "data_dir_created": created,
        "config": str(config_path),
        "orders": {
            "ingested": ingested,
            "failed_stores": failed,
            "total": overview["total"],
            "by_state": overview["by_state"],
            "by_store": overview["by_store"],
        },
        "bookings": {
            "by_partner": overview["booked_by_partner"],
            "this_run": booking.get("outcomes", {}),
        },
        "held": [
            {"key": str(o.key), "reason": o.hold_reason}
            for o in orders
            if o.hold_reason
        ],
        "attention": [views.attention_json(item) for item in attention],
    }


def print_summary(summary: dict[str, Any]) -> None:
    orders, bookings = summary["orders"], summary["bookings"]
    print(f"data folder: {summary['data_dir']}")
    print(f"config:      {summary['config']}")
    print(
        f"orders:      {orders['ingested']} ingested this run, "
        f"{orders['total']} in store"
    )
    print(f"  by store:  {_pairs(orders['by_store'])}")
    print(f"  by state:  {_pairs(orders['by_state'])}")
    print(f"bookings:    {_pairs(bookings['by_partner']) or 'none'}")
    print(f"  this run:  {_pairs(bookings['this_run']) or 'nothing due'}")
    for handle, error in orders.get("failed_stores", {}).items():
        print(f"FAILED:      {handle}: {error}")
    for held in summary["held"]:
        print(f"held:        {held['key']} ({held['reason']})")
    for item in summary["attention"]:
        print(f"attention:   {item['subject']} [{item['reason']}]")
        print(f"             {item['message']}")
    program = sys.argv[0] if sys.argv[0].endswith("fulfilment") else "fulfilment"
    print(
        f"\nnext: {program} --config {summary['config']} orders list\n"
        f"      {program} --config {summary['config']} attention list"
    )


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in counts.items())
