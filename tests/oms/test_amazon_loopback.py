"""The Amazon order source against the SP-API sandbox on 127.0.0.1, in
both Orders API versions: paging, the same domain orders from v0 and
v2026-01-01, v0's restricted data token, the two-minute rule, a revoked
authorisation, the usage plans waited out rather than run into, and
server errors retried.

The respx tests pin each request and answer; these show that the adapter
and the simulator, written apart from the same reference, understand each
other."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fulfilment.adapters.oms.amazon.adapter import AmazonOrderSource
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order, OrderState, PaymentMethod
from fulfilment.core.errors import ConfigurationError, PermanentPartnerError
from fulfilment.core.ports import SourceWindow
from fulfilment.core.workers.fetch_new_orders import IntakeSettings, fetch_new_orders
from fulfilment.runners.sandbox.amazon import AmazonSimulator
from fulfilment.runners.sandbox.amazon_orders import AmazonItem, seed_amazon_orders
from fulfilment.runners.sandbox.server import Fault, SimServer

from .amazon_loopback import (
    AE,
    EG,
    NOW,
    SA,
    STORES,
    VERSIONS,
    Slept,
    amazon_order,
    amazon_source,
    requests_of,
)

Served = tuple[AmazonSimulator, str]
SEARCH = {"2026-01-01": "searchOrders", "v0": "getOrders"}
WINDOW = SourceWindow(NOW - timedelta(days=2), NOW - timedelta(minutes=3))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data: Path = tmp_path_factory.mktemp("amazon")
    sim = AmazonSimulator(data_dir=data, clock=ManualClock(NOW))
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def sim(served: Served) -> AmazonSimulator:
    simulator = served[0]
    simulator.reset()
    simulator.clock.set(NOW)  # type: ignore[attr-defined]
    return simulator


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    value = request.param
    assert isinstance(value, str)
    return value


def source(
    served: Served, version: str, store: str = "amazon-ae", **options: Any
) -> AmazonOrderSource:
    return amazon_source(served[0], served[1], version, store, **options)


def read_all(source: AmazonOrderSource, window: SourceWindow = WINDOW) -> list[Order]:
    orders: list[Order] = []
    page = source.fetch_changed_orders(window)
    orders += page.orders
    while page.next_page is not None:
        page = source.fetch_changed_orders(window, page.next_page)
        orders += page.orders
    return orders


# --- paging ----------------------------------------------------------------


def test_a_walk_across_several_pages_reads_every_order_once(
    served: Served, sim: AmazonSimulator, version: str
) -> None:
    ids = [f"407-{n:07d}-0000001" for n in range(1, 8)]
    sim.load_orders(
        {AE: [amazon_order(i, NOW - timedelta(hours=n + 1)) for n, i in enumerate(ids)]}
    )

    orders = read_all(source(served, version, page_size=3))

    assert sorted(o.key.external_id for o in orders) == sorted(ids)
    assert requests_of(sim, SEARCH[version]) == 3  # 3 + 3 + 1


def test_an_order_changed_during_a_walk_is_not_pushed_out_of_it(
    served: Served, sim: AmazonSimulator, version: str
) -> None:
    ids = [f"407-{n:07d}-0000002" for n in range(1, 6)]
    sim.load_orders(
        {AE: [amazon_order(i, NOW - timedelta(hours=n + 1)) for n, i in enumerate(ids)]}
    )
    amazon = source(served, version, page_size=2)
    first = amazon.fetch_changed_orders(WINDOW)
    assert first.next_page is not None
    # The newest order of the walk changes between two pages.
    sim.update_order(ids[0], status="SHIPPED")

    rest = read_all_from(amazon, first.next_page)

    assert sorted(o.key.external_id for o in (*first.orders, *rest)) == sorted(ids)


def read_all_from(source: AmazonOrderSource, token: str) -> list[Order]:
    orders: list[Order] = []
    next_page: str | None = token
    while next_page is not None:
        page = source.fetch_changed_orders(WINDOW, next_page)
        orders += page.orders
        next_page = page.next_page
    return orders


# --- one order, two versions --------------------------------------------------


def mixed_orders() -> dict[str, list[Any]]:
    """The sandbox mix, plus an order the seller shipped without the
    connector, a COD order in Saudi Arabia and one Amazon has not released
    yet."""
    orders = seed_amazon_orders(NOW - timedelta(minutes=30))
    orders[AE].append(
        amazon_order("407-1000004-0000004", NOW - timedelta(hours=1), status="SHIPPED")
    )
    orders[SA].append(
        amazon_order(
            "405-3000002-0000002",
            NOW - timedelta(hours=2),
            country="SA",
            city="Jeddah",
            phone="055 123 4567",
            cod=True,
            shipping=Decimal("15.00"),
            items=(AmazonItem("MSK-100", "White Musk 100ml", 3, Decimal("99.00")),),
        )
    )
    orders[EG].append(
        amazon_order(
            "171-2000005-0000005",
            NOW - timedelta(hours=3),
            country="EG",
            status="PENDING",
        )
    )
    return orders


def essentials(order: Order) -> tuple[Any, ...]:
    """What the connector does with an order, whatever the version it
    came through."""
    address = order.shipping_address
    return (
        order.key,
        order.name,
        order.placed_at,
        order.source_updated_at,
        tuple((ln.external_id, ln.product.sku, ln.quantity) for ln in order.lines),
        order.payment,
        order.is_cancelled,
        order.cancelled_at,
        order.fulfilled_by,
        address
        and (
            address.first_name,
            address.last_name,
            address.line1,
            address.city,
            address.country_code,
            address.phone and address.phone.e164,
        ),
        tuple(p.code for p in order.source_problems),
    )


def prices(order: Order) -> tuple[Any, ...]:
    return tuple(ln.unit_price for ln in order.lines)


def read_every_store(served: Served, version: str) -> dict[str, Order]:
    found: dict[str, Order] = {}
    for store in STORES.values():
        for order in read_all(source(served, version, store)):
            found[order.key.external_id] = order
    return found


def test_v0_and_v2026_give_the_same_orders(
    served: Served, sim: AmazonSimulator
) -> None:
    sim.load_orders(mixed_orders())

    v2026 = read_every_store(served, "2026-01-01")
    v0 = read_every_store(served, "v0")

    assert set(v2026) == set(v0) == {o.order_id for o in sim.orders()}
    for order_id, order in v2026.items():
        assert essentials(order) == essentials(v0[order_id]), order_id
        # Prices, except on an order v0 does not price while it is Pending.
        if order.financial_status != "PENDING":
            assert order.total == v0[order_id].total, order_id
            assert prices(order) == prices(v0[order_id]), order_id


def test_both_versions_map_the_mix_the_same_way(
    served: Served, sim: AmazonSimulator, version: str
) -> None:
    sim.load_orders(mixed_orders())

    found = read_every_store(served, version)

    # Keys carry the amazon channel (no direct contact) and the store of
    # the marketplace.
    assert {o.key.channel for o in found.values()} == {"amazon"}
    assert found["405-3000001-0000001"].key.store == "amazon-sa"
    assert found["171-2000001-0000001"].key.store == "amazon-eg"
    # Lines and totals.
    paid = found["407-1000001-0000001"]
    assert [(ln.product.sku, ln.quantity) for ln in paid.lines] == [
        ("OUD-50", 1),
        ("BKH-01", 2),
    ]
    assert (paid.total.amount, paid.total.currency) == (Decimal("205.00"), "AED")
    assert paid.payment.method is PaymentMethod.PREPAID
    assert paid.payment.paid
    # Cash on delivery collects the order total.
    cod = found["405-3000002-0000002"]
    assert cod.payment.method is PaymentMethod.CASH_ON_DELIVERY
    assert cod.payment.collect == cod.total
    assert cod.total.amount == Decimal("312.00")  # 3 x 99 + 15 shipping
    # Cancelled, Amazon-fulfilled, already shipped.
    assert found["171-2000003-0000003"].is_cancelled
    assert found["407-1000003-0000003"].fulfilled_by == "amazon"
    assert found["171-2000004-0000004"].fulfilled_by == "amazon"
    assert found["407-1000004-0000004"].fulfilled_by == "merchant"
    assert paid.fulfilled_by is None
    assert cod.fulfilled_by is None
    # Phones in E.164 for each country, as typed by the buyers.
    phones = {
        i: found[i].shipping_address.phone.e164  # type: ignore[union-attr]
        for i in (
            "407-1000001-0000001",
            "407-1000002-0000002",
            "171-2000001-0000001",
            "405-3000001-0000001",
            "405-3000002-0000002",
        )
    }
    assert phones == {
        "407-1000001-0000001": "+971501234567",
        "407-1000002-0000002": "+971527654321",
        "171-2000001-0000001": "+201001234567",
        "405-3000001-0000001": "+966500000303",
        "405-3000002-0000002": "+966551234567",
    }
    # A buyer who left the city out is kept, with the problem.
    assert [p.code for p in found["171-2000002-0000002"].source_problems] == [
        "missing_city"
    ]
    # Not released yet: no address asked for, not settled.
    pending = found["171-2000005-0000005"]
    assert pending.shipping_address is None
    assert not pending.source_problems
    assert not pending.payment.paid


# --- v0 PII --------------------------------------------------------------------


def test_v0_reads_names_and_streets_under_one_restricted_data_token(
    served: Served, sim: AmazonSimulator
) -> None:
    ids = [f"405-{n:07d}-0000003" for n in range(1, 5)]
    sim.load_orders(
        {
            SA: [
                amazon_order(i, NOW - timedelta(hours=n + 1), country="SA")
                for n, i in enumerate(ids)
            ]
        }
    )

    orders = read_all(source(served, "v0", "amazon-sa", page_size=2))

    assert len(orders) == 4
    for order in orders:
        assert order.shipping_address is not None
        assert order.shipping_address.line1 == "Villa 14"
        assert order.shipping_address.first_name == "Mariam"
        assert order.customer is not None
        assert order.customer.last_name == "Al Hashimi"
        assert not order.source_problems
    # One token for both pages of the walk.
    assert requests_of(sim, "createRestrictedDataToken") == 1
    assert requests_of(sim, "getOrders") == 2


def test_tokens_amazon_ended_early_fail_one_run_and_are_replaced_for_the_next(
    served: Served, sim: AmazonSimulator, version: str
) -> None:
    sim.load_orders(
        {
            SA: [
                amazon_order(
                    "405-0000001-0000004", NOW - timedelta(hours=1), country="SA"
                )
            ]
        }
    )
    amazon = source(served, version, "amazon-sa")
    read_all(amazon)
    sim.expire_tokens()  # Amazon ends them early; ours still look valid

    with pytest.raises(PermanentPartnerError, match="Access to requested resource"):
        read_all(amazon)
    (order,) = read_all(amazon)

    assert order.shipping_address
    assert order.shipping_address.line1 == "Villa 14"


# --- the two-minute rule --------------------------------------------------------


def test_a_change_of_the_last_two_minutes_is_read_by_the_next_run(
    served: Served, sim: AmazonSimulator, version: str
) -> None:
    clock = sim.clock
    assert isinstance(clock, ManualClock)
    sim.load_orders(
        {AE: [amazon_order("407-0000001-0000005", NOW - timedelta(hours=1))]}
    )
    storage = MemoryStorage()
    amazon = source(served, version)
    # A window that ends now: the source must not ask Amazon for it.
    intake = IntakeSettings(lag=timedelta(0))

    def run() -> None:
        fetch_new_orders(
            source=amazon,
            orders=storage.orders,
            cursors=storage.cursors,
            attention=storage.attention,
            clock=clock,
            settings=intake,
        )

    run()
    clock.advance(timedelta(seconds=20))
    sim.update_order("407-0000001-0000005", status="CANCELLED")
    clock.advance(timedelta(seconds=60))
    run()  # the cancellation is 60 seconds old: not yet
    (stored,) = storage.orders.list()
    assert stored.state is OrderState.NEW

    clock.advance(timedelta(minutes=2))
    run()

    (stored,) = storage.orders.list()
    assert stored.state is OrderState.CANCELLED
    assert not storage.attention.open_items()


# --- credentials ----------------------------------------------------------------


def test_a_revoked_authorisation_is_a_configuration_error_not_retried(
    served: Served, sim: AmazonSimulator, version: str
) -> None:
    sim.load_orders({AE: [amazon_order("407-0000001-0000006", NOW)]})
    sim.revoke_refresh_token()

    with pytest.raises(ConfigurationError, match="invalid_grant"):
        source(served, version).fetch_changed_orders(WINDOW)

    assert requests_of(sim, "token") == 1
    assert requests_of(sim, SEARCH[version]) == 0


# --- usage plans ----------------------------------------------------------------


def test_a_burst_past_the_bucket_waits_for_tokens_instead_of_429s(
    served: Served, sim: AmazonSimulator, version: str
) -> None:
    sim.load_orders(
        {
            AE: [
                amazon_order(f"407-{n:07d}-0000007", NOW - timedelta(hours=n))
                for n in range(1, 26)
            ]
        }
    )
    sleep = Slept(sim.clock)  # type: ignore[arg-type]
    amazon = source(served, version, sleep=sleep, page_size=1)

    orders = read_all(amazon)

    assert len(orders) == 25
    # 25 pages, the first 20 from the burst: every call answered, none
    # refused (a 429 would show as a call more).
    assert requests_of(sim, SEARCH[version]) == 25
    refill = {"2026-01-01": 1 / 0.0056, "v0": 1 / 0.0167}[version]
    assert len(sleep.waits) == 5
    assert all(refill - 1 <= w <= refill + 1 for w in sleep.waits)


def test_a_quota_exceeded_from_another_process_backs_off(
    served: Served, sim: AmazonSimulator, version: str
) -> None:
    sim.load_orders(
        {AE: [amazon_order("407-0000001-0000008", NOW - timedelta(hours=1))]}
    )
    quota = {
        "errors": [
            {
                "code": "QuotaExceeded",
                "message": "You exceeded your quota for the requested resource.",
                "details": "",
            }
        ]
    }
    sim.faults.add(SEARCH[version], Fault(status=429, body=quota))
    sleep = Slept(sim.clock)  # type: ignore[arg-type]

    (order,) = read_all(source(served, version, sleep=sleep))

    assert order.key.external_id == "407-0000001-0000008"
    assert requests_of(sim, SEARCH[version]) == 2
    assert sleep.waits
    assert sleep.waits[0] > 0


def test_server_errors_are_retried(
    served: Served, sim: AmazonSimulator, version: str
) -> None:
    sim.load_orders(
        {AE: [amazon_order("407-0000001-0000009", NOW - timedelta(hours=1))]}
    )
    sim.faults.add(SEARCH[version], Fault(status=503), Fault(status=500))
    if version == "v0":
        sim.faults.add("getOrderItems", Fault(status=503))

    (order,) = read_all(source(served, version))

    assert order.key.external_id == "407-0000001-0000009"
    assert [ln.product.sku for ln in order.lines] == ["OUD-50", "BKH-01"]
    assert requests_of(sim, SEARCH[version]) == 3


def test_server_errors_past_the_retry_budget_fail_the_run(
    served: Served, sim: AmazonSimulator, version: str
) -> None:
    sim.faults.add(SEARCH[version], *[Fault(status=503)] * 3)

    with pytest.raises(Exception, match="503"):
        source(served, version, attempts=3).fetch_changed_orders(WINDOW)

    assert requests_of(sim, SEARCH[version]) == 3
