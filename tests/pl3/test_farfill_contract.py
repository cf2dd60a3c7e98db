"""The Farfill adapter keeps the delivery-partner contract, built by its
plugin factory and talking to the loopback Farfill simulator."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from fulfilment.adapters.hookspecs import AdapterContext
from fulfilment.adapters.pl3.farfill.partner import FarfillDeliveryPartner
from fulfilment.adapters.pl3.farfill.plugin import (
    fulfilment_register_delivery_partners,
)
from fulfilment.adapters.pl3.farfill.settings import FarfillSettings
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.core.ports import Clock
from fulfilment.runners.sandbox.farfill import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    FarfillSimulator,
)
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.testing.builders import T0
from fulfilment.testing.delivery_partners import (
    CancelContract,
    DeliveryPartnerContract,
    LookupContract,
    TrackingContract,
)

Served = tuple[FarfillSimulator, str]


def loopback_client(base_url: str, timeout: float) -> httpx.Client:
    # No kept-alive connections: the simulator's server sends headers and
    # body in two writes, which costs 40 ms of delayed ACK per reused one.
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(base_url=base_url, timeout=timeout, limits=limits)


def sandbox_settings(url: str, **changes: Any) -> FarfillSettings:
    values = {
        "base_url": url,
        "client_id": SANDBOX_CLIENT_ID,
        "client_secret": SANDBOX_CLIENT_SECRET,
        **changes,
    }
    return FarfillSettings(**values)


def farfill_partner(url: str, clock: Clock, **changes: Any) -> FarfillDeliveryPartner:
    """The adapter as the runner builds it: through its plugin factory."""
    factory = fulfilment_register_delivery_partners()["farfill"]
    context = AdapterContext(
        clock=clock, retry=RetryPolicy.for_tests(), http_client=loopback_client
    )
    settings = sandbox_settings(url, **changes)
    partner = factory.build(settings, context)
    assert isinstance(partner, FarfillDeliveryPartner)
    return partner


def farfill_record(sim: FarfillSimulator, reference: str) -> dict[str, Any] | None:
    """What the simulator recorded for *reference*, in the contract's terms."""
    stored = sim.order_by_partner_id(reference)
    if stored is None:
        return None
    order = stored["order"]
    cod = order["payment_mode"] == "paid_on_delivery"
    return {
        "cod_amount": Decimal(order["payment_amount"]) if cod else None,
        "cod_currency": order["currency"] if cod else None,
        "phone": order["recipient"]["phone"],
        "city": order["recipient"]["address"]["city"],
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # One server per module: stopping one costs its half-second poll.
    data_dir = tmp_path_factory.mktemp("farfill")
    sim = FarfillSimulator(data_dir=data_dir, clock=ManualClock(T0))
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def simulator(served: Served) -> FarfillSimulator:
    """The module's simulator with an empty world and no pending faults."""
    sim = served[0]
    sim.reset()
    sim.clock.set(T0)  # type: ignore[attr-defined]
    return sim


class TestFarfillPartner(
    DeliveryPartnerContract, LookupContract, TrackingContract, CancelContract
):
    @pytest.fixture
    def partner(
        self, served: Served, simulator: FarfillSimulator
    ) -> FarfillDeliveryPartner:
        return farfill_partner(served[1], simulator.clock)

    @pytest.fixture
    def store(self) -> str:
        return "shemsi-uae"

    @pytest.fixture
    def clock(self, simulator: FarfillSimulator) -> ManualClock:
        assert isinstance(simulator.clock, ManualClock)
        return simulator.clock

    @pytest.fixture
    def partner_record(self, simulator: FarfillSimulator) -> Any:
        return lambda reference: farfill_record(simulator, reference)
