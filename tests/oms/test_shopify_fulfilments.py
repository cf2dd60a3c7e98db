"""Shipment reports to Shopify against respx routes: what is sent (the
fulfillment-order line item ids, never the order's line ids), what comes
back, and how failures translate (reference A.7, A.9, C.4)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.oms.shopify.client import ShopifyGraphQLClient
from fulfilment.adapters.oms.shopify.fulfilments import ShopifyFulfilments
from fulfilment.adapters.oms.shopify.source import ShopifyOrderSource
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.ports import ShipmentReport, StoreFulfilments
from fulfilment.testing.builders import make_order

from .conftest import FakeTime

SHOP = "https://sandbox-shop.example"
ENDPOINT = f"{SHOP}/admin/api/2025-07/graphql.json"
ORDER = make_order("6100000000001", name="#1041")
ORDER_GID = "gid://shopify/Order/6100000000001"
FO = "gid://shopify/FulfillmentOrder/6300000000001"
FO_LINE_1 = "gid://shopify/FulfillmentOrderLineItem/6400000000001"
FO_LINE_2 = "gid://shopify/FulfillmentOrderLineItem/6400000000002"
ORDER_LINE_1 = "gid://shopify/LineItem/15000000000001"
ORDER_LINE_2 = "gid://shopify/LineItem/15000000000002"
FULFILMENT = "gid://shopify/Fulfillment/6700000000001"
REPORT = ShipmentReport(
    "ARX0000000001", "Aramex", "https://tracking.example.com/ARX0000000001"
)
OPERATION = re.compile(r"^(?:query|mutation) (\w+)", re.MULTILINE)
COST = {
    "requestedQueryCost": 13,
    "actualQueryCost": 13,
    "throttleStatus": {
        "maximumAvailable": 1000.0,
        "currentlyAvailable": 900,
        "restoreRate": 50.0,
    },
}


def data(body: Any) -> dict[str, Any]:
    return {"data": body, "extensions": {"cost": COST}}


def fulfilment_order(
    fo_id: str = FO,
    status: str = "OPEN",
    actions: tuple[str, ...] = ("CREATE_FULFILLMENT", "HOLD", "MOVE"),
    lines: tuple[tuple[str, int], ...] = ((FO_LINE_1, 2), (FO_LINE_2, 1)),
) -> dict[str, Any]:
    return {
        "id": fo_id,
        "status": status,
        "supportedActions": [{"action": a} for a in actions],
        "lineItems": {
            "pageInfo": {"hasNextPage": False},
            "nodes": [{"id": i, "remainingQuantity": q} for i, q in lines],
        },
    }


def order_answer(
    *fos: dict[str, Any], fulfillments: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return data(
        {
            "order": {
                "id": ORDER_GID,
                "name": "#1041",
                "fulfillments": fulfillments or [],
                "fulfillmentOrders": {
                    "pageInfo": {"hasNextPage": False},
                    "nodes": list(fos) if fos else [fulfilment_order()],
                },
            }
        }
    )


def created(fulfilment_id: str = FULFILMENT) -> dict[str, Any]:
    return data(
        {
            "fulfillmentCreate": {
                "fulfillment": {
                    "id": fulfilment_id,
                    "trackingInfo": [{"number": REPORT.tracking_number}],
                },
                "userErrors": [],
            }
        }
    )


def recorded(number: str, fulfilment_id: str = FULFILMENT) -> dict[str, Any]:
    return {"id": fulfilment_id, "trackingInfo": [{"number": number}]}


class Shop:
    """Answers per operation name, in order, and the bodies received."""

    def __init__(self) -> None:
        self.answers: dict[str, list[httpx.Response]] = defaultdict(list)
        self.bodies: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def on(self, operation: str, *answers: dict[str, Any] | httpx.Response) -> None:
        self.answers[operation] += [
            a if isinstance(a, httpx.Response) else httpx.Response(200, json=a)
            for a in answers
        ]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        operation = OPERATION.search(body["query"])[1]  # type: ignore[index]
        self.bodies[operation].append(body)
        return self.answers[operation].pop(0)


@pytest.fixture
def shop() -> Iterator[Shop]:
    answers = Shop()
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as router:
        router.post(ENDPOINT).mock(side_effect=answers)
        yield answers


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=SHOP) as client:
        yield client


def make_client(
    http: httpx.Client, fake_time: FakeTime, attempts: int = 5
) -> ShopifyGraphQLClient:
    return ShopifyGraphQLClient(
        http,
        "sandbox-shop",
        "shpat_test_not_a_real_token",
        "2025-07",
        RetryPolicy.for_tests(attempts=attempts),
        sleep=fake_time.sleep,
        monotonic=fake_time.monotonic,
    )


@pytest.fixture
def store(http: httpx.Client, fake_time: FakeTime) -> ShopifyFulfilments:
    return ShopifyFulfilments(make_client(http, fake_time), "sandbox-shop")


def test_sends_the_fulfillment_order_line_item_ids_not_the_order_line_ids(
    shop: Shop, store: ShopifyFulfilments
) -> None:
    shop.on("OrderFulfillmentOrders", order_answer())
    shop.on("FulfillmentCreate", created())

    fulfilment_id = store.report_shipment(ORDER, REPORT)

    (read,) = shop.bodies["OrderFulfillmentOrders"]
    (create,) = shop.bodies["FulfillmentCreate"]
    assert fulfilment_id == FULFILMENT
    assert read["variables"]["id"] == ORDER_GID
    assert create["variables"] == {
        "fulfillment": {
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": FO,
                    "fulfillmentOrderLineItems": [
                        {"id": FO_LINE_1, "quantity": 2},
                        {"id": FO_LINE_2, "quantity": 1},
                    ],
                }
            ],
            "trackingInfo": {
                "number": "ARX0000000001",
                "company": "Aramex",
                "url": "https://tracking.example.com/ARX0000000001",
            },
            "notifyCustomer": False,
        }
    }
    sent = json.dumps(create)
    assert ORDER_LINE_1 not in sent
    assert ORDER_LINE_2 not in sent
    assert "fulfillmentCreate(fulfillment: $fulfillment)" in create["query"]


def test_ships_only_what_remains_of_fulfillment_orders_that_take_a_fulfilment(
    shop: Shop, store: ShopifyFulfilments
) -> None:
    progress = fulfilment_order(
        status="IN_PROGRESS", lines=((FO_LINE_1, 1), (FO_LINE_2, 0))
    )
    by_service = fulfilment_order(
        "gid://shopify/FulfillmentOrder/6300000000002",
        actions=("REQUEST_FULFILLMENT",),
    )
    closed = fulfilment_order("gid://shopify/FulfillmentOrder/6300000000003", "CLOSED")
    shop.on("OrderFulfillmentOrders", order_answer(progress, by_service, closed))
    shop.on("FulfillmentCreate", created())

    store.report_shipment(ORDER, ShipmentReport("FLX1", "Flextock"))

    (create,) = shop.bodies["FulfillmentCreate"]
    assert create["variables"]["fulfillment"]["lineItemsByFulfillmentOrder"] == [
        {
            "fulfillmentOrderId": FO,
            "fulfillmentOrderLineItems": [{"id": FO_LINE_1, "quantity": 1}],
        }
    ]
    assert create["variables"]["fulfillment"]["trackingInfo"] == {
        "number": "FLX1",
        "company": "Flextock",
    }


def test_hands_back_a_fulfilment_already_carrying_the_tracking_number(
    shop: Shop, store: ShopifyFulfilments
) -> None:
    shop.on(
        "OrderFulfillmentOrders",
        order_answer(fulfillments=[recorded("OTHER", "x"), recorded("ARX0000000001")]),
    )

    fulfilment_id = store.report_shipment(ORDER, REPORT)

    assert fulfilment_id == FULFILMENT
    assert "FulfillmentCreate" not in shop.bodies


def test_user_errors_are_a_rejection_in_shopifys_words(
    shop: Shop, store: ShopifyFulfilments
) -> None:
    field = ["fulfillment", "lineItemsByFulfillmentOrder", "0", "fulfillmentOrderId"]
    shop.on("OrderFulfillmentOrders", order_answer())
    shop.on(
        "FulfillmentCreate",
        data(
            {
                "fulfillmentCreate": {
                    "fulfillment": None,
                    "userErrors": [
                        {"field": field, "message": "Fulfillment order does not exist."}
                    ],
                }
            }
        ),
    )

    with pytest.raises(PartnerRejected) as caught:
        store.report_shipment(ORDER, REPORT)

    assert caught.value.partner == "shopify"
    assert caught.value.problems == (
        (
            "fulfillment.lineItemsByFulfillmentOrder.0.fulfillmentOrderId",
            "Fulfillment order does not exist.",
        ),
    )
    assert "Fulfillment order does not exist." in caught.value.message


def test_an_order_with_nothing_left_to_fulfil_is_refused_before_any_mutation(
    shop: Shop, store: ShopifyFulfilments
) -> None:
    shop.on("OrderFulfillmentOrders", order_answer(fulfilment_order(status="CLOSED")))

    with pytest.raises(PartnerRejected) as caught:
        store.report_shipment(ORDER, REPORT)

    assert caught.value.code == "nothing_to_fulfil"
    assert "#1041 has nothing left to fulfil (fulfillment orders: CLOSED)" in str(
        caught.value
    )
    assert "FulfillmentCreate" not in shop.bodies


def test_an_order_the_store_does_not_have_is_refused(
    shop: Shop, store: ShopifyFulfilments
) -> None:
    shop.on("OrderFulfillmentOrders", data({"order": None}))

    with pytest.raises(PartnerRejected) as caught:
        store.report_shipment(ORDER, REPORT)

    assert caught.value.code == "not_found"
    assert ORDER_GID in caught.value.message


def test_refused_credentials_are_permanent_and_not_retried(
    shop: Shop, store: ShopifyFulfilments
) -> None:
    shop.on(
        "OrderFulfillmentOrders",
        httpx.Response(401, json={"errors": "[API] Invalid API key or access token"}),
    )

    with pytest.raises(PermanentPartnerError) as caught:
        store.report_shipment(ORDER, REPORT)

    assert caught.value.status == 401
    assert len(shop.bodies["OrderFulfillmentOrders"]) == 1


def test_a_throttled_mutation_did_nothing_and_is_sent_again_after_the_wait(
    shop: Shop, store: ShopifyFulfilments, fake_time: FakeTime
) -> None:
    throttled = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {
            "cost": {
                "requestedQueryCost": 13,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 1000.0,
                    "currentlyAvailable": 3,
                    "restoreRate": 50.0,
                },
            }
        },
    }
    shop.on("OrderFulfillmentOrders", order_answer())
    shop.on("FulfillmentCreate", throttled, created())

    fulfilment_id = store.report_shipment(ORDER, REPORT)

    assert fulfilment_id == FULFILMENT
    assert len(shop.bodies["FulfillmentCreate"]) == 2
    assert fake_time.sleeps == [pytest.approx(10 / 50)]


def test_a_503_mutation_did_nothing_and_is_sent_again(
    shop: Shop, store: ShopifyFulfilments
) -> None:
    shop.on("OrderFulfillmentOrders", order_answer())
    shop.on("FulfillmentCreate", httpx.Response(503, text="busy"), created())

    assert store.report_shipment(ORDER, REPORT) == FULFILMENT
    assert len(shop.bodies["FulfillmentCreate"]) == 2


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(502, text="Bad Gateway"),
        httpx.Response(
            200,
            json={
                "errors": [
                    {
                        "message": "Internal error",
                        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                    }
                ]
            },
        ),
        httpx.Response(200, json=data({"fulfillmentCreate": {"userErrors": []}})),
    ],
    ids=["502", "internal-error", "neither-fulfilment-nor-errors"],
)
def test_a_mutation_that_may_have_run_is_never_sent_twice(
    shop: Shop, store: ShopifyFulfilments, answer: httpx.Response
) -> None:
    shop.on("OrderFulfillmentOrders", order_answer())
    shop.on("FulfillmentCreate", answer)

    with pytest.raises(OutcomeUnknown):
        store.report_shipment(ORDER, REPORT)

    assert len(shop.bodies["FulfillmentCreate"]) == 1


def test_a_read_that_may_have_failed_midway_is_simply_read_again(
    shop: Shop, store: ShopifyFulfilments
) -> None:
    shop.on("OrderFulfillmentOrders", httpx.Response(502, text="x"), order_answer())
    shop.on("FulfillmentCreate", created())

    assert store.report_shipment(ORDER, REPORT) == FULFILMENT
    assert len(shop.bodies["OrderFulfillmentOrders"]) == 2


def test_finds_an_earlier_fulfilment_by_its_tracking_number(
    shop: Shop, store: ShopifyFulfilments
) -> None:
    answer = data(
        {"order": {"id": ORDER_GID, "fulfillments": [recorded("ARX0000000001")]}}
    )
    shop.on("OrderFulfillments", answer, answer, data({"order": None}))

    found = store.find_shipment_report(ORDER, "ARX0000000001")
    other = store.find_shipment_report(ORDER, "ARX0000000002")
    gone = store.find_shipment_report(ORDER, "ARX0000000001")

    assert (found, other, gone) == (FULFILMENT, None, None)
    assert shop.bodies["OrderFulfillments"][0]["variables"] == {"id": ORDER_GID}


def test_a_transient_lookup_failure_is_retried_at_the_edge(
    shop: Shop, store: ShopifyFulfilments
) -> None:
    answer = data({"order": {"id": ORDER_GID, "fulfillments": []}})
    shop.on("OrderFulfillments", httpx.Response(503, text="busy"), answer)

    assert store.find_shipment_report(ORDER, "ARX0000000001") is None
    assert len(shop.bodies["OrderFulfillments"]) == 2


def test_a_lookup_that_keeps_failing_says_nothing_happened(
    shop: Shop, http: httpx.Client, fake_time: FakeTime
) -> None:
    shop.on("OrderFulfillments", httpx.Response(503, text="busy"))
    store = ShopifyFulfilments(make_client(http, fake_time, 1), "sandbox-shop")

    with pytest.raises(TransientPartnerError) as caught:
        store.find_shipment_report(ORDER, "ARX0000000001")

    assert not isinstance(caught.value, OutcomeUnknown)


def test_the_order_source_is_the_stores_fulfilment_port(
    http: httpx.Client, fake_time: FakeTime
) -> None:
    source = ShopifyOrderSource(make_client(http, fake_time), "sandbox-shop")

    assert isinstance(source, StoreFulfilments)
    assert source.store == "sandbox-shop"
