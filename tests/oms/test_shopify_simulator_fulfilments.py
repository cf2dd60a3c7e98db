"""The Shopify sandbox's fulfillment orders and ``fulfillmentCreate``
behave like Shopify's (reference A.9, C.4): their own line item ids,
refusals as userErrors, a closed fulfillment order once shipped, the order
marked fulfilled, mutations paid for from the bucket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox.seed import sandbox_token
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.runners.sandbox.shopify import ShopifySimulator

from .conftest import NOW, Sandbox
from .nodes import line_node, order_node

PATH = "/shops/shemsiworld/admin/api/2025-07/graphql.json"
ORDER_ID = "6200000000001"
READ = """
query ($id: ID!) {
  order(id: $id) {
    updatedAt
    displayFulfillmentStatus
    fulfillments { id name status trackingInfo { number company url } }
    fulfillmentOrders(first: 5) {
      nodes {
        id
        status
        supportedActions { action }
        lineItems(first: 10) {
          nodes { id totalQuantity remainingQuantity lineItem { id } }
        }
      }
    }
  }
}
"""
CREATE = """
mutation ($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id name status trackingInfo { number company url } }
    userErrors { field message }
  }
}
"""
TRACKING = {
    "number": "ARX0000000001",
    "company": "Aramex",
    "url": "https://tracking.example.com/ARX0000000001",
}


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    sandbox = start_sandbox()
    lines = [line_node(1, quantity=2), line_node(2, sku="BKH-01", quantity=1)]
    sandbox.sim.load_orders(
        {"shemsiworld": [order_node(1, lineItems={"nodes": lines})]}
    )
    return sandbox


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url) as client:
        yield client


def post(http: httpx.Client, query: str, variables: dict[str, Any]) -> Any:
    response = http.post(
        PATH,
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": sandbox_token("shemsiworld")},
    )
    assert response.status_code == 200
    return response.json()


def read(http: httpx.Client) -> dict[str, Any]:
    body = post(http, READ, {"id": f"gid://shopify/Order/{ORDER_ID}"})
    order: dict[str, Any] = body["data"]["order"]
    return order


def fulfilment_order(http: httpx.Client) -> dict[str, Any]:
    (fo,) = read(http)["fulfillmentOrders"]["nodes"]
    return fo


def create(
    http: httpx.Client, items: list[dict[str, Any]] | None, fo_id: str | None = None
) -> dict[str, Any]:
    group: dict[str, Any] = {
        "fulfillmentOrderId": fo_id or fulfilment_order(http)["id"]
    }
    if items is not None:
        group["fulfillmentOrderLineItems"] = items
    body = post(
        http,
        CREATE,
        {
            "fulfillment": {
                "lineItemsByFulfillmentOrder": [group],
                "trackingInfo": TRACKING,
                "notifyCustomer": False,
            }
        },
    )
    payload: dict[str, Any] = body["data"]["fulfillmentCreate"]
    return payload


def everything(fo: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"id": item["id"], "quantity": item["remainingQuantity"]}
        for item in fo["lineItems"]["nodes"]
    ]


def test_each_order_has_one_open_fulfillment_order_with_line_items_of_its_own(
    http: httpx.Client,
) -> None:
    fo = fulfilment_order(http)

    assert fo["status"] == "OPEN"
    assert {a["action"] for a in fo["supportedActions"]} >= {"CREATE_FULFILLMENT"}
    items = fo["lineItems"]["nodes"]
    assert [(i["totalQuantity"], i["remainingQuantity"]) for i in items] == [
        (2, 2),
        (1, 1),
    ]
    assert [i["lineItem"]["id"] for i in items] == [
        "gid://shopify/LineItem/15000000000001",
        "gid://shopify/LineItem/15000000000002",
    ]
    assert all(
        i["id"].startswith("gid://shopify/FulfillmentOrderLineItem/") for i in items
    )
    own = {i["id"].rsplit("/", 1)[1] for i in items}
    lines = {i["lineItem"]["id"].rsplit("/", 1)[1] for i in items}
    assert own.isdisjoint(lines)


def test_a_fulfilment_closes_the_fulfillment_order_and_marks_the_order_fulfilled(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    assert isinstance(sandbox.sim.clock, ManualClock)
    sandbox.sim.clock.advance(timedelta(hours=3))

    payload = create(http, everything(fulfilment_order(http)))

    assert payload["userErrors"] == []
    fulfilment = payload["fulfillment"]
    assert fulfilment["status"] == "SUCCESS"
    assert fulfilment["name"] == "#1001.1"
    assert fulfilment["trackingInfo"] == [TRACKING]
    order = read(http)
    assert order["displayFulfillmentStatus"] == "FULFILLED"
    assert order["updatedAt"] == (NOW + timedelta(hours=3)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert order["fulfillments"] == [fulfilment]
    (fo,) = order["fulfillmentOrders"]["nodes"]
    assert fo["status"] == "CLOSED"
    assert fo["supportedActions"] == []
    assert [i["remainingQuantity"] for i in fo["lineItems"]["nodes"]] == [0, 0]
    (kept,) = sandbox.sim.fulfillments("shemsiworld", ORDER_ID)
    assert kept["notifyCustomer"] is False


def test_without_line_items_the_whole_fulfillment_order_ships(
    http: httpx.Client,
) -> None:
    payload = create(http, None)

    assert payload["userErrors"] == []
    assert read(http)["displayFulfillmentStatus"] == "FULFILLED"


def test_part_of_a_fulfillment_order_leaves_it_in_progress(
    http: httpx.Client,
) -> None:
    first = fulfilment_order(http)["lineItems"]["nodes"][0]

    payload = create(http, [{"id": first["id"], "quantity": 1}])

    assert payload["userErrors"] == []
    order = read(http)
    assert order["displayFulfillmentStatus"] == "PARTIALLY_FULFILLED"
    (fo,) = order["fulfillmentOrders"]["nodes"]
    assert fo["status"] == "IN_PROGRESS"
    assert [i["remainingQuantity"] for i in fo["lineItems"]["nodes"]] == [1, 1]


def test_an_order_line_id_in_place_of_a_fulfillment_order_line_item_is_refused(
    http: httpx.Client,
) -> None:
    payload = create(
        http, [{"id": "gid://shopify/LineItem/15000000000001", "quantity": 2}]
    )

    assert payload["fulfillment"] is None
    assert payload["userErrors"] == [
        {
            "field": [
                "fulfillment",
                "lineItemsByFulfillmentOrder",
                "0",
                "fulfillmentOrderLineItems",
                "0",
                "id",
            ],
            "message": "Fulfillment order line item does not exist.",
        }
    ]
    assert read(http)["fulfillments"] == []


def test_an_unknown_fulfillment_order_is_refused(http: httpx.Client) -> None:
    payload = create(http, None, fo_id="gid://shopify/FulfillmentOrder/1")

    assert payload["userErrors"] == [
        {
            "field": [
                "fulfillment",
                "lineItemsByFulfillmentOrder",
                "0",
                "fulfillmentOrderId",
            ],
            "message": "Fulfillment order does not exist.",
        }
    ]


def test_more_than_remains_is_refused_and_nothing_ships(http: httpx.Client) -> None:
    items = everything(fulfilment_order(http))
    items[0]["quantity"] = 3

    payload = create(http, items)

    assert [e["message"] for e in payload["userErrors"]] == [
        "Invalid fulfillment order line item quantity requested."
    ]
    assert payload["userErrors"][0]["field"][-1] == "quantity"
    assert fulfilment_order(http)["status"] == "OPEN"


def test_a_closed_fulfillment_order_takes_no_second_fulfilment(
    http: httpx.Client,
) -> None:
    fo = fulfilment_order(http)
    create(http, everything(fo))

    payload = create(http, None, fo_id=fo["id"])

    number = fo["id"].rsplit("/", 1)[1]
    assert payload["userErrors"] == [
        {
            "field": ["fulfillment"],
            "message": f"Fulfillment order {number} has an unfulfillable "
            "status= closed.",
        }
    ]
    assert len(read(http)["fulfillments"]) == 1


def test_a_cancelled_orders_fulfillment_order_is_closed(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.sim.cancel_order("shemsiworld", ORDER_ID)

    payload = create(http, None)

    assert fulfilment_order(http)["status"] == "CLOSED"
    assert "unfulfillable status= closed" in payload["userErrors"][0]["message"]


def test_a_line_removed_by_an_edit_has_nothing_left_to_ship(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.sim.edit_remove_line("shemsiworld", ORDER_ID, "15000000000002")

    items = fulfilment_order(http)["lineItems"]["nodes"]

    assert [i["remainingQuantity"] for i in items] == [2, 0]


def test_a_mutation_costs_ten_points_and_a_throttled_one_changes_nothing(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(bucket_size=20.0, restore_rate=1.0)
    sandbox.sim.load_orders({"shemsiworld": [order_node(1)]})
    fo_id = sandbox.sim.fulfillment_orders("shemsiworld", ORDER_ID)[0]["id"]
    variables = {
        "fulfillment": {
            "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_id}],
            "trackingInfo": TRACKING,
        }
    }
    with httpx.Client(base_url=sandbox.url) as http:
        first = post(http, CREATE, variables)
        second = post(http, CREATE, variables)

    cost = first["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 10 + 3  # the mutation, then its selection
    assert cost["throttleStatus"]["currentlyAvailable"] == 20 - cost["actualQueryCost"]
    assert second["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "data" not in second
    assert len(sandbox.sim.fulfillments("shemsiworld", ORDER_ID)) == 1


def test_fulfilments_survive_a_restart_of_the_sandbox(tmp_path: Path) -> None:
    sim = ShopifySimulator(data_dir=tmp_path, orders={"shemsiworld": [order_node(1)]})
    with SimServer(sim) as server, httpx.Client(base_url=server.url) as http:
        made = create(http, None)["fulfillment"]

    again = ShopifySimulator(data_dir=tmp_path)

    assert [f["id"] for f in again.fulfillments("shemsiworld", ORDER_ID)] == [
        made["id"]
    ]
    assert again.fulfillment_orders("shemsiworld", ORDER_ID)[0]["status"] == "CLOSED"
