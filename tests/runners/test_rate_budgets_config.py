"""``[rate_budgets]`` and the adapters' budget settings: validated like
every section, and wired so that each runner's Shopify and Amazon sources
take from the store's shared budget (or pace alone when told to)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fulfilment.adapters.oms.amazon.limits import UsagePlan
from fulfilment.adapters.oms.shopify.source import ShopifyOrderSource
from fulfilment.core.errors import ConfigurationError
from fulfilment.core.rate_budgets import budget_key
from fulfilment.runners.config import Adapters, load_config
from fulfilment.runners.plugins import Registry
from fulfilment.runners.wiring import build_app

SHOP = "http://127.0.0.1:9/shops/shemsi-lebanon"
CONFIG = f"""
environment = "staging"
[storage]
backend = "sqlite"
path = "db.sqlite3"
[stores.shemsi-lebanon]
channel = "shopify"
country = "LB"
currency = "USD"
[stores.shemsi-lebanon.source]
base_url = "{SHOP}"
access_token = "${{LB_TOKEN}}"
"""
AMAZON = """
[stores.shemsi-uae]
channel = "amazon"
country = "AE"
currency = "AED"
[stores.shemsi-uae.source]
base_url = "http://127.0.0.1:9"
lwa_url = "http://127.0.0.1:9/auth/o2/token"
client_id = "${AMZ_ID}"
client_secret = "${AMZ_SECRET}"
refresh_token = "${AMZ_REFRESH}"
marketplaces = { A2VIGQ35RCS4UG = "shemsi-uae" }
"""
ENVIRON = {"LB_TOKEN": "x", "AMZ_ID": "app-1", "AMZ_SECRET": "s", "AMZ_REFRESH": "r"}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.discover()


@pytest.fixture(scope="module")
def adapters(registry: Registry) -> Adapters:
    return registry.adapters()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fulfilment.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, adapters: Adapters, text: str) -> str:
    with pytest.raises(ConfigurationError) as error:
        load_config(write(tmp_path, text), adapters, ENVIRON)
    return str(error.value)


def test_runners_share_the_stores_budget_by_default(
    tmp_path: Path, registry: Registry, adapters: Adapters
) -> None:
    config = load_config(write(tmp_path, CONFIG + AMAZON), adapters, ENVIRON)

    app = build_app(config, registry)
    try:
        shopify = app.sources["shemsi-lebanon"]
        assert isinstance(shopify, ShopifyOrderSource)
        assert shopify.client.rate_budget is app.storage.rate_budgets
        assert shopify.client.budget_key == budget_key("shopify", SHOP)
        limits = app.sources["shemsi-uae"]._client._limits  # type: ignore[attr-defined]
        assert limits.rate_budget is app.storage.rate_budgets
        assert limits.key == budget_key("amazon", "app-1", "http://127.0.0.1:9")
    finally:
        app.close()


def test_a_runner_told_not_to_share_paces_alone(
    tmp_path: Path, registry: Registry, adapters: Adapters
) -> None:
    text = CONFIG + AMAZON + "[rate_budgets]\nshared = false\n"
    config = load_config(write(tmp_path, text), adapters, ENVIRON)

    app = build_app(config, registry)
    try:
        shopify = app.sources["shemsi-lebanon"]
        assert isinstance(shopify, ShopifyOrderSource)
        assert shopify.client.rate_budget is None
        limits = app.sources["shemsi-uae"]._client._limits  # type: ignore[attr-defined]
        assert limits.rate_budget is None
    finally:
        app.close()


def test_amazon_usage_plans_replace_the_defaults(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = (
        CONFIG
        + AMAZON
        + ("[stores.shemsi-uae.source.usage_plans.getOrders]\nrate = 0.5\nburst = 5\n")
    )

    config = load_config(write(tmp_path, text), adapters, ENVIRON)

    plans = config.stores["shemsi-uae"].source.plans()
    assert plans["getOrders"] == UsagePlan(0.5, 5)
    assert plans["getOrderItems"] == UsagePlan(0.5, 30)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            '[rate_budgets]\nshared = "yes"',
            "rate_budgets.shared: expected true or false, not a string",
        ),
        ("[rate_budgets]\nshard = true", "rate_budgets: unknown keys shard"),
    ],
)
def test_a_rate_budgets_section_out_of_shape_is_named(
    tmp_path: Path, adapters: Adapters, extra: str, expected: str
) -> None:
    found = problems(tmp_path, adapters, CONFIG + extra)

    assert expected in found


def test_a_usage_plan_of_an_unknown_operation_is_named(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = (
        CONFIG
        + AMAZON
        + ("[stores.shemsi-uae.source.usage_plans.getOrder]\nrate = 0.5\nburst = 5\n")
    )

    found = problems(tmp_path, adapters, text)

    assert "usage_plans.getOrder: not an operation the connector calls" in found


def test_a_usage_plan_without_a_rate_is_named(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = CONFIG + AMAZON + "[stores.shemsi-uae.source.usage_plans.getOrders]\n"
    text += "rate = 0\nburst = 5\n"

    found = problems(tmp_path, adapters, text)

    assert "rate must be above 0" in found


def test_a_shopify_assumed_bucket_must_be_positive(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = CONFIG + "assumed_restore_rate = 0\n"

    found = problems(tmp_path, adapters, text)

    assert "assumed_restore_rate must be above 0" in found
