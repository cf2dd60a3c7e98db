"""Fixtures of the order-source tests: a fake monotonic clock shared by the
adapter's waits and the simulator's bucket, and a running Shopify sandbox.

One sandbox server runs for the whole module and is reset before each test
(stopping a server costs half a second of its poll interval)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from fulfilment.adapters.oms.shopify.client import ShopifyGraphQLClient
from fulfilment.adapters.oms.shopify.source import ShopifyOrderSource
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox.seed import sandbox_token
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.runners.sandbox.shopify import ShopifySimulator

NOW = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)
VERSION = "2025-07"


class FakeTime:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Sandbox:
    """A running simulator and a way to build sources against it."""

    def __init__(self, sim: ShopifySimulator, url: str, time: FakeTime) -> None:
        self.sim = sim
        self.url = url
        self.time = time
        self._clients: list[httpx.Client] = []

    def client(self, store: str, token: str | None = None) -> ShopifyGraphQLClient:
        http = httpx.Client(base_url=f"{self.url}/shops/{store}", timeout=5)
        self._clients.append(http)
        return ShopifyGraphQLClient(
            http,
            store,
            token or sandbox_token(store),
            VERSION,
            RetryPolicy.for_tests(),
            sleep=self.time.sleep,
            monotonic=self.time.monotonic,
        )

    def source(self, store: str = "shemsiworld", **options: Any) -> ShopifyOrderSource:
        return ShopifyOrderSource(self.client(store), store, **options)

    def close(self) -> None:
        for http in self._clients:
            http.close()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(scope="module")
def _server() -> Iterator[SimServer]:
    with SimServer(ShopifySimulator()) as server:
        yield server


@pytest.fixture
def start_sandbox(
    _server: SimServer, fake_time: FakeTime
) -> Iterator[Callable[..., Sandbox]]:
    """Reset the module's Shopify simulator and hand it out.  Keyword
    arguments: ``seed`` (default False), ``bucket_size``, ``restore_rate``
    and ``max_cost`` (Shopify's defaults otherwise)."""
    sim = _server.simulator
    assert isinstance(sim, ShopifySimulator)
    opened: list[Sandbox] = []

    def start(
        *,
        seed: bool = False,
        bucket_size: float = 1000.0,
        restore_rate: float = 50.0,
        max_cost: int = 1000,
    ) -> Sandbox:
        sim.clock = ManualClock(NOW)
        sim.monotonic = fake_time.monotonic
        sim.bucket_size, sim.restore_rate = bucket_size, restore_rate
        sim.max_cost = max_cost
        sim.reset(seed=seed)
        sandbox = Sandbox(sim, _server.url, fake_time)
        opened.append(sandbox)
        return sandbox

    yield start
    for sandbox in opened:
        sandbox.close()
