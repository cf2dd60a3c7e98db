"""The Twilio adapter keeps the SMS sender contract, built by its plugin
factory from the simulator's sandbox settings and talking to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from fulfilment.adapters.notify.twilio.adapter import TwilioSmsSender
from fulfilment.adapters.notify.twilio.plugin import fulfilment_register_sms_senders
from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.runners.sandbox.twilio import TwilioSimulator
from fulfilment.testing.builders import T0
from fulfilment.testing.notifiers import SmsSenderContract

from .loopback import build, reset

Served = tuple[TwilioSimulator, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    sim = TwilioSimulator(
        data_dir=tmp_path_factory.mktemp("twilio"), clock=ManualClock(T0)
    )
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def simulator(served: Served) -> TwilioSimulator:
    sim = reset(served[0])
    assert isinstance(sim, TwilioSimulator)
    return sim


def twilio_sender(served: Served) -> TwilioSmsSender:
    sim, url = served
    factory = fulfilment_register_sms_senders()["twilio"]
    sender = build(factory, sim.sandbox_settings(url), sim.clock)
    assert isinstance(sender, TwilioSmsSender)
    return sender


class TestTwilioSmsSender(SmsSenderContract):
    @pytest.fixture
    def sender(self, served: Served, simulator: TwilioSimulator) -> TwilioSmsSender:
        return twilio_sender(served)

    @pytest.fixture
    def inbox(self, simulator: TwilioSimulator) -> Callable[[str], list[str]]:
        return lambda number: [m["body"] for m in simulator.sent_to(number)]

    @pytest.fixture
    def opt_out(self, simulator: TwilioSimulator) -> Callable[[str], None]:
        return simulator.unsubscribe
