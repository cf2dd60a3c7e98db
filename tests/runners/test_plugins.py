"""Plugins: the hooks, the built-in adapters, and a third-party package
(examples/fulfilment-acme, installed by the test set-up) that adds a
delivery partner with no change to this repository."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from fulfilment.adapters import hookspecs
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.domain import OrderState
from fulfilment.core.errors import ConfigurationError
from fulfilment.runners.cli import main
from fulfilment.runners.config import load_config
from fulfilment.runners.plugins import Registry
from fulfilment.runners.sandbox.seed import seed_orders
from fulfilment.runners.sandbox.world import SandboxWorld, plugin_partners
from fulfilment.runners.toml_writer import dumps
from fulfilment.runners.wiring import build_app

HOOKS = [
    name
    for name, _ in inspect.getmembers(hookspecs.FulfilmentHookSpecs, inspect.isfunction)
]


def test_every_hook_is_prefixed_and_documented() -> None:
    assert HOOKS
    for name in HOOKS:
        hook = getattr(hookspecs.FulfilmentHookSpecs, name)
        assert name.startswith("fulfilment_register_")
        assert inspect.getdoc(hook), f"{name} has no docstring"


def test_every_hook_is_implemented_by_the_built_in_plugins() -> None:
    manager = Registry.discover(entry_points=False).manager

    for name in HOOKS:
        assert getattr(manager.hook, name).get_hookimpls(), f"nothing implements {name}"


def test_built_in_adapters_register_through_the_hooks() -> None:
    registry = Registry.discover(entry_points=False)

    assert set(registry.order_sources()) == {"shopify", "amazon"}
    assert set(registry.delivery_partners()) == {"aramex", "flextock", "farfill"}
    assert set(registry.storages()) == {"memory", "sqlite", "mongodb"}
    assert set(registry.simulators()) == {
        "shopify",
        "amazon",
        "aramex",
        "flextock",
        "farfill",
        "twilio",
        "infobip",
        "rebrandly",
        "typeform",
        "metalpriceapi",
        "openexchangerates",
        "ecb",
    }
    assert set(registry.surveys()) == {"typeform", "memory"}


def test_the_rate_sources_are_the_built_in_four_and_no_more() -> None:
    # Entry points included: the example package adds no rate source, and
    # a built-in one lost from the hooks would go unnoticed until a run.
    registry = Registry.discover()

    sources = registry.rate_sources()

    assert set(sources) == {"ecb", "openexchangerates", "metalpriceapi", "memory"}


def test_an_installed_package_is_discovered_through_its_entry_point() -> None:
    registry = Registry.discover()

    assert "acme" in registry.delivery_partners()
    assert "acme" in registry.simulators()
    assert "acme" in registry.plugin_names()


def test_two_plugins_claiming_one_name_is_a_configuration_error() -> None:
    class Impostor:
        @hookspecs.hookimpl
        def fulfilment_register_delivery_partners(self):  # type: ignore[no-untyped-def]
            return {"aramex": object()}

    registry = Registry.discover(entry_points=False)
    registry.manager.register(Impostor())

    with pytest.raises(ConfigurationError, match="two plugins register a delivery"):
        registry.delivery_partners()


def test_a_plugin_partner_books_orders_like_a_built_in_one(tmp_path: Path) -> None:
    registry = Registry.discover()
    world = SandboxWorld(
        tmp_path / "sandbox", registry=registry, partners=("aramex", "acme")
    )
    world.shopify.load_orders(
        {"shemsi-lebanon": seed_orders(world.clock.now())["shemsi-lebanon"]}
    )

    with world:
        data = world.config()
        data["stores"]["shemsi-lebanon"]["partner"] = "acme"
        path = tmp_path / "fulfilment.toml"
        path.write_text(dumps(data))
        app = build_app(
            load_config(path, registry.adapters()),
            registry,
            retry=RetryPolicy.for_tests(),
        )
        try:
            app.run("fetch-new-orders")
            report = app.run("create-fulfilment-requests")
            orders = app.storage.orders.list(store="shemsi-lebanon")
        finally:
            app.close()

    parcels = json.loads((tmp_path / "sandbox" / "acme.json").read_text())["parcels"]
    booked = [o for o in orders if o.state is OrderState.BOOKED]
    assert report["booked_by_partner"] == {"acme": len(booked)}
    assert booked
    assert {o.shipment.reference for o in booked if o.shipment} == {
        p["parcel_id"] for p in parcels.values()
    }


def install_fake_distribution(
    folder: Path, name: str, entry_points: str, modules: dict[str, str] | None = None
) -> None:
    """A distribution as pip leaves it in site-packages: a dist-info folder
    with metadata and entry points, and its modules beside it."""
    dist = folder / f"{name}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(f"[fulfilment]\n{entry_points}\n")
    for module, source in (modules or {}).items():
        (folder / f"{module}.py").write_text(source)


BROKEN_HOOKS = """
from fulfilment.adapters.hookspecs import hookimpl

@hookimpl
def fulfilment_register_delivery_partners():
    raise RuntimeError("partner table missing")

@hookimpl
def fulfilment_register_simulators():
    return ["not", "a", "mapping"]
