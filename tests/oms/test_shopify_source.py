"""ShopifyOrderSource against the running Shopify sandbox: paging, sizing,
line-item follow-ups, throttling and changes during a read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.oms.shopify.client import ShopifyGraphQLClient
from fulfilment.adapters.oms.shopify.cost import parse_document, requested_cost
from fulfilment.adapters.oms.shopify.queries import orders_query
from fulfilment.adapters.oms.shopify.source import ShopifyOrderSource, window_filter
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.domain import Order
from fulfilment.core.errors import PermanentPartnerError
from fulfilment.core.ports import OrderSource, SourceWindow

from .conftest import NOW, Sandbox
from .nodes import order_node, order_with_lines

WIDE = SourceWindow(NOW - timedelta(days=30), NOW + timedelta(days=1))


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def orders_updated_every_minute(count: int, lines: int = 1) -> list[dict[str, Any]]:
    start = NOW - timedelta(days=2)
    return [
        order_with_lines(n, lines, updatedAt=stamp(start + timedelta(minutes=n)))
        for n in range(1, count + 1)
    ]


def read_all(source: OrderSource, window: SourceWindow = WIDE) -> list[list[Order]]:
    pages, token = [], None
    while True:
        page = source.fetch_changed_orders(window, token)
        pages.append(list(page.orders))
        token = page.next_page
        if token is None:
            return pages


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return start_sandbox()


def test_is_an_order_source_of_the_shopify_channel(sandbox: Sandbox) -> None:
    source = sandbox.source("shemsi-egypt")

    assert isinstance(source, OrderSource)
    assert (source.channel, source.store) == ("shopify", "shemsi-egypt")


def test_reads_every_order_over_several_cursor_pages_oldest_change_first(
    sandbox: Sandbox,
) -> None:
    sandbox.sim.load_orders({"shemsiworld": orders_updated_every_minute(40)})

    pages = read_all(sandbox.source())

    assert [len(page) for page in pages] == [10, 10, 10, 10]
    read = [order for page in pages for order in page]
    assert [o.key.external_id for o in read] == [
        str(6200000000000 + n) for n in range(1, 41)
    ]
    assert read == sorted(read, key=lambda o: o.source_updated_at)


def test_chooses_the_largest_page_whose_cost_fits_and_the_shop_accepts_it(
    sandbox: Sandbox,
) -> None:
    sandbox.sim.load_orders({"shemsiworld": orders_updated_every_minute(3)})
    source = sandbox.source()
    document = parse_document(orders_query())

    read_all(source)

    size = source.page_size()
    assert requested_cost(document, {"first": size, "lines": 10}) <= 1000
    assert requested_cost(document, {"first": size + 1, "lines": 10}) > 1000
    assert sandbox.sim.requests == [
        ("graphql", "/shops/shemsiworld/admin/api/2025-07/graphql.json")
    ]


def test_fewer_lines_per_order_buys_more_orders_per_page(sandbox: Sandbox) -> None:
    source = sandbox.source(line_items_per_order=3)

    # 2 + n * (11 + 8 * 3) <= 1000, against 10 orders with ten lines each
    assert source.page_size() == 28


def test_only_orders_changed_inside_the_window_are_read(sandbox: Sandbox) -> None:
    sandbox.sim.load_orders({"shemsiworld": orders_updated_every_minute(10)})
    start = NOW - timedelta(days=2)
    window = SourceWindow(start + timedelta(minutes=3), start + timedelta(minutes=7))

    pages = read_all(sandbox.source(), window)

    assert [o.key.external_id[-1] for o in pages[0]] == ["3", "4", "5", "6"]


def test_without_a_lower_bound_everything_before_the_upper_one_is_read(
    sandbox: Sandbox,
) -> None:
    sandbox.sim.load_orders({"shemsiworld": orders_updated_every_minute(5)})
    window = SourceWindow(None, NOW - timedelta(days=2) + timedelta(minutes=3))

    pages = read_all(sandbox.source(), window)

    assert len(pages[0]) == 2
    assert window_filter(window).startswith("updated_at:<'")


def test_an_order_with_more_lines_than_the_first_page_gets_them_all(
    sandbox: Sandbox,
) -> None:
    big = order_with_lines(7, 230, updatedAt=stamp(NOW - timedelta(hours=1)))
    sandbox.sim.load_orders({"shemsiworld": [order_node(1), big, order_node(2)]})

    pages = read_all(sandbox.source())

    by_id = {o.key.external_id: o for page in pages for o in page}
    lines = by_id["6200000000007"].lines
    assert len(lines) == 230
    assert len({line.external_id for line in lines}) == 230
    assert by_id["6200000000007"].source_problems == ()
    assert len(by_id["6200000000007"].raw["lineItems"]["nodes"]) == 230
    # one page of orders, then two follow-ups of 124 and 96 lines
    assert len(sandbox.sim.requests) == 3


def test_a_tiny_bucket_makes_the_source_wait_and_still_read_everything(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(bucket_size=300, restore_rate=10)
    sandbox.sim.load_orders({"shemsiworld": orders_updated_every_minute(40, lines=3)})
    source = sandbox.source(line_items_per_order=3)

    pages = read_all(source)

    assert sum(len(page) for page in pages) == 40
    assert source.page_size() == 8  # 2 + 8 * 35 = 282 <= 300
    assert sandbox.time.sleeps
    assert all(wait > 0 for wait in sandbox.time.sleeps)


def test_a_lower_single_query_limit_halves_the_page_once_and_keeps_it(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(max_cost=500)
    sandbox.sim.load_orders({"shemsiworld": orders_updated_every_minute(20)})
    source = sandbox.source()

    pages = read_all(source)

    assert [len(page) for page in pages] == [5, 5, 5, 5]
    assert len(sandbox.sim.requests) == 5  # the refused first query, then 4 pages


def test_an_order_updated_mid_read_is_seen_again_on_a_later_page(
    sandbox: Sandbox,
) -> None:
    sandbox.sim.load_orders({"shemsiworld": orders_updated_every_minute(40)})
    source = sandbox.source()
    first = source.fetch_changed_orders(WIDE)
    changed = first.orders[0]

    sandbox.sim.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    sandbox.sim.update_order("shemsiworld", changed.key.external_id, note="appelez-moi")
    rest = read_all(_Resume(source, first.next_page))

    later = [o for page in rest for o in page if o.key == changed.key]
    assert len(later) == 1
    assert later[0].note == "appelez-moi"
    assert later[0].source_updated_at > changed.source_updated_at
    assert rest[-1][-1].key == changed.key


def test_a_wrong_token_stops_the_read_without_retrying(sandbox: Sandbox) -> None:
    wrong = "shpat_wrong"
    source = ShopifyOrderSource(sandbox.client("shemsiworld", wrong), "shemsiworld")

    with pytest.raises(PermanentPartnerError) as caught:
        source.fetch_changed_orders(WIDE)

    assert caught.value.status == 401
    assert len(sandbox.sim.requests) == 1


def test_reads_the_seeded_shops_with_their_problems(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(seed=True)

    egypt = [o for page in read_all(sandbox.source("shemsi-egypt")) for o in page]

    flagged = [o for o in egypt if o.source_problems]
    assert len(egypt) == 7
    assert len(flagged) == 1
    assert {p.field for p in flagged[0].source_problems} == {
        "shippingAddress.city",
        "shippingAddress.phone",
    }


def test_reads_each_line_weight_in_grams_per_unit_from_the_seeded_shop(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(seed=True)

    lebanon = [o for page in read_all(sandbox.source("shemsi-lebanon")) for o in page]

    grams = {line.product.sku: line.grams for o in lebanon for line in o.lines}
    assert grams == {"OUD-50": 350, "MSK-100": 280, "BKH-01": 1200, "ZTR-01": None}


class _Resume:
    """An order source that starts from a page token already held."""

    def __init__(self, source: ShopifyOrderSource, token: str | None) -> None:
        self.channel, self.store = source.channel, source.store
        self._source, self._token = source, token

    def fetch_changed_orders(
        self, window: SourceWindow, page: str | None = None
    ) -> Any:
        return self._source.fetch_changed_orders(window, page or self._token)


# --- nodes that are not orders at all, through respx ----------------------------------


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as mock:
        yield mock


def test_a_node_without_any_id_is_skipped_counted_and_logged(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    nodes = [order_node(1), {"name": "#9999", "lineItems": {"nodes": []}}]
    body = {
        "data": {
            "orders": {
                "pageInfo": {"hasNextPage": False, "endCursor": None},
                "nodes": nodes,
            }
        }
    }
    router.post("https://sandbox-shop.example/admin/api/2025-07/graphql.json").respond(
        200, json=body
    )
    with httpx.Client(base_url="https://sandbox-shop.example") as http:
        client = ShopifyGraphQLClient(
            http, "shemsiworld", "t", "2025-07", RetryPolicy.for_tests()
        )
        source = ShopifyOrderSource(client, "shemsiworld")

        page = source.fetch_changed_orders(WIDE)

    assert [o.key.external_id for o in page.orders] == ["6200000000001"]
    assert source.rejected == 1
    assert "shopify.order_rejected" in caplog.text
