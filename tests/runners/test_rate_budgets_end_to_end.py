"""Two runners on one account and one database stay inside the partner's
limit together, where each pacing on its own is throttled.

Shopify: each runner is a thread with its own handle on one SQLite file (as
a separate process would have) and its own source, built by the Shopify
plugin from the sandbox's settings.  The loopback simulator charges a small
bucket on the real clock and counts the ``THROTTLED`` answers it gives.

Amazon: the two runners take turns on the simulator's clock (a wait for a
token moves it, so the test runs instantly), each with its own handle on
one SQLite file; the simulator counts its 429 ``QuotaExceeded`` answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from fulfilment.adapters.hookspecs import AdapterContext
from fulfilment.adapters.oms.amazon.plugin import build as build_amazon
from fulfilment.adapters.oms.amazon.settings import AmazonSettings
from fulfilment.adapters.oms.shopify import plugin as shopify_plugin
from fulfilment.adapters.oms.shopify.settings import ShopifySettings
from fulfilment.adapters.oms.shopify.source import ShopifyOrderSource
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.adapters.storage.sqlite import SQLiteSettings, SQLiteStorage
from fulfilment.core.clock import ManualClock, SystemClock
from fulfilment.core.ports import RateBudget
from fulfilment.runners.sandbox.amazon import AmazonSimulator
from fulfilment.runners.sandbox.server import SimRequest, SimResponse, SimServer
from fulfilment.runners.sandbox.shopify import ShopifySimulator
from tests.oms.amazon_loopback import AE, NOW, Slept, amazon_order

STORE = "shemsiworld"
# Five orders' ids: requested and actual cost 2 + 5 = 7 points.
QUERY = "query { orders(first: 5) { nodes { id } } }"
COST = 7
BUCKET = 35.0  # five queries
RESTORE = 140.0  # twenty queries a second
QUERIES = 15  # per runner


class CountingShopify(ShopifySimulator):
    """The Shopify simulator, counting the queries it refused."""

    def __init__(self) -> None:
        super().__init__(bucket_size=BUCKET, restore_rate=RESTORE)
        self.throttled = 0
        self._count_lock = threading.Lock()

    def _throttled(self, requested: int, bucket: Any) -> Any:
        with self._count_lock:
            self.throttled += 1
        return super()._throttled(requested, bucket)


@pytest.fixture
def shopify() -> Iterator[tuple[CountingShopify, str]]:
    simulator = CountingShopify()
    with SimServer(simulator) as server:
        simulator.reset(seed=True)
        yield simulator, server.url


def runner_source(
    simulator: ShopifySimulator, url: str, budget: RateBudget | None
) -> tuple[ShopifyOrderSource, httpx.Client]:
    """A source as a runner's wiring builds it: the plugin's factory with
    the runner's context (and the store's rate budget, when shared)."""
    opened: list[httpx.Client] = []

    def http_client(base_url: str, timeout: float) -> httpx.Client:
        opened.append(httpx.Client(base_url=base_url, timeout=timeout))
        return opened[-1]

    settings = ShopifySettings(
        **simulator.sandbox_settings(url, STORE),
        assumed_bucket_size=BUCKET,
        assumed_restore_rate=RESTORE,
    )
    context = AdapterContext(
        clock=SystemClock(),
        retry=RetryPolicy(attempts=40, max_elapsed=30, initial_wait=0.01, max_wait=1),
        http_client=http_client,
        rate_budget=budget,
    )
    return shopify_plugin.build(settings, context), opened[0]


def run_two_runners(
    simulator: ShopifySimulator, url: str, database: Path | None
) -> list[int]:
    """Two runners reading QUERIES times each, started together; the
    orders each read."""
    storages = [
        SQLiteStorage(SQLiteSettings(str(database))) for _ in range(2) if database
    ]
    budgets: list[RateBudget | None] = [s.rate_budgets for s in storages] or [
        None,
        None,
    ]
    built = [runner_source(simulator, url, budget) for budget in budgets]
    start = threading.Barrier(2)

    def run(source: ShopifyOrderSource) -> int:
        start.wait()
        data = [source.client.execute(QUERY) for _ in range(QUERIES)]
        return sum(len(d["orders"]["nodes"]) for d in data)

    try:
        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(run, [source for source, _ in built]))
    finally:
        for _, http in built:
            http.close()
        for storage in storages:
            storage.close()


def test_runners_pacing_each_on_their_own_are_throttled(
    shopify: tuple[CountingShopify, str],
) -> None:
    simulator, url = shopify

    read = run_two_runners(simulator, url, database=None)

    assert read == [5 * QUERIES, 5 * QUERIES]
    assert simulator.throttled >= 3


def test_runners_sharing_the_database_budget_are_not_throttled(
    shopify: tuple[CountingShopify, str], tmp_path: Path
) -> None:
    simulator, url = shopify

    read = run_two_runners(simulator, url, database=tmp_path / "fulfilment.db")

    assert read == [5 * QUERIES, 5 * QUERIES]
    assert simulator.throttled <= 1


# --- Amazon ------------------------------------------------------------------

ORDER_ID = "402-1234567-1234567"
CALLS = 25  # per runner: together more than getOrderItems' burst of 30


class CountingAmazon(AmazonSimulator):
    """The SP-API simulator, counting the calls it refused for quota."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir=data_dir, clock=ManualClock(NOW))
        self.refused = 0

    def _serve(self, operation: str, request: SimRequest, answer: Any) -> SimResponse:
        response = super()._serve(operation, request, answer)
        if response.status == 429:
            self.refused += 1
        return response


