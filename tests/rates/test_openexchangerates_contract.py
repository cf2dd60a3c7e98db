"""The Open Exchange Rates source keeps the rate-source contract, built by
its plugin factory from the simulator's sandbox settings and talking to it,
for the official feed and the parallel-market one alike.

Open Exchange Rates publishes every day, weekends too, so the world's days
without figures are days the simulator withholds: asked for one, it
answers 400 ``not_available``, and the source must leave the day out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from decimal import Decimal

import pytest

from fulfilment.adapters.rates.openexchangerates import OpenExchangeRatesSource
from fulfilment.adapters.rates.openexchangerates.plugin import (
    fulfilment_register_rate_sources,
)
from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox import markets
from fulfilment.runners.sandbox.openexchangerates import (
    FEEDS,
    OpenExchangeRatesSimulator,
)
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.testing.builders import T0
from fulfilment.testing.rate_sources import RateSourceContract, RateWorld
from tests.notify.loopback import build, reset

Served = tuple[OpenExchangeRatesSimulator, str]

TODAY = T0.date()
# Two days in the recent weeks and one in the old window have no figures.
WITHHELD = tuple(TODAY - timedelta(days=back) for back in (3, 4, 390))
# The ISO code kept for tests: no feed carries it.
FOREIGN = "XTS"


@pytest.fixture(scope="module", params=FEEDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    sim = OpenExchangeRatesSimulator(
        data_dir=tmp_path_factory.mktemp("oxr"),
        clock=ManualClock(T0),
        feed=request.param,
    )
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def simulator(served: Served) -> OpenExchangeRatesSimulator:
    sim = reset(served[0])
    assert isinstance(sim, OpenExchangeRatesSimulator)
    return sim


def oxr_source(served: Served) -> OpenExchangeRatesSource:
    sim, url = served
    factory = fulfilment_register_rate_sources()["openexchangerates"]
    source = build(factory, sim.sandbox_settings(url), sim.clock)
    assert isinstance(source, OpenExchangeRatesSource)
    return source


def figures_of(sim: OpenExchangeRatesSimulator) -> RateWorld:
    """What *sim* has published by its today, in its own figures."""

    def published(day: date) -> Mapping[str, Decimal] | None:
        return sim.rates_on(day) if sim.publishes(day) else None

    return RateWorld(sim.today, published, markets.CURRENCIES, foreign=FOREIGN)


class TestOpenExchangeRatesSource(RateSourceContract):
    @pytest.fixture
    def world(self, simulator: OpenExchangeRatesSimulator) -> RateWorld:
        for day in WITHHELD:
            simulator.withhold(day)
        return figures_of(simulator)

    @pytest.fixture
    def source(self, served: Served, world: RateWorld) -> OpenExchangeRatesSource:
        return oxr_source(served)


def test_each_feed_hands_back_its_own_pound(
    served: Served, simulator: OpenExchangeRatesSimulator
) -> None:
    # The contract passes for both feeds alike; this tells them apart.
    expected = {"official": Decimal(89500), "market": markets.lbp_market(TODAY)}

    (today,) = oxr_source(served).published(TODAY, TODAY, {"LBP"})

    assert today.rates == {"LBP": expected[simulator.feed]}
