"""The Flextock adapter keeps the delivery-partner contract, built by its
plugin factory and talking to the loopback Flextock simulator."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from fulfilment.adapters.hookspecs import AdapterContext
from fulfilment.adapters.pl3.flextock.partner import FlextockDeliveryPartner
from fulfilment.adapters.pl3.flextock.plugin import (
    fulfilment_register_delivery_partners,
)
from fulfilment.adapters.pl3.flextock.settings import FlextockSettings
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.core.ports import Clock
from fulfilment.runners.sandbox.flextock import (
    SANDBOX_PASSWORD,
    SANDBOX_USERNAME,
    FlextockSimulator,
)
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.testing.builders import T0
from fulfilment.testing.delivery_partners import (
    CancelContract,
    DeliveryPartnerContract,
    LookupContract,
    TrackingContract,
)

Served = tuple[FlextockSimulator, str]


def loopback_client(base_url: str, timeout: float) -> httpx.Client:
    # No kept-alive connections: the simulator's server sends headers and
    # body in two writes, which costs 40 ms of delayed ACK per reused one.
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(base_url=base_url, timeout=timeout, limits=limits)


def sandbox_settings(url: str, **changes: Any) -> FlextockSettings:
    values = {
        "base_url": url,
        "username": SANDBOX_USERNAME,
        "password": SANDBOX_PASSWORD,
        "vendor_name": "Shemsi Egypt",
        **changes,
    }
    return FlextockSettings(**values)


def flextock_partner(url: str, clock: Clock, **changes: Any) -> FlextockDeliveryPartner:
    """The adapter as the runner builds it: through its plugin factory."""
    factory = fulfilment_register_delivery_partners()["flextock"]
    settings = sandbox_settings(url, **changes)
    context = AdapterContext(
        clock=clock, retry=RetryPolicy.for_tests(), http_client=loopback_client
    )
    partner = factory.build(settings, context)
    assert isinstance(partner, FlextockDeliveryPartner)
    return partner


def flextock_record(sim: FlextockSimulator, reference: str) -> dict[str, Any] | None:
    """What the simulator recorded for *reference*, in the contract's terms."""
    stored = sim.state["orders"].get(reference)
    if stored is None:
        return None
    order = stored["order"]
    cod = [p for p in order["payment_data"] if p["payment_type"] == "cash_on_delivery"]
    return {
        "cod_amount": Decimal(str(cod[0]["value"])) if cod else None,
        "cod_currency": order["order_currency"] if cod else None,
        "phone": order["customer_address"]["phone_number"],
        "city": order["customer_address"]["city"],
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # One server per module: stopping one costs its half-second poll.
    data_dir = tmp_path_factory.mktemp("flextock")
    sim = FlextockSimulator(data_dir=data_dir, clock=ManualClock(T0))
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def simulator(served: Served) -> FlextockSimulator:
    """The module's simulator with an empty world and no pending faults."""
    sim = served[0]
    sim.reset()
    sim.clock.set(T0)  # type: ignore[attr-defined]
    return sim


class TestFlextockPartner(
    DeliveryPartnerContract, LookupContract, TrackingContract, CancelContract
):
    @pytest.fixture
    def partner(
        self, served: Served, simulator: FlextockSimulator
    ) -> FlextockDeliveryPartner:
        return flextock_partner(served[1], simulator.clock)

    @pytest.fixture
    def store(self) -> str:
        return "shemsi-egypt"

    @pytest.fixture
    def clock(self, simulator: FlextockSimulator) -> ManualClock:
        assert isinstance(simulator.clock, ManualClock)
        return simulator.clock

    @pytest.fixture
    def partner_record(self, simulator: FlextockSimulator) -> Any:
        return lambda reference: flextock_record(simulator, reference)