@pytest.fixture
def amazon(tmp_path: Path) -> Iterator[tuple[CountingAmazon, str]]:
    simulator = CountingAmazon(tmp_path / "amazon")
    with SimServer(simulator) as server:
        simulator.reset()
        simulator.load_orders({AE: [amazon_order(ORDER_ID, NOW)]})
        yield simulator, server.url


def take_turns(simulator: CountingAmazon, url: str, database: Path | None) -> None:
    """Two runners asking for one order's items CALLS times each, in turn."""
    clock = simulator.clock
    assert isinstance(clock, ManualClock)
    storages = [
        SQLiteStorage(SQLiteSettings(str(database))) for _ in range(2) if database
    ]
    budgets: list[RateBudget | None] = [s.rate_budgets for s in storages] or [
        None,
        None,
    ]
    settings = AmazonSettings(
        **simulator.sandbox_settings(url) | {"store": "amazon-ae"}
    )
    opened: list[httpx.Client] = []

    def http_client(base_url: str, timeout: float) -> httpx.Client:
        opened.append(httpx.Client(base_url=base_url, timeout=timeout))
        return opened[-1]

    clients = [
        build_amazon(
            settings,
            AdapterContext(
                clock=clock,
                retry=RetryPolicy(attempts=5, sleep=Slept(clock)),
                http_client=http_client,
                rate_budget=budget,
            ),
        )._client
        for budget in budgets
    ]
    try:
        for _ in range(CALLS):
            for client in clients:
                items = client.get_order_items(ORDER_ID)
                assert items["payload"]["AmazonOrderId"] == ORDER_ID
    finally:
        for http in opened:
            http.close()
        for storage in storages:
            storage.close()


def test_amazon_runners_pacing_each_on_their_own_exceed_the_quota(
    amazon: tuple[CountingAmazon, str],
) -> None:
    simulator, url = amazon

    take_turns(simulator, url, database=None)

    assert simulator.refused >= 2


def test_amazon_runners_sharing_the_database_budget_stay_within_the_quota(
    amazon: tuple[CountingAmazon, str], tmp_path: Path
) -> None:
    simulator, url = amazon

    take_turns(simulator, url, database=tmp_path / "fulfilment.db")

    assert simulator.refused == 0
