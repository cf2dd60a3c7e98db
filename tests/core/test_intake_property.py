"""Intake loses no order, duplicates none and keeps the newest version,
whatever the interleaving of creations, edits, cancellations, page sizes,
overlap, late-visible changes and duplicate deliveries.

Here the shop is the in-memory source, which can misbehave in ways a real
API only does on a bad day.  The same invariants are checked for the
Amazon channel through its real source and the SP-API sandbox in
tests/oms/test_amazon_intake_property.py (both Orders API versions, the
two-minute rule, the usage plans)."""

from __future__ import annotations

from datetime import timedelta

import attrs
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fulfilment.adapters.oms.memory import MemoryOrderSource
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order, OrderState
from fulfilment.core.workers.fetch_new_orders import IntakeSettings, fetch_new_orders
from fulfilment.testing.builders import T0, make_order

LAG = timedelta(minutes=2)
OVERLAP = timedelta(minutes=10)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(0, 4)),
        st.tuples(st.just("edit"), st.integers(0, 4)),
        st.tuples(st.just("cancel"), st.integers(0, 4)),
        st.tuples(st.just("run"), st.integers(1, 6)),
        st.tuples(st.just("wait"), st.integers(1, 3600)),
        st.tuples(st.just("duplicate"), st.integers(1, 3)),
        st.tuples(st.just("replay"), st.integers(1, 3)),
    ),
    max_size=60,
)
# How long after its update time a change becomes visible at the source:
# anything up to lag + overlap must still be read.
visibility_delays = st.lists(st.integers(0, int((LAG + OVERLAP).total_seconds())))


class LateVisibleShop:
    """A shop whose changes become visible at the API only some seconds
    after the update time they carry, like a replica catching up: a change
    made now may be stamped up to lag + overlap in the past."""

    def __init__(self, clock: ManualClock, delays: list[int]) -> None:
        self.clock = clock
        self.delays = delays or [0]
        self.source = MemoryOrderSource("shemsiworld")
        self.latest: dict[str, Order] = {}
        self.changes = 0

    def change(self, external_id: str, **fields: object) -> None:
        delay = timedelta(seconds=self.delays[self.changes % len(self.delays)])
        self.changes += 1
        previous = self.latest.get(external_id)
        stamp = self.clock.now() - delay
        if previous is not None:
            stamp = max(stamp, previous.source_updated_at + timedelta(seconds=1))
        base = previous or make_order(external_id, placed_at=stamp - timedelta(1))
        version = attrs.evolve(base, source_updated_at=stamp, **fields)
        self.latest[external_id] = version
        self.source.put(version)


@settings(deadline=None)
@given(ops=operations, delays=visibility_delays, page_size=st.integers(1, 7))
@example(  # an old delivery arriving after its order left the overlap window
    ops=[
        ("create", 1),
        ("edit", 1),
        ("wait", 3600),
        ("run", 3),
        ("replay", 1),
        ("run", 3),
    ],
    delays=[0],
    page_size=3,
)
@example(  # a change stamped lag + overlap in the past is still read
    ops=[("run", 2), ("wait", 5), ("create", 1), ("run", 2)],
    delays=[720],
    page_size=2,
)
def test_intake_converges_on_the_shops_newest_versions(
    ops: list[tuple[str, int]], delays: list[int], page_size: int
) -> None:
    clock = ManualClock(T0)
    shop = LateVisibleShop(clock, delays)
    shop.source.page_size = page_size
    storage = MemoryStorage()
    intake = IntakeSettings(overlap=OVERLAP, lag=LAG)

    def run() -> None:
        fetch_new_orders(
            source=shop.source,
            orders=storage.orders,
            cursors=storage.cursors,
            attention=storage.attention,
            clock=clock,
            settings=intake,
        )

    for op, n in ops:
        clock.advance(timedelta(seconds=1))
        if op == "create" and str(n) not in shop.latest:
            shop.change(str(n))
        elif op == "edit" and str(n) in shop.latest:
            shop.change(str(n), note=f"edit at {clock.now():%H:%M:%S}")
        elif op == "cancel" and str(n) in shop.latest:
            shop.change(str(n), cancelled_at=clock.now())
        elif op == "run":
            shop.source.page_size = n
            run()
        elif op == "wait":
            clock.advance(timedelta(seconds=n))
        elif op == "duplicate":
            shop.source.repeat_last_of_next_pages(n, n)
        elif op == "replay":
            shop.source.replay_old_versions(n)
    clock.advance(LAG + OVERLAP + timedelta(minutes=1))
    run()

    stored = storage.orders.list()
    assert len({o.key for o in stored}) == len(stored)
    assert {o.key.external_id for o in stored} == set(shop.latest)
    for order in stored:
        newest = shop.latest[order.key.external_id]
        assert order.source_updated_at == newest.source_updated_at
        assert order.note == newest.note
        assert (order.state is OrderState.CANCELLED) == newest.is_cancelled
