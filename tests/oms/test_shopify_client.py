"""The GraphQL client against respx routes: request shape, throttling,
retries and error translation (reference A.5, A.7, C.3)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.oms.shopify.client import (
    QueryCostError,
    ShopifyGraphQLClient,
)
from fulfilment.adapters.oms.shopify.cost import parse_document, requested_cost
from fulfilment.adapters.oms.shopify.queries import orders_query
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import (
    PermanentPartnerError,
    TransientPartnerError,
)

from .conftest import FakeTime
from .nodes import fixture

SHOP = "https://sandbox-shop.example"
ENDPOINT = f"{SHOP}/admin/api/2025-07/graphql.json"
CREDENTIAL = "shpat_test_not_a_real_token"
VARIABLES = {
    "first": 8,
    "after": None,
    "query": "updated_at:<'2025-03-20T00:00:00Z'",
    "lines": 10,
}
COST = requested_cost(parse_document(orders_query()), VARIABLES)  # 730


def answer(
    data: Any = None,
    *,
    errors: Any = None,
    available: float = 900,
    maximum: float = 1000,
    rate: float = 50,
    requested: int = COST,
    actual: int | None = 14,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extensions": {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": {
                    "maximumAvailable": maximum,
                    "currentlyAvailable": available,
                    "restoreRate": rate,
                },
            }
        }
    }
    if data is not None:
        body["data"] = data
    if errors is not None:
        body["errors"] = errors
    return body


def throttled(available: float, requested: int = COST) -> dict[str, Any]:
    body = fixture("c3_throttled_response.json")
    body["extensions"]["cost"]["requestedQueryCost"] = requested
    body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] = available
    return body


ORDERS = {
    "orders": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []}
}


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=SHOP) as client:
        yield client


def make_client(
    http: httpx.Client, time: FakeTime, retry: RetryPolicy | None = None
) -> ShopifyGraphQLClient:
    return ShopifyGraphQLClient(
        http,
        "sandbox-shop",
        CREDENTIAL,
        "2025-07",
        retry or RetryPolicy.for_tests(),
        sleep=time.sleep,
        monotonic=time.monotonic,
    )


def run(client: ShopifyGraphQLClient) -> dict[str, Any]:
    return client.execute(orders_query(), VARIABLES, what="orders")


def test_posts_the_query_and_variables_with_the_token_header(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    route = router.post(ENDPOINT).respond(200, json=answer(ORDERS))

    data = run(make_client(http, fake_time))

    request = route.calls.last.request
    assert data == ORDERS
    assert request.headers["X-Shopify-Access-Token"] == CREDENTIAL
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "query": orders_query(),
        "variables": VARIABLES,
    }


def test_remembers_the_bucket_shopify_reports(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    router.post(ENDPOINT).respond(
        200, json=answer(ORDERS, available=986, maximum=2000, rate=100)
    )
    client = make_client(http, fake_time)

    run(client)

    assert client.throttle is not None
    assert (client.throttle.maximum, client.throttle.available) == (2000, 986)
    assert client.throttle.restore_rate == 100
    assert client.cost_limit == 1000


def test_throttled_then_answered_waits_for_the_deficit_to_refill(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    route = router.post(ENDPOINT)
    route.side_effect = [
        httpx.Response(200, json=throttled(available=COST - 86)),
        httpx.Response(200, json=answer(ORDERS)),
    ]

    data = run(make_client(http, fake_time))

    assert data == ORDERS
    assert route.call_count == 2
    assert fake_time.sleeps == [pytest.approx(86 / 50)]


def test_a_throttled_answer_asks_to_retry_after_deficit_over_restore_rate(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    router.post(ENDPOINT).respond(200, json=throttled(available=COST - 100))
    client = make_client(http, fake_time, RetryPolicy.for_tests(attempts=1))

    with pytest.raises(TransientPartnerError) as caught:
        run(client)

    assert caught.value.code == "THROTTLED"
    assert caught.value.retry_after == pytest.approx(2.0)


def test_a_429_throttled_body_is_read_like_a_200_one(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    body = json.dumps(throttled(available=COST - 50), separators=(",", ":"))
    router.post(ENDPOINT).respond(429, content=body.encode())
    client = make_client(http, fake_time, RetryPolicy.for_tests(attempts=1))

    with pytest.raises(TransientPartnerError) as caught:
        run(client)

    assert caught.value.status == 429
    assert caught.value.retry_after == pytest.approx(1.0)


def test_a_429_with_retry_after_is_retried_after_that_many_seconds(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    waits: list[float] = []
    route = router.post(ENDPOINT)
    route.side_effect = [
        httpx.Response(
            429, headers={"Retry-After": "2.0"}, json={"errors": "Exceeded"}
        ),
        httpx.Response(200, json=answer(ORDERS)),
    ]
    policy = RetryPolicy(attempts=3, sleep=waits.append)

    data = run(make_client(http, fake_time, policy))

    assert data == ORDERS
    assert waits == [2.0]


def test_a_server_error_on_a_read_is_retried(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    route = router.post(ENDPOINT)
    route.side_effect = [
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(502, text="Bad Gateway"),
        httpx.Response(200, json=answer(ORDERS)),
    ]

    data = run(make_client(http, fake_time))

    assert data == ORDERS
    assert route.call_count == 3


def test_an_internal_error_in_the_body_is_retried(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    error = {
        "message": "Internal error",
        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
    }
    route = router.post(ENDPOINT)
    route.side_effect = [
        httpx.Response(200, json={"errors": [error]}),
        httpx.Response(200, json=answer(ORDERS)),
    ]

    assert run(make_client(http, fake_time)) == ORDERS
    assert route.call_count == 2


def test_server_errors_give_up_after_the_policy_attempts(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    route = router.post(ENDPOINT).respond(503, text="Service Unavailable")

    with pytest.raises(TransientPartnerError):
        run(make_client(http, fake_time, RetryPolicy.for_tests(attempts=3)))

    assert route.call_count == 3


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_never_retried(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime, status: int
) -> None:
    body = {
        "errors": "[API] Invalid API key or access token "
        "(unrecognized login or wrong password)"
    }
    route = router.post(ENDPOINT).respond(status, json=body)

    with pytest.raises(PermanentPartnerError) as caught:
        run(make_client(http, fake_time))

    assert route.call_count == 1
    assert caught.value.status == status


def test_graphql_errors_are_permanent_and_carry_the_messages(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    errors = [
        {
            "message": "Field 'nope' doesn't exist on type 'Order'",
            "extensions": {"code": "undefinedField"},
        },
        {"message": "Variable $first is required"},
    ]
    route = router.post(ENDPOINT).respond(200, json={"errors": errors})

    with pytest.raises(PermanentPartnerError) as caught:
        run(make_client(http, fake_time))

    assert route.call_count == 1
    assert caught.value.code == "undefinedField"
    assert "doesn't exist" in str(caught.value)
    assert "$first is required" in str(caught.value)


def test_max_cost_exceeded_is_reported_with_the_cost_and_the_limit(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    error = {
        "message": "Query cost is 1039, which exceeds the single query "
        "max cost limit (1000).",
        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": 1039, "maxCost": 1000},
    }
    route = router.post(ENDPOINT).respond(200, json={"errors": [error]})

    with pytest.raises(QueryCostError) as caught:
        run(make_client(http, fake_time))

    assert route.call_count == 1
    assert (caught.value.cost, caught.value.limit) == (1039, 1000)
    assert caught.value.code == "MAX_COST_EXCEEDED"


def test_waits_before_sending_when_the_bucket_cannot_cover_the_query(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    router.post(ENDPOINT).respond(200, json=answer(ORDERS, available=100, rate=50))
    client = make_client(http, fake_time)
    run(client)

    fake_time.now += 2.0  # 100 more points refilled meanwhile
    run(client)

    assert fake_time.sleeps == [pytest.approx((COST - 200) / 50)]


def test_a_query_costing_more_than_the_whole_bucket_is_not_sent(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    route = router.post(ENDPOINT).respond(
        200, json=answer(ORDERS, maximum=500, available=500)
    )
    client = make_client(http, fake_time)
    run(client)  # learns the bucket holds 500 points

    with pytest.raises(QueryCostError) as caught:
        run(client)

    assert route.call_count == 1
    assert caught.value.limit == 500
    assert client.cost_limit == 500


def test_the_token_never_appears_in_logs_errors_or_repr(
    router: respx.MockRouter,
    http: httpx.Client,
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    router.post(ENDPOINT).respond(200, json=throttled(available=0))
    client = make_client(http, fake_time, RetryPolicy.for_tests(attempts=2))

    with pytest.raises(TransientPartnerError) as caught:
        run(client)

    assert CREDENTIAL not in caplog.text
    assert CREDENTIAL not in str(caught.value)
    assert CREDENTIAL not in repr(client)
