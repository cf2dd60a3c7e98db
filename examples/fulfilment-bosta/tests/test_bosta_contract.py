"""The Bosta adapter keeps the connector's published delivery-partner
contract (``fulfilment.testing.delivery_partners``), built by its plugin
factory and talking to the loopback Bosta simulator."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fulfilment_bosta.partner import BostaDeliveryPartner
from fulfilment_bosta.plugin import fulfilment_register_delivery_partners
from fulfilment_bosta.settings import BostaSettings
from fulfilment_bosta.simulator import API_KEY, BostaSimulator

from fulfilment.adapters.hookspecs import AdapterContext
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.testing.builders import T0
from fulfilment.testing.delivery_partners import (
    DeliveryPartnerContract,
    LookupContract,
    NoCancelContract,
    TrackingContract,
)

Served = tuple[BostaSimulator, str]


def loopback_client(base_url: str, timeout: float) -> httpx.Client:
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(base_url=base_url, timeout=timeout, limits=limits)


def bosta_partner(url: str, clock: ManualClock, **changes: Any) -> BostaDeliveryPartner:
    """The adapter as the runner builds it: through its plugin factory."""
    factory = fulfilment_register_delivery_partners()["bosta"]
    settings = BostaSettings(**{"base_url": url, "api_key": API_KEY, **changes})
    context = AdapterContext(
        clock=clock, retry=RetryPolicy.for_tests(), http_client=loopback_client
    )
    partner = factory.build(settings, context)
    assert isinstance(partner, BostaDeliveryPartner)
    return partner


def bosta_record(sim: BostaSimulator, reference: str) -> dict[str, Any] | None:
    """What the simulator recorded for *reference*, in the contract's terms."""
    for record in sim.state["deliveries"].values():
        body = record["body"]
        if body["businessReference"] == reference:
            cod = Decimal(str(body["cod"])) if body["cod"] else None
            return {
                "cod_amount": cod,
                "cod_currency": "EGP" if cod else None,
                "phone": body["receiver"]["phone"],
                "city": body["dropOffAddress"]["cityId"],
            }
    return None


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    sim = BostaSimulator(
        data_dir=tmp_path_factory.mktemp("bosta"), clock=ManualClock(T0)
    )
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def simulator(served: Served) -> BostaSimulator:
    sim = served[0]
    sim.reset()
    assert isinstance(sim.clock, ManualClock)
    sim.clock.set(T0)
    return sim


class TestBostaPartner(
    DeliveryPartnerContract, LookupContract, TrackingContract, NoCancelContract
):
    @pytest.fixture
    def partner(
        self, served: Served, simulator: BostaSimulator
    ) -> BostaDeliveryPartner:
        assert isinstance(simulator.clock, ManualClock)
        return bosta_partner(served[1], simulator.clock)

    @pytest.fixture
    def store(self) -> str:
        return "shemsi-egypt"

    @pytest.fixture
    def clock(self, simulator: BostaSimulator) -> ManualClock:
        assert isinstance(simulator.clock, ManualClock)
        return simulator.clock

    @pytest.fixture
    def partner_record(self, simulator: BostaSimulator) -> Any:
        return lambda reference: bosta_record(simulator, reference)
