"""The per-operation token buckets wait on a fake clock."""

from __future__ import annotations

import pytest

from fulfilment.adapters.oms.amazon.limits import RateLimits, UsagePlan

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
