"""The Shopify sandbox speaks the wire format of reference A.7 and C.3."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from fulfilment.adapters.oms.shopify.queries import orders_query
from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox.seed import sandbox_token
from fulfilment.runners.sandbox.shopify import ShopifySimulator

from .conftest import NOW, Sandbox
from .nodes import fixture, line_node, order_node

PATH = "/shops/{store}/admin/api/2025-07/graphql.json"
SMALL = "{ orders(first: 5) { nodes { id } pageInfo { hasNextPage endCursor } } }"


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return start_sandbox()


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url) as client:
        yield client


def post(
    http: httpx.Client,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    store: str = "shemsiworld",
    token: str | None = None,
) -> httpx.Response:
    return http.post(
        PATH.format(store=store),
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token or sandbox_token(store)},
    )


def test_serves_the_reference_nodes_back_exactly_as_loaded(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    request = fixture("c3_orders_request.json")
    expected = fixture("c3_orders_response.json")["data"]["orders"]["nodes"]
    sandbox.sim.load_orders({"shemsi-uae": expected})

    response = post(http, request["query"], request["variables"], store="shemsi-uae")

    assert response.status_code == 200
    assert response.json()["data"]["orders"]["nodes"] == expected


def test_serves_each_line_weight_where_the_adapter_asks_for_it(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(seed=True)
    variables = {"first": 10, "lines": 10, "after": None, "query": None}

    with httpx.Client(base_url=sandbox.url) as http:
        body = post(http, orders_query(), variables, store="shemsi-lebanon").json()

    lines = [
        line
        for order in body["data"]["orders"]["nodes"]
        for line in order["lineItems"]["nodes"]
    ]
    weights = {
        line["sku"]: line["variant"]["inventoryItem"]["measurement"]["weight"]
        for line in lines
    }
    assert "errors" not in body
    assert weights == {
        "OUD-50": {"unit": "GRAMS", "value": 350.0},
        "MSK-100": {"unit": "KILOGRAMS", "value": 0.28},
        "BKH-01": {"unit": "KILOGRAMS", "value": 1.2},
        "ZTR-01": None,
    }


def test_echoes_the_api_version(sandbox: Sandbox, http: httpx.Client) -> None:
    response = http.post(
        "/shops/shemsiworld/admin/api/2024-10/graphql.json",
        json={"query": SMALL},
        headers={"X-Shopify-Access-Token": sandbox_token("shemsiworld")},
    )

    assert response.headers["X-Shopify-API-Version"] == "2024-10"


@pytest.mark.parametrize("token", ["shpat_wrong", sandbox_token("shemsi-egypt")])
def test_each_shop_accepts_only_its_own_token(
    sandbox: Sandbox, http: httpx.Client, token: str
) -> None:
    response = post(http, SMALL, token=token)

    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token "
        "(unrecognized login or wrong password)"
    }


def test_an_unknown_shop_is_not_found(sandbox: Sandbox, http: httpx.Client) -> None:
    assert post(http, SMALL, store="nowhere").status_code == 404


def test_reports_requested_and_actual_cost_and_refunds_the_difference(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.sim.load_orders({"shemsiworld": [order_node(1), order_node(2)]})

    cost = post(http, SMALL).json()["extensions"]["cost"]

    # requested 2 + 5 * 1; actual 2 + 2 nodes
    assert cost == {
        "requestedQueryCost": 7,
        "actualQueryCost": 4,
        "throttleStatus": {
            "maximumAvailable": 1000.0,
            "currentlyAvailable": 996,
            "restoreRate": 50.0,
        },
    }


def test_refuses_a_query_over_the_single_query_maximum(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    query = """{ orders(first: 250) { nodes {
        customer { id } shippingAddress { city } totalPriceSet { shopMoney { amount } }
    } } }"""

    response = post(http, query)

    # 2 + 250 * (1 + 1 + 1 + 2)
    assert response.status_code == 200
    assert response.json() == {
        "errors": [
            {
                "message": "Query cost is 1252, which exceeds the single query "
                "max cost limit (1000).",
                "extensions": {
                    "code": "MAX_COST_EXCEEDED",
                    "cost": 1252,
                    "maxCost": 1000,
                },
            }
        ]
    }


def test_refuses_pages_over_250(sandbox: Sandbox, http: httpx.Client) -> None:
    response = post(http, "{ orders(first: 251) { nodes { id } } }")

    body = response.json()
    assert body["data"] is None
    assert "250" in body["errors"][0]["message"]


def test_answers_throttled_when_the_bucket_cannot_cover_the_query(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(bucket_size=100, restore_rate=10)
    query = "{ orders(first: 60) { nodes { id customer { id } } } }"  # 122

    with httpx.Client(base_url=sandbox.url) as http:
        response = post(http, query)

    assert response.status_code == 200
    assert response.json() == {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
        ],
        "extensions": {
            "cost": {
                "requestedQueryCost": 122,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 100.0,
                    "currentlyAvailable": 100,
                    "restoreRate": 10.0,
                },
            }
        },
    }


def test_the_bucket_refills_at_the_restore_rate(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(bucket_size=100, restore_rate=10)
    sandbox.sim.load_orders({"shemsiworld": [order_node(n) for n in range(40)]})
    query = "{ orders(first: 40) { nodes { id customer { id } } } }"  # 82, all used

    with httpx.Client(base_url=sandbox.url) as http:
        first = post(http, query).json()
        refused = post(http, query).json()
        sandbox.time.now += 7.0  # 18 left + 70 refilled
        again = post(http, query).json()

    assert "errors" not in first
    assert refused["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "errors" not in again


def test_counts_the_points_it_charged_and_the_queries_it_refused(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(bucket_size=100, restore_rate=10)
    sandbox.sim.load_orders({"shemsiworld": [order_node(n) for n in range(40)]})
    query = "{ orders(first: 40) { nodes { id customer { id } } } }"  # 82, all used

    with httpx.Client(base_url=sandbox.url) as http:
        first = post(http, query).json()
        post(http, query)

    usage = sandbox.sim.usage("shemsiworld")
    assert usage.points == first["extensions"]["cost"]["actualQueryCost"] == 82
    assert (usage.served, usage.throttled, usage.requests) == (1, 1, 2)


def test_reports_the_bucket_as_it_is_when_the_answer_leaves(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(bucket_size=100, restore_rate=10)
    sandbox.sim.load_orders({"shemsiworld": [order_node(n) for n in range(40)]})
    query = "{ orders(first: 40) { nodes { id customer { id } } } }"  # 82, all used
    started = sandbox.time.now
    # The bucket is made and charged at the start; the answer leaves 5 s on.
    ticks = iter([started, started, started + 5.0])
    sandbox.sim.monotonic = lambda: next(ticks)

    with httpx.Client(base_url=sandbox.url) as http:
        body = post(http, query).json()

    status = body["extensions"]["cost"]["throttleStatus"]
    assert status["currentlyAvailable"] == 100 - 82 + 50


def test_cursors_page_by_update_time_then_id(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    same = "2025-03-19T10:00:00Z"
    sandbox.sim.load_orders(
        {
            "shemsiworld": [
                order_node(3, updatedAt=same),
                order_node(1, updatedAt="2025-03-19T11:00:00Z"),
                order_node(2, updatedAt=same),
            ]
        }
    )
    query = """query($after: String) {
        orders(first: 2, after: $after, sortKey: UPDATED_AT) {
            nodes { legacyResourceId } pageInfo { hasNextPage endCursor } } }"""

    first = post(http, query).json()["data"]["orders"]
    second = post(http, query, {"after": first["pageInfo"]["endCursor"]}).json()[
        "data"
    ]["orders"]

    assert [n["legacyResourceId"][-1] for n in first["nodes"]] == ["2", "3"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [n["legacyResourceId"][-1] for n in second["nodes"]] == ["1"]
    assert second["pageInfo"]["hasNextPage"] is False


def test_filters_by_quoted_update_times(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.sim.load_orders(
        {
            "shemsiworld": [
                order_node(n, updatedAt=f"2025-03-19T1{n}:00:00Z") for n in range(1, 6)
            ]
        }
    )
    query = """query($q: String) { orders(first: 10, query: $q, sortKey: UPDATED_AT) {
        nodes { legacyResourceId } } }"""
    q = "updated_at:>='2025-03-19T12:00:00Z' AND updated_at:<'2025-03-19T14:00:00Z'"

    nodes = post(http, query, {"q": q}).json()["data"]["orders"]["nodes"]

    assert [n["legacyResourceId"][-1] for n in nodes] == ["2", "3"]


def test_a_garbled_cursor_is_refused(sandbox: Sandbox, http: httpx.Client) -> None:
    body = post(http, '{ orders(first: 2, after: "bm9wZQ==") { nodes { id } } }').json()

    assert body["errors"][0]["message"] == "Invalid cursor for current pagination sort."


def test_a_query_that_does_not_fit_the_schema_is_refused(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    body = post(http, "{ orders(first: 2) { nodes { nope } } }").json()

    assert "nope" in body["errors"][0]["message"]
    assert "data" not in body


def test_line_items_page_with_their_own_cursors(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    lines = [line_node(n, sku=f"L{n}") for n in range(5)]
    sandbox.sim.load_orders(
        {"shemsiworld": [order_node(1, lineItems={"nodes": lines})]}
    )
    query = """query($after: String) { order(id: "gid://shopify/Order/6200000000001") {
        lineItems(first: 3, after: $after) {
            nodes { sku } pageInfo { hasNextPage endCursor } } } }"""

    first = post(http, query).json()["data"]["order"]["lineItems"]
    rest = post(http, query, {"after": first["pageInfo"]["endCursor"]}).json()
    rest = rest["data"]["order"]["lineItems"]

    assert [n["sku"] for n in first["nodes"] + rest["nodes"]] == [
        "L0",
        "L1",
        "L2",
        "L3",
        "L4",
    ]
    assert (first["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasNextPage"]) == (
        True,
        False,
    )


# --- helpers used by tests and the demo -----------------------------------------------


def amount(node: dict[str, Any], field: str) -> Decimal:
    return Decimal(node[field]["shopMoney"]["amount"])


def test_update_order_bumps_updated_at_to_the_simulator_clock(sandbox: Sandbox) -> None:
    sandbox.sim.load_orders({"shemsiworld": [order_node(1)]})
    sandbox.sim.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]

    node = sandbox.sim.update_order("shemsiworld", "6200000000001", note="merci")

    assert node["note"] == "merci"
    assert node["updatedAt"] == "2025-03-20T12:01:00Z"


def test_cancel_order_voids_a_pending_payment_and_empties_the_order(
    sandbox: Sandbox,
) -> None:
    sandbox.sim.load_orders({"shemsiworld": [order_node(1)]})

    node = sandbox.sim.cancel_order("shemsiworld", "gid://shopify/Order/6200000000001")

    assert (node["cancelledAt"], node["cancelReason"]) == (
        "2025-03-20T12:00:00Z",
        "CUSTOMER",
    )
    assert node["displayFinancialStatus"] == "VOIDED"
    assert [line["currentQuantity"] for line in node["lineItems"]["nodes"]] == [0]
    assert amount(node, "currentTotalPriceSet") == 0


def test_edit_remove_line_lowers_the_current_total_and_what_is_due(
    sandbox: Sandbox,
) -> None:
    lines = [line_node(1), line_node(2, sku="MSK-100", quantity=2, price="220.0")]
    order = order_node(
        1,
        lineItems={"nodes": lines},
        totalPriceSet={"shopMoney": {"amount": "860.0", "currencyCode": "MAD"}},
        currentTotalPriceSet={"shopMoney": {"amount": "860.0", "currencyCode": "MAD"}},
        totalOutstandingSet={"shopMoney": {"amount": "860.0", "currencyCode": "MAD"}},
    )
    sandbox.sim.load_orders({"shemsiworld": [order]})

    node = sandbox.sim.edit_remove_line("shemsiworld", "6200000000001", lines[1]["id"])

    removed = node["lineItems"]["nodes"][1]
    assert (removed["quantity"], removed["currentQuantity"]) == (2, 0)
    assert amount(node, "totalPriceSet") == 860
    assert amount(node, "currentTotalPriceSet") == 420
    assert amount(node, "totalOutstandingSet") == 420
    assert node["updatedAt"] == "2025-03-20T12:00:00Z"


def test_add_order_adds_to_a_shop(sandbox: Sandbox) -> None:
    sandbox.sim.add_order("shemsi-lebanon", order_node(9))

    assert [n["name"] for n in sandbox.sim.orders("shemsi-lebanon")] == ["#1009"]


def test_the_world_survives_a_restart_with_a_data_directory(tmp_path: Path) -> None:
    first = ShopifySimulator(data_dir=tmp_path, clock=ManualClock(NOW), seed=True)
    first.cancel_order("shemsi-uae", "6400000000001")

    second = ShopifySimulator(data_dir=tmp_path, clock=ManualClock(NOW))

    assert second.orders("shemsi-uae")[0]["cancelledAt"] is not None


def test_shops_start_empty_so_the_world_seeds_them_once() -> None:
    sim = ShopifySimulator(clock=ManualClock(NOW))

    assert not sim.has_orders()
    assert sorted(sim.state["stores"]) == [
        "shemsi-egypt",
        "shemsi-lebanon",
        "shemsi-uae",
        "shemsiworld",
    ]
    assert ShopifySimulator(clock=ManualClock(NOW), seed=True).has_orders()


def test_sandbox_settings_point_a_source_at_one_shop(sandbox: Sandbox) -> None:
    table = sandbox.sim.sandbox_settings("http://127.0.0.1:9999/", "shemsi-egypt")

    assert table == {
        "store": "shemsi-egypt",
        "base_url": "http://127.0.0.1:9999/shops/shemsi-egypt",
        "access_token": "shpat_sandbox_shemsi-egypt",
        "country": "EG",
    }


# --- paging from the sorted index ----------------------------------------------

PAGE = """query($first: Int, $after: String, $q: String, $key: OrderSortKeys,
    $reverse: Boolean) {
    orders(first: $first, after: $after, query: $q, sortKey: $key, reverse: $reverse) {
        nodes { legacyResourceId }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


def _expected_order(
    nodes: list[dict[str, Any]], key: str, q: str | None, reverse: bool
) -> list[str]:
    """Every order the listing should yield, by a plain sort and filter."""
    field = {"UPDATED_AT": "updatedAt", "CREATED_AT": "createdAt", "ID": None}[key]
    low, high = ("2025-03-02", "2025-03-05") if q else ("", "~")
    kept = [n for n in nodes if low <= n["updatedAt"] < high]
    kept.sort(
        key=lambda n: (n[field] if field else "", int(n["legacyResourceId"])),
        reverse=reverse,
    )
    return [n["legacyResourceId"] for n in kept]


def _read_all(
    http: httpx.Client, first: int, key: str, q: str | None, reverse: bool
) -> tuple[list[str], list[dict[str, Any]]]:
    seen: list[str] = []
    infos = []
    after = None
    while True:
        variables = {"first": first, "after": after, "q": q, "key": key}
        body = post(http, PAGE, variables | {"reverse": reverse}).json()
        orders = body["data"]["orders"]
        seen += [n["legacyResourceId"] for n in orders["nodes"]]
        infos.append(orders["pageInfo"])
        if not orders["pageInfo"]["hasNextPage"]:
            return seen, infos
        after = orders["pageInfo"]["endCursor"]


@pytest.mark.parametrize("key", ["UPDATED_AT", "CREATED_AT", "ID"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(
    "q", [None, "updated_at:>='2025-03-02' updated_at:<'2025-03-05'"]
)
def test_pages_read_forward_list_every_order_once_in_sort_order(
    sandbox: Sandbox, http: httpx.Client, key: str, reverse: bool, q: str | None
) -> None:
    # Times repeat, so the id breaks ties; orders are loaded out of order.
    nodes = [
        order_node(
            n,
            updatedAt=f"2025-03-0{1 + n * 7 % 6}T10:00:00Z",
            createdAt=f"2025-02-0{1 + n * 5 % 8}T09:00:00Z",
        )
        for n in (17, 3, 11, 1, 20, 8, 14, 5, 2, 19, 9, 12, 6, 15, 4)
    ]
    sandbox.sim.load_orders({"shemsiworld": nodes})

    seen, infos = _read_all(http, 4, key, q, reverse)

    assert seen == _expected_order(nodes, key, q, reverse)
    assert [i["hasPreviousPage"] for i in infos] == [False] + [True] * (len(infos) - 1)


def test_an_order_changed_mid_read_moves_behind_the_cursor(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    nodes = [order_node(n, updatedAt=f"2025-03-1{n}T10:00:00Z") for n in range(1, 7)]
    sandbox.sim.load_orders({"shemsiworld": nodes})
    variables = {"first": 2, "key": "UPDATED_AT"}
    first = post(http, PAGE, variables).json()["data"]["orders"]

    sandbox.sim.update_order("shemsiworld", nodes[0]["id"], note="changed")
    sandbox.sim.add_order(
        "shemsiworld", order_node(9, updatedAt="2025-03-10T00:00:00Z")
    )
    after = {"after": first["pageInfo"]["endCursor"]}
    rest = post(http, PAGE, variables | after | {"first": 250}).json()["data"]["orders"]

    served = [n["legacyResourceId"][-1] for n in rest["nodes"]]
    # Order 1 was read, then changed (now at the simulator clock): it is
    # served again at the end; order 9, older than the cursor, is not.
    assert served == ["3", "4", "5", "6", "1"]
    assert rest["pageInfo"]["hasNextPage"] is False
