"""The rate budget contract: every store keeps its buckets like the
in-memory twin (each test runs on memory, SQLite and MongoDB)."""

from __future__ import annotations

import pytest

from fulfilment.core.ports import Storage
from tests.storage.conftest import Backend

KEY = "shopify:0123456789abcdef"
T = 1_800_000_000.0  # seconds since the epoch


def test_a_bucket_never_used_is_full(storage: Storage) -> None:
    budget = storage.rate_budgets

    grants = [budget.take(KEY, 10, 40, 2, T) for _ in range(4)]

    assert grants == [0, 0, 0, 0]
    assert budget.take(KEY, 10, 40, 2, T) == pytest.approx(5.0)


def test_a_refused_take_takes_nothing(storage: Storage) -> None:
    budget = storage.rate_budgets
    budget.take(KEY, 35, 40, 2, T)

    refused = budget.take(KEY, 10, 40, 2, T)
    smaller = budget.take(KEY, 5, 40, 2, T)

    assert refused == pytest.approx(2.5)
    assert smaller == 0


def test_a_bucket_refills_at_its_rate_up_to_its_capacity(storage: Storage) -> None:
    budget = storage.rate_budgets
    budget.take(KEY, 40, 40, 2, T)

    assert budget.take(KEY, 10, 40, 2, T + 4) == pytest.approx(1.0)
    assert budget.take(KEY, 10, 40, 2, T + 5) == 0
    assert budget.take(KEY, 40, 40, 2, T + 1000) == 0
    assert budget.take(KEY, 1, 40, 2, T + 1000) == pytest.approx(0.5)


def test_keys_have_buckets_of_their_own(storage: Storage) -> None:
    budget = storage.rate_budgets
    budget.take(KEY, 40, 40, 2, T)

    assert budget.take("amazon:fedcba9876543210:getOrders", 1, 20, 0.0167, T) == 0
    assert budget.take(KEY, 1, 40, 2, T) > 0


def test_a_grant_gives_back_what_it_did_not_use(storage: Storage) -> None:
    budget = storage.rate_budgets
    budget.take(KEY, 40, 40, 2, T)

    budget.give_back(KEY, 30, 40, 2, T)

    assert budget.take(KEY, 30, 40, 2, T) == 0
    assert budget.take(KEY, 1, 40, 2, T) > 0


def test_giving_back_never_fills_past_the_capacity(storage: Storage) -> None:
    budget = storage.rate_budgets

    budget.give_back(KEY, 100, 40, 2, T)

    assert budget.take(KEY, 40, 40, 2, T) == 0
    assert budget.take(KEY, 1, 40, 2, T) == pytest.approx(0.5)


def test_the_partners_count_lowers_the_bucket(storage: Storage) -> None:
    budget = storage.rate_budgets

    budget.observe(KEY, 6, 40, 2, T)

    assert budget.take(KEY, 10, 40, 2, T) == pytest.approx(2.0)


def test_the_partners_count_never_raises_the_bucket(storage: Storage) -> None:
    budget = storage.rate_budgets
    budget.take(KEY, 30, 40, 2, T)

    budget.observe(KEY, 40, 40, 2, T)

    assert budget.take(KEY, 20, 40, 2, T) == pytest.approx(5.0)


def test_a_clock_behind_refills_nothing_and_keeps_the_later_time(
    storage: Storage,
) -> None:
    budget = storage.rate_budgets
    budget.take(KEY, 40, 40, 2, T)

    behind = budget.take(KEY, 2, 40, 2, T - 30)
    later = budget.take(KEY, 2, 40, 2, T + 1)

    assert behind == pytest.approx(1.0)
    assert later == 0


def test_the_shape_follows_what_the_caller_passes(storage: Storage) -> None:
    budget = storage.rate_budgets
    budget.take(KEY, 40, 40, 2, T)

    # The partner now reports a bigger bucket restoring faster.
    assert budget.take(KEY, 100, 2000, 100, T + 1) == 0
    assert budget.take(KEY, 100, 2000, 100, T + 1) == pytest.approx(1.0)


def test_another_handle_sees_the_same_buckets(backend: Backend) -> None:
    one, other = backend.open(), backend.open()
    one.rate_budgets.take(KEY, 40, 40, 2, T)

    assert other.rate_budgets.take(KEY, 2, 40, 2, T) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("cost", "capacity", "refill"),
    [(41, 40, 2), (-1, 40, 2), (1, 0, 2), (1, 40, 0), (float("nan"), 40, 2)],
)
def test_a_take_that_can_never_be_granted_is_refused_with_the_figures(
    storage: Storage, cost: float, capacity: float, refill: float
) -> None:
    with pytest.raises(ValueError, match=r"bucket|cost"):
        storage.rate_budgets.take(KEY, cost, capacity, refill, T)

    # Nothing was stored: the bucket is still full.
    assert storage.rate_budgets.take(KEY, 40, 40, 2, T) == 0


def test_a_negative_count_or_refund_is_refused(storage: Storage) -> None:
    with pytest.raises(ValueError, match="hold -1"):
        storage.rate_budgets.observe(KEY, -1, 40, 2, T)
    with pytest.raises(ValueError, match="give back -5"):
        storage.rate_budgets.give_back(KEY, -5, 40, 2, T)
