"""The Rebrandly adapter keeps the link shortener contract, built by its
plugin factory and talking to the loopback Rebrandly."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from fulfilment.adapters.notify.rebrandly.adapter import RebrandlyLinkShortener
from fulfilment.adapters.notify.rebrandly.plugin import (
    fulfilment_register_link_shorteners,
)
from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox.rebrandly import RebrandlySimulator
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.testing.builders import T0
from fulfilment.testing.notifiers import LinkShortenerContract

from .loopback import build, reset

Served = tuple[RebrandlySimulator, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    sim = RebrandlySimulator(
        data_dir=tmp_path_factory.mktemp("rebrandly"), clock=ManualClock(T0)
    )
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def simulator(served: Served) -> RebrandlySimulator:
    sim = reset(served[0])
    assert isinstance(sim, RebrandlySimulator)
    sim.link_quota = None
    return sim


def rebrandly_shortener(served: Served, **changes: object) -> RebrandlyLinkShortener:
    sim, url = served
    factory = fulfilment_register_link_shorteners()["rebrandly"]
    shortener = build(factory, sim.sandbox_settings(url) | changes, sim.clock)
    assert isinstance(shortener, RebrandlyLinkShortener)
    return shortener


class TestRebrandlyLinkShortener(LinkShortenerContract):
    @pytest.fixture
    def shortener(
        self, served: Served, simulator: RebrandlySimulator
    ) -> RebrandlyLinkShortener:
        return rebrandly_shortener(served)

    @pytest.fixture
    def destination_of(
        self, simulator: RebrandlySimulator
    ) -> Callable[[str], str | None]:
        return simulator.destination_of
