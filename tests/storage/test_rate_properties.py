"""Properties of the rate stores: whatever the adds, the first rate of each
key stays, and ``latest`` agrees with a search of everything added.

Run on the in-memory twin and SQLite, a fresh store for every example (the
contract suite covers MongoDB with examples written out).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fulfilment.adapters.storage.memory import MemoryRateStore
from fulfilment.adapters.storage.sqlite import SQLiteSettings, SQLiteStorage
from fulfilment.core.ports import RateStore
from fulfilment.core.rates import FxRate, RateType
from tests.strategies import fx_rates

FIRST_DAY = date(2026, 11, 2)
DAYS = 6
# Few sources, bases, quotes and days, so that keys meet often.
RATES = fx_rates(
    days=st.integers(0, DAYS - 1).map(lambda n: FIRST_DAY + timedelta(days=n)),
    sources=("ecb", "openexchangerates"),
    bases=("EUR", "USD"),
    quotes=("MAD", "EGP"),
)
BATCHES = st.lists(st.lists(RATES, max_size=25), min_size=1, max_size=4)


@contextmanager
def memory_store() -> Iterator[RateStore]:
    yield MemoryRateStore()


@contextmanager
def sqlite_store() -> Iterator[RateStore]:
    with tempfile.TemporaryDirectory() as folder:
        storage = SQLiteStorage(SQLiteSettings(str(Path(folder) / "rates.db")))
        try:
            yield storage.rates
        finally:
            storage.close()


STORES = {"memory": memory_store, "sqlite": sqlite_store}
SHIFTS = (timedelta(0), timedelta(days=-1), timedelta(days=DAYS))


def newest(added: list[FxRate], probe: FxRate, day: date) -> FxRate | None:
    """The brute-force answer: every rate of *probe*'s series on or before
    *day*, the first added of the newest day."""
    series = [
        r
        for r in added
        if (r.source, r.base, r.quote, r.rate_type)
        == (probe.source, probe.base, probe.quote, probe.rate_type)
        and r.day <= day
    ]
    if not series:
        return None
    last = max(r.day for r in series)
    return next(r for r in series if r.day == last)


@pytest.mark.parametrize("store", list(STORES))
@settings(max_examples=50, deadline=None)
@given(batches=BATCHES, probes=st.lists(RATES, min_size=1, max_size=8))
def test_adds_keep_the_first_rate_per_key_and_latest_finds_the_newest(
    store: str, batches: list[list[FxRate]], probes: list[FxRate]
) -> None:
    first: dict[object, FxRate] = {}
    counts, expected_counts = [], []

    with STORES[store]() as rates:
        for batch in batches:
            expected_counts.append(len({r.key for r in batch} - first.keys()))
            counts.append(rates.add(batch))
            for r in batch:
                first.setdefault(r.key, r)
        kept = rates.history()
        answers = [
            rates.latest(p.source, p.base, p.quote, p.rate_type, p.day + shift)
            for p in probes
            for shift in SHIFTS
        ]

    added = [r for batch in batches for r in batch]
    assert counts == expected_counts
    assert kept == sorted(first.values(), key=_order)
    assert answers == [
        newest(added, p, p.day + shift) for p in probes for shift in SHIFTS
    ]


def _order(rate: FxRate) -> tuple[date, str, str, str, RateType]:
    return (rate.day, rate.source, rate.base, rate.quote, rate.rate_type)
