"""A running Amazon SP-API sandbox for the loopback tests, and the Amazon
order source built against it the way the runner builds it: through the
plugin factory, from the simulator's own sandbox settings.

The source and the simulator share one :class:`ManualClock`.  The
source's rate limiter waits through the retry policy's sleeper, and here
that sleeper moves the shared clock: a wait for a token is simulated time
passing on both sides, so Amazon's bucket refills exactly as our copy
expects, and the test runs instantly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fulfilment.adapters.oms.amazon.adapter import AmazonOrderSource
from fulfilment.adapters.oms.amazon.plugin import fulfilment_register_order_sources
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox.amazon import AmazonSimulator
from fulfilment.runners.sandbox.amazon_orders import (
    AmazonAddress,
    AmazonItem,
    AmazonOrder,
)
from tests.notify.loopback import context

NOW = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)
AE, EG, SA = "A2VIGQ35RCS4UG", "ARBP9OOSHTCHU", "A17E79C6D8DWNP"
STORES = {AE: "amazon-ae", EG: "amazon-eg", SA: "amazon-sa"}
VERSIONS = ("2026-01-01", "v0")


class Slept:
    """A sleeper that moves the shared clock and remembers each wait."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


def amazon_source(
    sim: AmazonSimulator,
    url: str,
    api_version: str,
    store: str = "amazon-ae",
    *,
    sleep: Slept | None = None,
    attempts: int = 5,
    **options: Any,
) -> AmazonOrderSource:
    """The source of *store*, as the runner builds it from the sandbox's
    configuration table (the runner fills ``store`` from the handle)."""
    clock = sim.clock
    assert isinstance(clock, ManualClock)
    factory = fulfilment_register_order_sources()["amazon"]
    table = {**sim.sandbox_settings(url, api_version=api_version), "store": store}
    retry = RetryPolicy(attempts=attempts, sleep=sleep or Slept(clock))
    source = factory.build(
        factory.settings_type(**table | options), context(clock, retry)
    )
    assert isinstance(source, AmazonOrderSource)
    return source


def amazon_order(
    order_id: str,
    changed: datetime,
    *,
    country: str = "AE",
    phone: str | None = "050 123 4567",
    city: str | None = "Dubai",
    items: tuple[AmazonItem, ...] | None = None,
    **options: Any,
) -> AmazonOrder:
    """A sandbox order placed an hour before *changed* and last changed
    then."""
    return AmazonOrder(
        order_id,
        changed - timedelta(hours=1),
        items
        or (
            AmazonItem("OUD-50", "Oud Perfume 50ml", 2, Decimal("145.00")),
            AmazonItem("BKH-01", "Bakhoor Burner", 1, Decimal("25.00")),
        ),
        AmazonAddress("Mariam Al Hashimi", "Villa 14", city, country, phone=phone),
        "Mariam Al Hashimi",
        f"fake{order_id[-4:]}buyer@marketplace.amazon.{country.lower()}",
        updated=changed,
        **options,
    )


def requests_of(sim: AmazonSimulator, operation: str) -> int:
    return sum(1 for name, _ in sim.requests if name == operation)