"""


@pytest.fixture
def broken_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two broken plugins installed: one cannot be imported, one's hooks
    raise or answer nonsense."""
    install_fake_distribution(tmp_path, "brokenplug", "broken = brokenplug_missing")
    install_fake_distribution(
        tmp_path, "brokenhooks", "hooky = brokenhooks", {"brokenhooks": BROKEN_HOOKS}
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_a_plugin_that_cannot_be_imported_is_left_out_and_named(
    broken_plugins: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = Registry.discover()

    (failure,) = [f for f in registry.failures if f.name == "broken"]
    assert failure.source == "brokenplug 0.1"
    assert failure.hook is None
    assert "No module named 'brokenplug_missing'" in failure.error
    assert "plugins.failed plugin=broken source=brokenplug 0.1" in caplog.text
    assert {"acme", "bosta", "aramex"} <= set(registry.delivery_partners())


def test_a_plugin_whose_hook_breaks_does_not_take_the_others_down(
    broken_plugins: Path,
) -> None:
    registry = Registry.discover()

    partners = registry.delivery_partners()
    simulators = registry.simulators()

    assert {"aramex", "flextock", "farfill", "acme", "bosta"} <= set(partners)
    assert {"aramex", "acme", "bosta"} <= set(simulators)
    hooky = {f.hook: f.error for f in registry.failures if f.name == "hooky"}
    assert hooky == {
        "fulfilment_register_delivery_partners": "RuntimeError: partner table missing",
        "fulfilment_register_simulators": "TypeError: fulfilment_register_simulators "
        "returned list, not a mapping",
    }


def test_a_built_in_hook_that_breaks_is_raised_not_hidden() -> None:
    class Faulty:
        @hookspecs.hookimpl
        def fulfilment_register_storages(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("our own bug")

    registry = Registry.discover(entry_points=False)
    registry.manager.register(Faulty())

    with pytest.raises(RuntimeError, match="our own bug"):
        registry.storages()


def test_the_plugins_command_lists_failures_and_exits_1(
    broken_plugins: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["plugins"])

    out = capsys.readouterr().out
    assert status == 1
    assert "plugins that failed to load (left out):" in out
    assert "broken (brokenplug 0.1): ModuleNotFoundError" in out
    assert (
        "hooky (brokenhooks 0.1) in fulfilment_register_delivery_partners: "
        "RuntimeError: partner table missing"
    ) in out
    assert "delivery partner  bosta" in out


def test_an_unknown_adapter_error_names_the_plugins_that_failed(
    broken_plugins: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = SandboxWorld(tmp_path / "sandbox", partners=("aramex",))
    with world:
        data = world.config()
    data["partners"]["aramex"]["adapter"] = "brokenpartner"
    path = tmp_path / "fulfilment.toml"
    path.write_text(dumps(data))

    status = main(["--config", str(path), "check-config"])

    err = capsys.readouterr().err
    assert status == 2
    assert "unknown adapter 'brokenpartner'" in err
    assert "plugins that failed to load: broken (brokenplug 0.1)" in err


def test_the_plugins_command_says_where_each_adapter_came_from(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["plugins", "--json"])

    report = json.loads(capsys.readouterr().out)
    rows = {(r["kind"], r["name"]): r for r in report["adapters"]}
    assert status == 0
    assert report["failures"] == []
    assert rows[("delivery partner", "aramex")]["source"] == "built-in"
    assert rows[("delivery partner", "bosta")]["source"] == "fulfilment-bosta 0.1.0"
    assert rows[("simulator", "acme")]["source"] == "fulfilment-acme 0.1.0"
    bosta = rows[("delivery partner", "bosta")]["capabilities"]
    assert bosta["cod_currencies"] == ["EGP"]
    assert bosta["countries"] == ["EG"]
    assert bosta["cancel"] is False


def test_every_delivery_partner_declares_its_capabilities() -> None:
    registry = Registry.discover()

    undeclared = [
        name
        for name, factory in registry.delivery_partners().items()
        if factory.capabilities is None
    ]

    assert undeclared == []


def test_a_partner_table_named_apart_from_its_adapter_books_and_tracks(
    tmp_path: Path,
) -> None:
    registry = Registry.discover()
    world = SandboxWorld(tmp_path / "sandbox", registry=registry, partners=("aramex",))
    seeded = seed_orders(world.clock.now())["shemsiworld"]
    world.shopify.load_orders({"shemsiworld": seeded})

    with world:
        data = world.config()
        data["partners"] = {
            "aramex-ma": data["partners"]["aramex"] | {"adapter": "aramex"}
        }
        for store in data["stores"].values():
            store["partner"] = "aramex-ma" if store["partner"] == "aramex" else ""
        path = tmp_path / "fulfilment.toml"
        path.write_text(dumps(data))
        app = build_app(load_config(path, registry.adapters()), registry)
        try:
            app.run("fetch-new-orders")
            booking = app.run("create-fulfilment-requests")
            tracking = app.run("fetch-fulfilment-status")
        finally:
            app.close()

    assert set(booking["booked_by_partner"]) == {"aramex-ma"}
    assert tracking["failed_partners"] == {}
    assert tracking["polled"] == booking["booked_by_partner"]["aramex-ma"]


def test_sandbox_serve_adds_a_plugin_partner_named_in_the_sandbox_table() -> None:
    table = {"shopify": 1, "aramex": 2, "bosta": 3, "oxr": 4, "mail": 5, "typeform": 6}

    assert plugin_partners(table) == ("bosta",)
