"""The Infobip adapter keeps the SMS sender contract, lookup included,
built by its plugin factory and talking to the loopback Infobip."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from fulfilment.adapters.notify.infobip.adapter import InfobipSmsSender
from fulfilment.adapters.notify.infobip.plugin import fulfilment_register_sms_senders
from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox.infobip import InfobipSimulator
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.testing.builders import T0
from fulfilment.testing.notifiers import SmsSenderContract

from .loopback import build, reset

Served = tuple[InfobipSimulator, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    sim = InfobipSimulator(
        data_dir=tmp_path_factory.mktemp("infobip"), clock=ManualClock(T0)
    )
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def simulator(served: Served) -> InfobipSimulator:
    sim = reset(served[0])
    assert isinstance(sim, InfobipSimulator)
    return sim


def infobip_sender(served: Served) -> InfobipSmsSender:
    sim, url = served
    factory = fulfilment_register_sms_senders()["infobip"]
    sender = build(factory, sim.sandbox_settings(url), sim.clock)
    assert isinstance(sender, InfobipSmsSender)
    return sender


class TestInfobipSmsSender(SmsSenderContract):
    @pytest.fixture
    def sender(self, served: Served, simulator: InfobipSimulator) -> InfobipSmsSender:
        return infobip_sender(served)

    @pytest.fixture
    def inbox(self, simulator: InfobipSimulator) -> Callable[[str], list[str]]:
        return lambda number: [m["text"] for m in simulator.sent_to(number)]

    @pytest.fixture
    def opt_out(self, simulator: InfobipSimulator) -> Callable[[str], None]:
        return simulator.unsubscribe
