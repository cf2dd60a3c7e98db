"""Running a notification simulator for a test module and building the
adapter the way the runner does: through its plugin factory."""

from __future__ import annotations

from typing import Any

import httpx

from fulfilment.adapters.hookspecs import AdapterContext, Factory
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox.server import Simulator
from fulfilment.testing.builders import T0


def loopback_client(base_url: str, timeout: float) -> httpx.Client:
    # No kept-alive connections: the simulator's server writes headers and
    # body separately, which costs a delayed ACK on a reused connection.
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(base_url=base_url, timeout=timeout, limits=limits)


def context(clock: Any = None, retry: RetryPolicy | None = None) -> AdapterContext:
    return AdapterContext(
        clock=clock or ManualClock(T0),
        retry=retry or RetryPolicy.for_tests(),
        http_client=loopback_client,
    )


def build(factory: Factory[Any], table: dict[str, Any], clock: Any = None) -> Any:
    """The adapter a configuration *table* describes, built by *factory*."""
    return factory.build(factory.settings_type(**table), context(clock))


def reset(sim: Simulator) -> Simulator:
    """*sim* with an empty world, no pending faults, its clock at T0."""
    sim.reset()
    sim.clock.set(T0)  # type: ignore[attr-defined]
    return sim
