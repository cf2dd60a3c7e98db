"""The per-operation token buckets wait on a fake clock."""

from __future__ import annotations

import pytest

from fulfilment.adapters.oms.amazon.limits import RateLimits, UsagePlan
from fulfilment.adapters.storage.memory import MemoryRateBudget

from .conftest import FakeTime


def limits(time: FakeTime) -> RateLimits:
    return RateLimits(monotonic=time.monotonic, sleep=time.sleep)


def test_get_orders_spends_its_burst_then_waits_a_minute_per_call() -> None:
    time = FakeTime()
    buckets = limits(time)

    for _ in range(20):
        buckets.acquire("getOrders")
    buckets.acquire("getOrders")

    assert len(time.sleeps) == 1
    assert time.sleeps[0] == pytest.approx(1 / 0.0167)


def test_operations_have_buckets_of_their_own() -> None:
    time = FakeTime()
    buckets = RateLimits(
        {"getOrders": UsagePlan(1.0, 1), "getOrderItems": UsagePlan(1.0, 1)},
        monotonic=time.monotonic,
        sleep=time.sleep,
    )

    buckets.acquire("getOrders")
    buckets.acquire("getOrderItems")

    assert time.sleeps == []


def test_a_429_empties_the_bucket_and_takes_the_header_rate() -> None:
    time = FakeTime()
    buckets = limits(time)

    wait = buckets.throttled("getOrderItems", "0.25")
    buckets.acquire("getOrderItems")

    assert wait == pytest.approx(4.0)
    assert time.sleeps == [pytest.approx(4.0)]


def test_an_unreadable_rate_header_is_ignored() -> None:
    time = FakeTime()
    buckets = limits(time)

    buckets.observe("getOrders", "fast")
    buckets.observe("getOrders", "0")

    assert buckets.bucket("getOrders").rate == 0.0167


def shared(time: FakeTime, budget: MemoryRateBudget) -> RateLimits:
    return RateLimits(
        monotonic=time.monotonic,
        sleep=time.sleep,
        budget=budget,
        key="amazon:0123456789abcdef",
    )


def test_runners_sharing_a_budget_spend_one_burst_between_them() -> None:
    time, budget = FakeTime(), MemoryRateBudget()
    one, other = shared(time, budget), shared(time, budget)

    for _ in range(10):
        one.acquire("getOrders")
        other.acquire("getOrders")
    other.acquire("getOrders")

    assert time.sleeps == [pytest.approx(1 / 0.0167)]


def test_a_429_seen_by_one_runner_empties_the_bucket_for_all() -> None:
    time, budget = FakeTime(), MemoryRateBudget()
    one, other = shared(time, budget), shared(time, budget)

    wait = one.throttled("getOrderItems")
    other.acquire("getOrderItems")

    assert wait == pytest.approx(2.0)
    assert time.sleeps == [pytest.approx(2.0)]


def test_a_shared_bucket_takes_the_rate_amazon_announced() -> None:
    time, budget = FakeTime(), MemoryRateBudget()
    limits = shared(time, budget)
    limits.observe("getOrderItems", "0.25")

    for _ in range(31):
        limits.acquire("getOrderItems")

    assert time.sleeps == [pytest.approx(4.0)]


def test_a_sleeper_that_lets_no_time_pass_does_not_wait_for_ever() -> None:
    time, budget = FakeTime(), MemoryRateBudget()
    limits = RateLimits(
        monotonic=time.monotonic,
        sleep=lambda _: None,
        budget=budget,
        key="amazon:0123456789abcdef",
    )

    waits = [limits.acquire("getOrders") for _ in range(22)]

    assert waits[:20] == [0.0] * 20
    assert waits[20:] == [pytest.approx(1 / 0.0167)] * 2


def test_a_shared_budget_needs_a_key() -> None:
    with pytest.raises(ValueError, match="key of the account"):
        RateLimits(budget=MemoryRateBudget())
