"""The Shopify source registers through the plugin hook and builds from
settings, as any third-party plugin would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pluggy
import pytest

from fulfilment.adapters.hookspecs import PROJECT, AdapterContext, FulfilmentHookSpecs
from fulfilment.adapters.oms.shopify import plugin
from fulfilment.adapters.oms.shopify.settings import ShopifySettings
from fulfilment.adapters.oms.shopify.source import ShopifyOrderSource
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.core.ports import SourceWindow

from .conftest import NOW, Sandbox


def settings(**changes: object) -> ShopifySettings:
    values: dict[str, object] = {
        "base_url": "https://shemsiworld.myshopify.com",
        "access_token": "shpat_secret",
    }
    return ShopifySettings(**{**values, **changes})  # type: ignore[arg-type]


def test_the_hook_offers_a_shopify_factory() -> None:
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(FulfilmentHookSpecs)
    manager.register(plugin)

    (factories,) = manager.hook.fulfilment_register_order_sources()

    assert factories["shopify"].settings_type is ShopifySettings
    assert "GraphQL" in factories["shopify"].description


def test_settings_default_to_a_current_version_and_ten_lines_per_order() -> None:
    made = settings()

    assert (made.api_version, made.line_items_per_order) == ("2025-07", 10)
    assert "shpat_secret" not in repr(made)


@pytest.mark.parametrize(
    "url",
    [
        "https://shemsiworld.myshopify.com",
        "https://shemsiworld.myshopify.com/",
        "http://127.0.0.1:8123/shops/shemsiworld",
    ],
)
def test_the_store_handle_defaults_to_the_one_the_url_names(url: str) -> None:
    made = settings(base_url=url)

    assert made.store == "shemsiworld"


def test_a_custom_domain_needs_the_store_handle_spelt_out() -> None:
    with pytest.raises(ValueError, match="set store"):
        settings(base_url="https://shop.example")

    made = settings(base_url="https://shop.example", store="shemsiworld")
    assert made.store == "shemsiworld"


@pytest.mark.parametrize(
    "change",
    [
        {"api_version": "2025-08"},
        {"api_version": "latest"},
        {"base_url": "shemsiworld.myshopify.com"},
        {"line_items_per_order": 0},
        {"line_items_per_order": 500},
        {"timeout": 0},
        {"country": "Morocco"},
        {"access_token": ""},
    ],
)
def test_settings_refuse_values_that_cannot_work(change: dict[str, object]) -> None:
    (field,) = change

    with pytest.raises(ValueError, match=field):
        settings(**change)


def test_the_factory_builds_a_source_that_reads_the_sandbox(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(seed=True)
    clients: list[httpx.Client] = []

    def http_client(base_url: str, timeout: float) -> httpx.Client:
        clients.append(httpx.Client(base_url=base_url, timeout=timeout))
        return clients[-1]

    context = AdapterContext(ManualClock(NOW), RetryPolicy.for_tests(), http_client)
    made = ShopifySettings(**sandbox.sim.sandbox_settings(sandbox.url, "shemsiworld"))

    source = plugin.build(made, context)
    page = source.fetch_changed_orders(SourceWindow(NOW - timedelta(days=7), NOW))

    assert isinstance(source, ShopifyOrderSource)
    assert len(page.orders) == 7
    for client in clients:
        client.close()
