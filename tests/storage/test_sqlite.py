"""What the SQLite store promises beyond the contract: one file shared
safely by processes, a page in one transaction, indexed worker queries."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from fulfilment.adapters.storage.documents import json_converter
from fulfilment.adapters.storage.sqlite import (
    SCHEMA_VERSION,
    SQLiteSettings,
    SQLiteStorage,
    build,
)
from fulfilment.core.domain import Claim, Money, OrderKey, OrderState, ReportingTotal
from fulfilment.core.errors import ConfigurationError, ConflictError, StorageError
from fulfilment.core.nps import DiscountCode, DiscountKind, NpsCategory, NpsResponse
from fulfilment.core.ports import AttentionItem, EffectStatus
from fulfilment.core.rates import FxRate, RateType
from fulfilment.testing.builders import T0, make_order

RACED_ORDERS = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LOWEST = -(2**63)
MINUTE = timedelta(minutes=1)
STAMP = ReportingTotal(
    Money(Decimal("45.90"), "USD"), Decimal("0.1"), T0.date(), ("ecb",), T0
)


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
    [
        ("due", "orders_due"),
        ("expired_claims", "orders_claims"),
        ("cancelled", "orders_cancelled"),
    ],
)
def test_worker_queries_use_their_index(
    storage: SQLiteStorage, query: str, index: str
) -> None:
    claim = Claim("runner-1", T0)
    storage.orders.save_many(
        [make_order(str(i)) for i in range(50)]
        + [attrs.evolve(make_order(f"b{i}"), state=OrderState.BOOKING, claim=claim)
           for i in range(5)]
        + [attrs.evolve(make_order(f"c{i}", cancelled=True), state=OrderState.BOOKED)
           for i in range(5)]
    )  # fmt: skip
    seen = statements(storage)
    if query == "due":
        storage.orders.due([OrderState.NEW, OrderState.ON_HOLD], T0, 10)
    elif query == "cancelled":
        storage.orders.cancelled([OrderState.BOOKED, OrderState.IN_TRANSIT], 10)
    else:
        storage.orders.expired_claims(T0, 10)
    (select,) = [s for s in seen if s.startswith("SELECT")]

    plan = storage.database.connection().execute(f"EXPLAIN QUERY PLAN {select}")
    details = " | ".join(row[3] for row in plan)

    assert f"USING INDEX {index}" in details, details
    assert "SCAN orders" not in details, details


def test_unstamped_orders_are_read_from_their_partial_index(
    storage: SQLiteStorage,
) -> None:
    storage.orders.save_many(
        [attrs.evolve(make_order(str(i)), reporting_total=STAMP) for i in range(50)]
        + [make_order(f"u{i}") for i in range(5)]
    )
    seen = statements(storage)
    found = storage.orders.unstamped(10)
    (select,) = [s for s in seen if s.startswith("SELECT")]

    plan = storage.database.connection().execute(f"EXPLAIN QUERY PLAN {select}")
    details = " | ".join(row[3] for row in plan)

    # A walk along the partial index, which holds only the unstamped orders
    # in placement order: no walk along the table, no sort.
    assert details == "SCAN orders USING INDEX orders_unstamped", details
    assert len(found) == 5


FEEDBACK_QUERIES = {
    "answers of a store": (
        lambda nps: nps.responses(store="shemsi-egypt", since=T0),
        "USING INDEX nps_responses_store (store=? AND submitted_at>?)",
    ),
    "unmatched answers": (
        lambda nps: nps.responses(unmatched=True),
        "USING INDEX nps_responses_unmatched (unmatched=?)",
    ),
    "answers since": (
        lambda nps: nps.responses(since=T0),
        "USING INDEX nps_responses_time (submitted_at>?)",
    ),
    "codes of a store": (
        lambda nps: nps.discounts(store="shemsi-egypt", since=T0),
        "USING INDEX nps_discounts_store (store=? AND starts_at>?)",
    ),
    "codes since": (
        lambda nps: nps.discounts(since=T0),
        "USING INDEX nps_discounts_time (starts_at>?)",
    ),
    "last surveyed": (
        lambda nps: nps.last_surveyed("+201001234567"),
        "USING INDEX sqlite_autoindex_nps_surveyed_1 (contact=?)",
    ),
}


@pytest.mark.parametrize("query", list(FEEDBACK_QUERIES))
def test_feedback_queries_use_their_index(storage: SQLiteStorage, query: str) -> None:
    ask, index = FEEDBACK_QUERIES[query]
    for i in range(30):
        key = OrderKey("shopify", ("shemsi-egypt", "shemsiworld")[i % 2], str(i))
        submitted = T0 + timedelta(minutes=i)
        storage.nps.add_response(
            NpsResponse(f"r{i}", "form", i % 11, submitted, key if i % 3 else None)
        )
        storage.nps.add_discount(discount_code(f"CODE-{i}", key, submitted))
        storage.nps.mark_surveyed([f"+2010012345{i:02d}"], submitted)
    seen = statements(storage)
    ask(storage.nps)
    (select,) = [s for s in seen if s.startswith("SELECT")]

    plan = storage.database.connection().execute(f"EXPLAIN QUERY PLAN {select}")
    details = " | ".join(row[3] for row in plan)

    assert index in details, details
    assert "SCAN" not in details, details
    assert "TEMP B-TREE" not in details, details


def discount_code(code: str, key: OrderKey, starts: datetime) -> DiscountCode:
    return DiscountCode(
        code,
        key,
        f"r-{code}",
        NpsCategory.PASSIVE,
        DiscountKind.AMOUNT,
        Decimal("50.00"),
        Decimal("50.00"),
        "MAD",
        starts,
        starts + timedelta(days=30),
    )


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


def test_the_outbox_query_uses_its_index(storage: SQLiteStorage) -> None:
    for i in range(30):
        storage.ledger.begin(f"book:{i}", "book", str(i), T0)
        storage.ledger.queue(f"sms:{i}", "sms", str(i), T0, payload={}, not_before=T0)
    seen = statements(storage)
    storage.ledger.queued("sms", T0, 10)
    (select,) = [s for s in seen if s.startswith("SELECT")]

    plan = storage.database.connection().execute(f"EXPLAIN QUERY PLAN {select}")
    details = " | ".join(row[3] for row in plan)

    assert "USING INDEX effects_queued" in details, details
    assert "SCAN effects" not in details, details
    assert "not_before_at<?" in details, details


def test_the_history_of_one_order_uses_its_index(storage: SQLiteStorage) -> None:
    for i in range(30):
        storage.ledger.begin(f"book:{i}", "booking", f"shopify:shemsiworld:{i}", T0)
    seen = statements(storage)
    storage.ledger.for_subject("shopify:shemsiworld:7", 10)
    (select,) = [s for s in seen if s.startswith("SELECT")]

    plan = storage.database.connection().execute(f"EXPLAIN QUERY PLAN {select}")
    details = " | ".join(row[3] for row in plan)

    assert "USING INDEX effects_subject (subject=?)" in details, details
    assert "SCAN effects" not in details, details
    assert "TEMP B-TREE" not in details, details


# The schema of version 1, frozen as the first release wrote it, with
# one ledger entry and one order in it.
VERSION_1 = """
CREATE TABLE orders (
    key TEXT PRIMARY KEY, channel TEXT NOT NULL, store TEXT NOT NULL,
    external_id TEXT NOT NULL, revision INTEGER NOT NULL, state TEXT NOT NULL,
    placed_at INTEGER NOT NULL, due_at INTEGER NOT NULL,
    claim_expires_at INTEGER NOT NULL, document TEXT NOT NULL
);
CREATE INDEX orders_due ON orders (state, due_at);
CREATE INDEX orders_claims ON orders (state, claim_expires_at);
CREATE INDEX orders_store ON orders (store, state);
CREATE TABLE cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE effects (
    key TEXT PRIMARY KEY, status TEXT NOT NULL, created_at INTEGER NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX effects_status ON effects (status, created_at, key);
CREATE TABLE leases (
    name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL
);
CREATE TABLE attention (
    subject TEXT NOT NULL, reason TEXT NOT NULL, is_open INTEGER NOT NULL,
    raised_at INTEGER NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (subject, reason)
);
CREATE INDEX attention_open ON attention (is_open, raised_at, subject, reason);
INSERT INTO effects VALUES ('book:1', 'done', 1793610000000000, '{
    "key": "book:1", "kind": "book", "subject": "shopify:shemsiworld:1",
    "status": "done", "created_at": "2026-11-02T09:00:00+00:00",
    "updated_at": "2026-11-02T09:01:00+00:00", "attempts": 1,
    "result": {"reference": "AWB1"}, "detail": null
}');
INSERT INTO cursors VALUES ('fetch-new-orders:shemsiworld',
    '2026-11-02T09:00:00+00:00');
PRAGMA user_version = 1;
"""


def shape(path: str) -> dict[str, list[tuple[object, ...]]]:
    """Every table's columns and every index's columns in the file."""
    with sqlite3.connect(path) as conn:
        names = conn.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
        pragma = {"table": "table_info", "index": "index_info"}
        return {
            name: conn.execute(f"PRAGMA {pragma[kind]}({name})").fetchall()
            for kind, name in names
        }


@pytest.fixture
def version_1_file(settings: SQLiteSettings) -> str:
    with sqlite3.connect(settings.path) as conn:
        conn.executescript(VERSION_1)
    return settings.path


def test_a_version_1_file_is_upgraded_in_place(
    version_1_file: str, tmp_path: Path
) -> None:
    storage = SQLiteStorage(SQLiteSettings(version_1_file))
    storage.close()
    SQLiteStorage(SQLiteSettings(str(tmp_path / "new.db"))).close()

    with sqlite3.connect(version_1_file) as conn:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
    assert SCHEMA_VERSION == 10
    assert version == SCHEMA_VERSION
    assert shape(version_1_file) == shape(str(tmp_path / "new.db"))


def test_an_upgraded_file_keeps_its_data_and_takes_queued_entries(
    version_1_file: str,
) -> None:
    storage = SQLiteStorage(SQLiteSettings(version_1_file))

    storage.ledger.queue("sms:1", "book", "order-1", T0, payload={"to": "+212600"})
    old = storage.ledger.get("book:1")

    assert old is not None
    assert (old.status, old.result, old.not_before) == (
        EffectStatus.DONE,
        {"reference": "AWB1"},
        None,
    )
    assert [e.key for e in storage.ledger.queued("book", T0, 10)] == ["sms:1"]
    assert storage.cursors.get("fetch-new-orders:shemsiworld") == T0
    with sqlite3.connect(version_1_file) as conn:
        kinds = conn.execute("SELECT key, kind FROM effects ORDER BY key").fetchall()
    assert kinds == [("book:1", "book"), ("sms:1", "book")]
    assert [e.key for e in storage.ledger.for_subject("shopify:shemsiworld:1")] == [
        "book:1"
    ]
    assert [e.key for e in storage.ledger.for_subject("order-1")] == ["sms:1"]
    storage.close()


def test_an_upgraded_file_finds_the_orders_cancelled_before_it(
    version_1_file: str,
) -> None:
    cancelled = attrs.evolve(
        make_order("7", cancelled=True), state=OrderState.BOOKED, revision=1
    )
    wanted = attrs.evolve(make_order("8"), state=OrderState.BOOKED, revision=1)
    with sqlite3.connect(version_1_file) as conn:
        for order in (cancelled, wanted):
            document = json.dumps(json_converter().unstructure(order))
            conn.execute(
                "INSERT INTO orders VALUES (?, ?, ?, ?, 1, 'booked', 0, 0, 0, ?)",
                (str(order.key), "shopify", "shemsiworld", order.key.external_id,
                 document),
            )  # fmt: skip

    storage = SQLiteStorage(SQLiteSettings(version_1_file))
    found = storage.orders.cancelled([OrderState.BOOKED], 10)
    storage.close()

    assert found == [cancelled]


# What each version added, taken away again: each version only ever adds,
# so today's schema without the additions of the versions after N is the
# schema version N wrote.
UNDO = {
    10: "DROP TABLE runs;",
    9: "DROP TABLE rate_budgets;",
    8: "DROP TABLE attention; CREATE TABLE attention (subject TEXT NOT NULL, "
    "reason TEXT NOT NULL, is_open INTEGER NOT NULL, raised_at INTEGER NOT NULL, "
    "document TEXT NOT NULL, PRIMARY KEY (subject, reason)); "
    "CREATE INDEX attention_open ON attention (is_open, raised_at, subject, reason);",
    7: "DROP TABLE webhooks;",
    6: "DROP TABLE rates; DROP INDEX orders_unstamped; "
    "ALTER TABLE orders DROP COLUMN stamped;",
    5: "DROP TABLE nps_responses; DROP TABLE nps_discounts; DROP TABLE nps_surveyed;",
}


def file_of_version(settings: SQLiteSettings, version: int) -> str:
    """An empty file with the schema of *version*."""
    SQLiteStorage(settings).close()
    with sqlite3.connect(settings.path) as conn:
        for newer in range(SCHEMA_VERSION, version, -1):
            conn.executescript(UNDO[newer])
        conn.execute(f"PRAGMA user_version = {version}")
    return settings.path


def test_a_version_9_file_gets_the_run_history(
    settings: SQLiteSettings, tmp_path: Path
) -> None:
    file_of_version(settings, 9)
    new = str(tmp_path / "new.db")
    SQLiteStorage(SQLiteSettings(new)).close()

    storage = SQLiteStorage(settings)
    storage.runs.started("notify-customers", "run-1", "runner-a", T0)
    storage.close()

    assert shape(settings.path) == shape(new)
    with sqlite3.connect(settings.path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert conn.execute("SELECT name, run_id FROM runs").fetchall() == [
            ("notify-customers", "run-1")
        ]


@pytest.fixture
def version_4_file(settings: SQLiteSettings) -> str:
    """A file as version 4 left it, with an order in it."""
    file_of_version(settings, 4)
    with sqlite3.connect(settings.path) as conn:
        document = json.dumps(json_converter().unstructure(make_order("9")))
        conn.execute(
            "INSERT INTO orders VALUES "
            "('shopify:shemsiworld:9', 'shopify', 'shemsiworld', '9', 1, 'new', "
            "0, 0, 0, ?, 0)",
            (document,),
        )
    return settings.path


def test_a_version_4_file_gets_the_feedback_tables(
    version_4_file: str, tmp_path: Path
) -> None:
    before = shape(version_4_file)
    new = str(tmp_path / "new.db")
    SQLiteStorage(SQLiteSettings(new)).close()

    storage = SQLiteStorage(SQLiteSettings(version_4_file))
    answer = NpsResponse("r1", "form", 10, T0, make_order("9").key, "ممتاز")
    added = storage.nps.add_response(answer)
    storage.nps.mark_surveyed(["+212661234567"], T0)
    kept = storage.orders.get(make_order("9").key)
    storage.close()

    assert "nps_responses" not in before
    assert shape(version_4_file) == shape(new)
    assert added
    assert kept is not None
    with sqlite3.connect(version_4_file) as conn:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
    assert version == SCHEMA_VERSION
    reopened = SQLiteStorage(SQLiteSettings(version_4_file))
    assert reopened.nps.responses(store="shemsiworld") == [answer]
    assert reopened.nps.last_surveyed("+212661234567") == T0
    reopened.close()


def version_5_row(external_id: str, placed_at: datetime) -> tuple[object, ...]:
    """An order's row as version 5 wrote it: its document has no reporting
    total (the stamp is newer than the file)."""
    order = attrs.evolve(make_order(external_id, placed_at=placed_at), revision=1)
    document = json_converter().unstructure(order)
    del document["reporting_total"]
    placed = (placed_at - EPOCH) // timedelta(microseconds=1)
    key = order.key
    return (str(key), key.channel, key.store, external_id, 1, "new", placed,
            LOWEST, LOWEST, json.dumps(document), 0)  # fmt: skip


@pytest.fixture
def version_5_file(settings: SQLiteSettings) -> str:
    """A file as version 5 left it, with three orders placed out of order."""
    file_of_version(settings, 5)
    with sqlite3.connect(settings.path) as conn:
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                version_5_row("late", T0),
                version_5_row("early", T0 - 10 * MINUTE),
                version_5_row("middle", T0 - 5 * MINUTE),
            ],
        )
    return settings.path


def test_a_version_5_file_finds_its_orders_unstamped_and_keeps_rates(
    version_5_file: str, tmp_path: Path
) -> None:
    before = shape(version_5_file)
    new = str(tmp_path / "new.db")
    SQLiteStorage(SQLiteSettings(new)).close()
    rate = FxRate(date(2026, 11, 2), "USD", "MAD", Decimal("10.0125"), "ecb", T0)

    storage = SQLiteStorage(SQLiteSettings(version_5_file))
    waiting = storage.orders.unstamped(10)
    storage.orders.save(attrs.evolve(waiting[0], reporting_total=STAMP))
    added = storage.rates.add([rate])
    storage.close()

    assert "rates" not in before
    assert "stamped" not in [column[1] for column in before["orders"]]
    assert shape(version_5_file) == shape(new)
    assert [o.key.external_id for o in waiting] == ["early", "middle", "late"]
    assert added == 1
    reopened = SQLiteStorage(SQLiteSettings(version_5_file))
    assert [o.key.external_id for o in reopened.orders.unstamped(10)] == [
        "middle",
        "late",
    ]
    stamped = reopened.orders.get(waiting[0].key)
    assert stamped is not None
    assert stamped.reporting_total == STAMP
    assert reopened.rates.latest("ecb", "USD", "MAD", RateType.OFFICIAL, T0.date())
    reopened.close()


def rates_of_a_month(day: date = date(2026, 11, 1)) -> list[FxRate]:
    """A month of eight quotes of one source, official and market: 496."""
    return [
        FxRate(day + timedelta(days=n), "USD", quote, Decimal("1.5"), "oxr", T0, kind)
        for n in range(31)
        for quote in ("MAD", "EGP", "AED", "LBP", "EUR", "SAR", "XAU", "XAG")
        for kind in RateType
    ]


def test_a_month_of_rates_is_added_in_one_transaction(storage: SQLiteStorage) -> None:
    month = rates_of_a_month()
    seen = statements(storage)

    added = storage.rates.add(month)

    assert added == len(month) == 496
    assert [s for s in seen if s in ("BEGIN IMMEDIATE", "COMMIT")] == [
        "BEGIN IMMEDIATE",
        "COMMIT",
    ]
    assert (seen[0], seen[-1]) == ("BEGIN IMMEDIATE", "COMMIT")
    assert storage.rates.add(month) == 0


FIRST = date(2026, 11, 1)
RATE_QUERIES = {
    "latest": (
        lambda rates: rates.latest("oxr", "USD", "MAD", RateType.OFFICIAL, FIRST),
        "USING INDEX sqlite_autoindex_rates_1 "
        "(source=? AND base=? AND quote=? AND rate_type=? AND day<?)",
    ),
    "a currency's days": (
        lambda rates: rates.history(quote="MAD", start=FIRST, end=FIRST),
        "USING INDEX rates_quote (quote=? AND day>? AND day<?)",
    ),
    "a source's days": (
        lambda rates: rates.history(source="oxr", start=FIRST),
        "USING INDEX rates_source (source=? AND day>?)",
    ),
    "one series": (
        lambda rates: rates.history(
            source="oxr", quote="MAD", rate_type=RateType.MARKET, end=FIRST
        ),
        "USING INDEX rates_source (source=? AND day<?)",
    ),
    "days": (
        lambda rates: rates.history(start=FIRST, end=FIRST),
        "USING INDEX rates_day (day>? AND day<?)",
    ),
}


@pytest.mark.parametrize("query", list(RATE_QUERIES))
def test_rate_queries_use_their_index(storage: SQLiteStorage, query: str) -> None:
    ask, index = RATE_QUERIES[query]
    storage.rates.add(rates_of_a_month())
    storage.rates.add(rates_of_a_month(date(2026, 12, 1)))
    seen = statements(storage)
    ask(storage.rates)
    (select,) = [s for s in seen if s.startswith("SELECT")]

    plan = storage.database.connection().execute(f"EXPLAIN QUERY PLAN {select}")
    details = " | ".join(row[3] for row in plan)

    assert index in details, details
    assert "SCAN" not in details, details
    assert "TEMP B-TREE" not in details, details


def test_an_unreadable_rate_is_a_storage_error_naming_it(
    storage: SQLiteStorage,
) -> None:
    storage.rates.add([FxRate(FIRST, "USD", "MAD", Decimal("10"), "oxr", T0)])
    with sqlite3.connect(storage.database.path) as conn:
        conn.execute("UPDATE rates SET rate = 'ten'")

    with pytest.raises(StorageError, match="USD/MAD rate of oxr on 2026-11-01"):
        storage.rates.history()


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


# --- attention ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({}, "attention_open_items (is_open=?)"),
        ({"reason": "tracking_stale"}, "attention_open_code (is_open=? AND code=?)"),
        ({"store": "shemsi-uae"}, "attention_open_store (is_open=? AND store=?)"),
        (
            {"subject": "shopify:shemsi-uae:7"},
            "attention_open_subject (is_open=? AND subject=?)",
        ),
    ],
)
def test_attention_lists_use_their_index(
    storage: SQLiteStorage, filters: dict[str, str], index: str
) -> None:
    for i in range(30):
        store = ("shemsi-egypt", "shemsi-uae", "shemsiworld")[i % 3]
        reason = ("tracking_stale", "rejected_by_partner")[i % 2]
        storage.attention.raise_item(
            AttentionItem(f"shopify:{store}:{i}", reason, "look", T0 + i * MINUTE)
        )
    seen = statements(storage)
    storage.attention.open_items(limit=10, **filters)  # type: ignore[arg-type]
    (select,) = [s for s in seen if s.startswith("SELECT")]

    plan = storage.database.connection().execute(f"EXPLAIN QUERY PLAN {select}")
    details = " | ".join(row[3] for row in plan)

    assert index in details, details
    assert "SCAN attention" not in details, details


def version_6_item(item: AttentionItem, *, is_open: bool) -> tuple[object, ...]:
    """An attention row as version 6 wrote it: no ID, no occurrence."""
    document = json_converter().unstructure(item)
    for newer in ("occurrence", "effect", "note", "resolved_by"):
        del document[newer]
    raised = (item.raised_at - EPOCH) // timedelta(microseconds=1)
    return (item.subject, item.reason, int(is_open), raised, json.dumps(document))


def test_a_version_6_file_gives_its_attention_items_ids(
    settings: SQLiteSettings, tmp_path: Path
) -> None:
    open_one = AttentionItem(
        "shopify:shemsi-lebanon:1", "no_partner_for_store", "x", T0
    )
    closed = AttentionItem("partner:flextock", "unknown_tracking_code:90", "y", T0)
    file_of_version(settings, 6)
    with sqlite3.connect(settings.path) as conn:
        conn.executemany(
            "INSERT INTO attention VALUES (?, ?, ?, ?, ?)",
            [
                version_6_item(open_one, is_open=True),
                version_6_item(
                    attrs.evolve(closed, resolved_at=T0 + MINUTE), is_open=False
                ),
            ],
        )
    new = str(tmp_path / "new.db")
    SQLiteStorage(SQLiteSettings(new)).close()

    storage = SQLiteStorage(settings)
    reopened = storage.attention.raise_item(closed)

    assert storage.attention.get(open_one.id) == open_one
    assert storage.attention.open_items(reason="no_partner_for_store") == [open_one]
    assert storage.attention.open_items(store="shemsi-lebanon") == [open_one]
    assert reopened.occurrence == 2
    storage.close()
    assert shape(settings.path) == shape(new)


def test_a_version_8_file_gets_the_rate_budgets_and_keeps_its_orders(
    settings: SQLiteSettings, tmp_path: Path
) -> None:
    file_of_version(settings, 8)
    first = SQLiteStorage(settings)
    first.orders.save(make_order("8"))
    first.close()
    with sqlite3.connect(settings.path) as conn:
        conn.executescript(UNDO[9] + "PRAGMA user_version = 8;")
    new = str(tmp_path / "new.db")
    SQLiteStorage(SQLiteSettings(new)).close()

    storage = SQLiteStorage(settings)
    wait = storage.rate_budgets.take("shopify:0123456789abcdef", 40, 40, 2, 1e9)
    kept = storage.orders.get(make_order("8").key)
    storage.close()

    assert wait == 0
    assert kept is not None
    assert shape(settings.path) == shape(new)
