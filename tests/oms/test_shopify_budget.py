"""The GraphQL client pricing its queries against a shared rate budget
(respx routes; the end-to-end run against the simulator is in
tests/runners/test_rate_budgets_end_to_end.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from fulfilment.adapters.oms.shopify.client import (
    ASSUMED_BUCKET,
    ShopifyGraphQLClient,
)
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.adapters.storage.memory import MemoryRateBudget
from fulfilment.core.errors import OutcomeUnknown, TransientPartnerError

from .conftest import FakeTime
from .test_shopify_client import (
    COST,
    CREDENTIAL,
    ENDPOINT,
    ORDERS,
    SHOP,
    answer,
    run,
    throttled,
)

KEY = "shopify:0123456789abcdef"
SIZE, RATE = ASSUMED_BUCKET.maximum, ASSUMED_BUCKET.restore_rate


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=SHOP) as client:
        yield client


def budgeted(
    http: httpx.Client, time: FakeTime, budget: MemoryRateBudget
) -> ShopifyGraphQLClient:
    return ShopifyGraphQLClient(
        http,
        "sandbox-shop",
        CREDENTIAL,
        "2025-07",
        RetryPolicy(attempts=3, sleep=time.sleep),
        sleep=time.sleep,
        monotonic=time.monotonic,
        budget=budget,
        budget_key=KEY,
        wall=time.monotonic,
    )


def holds(budget: MemoryRateBudget, points: float, time: FakeTime) -> bool:
    """Whether the budget holds exactly *points* now (taken, then put back)."""
    whole = budget.take(KEY, points, SIZE, RATE, time.now) == 0
    if whole:
        budget.give_back(KEY, points, SIZE, RATE, time.now)
    more = budget.take(KEY, points + 0.5, SIZE, RATE, time.now) == 0
    if more:
        budget.give_back(KEY, points + 0.5, SIZE, RATE, time.now)
    return whole and not more


def test_a_query_spends_what_shopify_charged_from_the_shared_budget(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    budget = MemoryRateBudget()
    router.post(ENDPOINT).respond(200, json=answer(ORDERS, available=990, actual=14))

    run(budgeted(http, fake_time, budget))

    # Taken: the requested price; given back: all but the 14 charged.
    assert holds(budget, SIZE - 14, fake_time)


def test_shopifys_lower_count_lowers_the_shared_budget(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    budget = MemoryRateBudget()
    router.post(ENDPOINT).respond(200, json=answer(ORDERS, available=400, actual=14))

    run(budgeted(http, fake_time, budget))

    assert holds(budget, 400, fake_time)


def test_a_runner_waits_for_what_another_runner_spent(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    budget = MemoryRateBudget()
    budget.take(KEY, SIZE - 100, SIZE, RATE, fake_time.now)  # the other runner
    route = router.post(ENDPOINT).respond(200, json=answer(ORDERS, actual=COST))

    run(budgeted(http, fake_time, budget))

    assert fake_time.sleeps == [pytest.approx((COST - 100) / RATE)]
    assert route.call_count == 1


def test_a_throttled_answer_gives_its_price_back_and_waits_for_shopifys_count(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    budget = MemoryRateBudget()
    router.post(ENDPOINT).mock(
        side_effect=[
            httpx.Response(200, json=throttled(available=100)),
            httpx.Response(200, json=answer(ORDERS, actual=COST)),
        ]
    )

    run(budgeted(http, fake_time, budget))

    # The retry waits Shopify's deficit once; the budget, lowered to
    # Shopify's 100 points, then holds the price and grants it at once.
    wait = (COST - 100) / RATE
    assert fake_time.sleeps == [pytest.approx(wait)]
    assert holds(budget, 0, fake_time)


def test_a_query_whose_outcome_is_unknown_keeps_its_price_spent(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    budget = MemoryRateBudget()
    router.post(ENDPOINT).respond(200, text="<html>gateway</html>")
    client = ShopifyGraphQLClient(
        http,
        "sandbox-shop",
        CREDENTIAL,
        "2025-07",
        RetryPolicy.for_tests(attempts=1),
        budget=budget,
        budget_key=KEY,
        wall=fake_time.monotonic,
    )

    with pytest.raises(OutcomeUnknown):
        run(client)

    assert holds(budget, SIZE - COST, fake_time)


def test_a_shared_budget_needs_a_key(http: httpx.Client) -> None:
    with pytest.raises(ValueError, match="key of the shop"):
        ShopifyGraphQLClient(
            http,
            "sandbox-shop",
            CREDENTIAL,
            "2025-07",
            RetryPolicy.for_tests(),
            budget=MemoryRateBudget(),
        )


def test_a_429_gives_its_price_back_before_shopifys_count_lowers_the_budget(
    router: respx.MockRouter, http: httpx.Client, fake_time: FakeTime
) -> None:
    budget = MemoryRateBudget()
    client = ShopifyGraphQLClient(
        http,
        "sandbox-shop",
        CREDENTIAL,
        "2025-07",
        RetryPolicy.for_tests(attempts=1),
        budget=budget,
        budget_key=KEY,
        wall=fake_time.monotonic,
    )
    router.post(ENDPOINT).respond(429, json=throttled(available=100))

    with pytest.raises(TransientPartnerError):
        run(client)

    assert holds(budget, 100, fake_time)
