"""Tracking fan-out: open parcels against a partner that answers slowly.

The Aramex sandbox holds the parcels and answers every call after
``LATENCY`` seconds, as a partner across the world does.  The tracking
worker runs until no parcel is due, first one call at a time, then with
``CONCURRENCY`` calls in flight.  Two figures per run: the calls made
against the fewest the partner's batch size allows, and the wall time
against calls x latency / concurrency, the time the partner alone takes.

On MongoDB a third figure holds the wall time against the partner's time
and the driver's own: the same batches of tracked orders replaced with
pymongo alone (``bulk_write`` of ``ReplaceOne``s, one write a batch,
matched on id and revision) in a collection with the orders' indexes
holding them as they were before the run.  One call at a time the two add
up; with calls in flight the larger binds.  When the driver's is the
larger, the database's write speed binds, not the worker.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import timedelta

import attrs
import httpx
from pymongo import ReplaceOne

from fulfilment.adapters.pl3.aramex.client import AramexClient
from fulfilment.adapters.pl3.aramex.partner import AramexDeliveryPartner
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.adapters.storage.mongo import _order_document
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
    # SQLite's statement trace reads every written row's text: off while timed.
    store.counting(False)
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
    store.counting(True)
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
            batch = settings.max_tracking_batch
            for lanes in (1, CONCURRENCY):
                before = store.storage.orders.list()
                run = _poll_all(store, partner, sim, lanes)
                figures += _figures(kind, run, lanes, batch)
                if kind == "mongo":
                    after = store.storage.orders.list()
                    driver = _driver_writes(store, before, after, batch)
                    figures.append(_bound_figure(kind, run, lanes, driver))
    return figures


def _driver_writes(
    store: Store, before: Sequence[Order], after: Sequence[Order], batch: int
) -> float:
    """Seconds pymongo alone takes to make the run's writes: in a collection
    with the orders' indexes holding the orders as they were before the
    run, each replaced by its tracked version *batch* at a time, matched
    on id and revision as the adapter matches them.  The worker, the
    partner and the conversion from orders are left out."""
    assert store.raw_mongo is not None
    database = store.raw_mongo[store.path]
    collection = database["tracked_floor"]
    collection.drop()
    for name, spec in database["orders"].index_information().items():
        if name != "_id_":
            keys = spec.pop("key")
            spec.pop("v", None)
            spec.pop("ns", None)
            collection.create_index(keys, name=name, **spec)
    # Stored copies carry revision + 1; the tracked copy goes one further.
    collection.insert_many([_order_document(o, "before") for o in before])
    stored = {o.key: o.revision + 1 for o in before}
    documents = [
        _order_document(attrs.evolve(o, revision=stored[o.key]), "floor")
        for o in after
        if o.key in stored and o.revision != stored[o.key] - 1
    ]
    pages = [documents[i : i + batch] for i in range(0, len(documents), batch)]
    started = time.perf_counter()
    for page in pages:
        collection.bulk_write(
            [
                ReplaceOne({"_id": d["_id"], "revision": d["revision"] - 1}, d)
                for d in page
            ],
            ordered=False,
        )
    seconds = time.perf_counter() - started
    replaced = collection.count_documents({"write_id": "floor"})
    collection.drop()
    if replaced != len(documents):
        raise RuntimeError(f"the driver floor replaced {replaced} of {len(documents)}")
    return seconds


def _bound_figure(kind: str, run: Polling, lanes: int, driver: float) -> Figure:
    """Wall time against what the partner and the database need at least.
    One call at a time, the worker waits for each answer and then writes
    it, so the two add up; with calls in flight, the writes happen while
    the next answers are awaited and the larger of the two binds."""
    partner = run.calls * LATENCY / lanes
    bound = partner + driver if lanes == 1 else max(partner, driver)
    binds = "the database" if driver > partner else "the partner"
    return Figure(
        f"fan-out x{lanes}: time / partner's and driver's",
        kind,
        round(run.seconds / bound, 3),
        "<= 1.5",
        run.seconds <= 1.5 * bound,
        f"{run.seconds:.1f} s against the partner's {partner:.1f} s and the "
        f"driver alone replacing the same batches in {driver:.1f} s "
        f"({'added' if lanes == 1 else 'the larger'}): {binds} binds",
    )


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
