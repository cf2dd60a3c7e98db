"""The MetalpriceAPI source keeps the rate-source contract, built by its
plugin factory from the simulator's sandbox settings and talking to it,
per dollar and per euro (a plan that allows another base), with gaps in
the past only and with today's figures not out yet.

MetalpriceAPI publishes every day, so the world's days without figures are
days the simulator withholds: asked for one, it answers with the last
figures before it, naming their day, and the source must leave the day
out.  The base is the quote the world never carries: MetalpriceAPI does
not publish it per itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from decimal import Decimal

import pytest

from fulfilment.adapters.rates.metalpriceapi import MetalpriceApiRateSource
from fulfilment.adapters.rates.metalpriceapi.plugin import (
    fulfilment_register_rate_sources,
)
from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox.metalpriceapi import MetalpriceApiSimulator
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.testing.builders import T0
from fulfilment.testing.rate_sources import RateSourceContract, RateWorld
from tests.notify.loopback import build, reset

Served = tuple[MetalpriceApiSimulator, str]

TODAY = T0.date()
# Two days in the recent weeks and one in the old window have no figures;
# "today" adds the clock's day, as before its first update.
GAPS = {
    "past-gaps": (3, 4, 390),
    "today-not-out": (0, 3, 4, 390),
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    sim = MetalpriceApiSimulator(
        data_dir=tmp_path_factory.mktemp("metalpriceapi"), clock=ManualClock(T0)
    )
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def simulator(served: Served) -> MetalpriceApiSimulator:
    sim = reset(served[0])
    assert isinstance(sim, MetalpriceApiSimulator)
    sim.monthly_quota = None
    return sim


def metals_source(served: Served, base: str) -> MetalpriceApiRateSource:
    sim, url = served
    factory = fulfilment_register_rate_sources()["metalpriceapi"]
    table = sim.sandbox_settings(url) | {"base": base}
    source = build(factory, table, sim.clock)
    assert isinstance(source, MetalpriceApiRateSource)
    return source


class TestMetalpriceApiRateSource(RateSourceContract):
    @pytest.fixture(params=["USD", "EUR"])
    def base(self, request: pytest.FixtureRequest) -> str:
        code = request.param
        assert isinstance(code, str)
        return code

    @pytest.fixture(params=list(GAPS))
    def world(
        self,
        simulator: MetalpriceApiSimulator,
        base: str,
        request: pytest.FixtureRequest,
    ) -> RateWorld:
        for back in GAPS[request.param]:
            simulator.withhold(TODAY - timedelta(days=back))

        def published(day: date) -> Mapping[str, Decimal] | None:
            return simulator.rates(day, base) if simulator.publishes(day) else None

        carried = frozenset(simulator.rates(TODAY, base))
        return RateWorld(TODAY, published, carried, foreign=base)

    @pytest.fixture
    def source(
        self, served: Served, base: str, world: RateWorld
    ) -> MetalpriceApiRateSource:
        return metals_source(served, base)
