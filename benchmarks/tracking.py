"""Tracking fan-out: open parcels against a partner that answers slowly.

The Aramex sandbox holds the parcels and answers every call after
``LATENCY`` seconds, as a partner across the world does.  The tracking
worker runs until no parcel is due, first one call at a time, then with
``CONCURRENCY`` calls in flight.  Two figures per run: the calls made
against the fewest the partner's batch size allows, and the wall time
against calls x latency / concurrency, the time the partner alone takes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import timedelta

import attrs
import httpx

from fulfilment.adapters.pl3.aramex.client import AramexClient
from fulfilment.adapters.pl3.aramex.partner import AramexDeliveryPartner
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order, OrderState, Shipment
from fulfilment.core.workers.fetch_fulfilment_status import (
    TrackingSettings,
    fetch_fulfilment_status,
)
from fulfilment.runners.sandbox.aramex import AramexSimulator, adapter_settings
from fulfilment.runners.sandbox.server import SimServer

from .harness import Figure, Sizes, Store, StoreMaker
from .intake import NOW, order_nodes, read_pages

__all__ = ["LATENCY", "fan_out"]

LATENCY = 0.1
CONCURRENCY = 4
TRACK_ROUTE = "TrackShipments"


@attrs.frozen
class Polling:
    calls: int
    seconds: float
    polled: int
    database: float | None  # seconds MongoDB spent on the run's commands


def _parcels(store: Store, sim: AramexSimulator, count: int) -> None:
    """*count* booked orders, each with a parcel the simulator knows."""
    booked_at = NOW - timedelta(days=1)
    for page in read_pages(order_nodes(count), 1000):
        orders = [_booked(o, sim, booked_at) for o in page]
        store.storage.orders.save_many(orders)


def _booked(order: Order, sim: AramexSimulator, at: object) -> Order:
    reference = str(order.key)
    awb = sim.add_shipment({"Reference1": reference})
    shipment = Shipment("aramex", awb, reference, booked_at=at)  # type: ignore[arg-type]
    return attrs.evolve(order, state=OrderState.BOOKED, shipment=shipment)


def _poll_all(
    store: Store, partner: AramexDeliveryPartner, sim: AramexSimulator, lanes: int
) -> Polling:
    clock = ManualClock(NOW + timedelta(hours=lanes))
    settings = TrackingSettings(concurrency=lanes)
    before = sum(1 for name, _ in sim.requests if name == TRACK_ROUTE)
    polled = 0
    store.reset_counts()
    started = time.perf_counter()
    while True:
        report = fetch_fulfilment_status(
            orders=store.storage.orders,
            partners={"aramex": partner},
            attention=store.storage.attention,
            clock=clock,
            ledger=store.storage.ledger,
            settings=settings,
        )
        polled += report.polled
        if report.polled == 0:
            break
    seconds = time.perf_counter() - started
    calls = sum(1 for name, _ in sim.requests if name == TRACK_ROUTE) - before
    database = store.counter.seconds if store.counter is not None else None
    return Polling(calls, seconds, polled, database)


def fan_out(maker: StoreMaker, kinds: Sequence[str], sizes: Sizes) -> list[Figure]:
    figures = []
    for kind in kinds:
        store = maker(kind)
        sim = AramexSimulator(clock=ManualClock(NOW))
        with SimServer(sim) as server, httpx.Client(timeout=30) as http:
            settings = adapter_settings(server.url)
            partner = AramexDeliveryPartner(
                AramexClient(http, settings),
                settings,
                retry=RetryPolicy(),
                clock=ManualClock(NOW),
            )
            _parcels(store, sim, sizes.parcels)
            sim.latency = LATENCY
            for lanes in (1, CONCURRENCY):
                run = _poll_all(store, partner, sim, lanes)
                figures += _figures(kind, run, lanes, settings.max_tracking_batch)
    return figures


def _figures(kind: str, run: Polling, lanes: int, batch: int) -> list[Figure]:
    fewest = math.ceil(run.polled / batch)
    floor = run.calls * LATENCY / lanes
    return [
        Figure(
            f"fan-out x{lanes}: calls / fewest",
            kind,
            round(run.calls / max(1, fewest), 3),
            "= 1",
            run.calls == fewest,
            f"{run.calls} calls for {run.polled} parcels, {batch} a call",
        ),
        Figure(
            f"fan-out x{lanes}: time / partner's",
            kind,
            round(run.seconds / floor, 3),
            "<= 1.5",
            run.seconds <= 1.5 * floor,
            f"{run.seconds:.1f} s against {floor:.1f} s of {LATENCY * 1000:g} ms calls"
            + ("" if run.database is None else f"; database {run.database:.1f} s"),
        ),
    ]
