"""Registers the Amazon order source through the plugin hooks, exactly as
a third-party plugin would."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.rate_budgets import budget_key

from .adapter import AmazonOrderSource
from .auth import LwaTokens
from .client import SpApiClient
from .limits import RateLimits
from .settings import AmazonSettings

__all__ = ["build", "fulfilment_register_order_sources"]


def build(settings: AmazonSettings, context: AdapterContext) -> AmazonOrderSource:
    """The order source of one Amazon store, talking through the context's
    HTTP clients (one for the SP-API host, one for Login with Amazon) and
    retry policy."""
    tokens = LwaTokens(
        context.http_client(settings.lwa_url, settings.timeout),
        settings.lwa_url,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        refresh_token=settings.refresh_token,
        clock=context.clock,
        retry=context.retry,
    )
    client = SpApiClient(
        context.http_client(settings.base_url, settings.timeout),
        tokens,
        # The buckets run on the context's clock, the one Amazon's own
        # buckets follow (the machine's in production, the sandbox's
        # simulated one in the demo), and wait through the retry policy's
        # sleeper (a test's policy need not sleep at all).  With a rate
        # budget they are shared by every runner of the app on the host
        # (Amazon meters the seller-app pair; two sellers through one app
        # share a bucket here, which is slower, never over the limit).
        RateLimits(
            settings.plans(),
            monotonic=lambda: context.clock.now().timestamp(),
            sleep=context.retry.sleep,
            budget=context.rate_budget,
            key=budget_key("amazon", settings.client_id, settings.base_url),
        ),
        context.retry,
        context.clock,
    )
    return AmazonOrderSource(
        client,
        settings.store,
        settings.marketplace_ids(),
        clock=context.clock,
        api_version=settings.api_version,
        page_size=settings.page_size,
    )


@hookimpl
def fulfilment_register_order_sources() -> Mapping[str, Factory[Any]]:
    return {
        "amazon": Factory(
            AmazonSettings, build, "Amazon SP-API Orders (v2026-01-01, v0)"
        )
    }
