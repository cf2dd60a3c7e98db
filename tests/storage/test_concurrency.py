"""Runners racing on one store: compare-and-set, leases and the ledger
each let exactly one of them through, on every backend.

Each thread has its own handle on the store (``backend.open()``), as a
separate runner would; SQLite handles also get a connection per thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import attrs

from fulfilment.adapters.rates.memory import MemoryRateSource
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order
from fulfilment.core.errors import ConflictError
from fulfilment.core.ports import AttentionItem, Storage
from fulfilment.core.rates import RatePlan, Serving
from fulfilment.core.workers.fetch_fx_rates import FxReport, fetch_fx_rates
from fulfilment.testing.builders import T0, make_order
from tests.storage.conftest import Backend

RUNNERS = 8
T = TypeVar("T")


def race(backend: Backend, attempt: Callable[[Storage, int], T]) -> list[T]:
    """Run *attempt* in RUNNERS threads released at the same moment."""
    handles = [backend.open() for _ in range(RUNNERS)]
    start = threading.Barrier(RUNNERS)

    def run(runner: int) -> T:
        start.wait()
        return attempt(handles[runner], runner)

    with ThreadPoolExecutor(RUNNERS) as pool:
        return list(pool.map(run, range(RUNNERS)))


def save_as(order: Order) -> Callable[[Storage, int], str | None]:
    def attempt(storage: Storage, runner: int) -> str | None:
        try:
            storage.orders.save(attrs.evolve(order, note=f"runner {runner}"))
        except ConflictError:
            return None
        return f"runner {runner}"

    return attempt


def test_racing_saves_of_one_revision_have_exactly_one_winner(
    backend: Backend,
) -> None:
    stored = backend.open().orders.save(make_order())

    outcomes = race(backend, save_as(stored))

    winners = [w for w in outcomes if w is not None]
    assert len(winners) == 1
    after = backend.open().orders.get(stored.key)
    assert after is not None
    assert (after.revision, after.note) == (2, winners[0])


def test_racing_inserts_of_a_new_order_have_exactly_one_winner(
    backend: Backend,
) -> None:
    outcomes = race(backend, save_as(make_order()))

    winners = [w for w in outcomes if w is not None]
    assert len(winners) == 1
    after = backend.open().orders.get(make_order().key)
    assert after is not None
    assert (after.revision, after.note) == (1, winners[0])


def test_racing_pages_lose_every_order_but_once(backend: Backend) -> None:
    page = [make_order(str(i)) for i in range(20)]

    losses = race(backend, lambda storage, _: storage.orders.save_many(page))

    assert sorted(k for lost in losses for k in lost) == sorted(
        o.key for o in page for _ in range(RUNNERS - 1)
    )


def test_one_runner_of_many_gets_a_free_lease(backend: Backend) -> None:
    outcomes = race(
        backend, lambda storage, n: storage.leases.acquire("run", f"r{n}", T0, 60)
    )

    assert outcomes.count(True) == 1


def test_one_runner_of_many_creates_a_ledger_entry(backend: Backend) -> None:
    outcomes = race(
        backend, lambda storage, n: storage.ledger.begin("book:1", "book", f"{n}", T0)
    )

    created = [entry for entry, new in outcomes if new]
    assert len(created) == 1
    assert all(entry == created[0] for entry, _ in outcomes)


def test_one_runner_of_many_takes_a_queued_entry(backend: Backend) -> None:
    backend.open().ledger.queue(
        "sms:1", "sms", "order-1", T0, payload={"to": "+212600"}
    )

    outcomes = race(backend, lambda storage, _: storage.ledger.take("sms:1", T0))

    taken = [entry for entry in outcomes if entry is not None]
    assert len(taken) == 1
    assert backend.open().ledger.get("sms:1") == taken[0]


def test_one_runner_of_many_queues_an_entry(backend: Backend) -> None:
    outcomes = race(
        backend,
        lambda storage, n: storage.ledger.queue("sms:1", "sms", f"{n}", T0, payload={}),
    )

    assert outcomes.count(True) == 1


def test_racing_rate_fetches_keep_each_rate_and_each_stamp_once(
    backend: Backend,
) -> None:
    now = T0 + timedelta(days=10)
    oxr, ecb = MemoryRateSource("USD"), MemoryRateSource("EUR")
    for back in range(12):
        day = now.date() - timedelta(days=back)
        oxr.publish(day, {"MAD": "9.95", "EGP": "48.6"})
        if day.weekday() < 5:
            ecb.publish(day, {"USD": "1.08"})
    orders = [make_order(str(n), placed_at=T0 + timedelta(days=n)) for n in range(6)]
    backend.open().orders.save_many(orders)

    def fetch(storage: Storage, _: int) -> FxReport:
        return fetch_fx_rates(
            rates=storage.rates,
            sources={"oxr": oxr, "ecb": ecb},
            plan=_RACE_PLAN,
            orders=storage.orders,
            attention=storage.attention,
            clock=ManualClock(now),
        )

    reports = race(backend, fetch)

    kept = backend.open().rates.history()
    assert len({rate.key for rate in kept}) == len(kept)
    assert sum(o.stored for r in reports for o in r.sources.values()) == len(kept)
    assert sum(r.stamped for r in reports) == len(orders)
    stamped = backend.open().orders.get_many(o.key for o in orders)
    assert all(o.reporting_total is not None for o in stamped.values())
    assert backend.open().orders.unstamped(10) == []


_RACE_PLAN = RatePlan(
    pivot="USD",
    reporting_currency="USD",
    servings=(Serving("MAD", "oxr"), Serving("EGP", "oxr"), Serving("EUR", "ecb")),
    bases={"oxr": "USD", "ecb": "EUR"},
    backfill_days=10,
)


def test_runners_raising_one_item_at_once_open_exactly_one(backend: Backend) -> None:
    first = backend.open().attention.raise_item(
        AttentionItem("partner:flextock", "unknown_tracking_code:X42", "seen", T0)
    )
    backend.open().attention.resolve(first.subject, first.reason, T0)

    def attempt(storage: Storage, runner: int) -> str:
        raised = storage.attention.raise_item(
            attrs.evolve(first, message=f"runner {runner}", raised_at=T0)
        )
        return raised.id

    ids = race(backend, attempt)

    (opened,) = backend.open().attention.open_items()
    assert set(ids) == {opened.id}
    assert opened.occurrence == 2
    assert opened.message in {f"runner {r}" for r in range(RUNNERS)}
