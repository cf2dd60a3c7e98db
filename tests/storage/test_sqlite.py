"""What the SQLite store promises beyond the contract: one file shared
safely by processes, a page in one transaction, indexed worker queries."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from fulfilment.adapters.storage.sqlite import (
    SCHEMA_VERSION,
    SQLiteSettings,
    SQLiteStorage,
    build,
)
from fulfilment.core.domain import Claim, OrderKey, OrderState
from fulfilment.core.errors import ConfigurationError, ConflictError, StorageError
from tests.builders import T0, make_order

RACED_ORDERS = 50


@pytest.fixture
def settings(tmp_path: Path) -> SQLiteSettings:
    return SQLiteSettings(str(tmp_path / "fulfilment.db"))


@pytest.fixture
def storage(settings: SQLiteSettings) -> Iterator[SQLiteStorage]:
    opened = SQLiteStorage(settings)
    yield opened
    opened.close()


def statements(storage: SQLiteStorage) -> list[str]:
    """Collect every statement the calling thread's connection runs."""
    seen: list[str] = []
    storage.database.connection().set_trace_callback(seen.append)
    return seen


def test_build_creates_the_file_and_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "data" / "fulfilment.db"

    storage = build(SQLiteSettings(str(path)))
    storage.orders.save(make_order())
    storage.close()

    assert path.exists()
    assert SQLiteStorage(SQLiteSettings(str(path))).orders.get(make_order().key)


def test_the_database_runs_in_wal_mode(storage: SQLiteStorage) -> None:
    (mode,) = storage.database.connection().execute("PRAGMA journal_mode").fetchone()

    assert mode == "wal"


def test_a_page_is_saved_in_one_transaction(storage: SQLiteStorage) -> None:
    storage.orders.save_many([make_order(str(i)) for i in range(10)])
    page = [make_order(str(i), name="edited") for i in range(5, 15)]
    page[:5] = [attrs.evolve(o, revision=1) for o in page[:5]]
    seen = statements(storage)

    lost = storage.orders.save_many(page)

    assert lost == []
    assert [s for s in seen if s in ("BEGIN IMMEDIATE", "COMMIT")] == [
        "BEGIN IMMEDIATE",
        "COMMIT",
    ]
    writes = [s for s in seen if s.startswith(("INSERT", "UPDATE"))]
    assert len(writes) == 10
    assert seen[0] == "BEGIN IMMEDIATE"
    assert seen[-1] == "COMMIT"


def test_a_failed_page_leaves_nothing_behind(storage: SQLiteStorage) -> None:
    page = [make_order("1"), make_order("2")]
    # A trigger makes the database fail half-way through the page, as a
    # full disk would.
    storage.database.connection().execute(
        "CREATE TRIGGER refuse_2 BEFORE INSERT ON orders "
        "WHEN NEW.external_id = '2' BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )

    with pytest.raises(StorageError, match="disk full") as failure:
        storage.orders.save_many(page)

    assert isinstance(failure.value.__cause__, sqlite3.Error)
    assert storage.orders.get(make_order("1").key) is None


@pytest.mark.parametrize(
    ("query", "index"),
    [("due", "orders_due"), ("expired_claims", "orders_claims")],
)
def test_worker_queries_use_their_index(
    storage: SQLiteStorage, query: str, index: str
) -> None:
    claim = Claim("runner-1", T0)
    storage.orders.save_many(
        [make_order(str(i)) for i in range(50)]
        + [attrs.evolve(make_order(f"b{i}"), state=OrderState.BOOKING, claim=claim)
           for i in range(5)]
    )  # fmt: skip
    seen = statements(storage)
    if query == "due":
        storage.orders.due([OrderState.NEW, OrderState.ON_HOLD], T0, 10)
    else:
        storage.orders.expired_claims(T0, 10)
    (select,) = [s for s in seen if s.startswith("SELECT")]

    plan = storage.database.connection().execute(f"EXPLAIN QUERY PLAN {select}")
    details = " | ".join(row[3] for row in plan)

    assert f"USING INDEX {index}" in details, details
    assert "SCAN orders" not in details, details


def race(path: str, keys: list[str], start: object, name: str) -> list[str]:
    """Save every order at revision 1 as *name*, starting each save when
    the other process does; return the keys won."""
    storage = SQLiteStorage(SQLiteSettings(path))
    won = []
    for key in keys:
        start.wait()  # type: ignore[attr-defined]
        current = make_order(OrderKey.parse(key).external_id, name=name)
        try:
            storage.orders.save(attrs.evolve(current, revision=1))
        except ConflictError:
            continue
        won.append(key)
    storage.close()
    return won


def test_two_processes_racing_on_one_file_give_each_order_one_winner(
    storage: SQLiteStorage, settings: SQLiteSettings
) -> None:
    orders = [make_order(str(i)) for i in range(RACED_ORDERS)]
    storage.orders.save_many(orders)
    keys = [str(o.key) for o in orders]
    context = multiprocessing.get_context("spawn")

    with context.Manager() as manager, context.Pool(2) as pool:
        start = manager.Barrier(2)
        results = [
            pool.apply_async(race, (settings.path, keys, start, name))
            for name in ("one", "two")
        ]
        one, two = (r.get(timeout=60) for r in results)

    assert sorted(one + two) == sorted(keys)
    assert not set(one) & set(two)
    for key in keys:
        stored = storage.orders.get(OrderKey.parse(key))
        assert stored is not None
        assert stored.revision == 2
        assert stored.name == ("one" if key in one else "two")


def test_a_newer_schema_is_refused(settings: SQLiteSettings) -> None:
    with sqlite3.connect(settings.path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(StorageError, match="schema version"):
        SQLiteStorage(settings)


def test_an_in_memory_path_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="memory"):
        SQLiteSettings(":memory:")


def test_a_closed_storage_refuses_work(settings: SQLiteSettings) -> None:
    storage = SQLiteStorage(settings)
    storage.close()

    with pytest.raises(StorageError, match="closed"):
        storage.orders.get(make_order().key)


def test_an_unreadable_document_is_a_storage_error(storage: SQLiteStorage) -> None:
    storage.orders.save(make_order())
    with sqlite3.connect(storage.database.path) as conn:
        document = json.loads(conn.execute("SELECT document FROM orders").fetchone()[0])
        document["total"]["amount"] = 459.0
        conn.execute("UPDATE orders SET document = ?", (json.dumps(document),))

    with pytest.raises(StorageError, match="total"):
        storage.orders.get(make_order().key)
