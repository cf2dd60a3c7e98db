"""Registers the Shopify order source through the plugin hooks, exactly as
a third-party plugin would."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.rate_budgets import budget_key

from .client import BucketShape, ShopifyGraphQLClient
from .settings import ShopifySettings
from .source import ShopifyOrderSource

__all__ = ["build", "fulfilment_register_order_sources"]


def build(settings: ShopifySettings, context: AdapterContext) -> ShopifyOrderSource:
    """The order source of one store, talking through the context's HTTP
    client and retry policy, and pricing its queries against the context's
    rate budget when there is one (keyed by the shop's address: Shopify's
    bucket is per app and shop)."""
    client = ShopifyGraphQLClient(
        context.http_client(settings.base_url, settings.timeout),
        settings.store,
        settings.access_token,
        settings.api_version,
        context.retry,
        sleep=time.sleep,
        budget=context.rate_budget,
        budget_key=budget_key("shopify", settings.base_url),
        assumed_bucket=BucketShape(
            settings.assumed_bucket_size, settings.assumed_restore_rate
        ),
    )
    return ShopifyOrderSource(
        client,
        settings.store,
        line_items_per_order=settings.line_items_per_order,
        country=settings.country,
    )


@hookimpl
def fulfilment_register_order_sources() -> Mapping[str, Factory[Any]]:
    return {"shopify": Factory(ShopifySettings, build, "Shopify GraphQL Admin API")}
