"""The bucket arithmetic every store applies (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.core.rate_budgets import Bucket, budget_key, give_back, observe, take

CAPACITY = 50.0
REFILL = 5.0

steps = st.lists(
    st.tuples(
        st.floats(0, 3, allow_nan=False),  # seconds since the previous step
        st.floats(0, CAPACITY, allow_nan=False),  # cost asked for
        st.sampled_from(["take", "observe", "behind"]),
    ),
    max_size=60,
)


@given(steps)
def test_grants_never_exceed_the_capacity_plus_the_refill(
    plan: list[tuple[float, float, str]],
) -> None:
    bucket, now, granted = None, 1000.0, 0.0
    earliest = latest = now

    for gap, cost, kind in plan:
        now += gap
        if kind == "observe":
            bucket = observe(bucket, cost, CAPACITY, REFILL, now)
            continue
        # "behind": a runner whose clock is a second behind the others.
        at = now - 1 if kind == "behind" else now
        earliest, latest = min(earliest, at), max(latest, at)
        bucket, wait = take(bucket, cost, CAPACITY, REFILL, at)
        if wait == 0:
            granted += cost
        else:
            assert wait > 0

    # From the first time any runner read to the last.
    assert granted <= CAPACITY + REFILL * (latest - earliest) + 1e-6


@given(st.floats(0, CAPACITY), st.floats(0, 10))
def test_waiting_the_answer_is_enough(spent: float, cost: float) -> None:
    bucket, _ = take(None, spent, CAPACITY, REFILL, 0.0)

    refused, wait = take(bucket, cost, CAPACITY, REFILL, 0.0)
    _, again = take(bucket, cost, CAPACITY, REFILL, wait)

    # Refused or not, the wait it answers is all the wait there is.
    assert again == 0
    assert (wait == 0) == (spent + cost <= CAPACITY) or wait < 1e-6
    if wait > 0:
        assert refused == bucket


def test_a_refund_and_a_lower_count_compose() -> None:
    bucket, _ = take(None, 40, CAPACITY, REFILL, 0.0)

    bucket = give_back(bucket, 25, CAPACITY, REFILL, 0.0)
    bucket = observe(bucket, 30, CAPACITY, REFILL, 0.0)

    assert bucket == Bucket(30.0, 0.0)


def test_a_key_names_the_partner_and_hides_the_identity() -> None:
    key = budget_key("shopify", "https://shemsiworld.myshopify.com")

    assert key.startswith("shopify:")
    assert "shemsiworld" not in key
    assert key == budget_key("shopify", "https://shemsiworld.myshopify.com")
    assert key != budget_key("shopify", "https://shemsi-egypt.myshopify.com")


def test_a_cost_over_the_capacity_is_refused() -> None:
    with pytest.raises(ValueError, match="cost of 51 tokens cannot be granted"):
        take(None, 51, CAPACITY, REFILL, 0.0)
