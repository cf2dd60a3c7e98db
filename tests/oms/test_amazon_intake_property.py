"""Intake over Amazon loses no order, duplicates none and keeps the
newest version: the property of tests/core/test_intake_property.py, run
through the real Amazon source (either API version) against the SP-API
sandbox on 127.0.0.1.

Orders are created, moved along (Pending, Unshipped, partly shipped,
shipped), given other quantities or another city, cancelled; the clock
waits; intake runs in between with the page size of the example.  Every
change is stamped at the sandbox clock's now, so a run always finds some
change of the last two minutes it may not ask for yet; the final run,
past the lag and the overlap, must read everything.  Orders Amazon fulfils
are kept and never booked.

The source's rate limiter and the sandbox's buckets share the clock:
waiting for a token moves it, exactly as it does for Amazon."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.booking import FULFILLED_ELSEWHERE, Hold, decide
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order, OrderState
from fulfilment.core.routing import Route
from fulfilment.core.workers.fetch_new_orders import IntakeSettings, fetch_new_orders
from fulfilment.runners.sandbox.amazon import AmazonSimulator
from fulfilment.runners.sandbox.amazon_orders import AmazonItem, AmazonOrder
from fulfilment.runners.sandbox.server import SimServer

from .amazon_loopback import AE, NOW, VERSIONS, amazon_order, amazon_source

LAG = timedelta(minutes=2)
OVERLAP = timedelta(minutes=10)
STORE = "amazon-ae"
# The way an Amazon order moves on; a cancelled one stays cancelled.
NEXT_STATUS = {
    "PENDING": "UNSHIPPED",
    "UNSHIPPED": "PARTIALLY_SHIPPED",
    "PARTIALLY_SHIPPED": "SHIPPED",
}
CITIES = ("Dubai", "Abu Dhabi", "Sharjah", "Ajman")

orders = st.integers(1, 5)
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("create"),
            orders,
            st.sampled_from(("MFN", "AFN")),
            st.sampled_from(("PENDING", "UNSHIPPED")),
            st.booleans(),
        ),
        st.tuples(st.just("advance"), orders),
        st.tuples(st.just("quantity"), orders, st.integers(1, 4)),
        st.tuples(st.just("city"), orders, st.sampled_from(CITIES)),
        st.tuples(st.just("cancel"), orders),
        st.tuples(st.just("run")),
        st.tuples(st.just("wait"), st.integers(1, 900)),
    ),
    max_size=30,
)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[AmazonSimulator, str]]:
    sim = AmazonSimulator(clock=ManualClock(NOW))
    with SimServer(sim) as server:
        yield sim, server.url


def order_id(n: int) -> str:
    return f"407-{n:07d}-0000001"


class Seller:
    """Changes the seller's Amazon orders in the sandbox and remembers the
    newest version of each."""

    def __init__(self, sim: AmazonSimulator) -> None:
        self.sim = sim
        self.latest: dict[str, AmazonOrder] = {}

    def create(self, n: int, channel: str, status: str, cod: bool) -> None:
        placed = amazon_order(
            order_id(n),
            self.sim.clock.now(),
            status=status,
            fulfilled_by=channel,
            cod=cod and channel == "MFN",
            shipping=Decimal("10.00"),
        )
        self.sim.load_orders({AE: [*self.latest.values(), placed]})
        self.latest[placed.order_id] = placed

    def change(self, n: int, **changes: object) -> None:
        self.latest[order_id(n)] = self.sim.update_order(order_id(n), **changes)

    def open(self, n: int) -> AmazonOrder | None:
        order = self.latest.get(order_id(n))
        return order if order and order.status in NEXT_STATUS else None


def expected_fulfiller(order: AmazonOrder) -> str | None:
    if order.fulfilled_by == "AFN":
        return "amazon"
    if order.status in ("SHIPPED", "PARTIALLY_SHIPPED"):
        return "merchant"
    return None


def assert_newest(stored: Order, newest: AmazonOrder) -> None:
    assert stored.source_updated_at == newest.updated
    assert [(ln.product.sku, ln.quantity) for ln in stored.lines] == [
        (i.sku, i.quantity) for i in newest.items
    ]
    cancelled = newest.status == "CANCELLED"
    assert stored.is_cancelled == cancelled
    assert (stored.state is OrderState.CANCELLED) == cancelled
    assert stored.fulfilled_by == expected_fulfiller(newest)
    if newest.status in ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"):
        assert newest.address is not None
        assert stored.shipping_address is not None
        assert stored.shipping_address.city == newest.address.city
    if newest.fulfilled_by == "AFN":
        # Kept for reporting, never booked, nothing for a person to do.
        route = Route(STORE, "farfill", "default", ())
        decision = decide(stored, route, {})
        assert isinstance(decision, Hold)
        assert decision.reason == FULFILLED_ELSEWHERE


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    ops=operations,
    version=st.sampled_from(VERSIONS),
    page_size=st.integers(1, 4),
)
@example(  # an edit between two runs, within the two minutes of the second
    ops=[
        ("create", 1, "MFN", "UNSHIPPED", False),
        ("run",),
        ("city", 1, "Sharjah"),
        ("run",),
    ],
    version="v0",
    page_size=1,
)
@example(  # read by neither run's walk but the overlap: intake's window ends
    # two minutes back, Amazon is asked up to ten seconds before that
    ops=[("create", 1, "MFN", "UNSHIPPED", False), ("wait", 124), ("run",)],
    version="2026-01-01",
    page_size=2,
)
@example(  # Amazon's own order, shipped by it, then a merchant order cancelled
    ops=[
        ("create", 1, "AFN", "UNSHIPPED", False),
        ("create", 2, "MFN", "PENDING", True),
        ("wait", 600),
        ("run",),
        ("advance", 1),
        ("advance", 2),
        ("cancel", 2),
        ("run",),
    ],
    version="2026-01-01",
    page_size=1,
)
def test_intake_over_amazon_converges_on_the_newest_versions(
    served: tuple[AmazonSimulator, str],
    ops: list[tuple[object, ...]],
    version: str,
    page_size: int,
) -> None:
    sim, url = served
    sim.reset()
    clock = sim.clock
    assert isinstance(clock, ManualClock)
    clock.set(NOW)
    seller = Seller(sim)
    source = amazon_source(sim, url, version, STORE, page_size=page_size)
    storage = MemoryStorage()
    intake = IntakeSettings(overlap=OVERLAP, lag=LAG)

    def run() -> None:
        fetch_new_orders(
            source=source,
            orders=storage.orders,
            cursors=storage.cursors,
            attention=storage.attention,
            clock=clock,
            settings=intake,
        )

    for op, *args in ops:
        # Amazon's times are to the second: one change a second at most.
        clock.advance(timedelta(seconds=1))
        n = args[0] if args else 0
        assert isinstance(n, int)
        if op == "create" and order_id(n) not in seller.latest:
            seller.create(n, str(args[1]), str(args[2]), bool(args[3]))
        elif op == "advance" and (found := seller.open(n)):
            seller.change(n, status=NEXT_STATUS[found.status])
        elif op == "quantity" and (found := seller.open(n)):
            first, *rest = found.items
            seller.change(n, items=(attrs.evolve(first, quantity=args[1]), *rest))
        elif op == "city" and (found := seller.open(n)) and found.address:
            seller.change(n, address=attrs.evolve(found.address, city=args[1]))
        elif op == "cancel" and seller.open(n):
            seller.change(n, status="CANCELLED")
        elif op == "run":
            run()
        elif op == "wait":
            clock.advance(timedelta(seconds=n))
    clock.advance(LAG + OVERLAP + timedelta(minutes=1))
    run()

    stored = storage.orders.list()
    assert len({o.key for o in stored}) == len(stored)
    assert {o.key.external_id for o in stored} == set(seller.latest)
    assert {o.key.channel for o in stored} <= {"amazon"}
    assert source.rejected == 0
    for order in stored:
        assert_newest(order, seller.latest[order.key.external_id])


def test_the_sellers_changes_are_the_sandboxes_orders(
    served: tuple[AmazonSimulator, str],
) -> None:
    # The property compares with what Seller remembers: it must be what
    # the sandbox serves.
    sim = served[0]
    sim.reset()
    sim.clock.set(NOW)  # type: ignore[attr-defined]
    seller = Seller(sim)
    seller.create(1, "MFN", "UNSHIPPED", False)
    seller.create(2, "AFN", "PENDING", False)
    sim.clock.advance(timedelta(seconds=5))  # type: ignore[attr-defined]
    seller.change(1, items=(AmazonItem("OUD-50", "Oud", 3, Decimal("145.00")),))
    seller.change(2, status="SHIPPED")

    assert {o.order_id: o for o in sim.orders()} == seller.latest
    assert seller.latest[order_id(1)].updated == NOW + timedelta(seconds=5)
