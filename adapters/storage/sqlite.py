"""SQLite stores: the embedded default for one machine with no database server.

One file holds one table per aggregate.  Each row is the JSON document of
the aggregate (:func:`~fulfilment.adapters.storage.documents.json_converter`)
beside the columns the worker queries filter and sort on, each indexed:

==========  =============================================================
orders      key, channel, store, external_id, revision, state, placed_at,
            due_at (``next_attempt_at``, or the lowest value when unset),
            claim_expires_at (the claim's expiry, or the lowest value),
            cancelled (1 when the source cancelled the order, else 0),
            stamped (1 when it has its ``reporting_total``, else 0)
cursors     name, value
effects     key, status, kind, subject, created_at, not_before_at
            (``not_before``, or the lowest value when unset)
leases      name, owner, expires_at
attention   id (unique), subject, reason, occurrence (unique together),
            code (the reason's), store (NULL for no store), is_open,
            raised_at
nps_        form_id, response_id (unique together), store (of the order
responses   the answer names; NULL when it names none), unmatched (1 when
            it names no known order, else 0), submitted_at
nps_        code, store, starts_at
discounts
nps_        contact, surveyed_at (no document: the time is all there is)
surveyed
rates       source, base, quote, rate_type, day (unique together), rate,
            published_on, fetched_at (no document: the columns are the
            whole rate)
webhooks    delivery_id (unique), processed (1 once read, else 0),
            received_at
rate_       key, tokens, updated (seconds since the epoch, a float: the
budgets     bucket arithmetic works in seconds, and no query sorts on it)
runs        name, run_id, owner, started_at, finished_at, ok, summary,
            last_success_at (no document: the columns are the whole record)
==========  =============================================================

Times in columns are integer microseconds since the Unix epoch (UTC), so
they sort and compare exactly.  A calendar day is its ISO string
(``2026-12-04``), which sorts as the day does; a rate is its exact decimal
string.  The file records its schema version (``PRAGMA user_version``);
opening a file of an older version upgrades it in place, a newer one is
refused.  The database runs in WAL mode: readers never wait for the
writer.  Every write takes the write lock up front (``BEGIN IMMEDIATE``) and
waits up to ``busy_timeout`` seconds for it, so several processes on one
machine can share a file.  Each thread gets its own connection.
``sqlite3`` errors surface as ``StorageError``, chained.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import attrs
from cattrs.errors import BaseValidationError

from fulfilment.core import rate_budgets
from fulfilment.core.attention import check_note
from fulfilment.core.domain import Order, OrderKey, OrderState, ensure_utc
from fulfilment.core.errors import ConfigurationError, ConflictError, StorageError
from fulfilment.core.nps import DiscountCode, NpsResponse
from fulfilment.core.ports import (
    AttentionItem,
    Effect,
    EffectStatus,
    RunRecord,
    WebhookDelivery,
)
from fulfilment.core.rates import FxRate, RateType

from .documents import as_utc, describe_error, json_converter

__all__ = [
    "SQLiteAttentionQueue",
    "SQLiteCursorStore",
    "SQLiteDatabase",
    "SQLiteEffectLedger",
    "SQLiteLeaseStore",
    "SQLiteNpsStore",
    "SQLiteOrderStore",
    "SQLiteRateBudget",
    "SQLiteRateStore",
    "SQLiteRunLog",
    "SQLiteSettings",
    "SQLiteStorage",
    "SQLiteWebhookInbox",
    "build",
]

# The schema as the steps that built it: step i takes a database from
# version i to version i + 1, so a new file and an old one end up the same.
# Migrations only ever add steps; SCHEMA_VERSION is how many there are.
_V1_TABLES = """
CREATE TABLE IF NOT EXISTS orders (
    key TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    store TEXT NOT NULL,
    external_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    state TEXT NOT NULL,
    placed_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    claim_expires_at INTEGER NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_due ON orders (state, due_at);
CREATE INDEX IF NOT EXISTS orders_claims ON orders (state, claim_expires_at);
CREATE INDEX IF NOT EXISTS orders_store ON orders (store, state);
CREATE TABLE IF NOT EXISTS cursors (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS effects (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS effects_status ON effects (status, created_at, key);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS attention (
    subject TEXT NOT NULL,
    reason TEXT NOT NULL,
    is_open INTEGER NOT NULL,
    raised_at INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (subject, reason)
);
CREATE INDEX IF NOT EXISTS attention_open
    ON attention (is_open, raised_at, subject, reason);
"""

# Version 2: the ledger is also an outbox.  Entries get the columns that
# ``queued`` filters on; those written before keep their kind (read from
# the document) and no ``not_before`` (the lowest value).
_V2_OUTBOX = """
ALTER TABLE effects ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE effects
    ADD COLUMN not_before_at INTEGER NOT NULL DEFAULT -9223372036854775808;
UPDATE effects SET kind = json_extract(document, '$.kind');
CREATE INDEX effects_queued ON effects (status, kind, not_before_at);
"""

# Version 3: an order's history lists every entry about it.  Entries
# written before get their subject from the document.
_V3_SUBJECT = """
ALTER TABLE effects ADD COLUMN subject TEXT NOT NULL DEFAULT '';
UPDATE effects SET subject = json_extract(document, '$.subject');
CREATE INDEX effects_subject ON effects (subject, created_at, key);
"""

# Version 4: orders cancelled at their source are found without a scan.
# The index holds only those (a partial index), so it stays as small as the
# handful of cancellations a connector has in flight.
_V4_CANCELLED = """
ALTER TABLE orders ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0;
UPDATE orders SET cancelled = json_extract(document, '$.cancelled_at') IS NOT NULL;
CREATE INDEX orders_cancelled ON orders (state, placed_at) WHERE cancelled = 1;
"""

# Version 5: the feedback loop.  Survey answers (one per form and response
# id, found by store or as the unmatched ones a person looks at, oldest
# first), the discount codes they earned (one per code), and when each
# customer contact was last sent a survey.
_V5_NPS = """
CREATE TABLE nps_responses (
    form_id TEXT NOT NULL,
    response_id TEXT NOT NULL,
    store TEXT,
    unmatched INTEGER NOT NULL,
    submitted_at INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (form_id, response_id)
);
CREATE INDEX nps_responses_time
    ON nps_responses (submitted_at, response_id, form_id);
CREATE INDEX nps_responses_store
    ON nps_responses (store, submitted_at, response_id, form_id);
CREATE INDEX nps_responses_unmatched
    ON nps_responses (unmatched, submitted_at, response_id, form_id);
CREATE TABLE nps_discounts (
    code TEXT PRIMARY KEY,
    store TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX nps_discounts_time ON nps_discounts (starts_at, code);
CREATE INDEX nps_discounts_store ON nps_discounts (store, starts_at, code);
CREATE TABLE nps_surveyed (
    contact TEXT PRIMARY KEY,
    surveyed_at INTEGER NOT NULL
)
"""

# Version 6: reference rates, and the orders still waiting for their
# reporting total.  A rate's primary key is its identity, its columns ordered
# so that the newest rate of one series on or before a day (``latest``) is
# one seek into its index; the history of a day range, a currency or a
# source has an index each, ordered as ``history`` returns them.  Orders
# written before are marked from their documents (none has a reporting total
# yet, so all of them wait for one); the partial index holds only the
# unstamped orders, which the stamping step keeps few.
_V6_RATES = """
CREATE TABLE rates (
    source TEXT NOT NULL,
    base TEXT NOT NULL,
    quote TEXT NOT NULL,
    rate_type TEXT NOT NULL,
    day TEXT NOT NULL,
    rate TEXT NOT NULL,
    published_on TEXT,
    fetched_at INTEGER NOT NULL,
    PRIMARY KEY (source, base, quote, rate_type, day)
);
CREATE INDEX rates_day ON rates (day, source, base, quote, rate_type);
CREATE INDEX rates_quote ON rates (quote, day, source, base, rate_type);
CREATE INDEX rates_source ON rates (source, day, base, quote, rate_type);
ALTER TABLE orders ADD COLUMN stamped INTEGER NOT NULL DEFAULT 0;
UPDATE orders
    SET stamped = json_extract(document, '$.reporting_total') IS NOT NULL;
CREATE INDEX orders_unstamped ON orders (placed_at, key) WHERE stamped = 0
"""

# Pushed deliveries (Shopify webhooks), one per delivery id, kept before
# they are answered.  The partial index holds only those not read yet, which
# processing keeps few, in the order they are read.
_WEBHOOKS = """
CREATE TABLE IF NOT EXISTS webhooks (
    delivery_id TEXT PRIMARY KEY,
    processed INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_unprocessed
    ON webhooks (received_at, delivery_id) WHERE processed = 0
"""

# Version 8: attention items get IDs and a history.  A (subject, reason)
# raised again after it was resolved is a new row (its next occurrence), so
# the table is keyed by ID; the reason's code and the store the item is about
# are columns, for the operator's filtered lists.  Items written before are
# the first occurrence of their pair, their IDs computed here.
_V8_ATTENTION_TABLE = """
ALTER TABLE attention RENAME TO attention_before_ids;
CREATE TABLE attention (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    reason TEXT NOT NULL,
    occurrence INTEGER NOT NULL,
    code TEXT NOT NULL,
    store TEXT,
    is_open INTEGER NOT NULL,
    raised_at INTEGER NOT NULL,
    document TEXT NOT NULL,
    UNIQUE (subject, reason, occurrence)
);
CREATE INDEX attention_open_items
    ON attention (is_open, raised_at, subject, reason);
CREATE INDEX attention_open_code
    ON attention (is_open, code, raised_at, subject, reason);
CREATE INDEX attention_open_store
    ON attention (is_open, store, raised_at, subject, reason);
CREATE INDEX attention_open_subject
    ON attention (is_open, subject, raised_at, reason)
"""


def _v8_attention_ids(conn: sqlite3.Connection) -> None:
    _run_script(conn, _V8_ATTENTION_TABLE)
    rows = conn.execute("SELECT is_open, document FROM attention_before_ids").fetchall()
    for is_open, document in rows:
        item = _item_from(document)
        conn.execute(_INSERT_ITEM, _item_row(item, open_=bool(is_open)))
    conn.execute("DROP TABLE attention_before_ids")


# Version 9: rate budgets that every runner on the file takes from, one
# bucket per key (see core/rate_budgets.py).
_V9_RATE_BUDGETS = """
CREATE TABLE IF NOT EXISTS rate_budgets (
    key TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    updated REAL NOT NULL
)
"""

# Version 10, the run history: one row per run name (a worker, or a worker
# and its scope) holding the latest run and when a run under that name last
# succeeded.
_V10_RUNS = """
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    ok INTEGER,
    summary TEXT NOT NULL DEFAULT '',
    last_success_at INTEGER
)
"""

_MIGRATIONS = (
    _V1_TABLES,
    _V2_OUTBOX,
    _V3_SUBJECT,
    _V4_CANCELLED,
    _V5_NPS,
    _V6_RATES,
    _WEBHOOKS,
    _v8_attention_ids,
    _V9_RATE_BUDGETS,
    _V10_RUNS,
)
SCHEMA_VERSION = len(_MIGRATIONS)

T = TypeVar("T")
_Step = str | Callable[[sqlite3.Connection], None]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Stands for "no time": sorts before every real time, so an order with no
# next attempt is always due and a booking with no claim always expired.
_LOWEST = -(2**63)


def _micros(value: datetime | None) -> int:
    if value is None:
        return _LOWEST
    return (ensure_utc(value) - _EPOCH) // _MICROSECOND


def _json_keys(keys: Iterable[object]) -> str:
    return json.dumps([str(k) for k in keys])


@attrs.frozen
class SQLiteSettings:
    """Where the database file lives and how long a writer waits for
    another process to finish (seconds)."""

    path: str = attrs.field()
    busy_timeout: float = 30.0

    @path.validator
    def _check_path(self, _: attrs.Attribute[str], value: str) -> None:
        if not value or value == ":memory:":
            raise ConfigurationError(
                f"sqlite path {value!r} must name a file; for a store that "
                "lives in memory use fulfilment.adapters.storage.memory"
            )


class SQLiteDatabase:
    """One database file: a connection per thread and write transactions
    that take the write lock before reading anything."""

    def __init__(self, settings: SQLiteSettings) -> None:
        self._settings = settings
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        Path(settings.path).parent.mkdir(parents=True, exist_ok=True)
        self._create_schema()

    @property
    def path(self) -> str:
        return self._settings.path

    def connection(self) -> sqlite3.Connection:
        """The calling thread's connection (opened on first use)."""
        if self._closed:
            raise StorageError(f"sqlite database {self._settings.path} is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A transaction holding the write lock; committed when the block
        ends, rolled back when it raises."""
        with _translated_errors():
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection for one read statement (which is its own snapshot)."""
        with _translated_errors():
            yield self.connection()

    def close(self) -> None:
        """Close every thread's connection; later use raises StorageError."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def _open(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise StorageError(f"sqlite database {self._settings.path} is closed")
            folder = Path(self._settings.path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self._settings.path,
                    timeout=self._settings.busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
            except (OSError, sqlite3.Error) as exc:
                raise StorageError(
                    f"sqlite database {self._settings.path} cannot be opened: {exc}"
                ) from exc
            self._connections.append(conn)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _create_schema(self) -> None:
        """Bring the file to SCHEMA_VERSION: run the migration steps it has
        not seen, in one transaction (a process that opens the file at the
        same time waits, then finds nothing left to do).  A file from a
        newer library is refused with ``StorageError``."""
        with self.write() as conn:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"sqlite database {self._settings.path} has schema version "
                    f"{version}; this version of the library reads "
                    f"{SCHEMA_VERSION}"
                )
            for script in _MIGRATIONS[version:]:
                _run_script(conn, script)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _run_script(conn: sqlite3.Connection, script: _Step) -> None:
    """Run each statement of *script* inside the caller's transaction
    (``executescript`` would commit it); a step that needs Python (IDs
    computed from stored documents) is a function given the connection."""
    if callable(script):
        script(conn)
        return
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Turn sqlite3 errors and unreadable documents into StorageError."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(f"sqlite: {exc}") from exc
    except BaseValidationError as exc:
        raise StorageError(
            f"sqlite: a stored document cannot be read: {describe_error(exc)}"
        ) from exc


# --- orders ------------------------------------------------------------------

_INSERT_ORDER = (
    "INSERT INTO orders (key, channel, store, external_id, revision, state, "
    "placed_at, due_at, claim_expires_at, cancelled, stamped, document) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING"
)
_UPDATE_ORDER = (
    "UPDATE orders SET revision = ?, state = ?, placed_at = ?, due_at = ?, "
    "claim_expires_at = ?, cancelled = ?, stamped = ?, document = ? "
    "WHERE key = ? AND revision = ?"
)
_ORDER_REVISIONS = (
    "SELECT key, revision FROM orders WHERE key IN (SELECT value FROM json_each(?))"
)
_ORDERS_BY_KEY = (
    "SELECT document FROM orders WHERE key IN (SELECT value FROM json_each(?))"
)
_DUE_ORDERS = (
    "SELECT document FROM orders "
    "WHERE state IN (SELECT value FROM json_each(?)) AND due_at <= ? "
    "ORDER BY placed_at, key LIMIT ?"
)
_EXPIRED_CLAIMS = (
    "SELECT document FROM orders WHERE state = ? AND claim_expires_at <= ? "
    "ORDER BY placed_at, key LIMIT ?"
)
_CANCELLED_ORDERS = (
    "SELECT document FROM orders "
    "WHERE cancelled = 1 AND state IN (SELECT value FROM json_each(?)) "
    "ORDER BY placed_at, key LIMIT ?"
)
_UNSTAMPED_ORDERS = (
    "SELECT document FROM orders WHERE stamped = 0 ORDER BY placed_at, key LIMIT ?"
)


class SQLiteOrderStore:
    """Orders with compare-and-set on ``revision`` (see ``OrderStore``)."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self._db = database

    def get(self, key: OrderKey) -> Order | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[OrderKey]) -> dict[OrderKey, Order]:
        with self._db.read() as conn:
            rows = conn.execute(_ORDERS_BY_KEY, (_json_keys(keys),)).fetchall()
            orders = [_order_from(document) for (document,) in rows]
        return {order.key: order for order in orders}

    def save_many(self, orders: Sequence[Order]) -> list[OrderKey]:
        """Write the page in one transaction: one read of the stored
        revisions, then one bulk insert and one bulk update of the winners.
        Returns the keys that lost (their stored revision had moved)."""
        if not orders:
            return []
        with self._db.write() as conn:
            keys = _json_keys(order.key for order in orders)
            stored = dict(conn.execute(_ORDER_REVISIONS, (keys,)))
            inserts, updates, lost = _settle(orders, stored)
            _write_all(conn, _INSERT_ORDER, [_insert_row(o) for o in inserts])
            _write_all(conn, _UPDATE_ORDER, [_update_row(o) for o in updates])
        return lost

    def save(self, order: Order) -> Order:
        """Write one order with compare-and-set; ``ConflictError`` when the
        stored revision is not ``order.revision``."""
        with self._db.write() as conn:
            if order.revision == 0:
                cursor = conn.execute(_INSERT_ORDER, _insert_row(order))
            else:
                cursor = conn.execute(_UPDATE_ORDER, _update_row(order))
        if cursor.rowcount != 1:
            raise ConflictError(
                f"order {order.key} changed since revision {order.revision}"
            )
        return attrs.evolve(order, revision=order.revision + 1)

    def due(
        self, states: Iterable[OrderState], now: datetime, limit: int
    ) -> list[Order]:
        """Orders in *states* with no next attempt or one not after *now*,
        oldest placement first (index ``orders_due``)."""
        wanted = json.dumps([OrderState(s).value for s in states])
        return self._select(_DUE_ORDERS, (wanted, _micros(now)), limit)

    def expired_claims(self, now: datetime, limit: int) -> list[Order]:
        """Orders in ``booking`` whose claim is missing or expired at *now*
        (index ``orders_claims``)."""
        booking = OrderState.BOOKING.value
        return self._select(_EXPIRED_CLAIMS, (booking, _micros(now)), limit)

    def cancelled(self, states: Iterable[OrderState], limit: int) -> list[Order]:
        """Orders in *states* their source cancelled, oldest placement first
        (partial index ``orders_cancelled``)."""
        wanted = json.dumps([OrderState(s).value for s in states])
        return self._select(_CANCELLED_ORDERS, (wanted,), limit)

    def unstamped(self, limit: int) -> list[Order]:
        """Orders without a reporting total, oldest placement first
        (partial index ``orders_unstamped``)."""
        return self._select(_UNSTAMPED_ORDERS, (), limit)

    def _select(self, sql: str, params: tuple[Any, ...], limit: int) -> list[Order]:
        if limit <= 0:
            return []
        with self._db.read() as conn:
            rows = conn.execute(sql, (*params, limit)).fetchall()
            return [_order_from(document) for (document,) in rows]

    def list(
        self, *, state: OrderState | None = None, store: str | None = None
    ) -> list[Order]:
        """Every order matching the filters, in key order."""
        where, params = ["1 = 1"], []
        if state is not None:
            where.append("state = ?")
            params.append(OrderState(state).value)
        if store is not None:
            where.append("store = ?")
            params.append(store)
        sql = (
            f"SELECT document FROM orders WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY channel, store, external_id"
        )
        with self._db.read() as conn:
            return [_order_from(doc) for (doc,) in conn.execute(sql, params)]


def _settle(
    orders: Sequence[Order], stored: Mapping[str, int]
) -> tuple[list[Order], list[Order], list[OrderKey]]:
    """Split a page into inserts, updates and losers, in page order, as if
    the orders were written one after the other."""
    revisions = dict(stored)
    inserts: list[Order] = []
    updates: list[Order] = []
    lost: list[OrderKey] = []
    for order in orders:
        key = str(order.key)
        current = revisions.get(key, 0)
        if current != order.revision:
            lost.append(order.key)
            continue
        (updates if key in revisions else inserts).append(order)
        revisions[key] = order.revision + 1
    return inserts, updates, lost


def _write_all(
    conn: sqlite3.Connection, statement: str, rows: list[tuple[Any, ...]]
) -> None:
    """Run *statement* for every row; each must write one row, as nothing
    can move under the write lock that the caller holds."""
    if rows and conn.executemany(statement, rows).rowcount != len(rows):
        raise StorageError("sqlite: orders changed under the write lock")


def _insert_row(order: Order) -> tuple[Any, ...]:
    key = order.key
    return (str(key), key.channel, key.store, key.external_id, *_columns(order))


def _update_row(order: Order) -> tuple[Any, ...]:
    return (*_columns(order), str(order.key), order.revision)


def _columns(order: Order) -> tuple[Any, ...]:
    """The stored copy's revision, indexed columns and document."""
    # The stored copy is the order one revision on; bumping the number in
    # the unstructured document spares building a second Order per write.
    document = json_converter().unstructure(order)
    document["revision"] = order.revision + 1
    claim_expiry = order.claim.expires_at if order.claim else None
    return (
        order.revision + 1,
        order.state.value,
        _micros(order.placed_at),
        _micros(order.next_attempt_at),
        _micros(claim_expiry),
        int(order.is_cancelled),
        int(order.reporting_total is not None),
        json.dumps(document),
    )


def _order_from(document: str) -> Order:
    return json_converter().structure(json.loads(document), Order)


# --- cursors -----------------------------------------------------------------


class SQLiteCursorStore:
    """Named watermarks, one row each."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self._db = database

    def get(self, name: str) -> datetime | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT value FROM cursors WHERE name = ?", (name,))
            found = row.fetchone()
        return None if found is None else as_utc(datetime.fromisoformat(found[0]))

    def set(self, name: str, value: datetime) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO cursors (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, ensure_utc(value).isoformat()),
            )


# --- effect ledger -----------------------------------------------------------

_INSERT_EFFECT = (
    "INSERT INTO effects "
    "(key, status, kind, subject, created_at, not_before_at, document) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING"
)
_UPDATE_EFFECT = "UPDATE effects SET status = ?, document = ? WHERE key = ?"
_QUEUED_EFFECTS = (
    "SELECT document FROM effects "
    "WHERE status = ? AND kind = ? AND not_before_at <= ? "
    "ORDER BY created_at, key LIMIT ?"
)
_SUBJECT_EFFECTS = (
    "SELECT document FROM effects WHERE subject = ? ORDER BY created_at, key LIMIT ?"
)


class SQLiteEffectLedger:
    """The effect ledger (see ``EffectLedger``); every change is one
    read-check-write under the write lock."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self._db = database

    def begin(
        self, key: str, kind: str, subject: str, now: datetime
    ) -> tuple[Effect, bool]:
        """A new pending entry and True, or the existing entry unchanged and
        False."""
        effect = Effect(key, kind, subject, EffectStatus.PENDING, now, now)
        with self._db.write() as conn:
            if _insert_effect(conn, effect):
                return effect, True
            return _require_effect(conn, key), False

    # Six positional parameters: the signature of EffectLedger.queue.
    def queue(
        self,
        key: str,
        kind: str,
        subject: str,
        now: datetime,
        *,
        payload: Mapping[str, Any],
        not_before: datetime | None = None,
    ) -> bool:
        """A QUEUED entry carrying *payload* in ``result``, unless the key is
        in the ledger in any status; True when it was created."""
        effect = Effect.queued(
            key, kind, subject, now, payload=payload, not_before=not_before
        )
        with self._db.write() as conn:
            return _insert_effect(conn, effect)

    def take(self, key: str, now: datetime) -> Effect | None:
        """The QUEUED entry, now PENDING; None when it is not queued.  The
        write lock makes the check and the change one step."""
        with self._db.write() as conn:
            effect = _find_effect(conn, key)
            if effect is None or effect.status is not EffectStatus.QUEUED:
                return None
            taken = attrs.evolve(effect, status=EffectStatus.PENDING, updated_at=now)
            return _put_effect(conn, taken)

    def queued(self, kind: str, now: datetime, limit: int) -> list[Effect]:
        """Up to *limit* QUEUED entries of *kind* due at *now*, oldest first
        (index ``effects_queued``)."""
        if limit <= 0:
            return []
        queued = EffectStatus.QUEUED.value
        with self._db.read() as conn:
            rows = conn.execute(
                _QUEUED_EFFECTS, (queued, kind, _micros(now), limit)
            ).fetchall()
            return [_effect_from(document) for (document,) in rows]

    def reopen(self, key: str, now: datetime) -> Effect:
        """FAILED back to PENDING, one more attempt; ``ConflictError`` from
        any other status, ``KeyError`` for an unknown key."""
        with self._db.write() as conn:
            effect = _require_effect(conn, key)
            if effect.status is not EffectStatus.FAILED:
                raise ConflictError(f"effect {key} is {effect.status}, not failed")
            reopened = attrs.evolve(
                effect,
                status=EffectStatus.PENDING,
                attempts=effect.attempts + 1,
                updated_at=now,
                detail=None,
            )
            return _put_effect(conn, reopened)

    def complete(self, key: str, result: Mapping[str, Any], now: datetime) -> Effect:
        """Mark the entry DONE with the call's result."""
        with self._db.write() as conn:
            done = attrs.evolve(
                _require_effect(conn, key),
                status=EffectStatus.DONE,
                result=dict(result),
                updated_at=now,
            )
            return _put_effect(conn, done)

    def mark(
        self, key: str, status: EffectStatus, detail: str, now: datetime
    ) -> Effect:
        """Set the entry's status with a human-readable detail."""
        with self._db.write() as conn:
            marked = attrs.evolve(
                _require_effect(conn, key), status=status, detail=detail, updated_at=now
            )
            return _put_effect(conn, marked)

    def get(self, key: str) -> Effect | None:
        with self._db.read() as conn:
            return _find_effect(conn, key)

    def with_status(self, status: EffectStatus, limit: int) -> list[Effect]:
        """Up to *limit* entries in *status*, oldest first."""
        if limit <= 0:
            return []
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT document FROM effects WHERE status = ? "
                "ORDER BY created_at, key LIMIT ?",
                (EffectStatus(status).value, limit),
            ).fetchall()
            return [_effect_from(document) for (document,) in rows]

    def for_subject(self, subject: str, limit: int = 1000) -> list[Effect]:
        """Up to *limit* entries about *subject*, oldest first (index
        ``effects_subject``)."""
        if limit <= 0:
            return []
        with self._db.read() as conn:
            rows = conn.execute(_SUBJECT_EFFECTS, (subject, limit)).fetchall()
            return [_effect_from(document) for (document,) in rows]


def _effect_json(effect: Effect) -> str:
    return json.dumps(json_converter().unstructure(effect))


def _insert_effect(conn: sqlite3.Connection, effect: Effect) -> bool:
    """Insert *effect* unless its key is taken; True when it was."""
    row = (
        effect.key,
        effect.status.value,
        effect.kind,
        effect.subject,
        _micros(effect.created_at),
        _micros(effect.not_before),
        _effect_json(effect),
    )
    return conn.execute(_INSERT_EFFECT, row).rowcount == 1


def _put_effect(conn: sqlite3.Connection, effect: Effect) -> Effect:
    """Store a change of *effect*'s status or document (its key, kind,
    subject, creation and ``not_before`` never change)."""
    row = (effect.status.value, _effect_json(effect), effect.key)
    conn.execute(_UPDATE_EFFECT, row)
    return effect


def _find_effect(conn: sqlite3.Connection, key: str) -> Effect | None:
    row = conn.execute("SELECT document FROM effects WHERE key = ?", (key,)).fetchone()
    return None if row is None else _effect_from(row[0])


def _require_effect(conn: sqlite3.Connection, key: str) -> Effect:
    effect = _find_effect(conn, key)
    if effect is None:
        raise KeyError(f"no effect {key} in the ledger")
    return effect


def _effect_from(document: str) -> Effect:
    return json_converter().structure(json.loads(document), Effect)


# --- leases ------------------------------------------------------------------

_ACQUIRE_LEASE = (
    "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET "
    "owner = excluded.owner, expires_at = excluded.expires_at "
    "WHERE leases.owner = excluded.owner OR leases.expires_at <= ?"
)


class SQLiteLeaseStore:
    """Named leases, taken with one conditional upsert."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self._db = database

    def acquire(self, name: str, owner: str, now: datetime, ttl_seconds: float) -> bool:
        """Take the lease if it is free, expired at *now*, or already
        *owner*'s; it then holds for *ttl_seconds*."""
        expires = _micros(now + timedelta(seconds=ttl_seconds))
        with self._db.write() as conn:
            taken = conn.execute(_ACQUIRE_LEASE, (name, owner, expires, _micros(now)))
            return taken.rowcount == 1

    def renew(self, name: str, owner: str, now: datetime, ttl_seconds: float) -> bool:
        """Extend *owner*'s lease, if it still holds it at *now*."""
        expires = _micros(now + timedelta(seconds=ttl_seconds))
        with self._db.write() as conn:
            renewed = conn.execute(
                "UPDATE leases SET expires_at = ? "
                "WHERE name = ? AND owner = ? AND expires_at > ?",
                (expires, name, owner, _micros(now)),
            )
            return renewed.rowcount == 1

    def release(self, name: str, owner: str) -> None:
        """Give the lease up; does nothing unless *owner* holds it."""
        with self._db.write() as conn:
            conn.execute(
                "DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner)
            )


# --- run history -------------------------------------------------------------

_START_RUN = (
    "INSERT INTO runs (name, run_id, owner, started_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET run_id = excluded.run_id, "
    "owner = excluded.owner, started_at = excluded.started_at, "
    "finished_at = NULL, ok = NULL, summary = ''"
)
_FINISH_RUN = (
    "UPDATE runs SET finished_at = ?, ok = ?, summary = ?, "
    "last_success_at = CASE WHEN ? THEN ? ELSE last_success_at END "
    "WHERE name = ? AND run_id = ?"
)
_RUN_COLUMNS = (
    "name, run_id, owner, started_at, finished_at, ok, summary, last_success_at"
)


class SQLiteRunLog:
    """One row per run name, replaced as each run starts."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self._db = database

    def started(self, name: str, run_id: str, owner: str, at: datetime) -> None:
        with self._db.write() as conn:
            conn.execute(_START_RUN, (name, run_id, owner, _micros(at)))

    def finished(
        self, name: str, run_id: str, at: datetime, ok: bool, summary: str
    ) -> bool:
        when = _micros(at)
        with self._db.write() as conn:
            done = conn.execute(
                _FINISH_RUN, (when, int(ok), summary, int(ok), when, name, run_id)
            )
            return done.rowcount == 1

    def last(self, name: str) -> RunRecord | None:
        rows = self._select("WHERE name = ?", (name,))
        return rows[0] if rows else None

    def all(self) -> list[RunRecord]:
        return self._select("ORDER BY name", ())

    def _select(self, where: str, values: tuple[Any, ...]) -> list[RunRecord]:
        query = f"SELECT {_RUN_COLUMNS} FROM runs {where}"  # noqa: S608 (fixed text)
        with self._db.read() as conn:
            rows = conn.execute(query, values).fetchall()
        return [_run_from(row) for row in rows]


def _run_from(row: Sequence[Any]) -> RunRecord:
    name, run_id, owner, started, finished, ok, summary, success = row
    return RunRecord(
        name=name,
        run_id=run_id,
        owner=owner,
        started_at=_time(started),
        finished_at=None if finished is None else _time(finished),
        ok=None if ok is None else bool(ok),
        summary=summary,
        last_success_at=None if success is None else _time(success),
    )


def _time(micros: int) -> datetime:
    return _EPOCH + micros * _MICROSECOND


# --- attention ---------------------------------------------------------------

_INSERT_ITEM = (
    "INSERT INTO attention (id, subject, reason, occurrence, code, store, "
    "is_open, raised_at, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_LATEST_ITEM = (
    "SELECT is_open, document FROM attention WHERE subject = ? AND reason = ? "
    "ORDER BY occurrence DESC LIMIT 1"
)


class SQLiteAttentionQueue:
    """One row per item, open or resolved, keyed by its ID."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self._db = database

    def raise_item(self, item: AttentionItem) -> AttentionItem:
        with self._db.write() as conn:
            latest = conn.execute(_LATEST_ITEM, (item.subject, item.reason)).fetchone()
            occurrence = 1
            if latest is not None:
                before = _item_from(latest[1])
                occurrence = before.occurrence + (not latest[0])
                if latest[0]:
                    conn.execute("DELETE FROM attention WHERE id = ?", (before.id,))
            stored = attrs.evolve(
                item,
                occurrence=occurrence,
                resolved_at=None,
                note=None,
                resolved_by=None,
            )
            conn.execute(_INSERT_ITEM, _item_row(stored, open_=True))
            return stored

    def open_items(
        self,
        *,
        reason: str | None = None,
        store: str | None = None,
        subject: str | None = None,
        limit: int | None = None,
    ) -> list[AttentionItem]:
        """Open items, oldest first."""
        where, values = ["is_open = 1"], []
        for column, value in (("code", reason), ("store", store), ("subject", subject)):
            if value is not None:
                where.append(f"{column} = ?")
                values.append(value)
        values.append(-1 if limit is None else max(limit, 0))
        sql = (
            f"SELECT document FROM attention WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY raised_at, subject, reason LIMIT ?"
        )
        with self._db.read() as conn:
            rows = conn.execute(sql, values).fetchall()
            return [_item_from(document) for (document,) in rows]

    def get(self, item_id: str) -> AttentionItem | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT document FROM attention WHERE id = ?", (item_id,)
            ).fetchone()
            return None if row is None else _item_from(row[0])

    def resolve(self, subject: str, reason: str, now: datetime) -> bool:
        """Close the open item; False when there is none."""
        with self._db.write() as conn:
            latest = conn.execute(_LATEST_ITEM, (subject, reason)).fetchone()
            if latest is None or not latest[0]:
                return False
            _close(conn, attrs.evolve(_item_from(latest[1]), resolved_at=now))
            return True

    def resolve_id(
        self, item_id: str, now: datetime, *, note: str, by: str | None = None
    ) -> AttentionItem | None:
        note = check_note(note)
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT document FROM attention WHERE id = ? AND is_open = 1",
                (item_id,),
            ).fetchone()
            if row is None:
                return None
            closed = attrs.evolve(
                _item_from(row[0]), resolved_at=now, note=note, resolved_by=by
            )
            _close(conn, closed)
            return closed


def _close(conn: sqlite3.Connection, item: AttentionItem) -> None:
    conn.execute(
        "UPDATE attention SET is_open = 0, document = ? WHERE id = ?",
        (_item_json(item), item.id),
    )


def _item_row(item: AttentionItem, *, open_: bool) -> tuple[object, ...]:
    return (
        item.id,
        item.subject,
        item.reason,
        item.occurrence,
        item.code,
        item.store,
        int(open_),
        _micros(item.raised_at),
        _item_json(item),
    )


def _item_json(item: AttentionItem) -> str:
    return json.dumps(json_converter().unstructure(item))


def _item_from(document: str) -> AttentionItem:
    return json_converter().structure(json.loads(document), AttentionItem)


# --- the feedback loop -------------------------------------------------------

_INSERT_RESPONSE = (
    "INSERT INTO nps_responses "
    "(form_id, response_id, store, unmatched, submitted_at, document) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (form_id, response_id) DO NOTHING"
)
_INSERT_DISCOUNT = (
    "INSERT INTO nps_discounts (code, store, starts_at, document) "
    "VALUES (?, ?, ?, ?) ON CONFLICT (code) DO NOTHING"
)
# The latest time wins, whatever order the marks arrive in.
_MARK_SURVEYED = (
    "INSERT INTO nps_surveyed (contact, surveyed_at) VALUES (?, ?) "
    "ON CONFLICT (contact) DO UPDATE SET "
    "surveyed_at = max(surveyed_at, excluded.surveyed_at)"
)


class SQLiteNpsStore:
    """Survey answers, the codes they earned, and who was asked when (see
    ``NpsStore``)."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self._db = database

    def add_response(self, response: NpsResponse) -> bool:
        """Keep *response* unless its (form, response id) is kept; True when
        it was new."""
        row = (
            response.form_id,
            response.response_id,
            response.store,
            int(response.order_key is None),
            _micros(response.submitted_at),
            _document(response),
        )
        with self._db.write() as conn:
            return conn.execute(_INSERT_RESPONSE, row).rowcount == 1

    def get_response(self, form_id: str, response_id: str) -> NpsResponse | None:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT document FROM nps_responses "
                "WHERE form_id = ? AND response_id = ?",
                (form_id, response_id),
            ).fetchone()
            return None if found is None else _read(found[0], NpsResponse)

    def responses(
        self,
        *,
        store: str | None = None,
        since: datetime | None = None,
        unmatched: bool = False,
    ) -> list[NpsResponse]:
        """Answers oldest first (indexes ``nps_responses_store``,
        ``nps_responses_unmatched``, ``nps_responses_time``)."""
        where, params = _filters(store=store, since=since, time="submitted_at")
        if unmatched:
            where.append("unmatched = 1")
        sql = (
            f"SELECT document FROM nps_responses WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY submitted_at, response_id, form_id"
        )
        with self._db.read() as conn:
            rows = conn.execute(sql, params).fetchall()
            return [_read(document, NpsResponse) for (document,) in rows]

    def add_discount(self, code: DiscountCode) -> bool:
        """Keep *code* unless it is kept; True when it was new."""
        row = (code.code, code.store, _micros(code.starts_at), _document(code))
        with self._db.write() as conn:
            return conn.execute(_INSERT_DISCOUNT, row).rowcount == 1

    def discounts(
        self, *, store: str | None = None, since: datetime | None = None
    ) -> list[DiscountCode]:
        """Codes oldest start first (indexes ``nps_discounts_store``,
        ``nps_discounts_time``)."""
        where, params = _filters(store=store, since=since, time="starts_at")
        sql = (
            f"SELECT document FROM nps_discounts WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY starts_at, code"
        )
        with self._db.read() as conn:
            rows = conn.execute(sql, params).fetchall()
            return [_read(document, DiscountCode) for (document,) in rows]

    def last_surveyed(self, contact: str) -> datetime | None:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT surveyed_at FROM nps_surveyed WHERE contact = ?", (contact,)
            ).fetchone()
        return None if found is None else _EPOCH + found[0] * _MICROSECOND

    def mark_surveyed(self, contacts: Iterable[str], at: datetime) -> None:
        """Remember *at* for each contact, unless a later time is kept."""
        rows = [(contact, _micros(at)) for contact in dict.fromkeys(contacts)]
        if rows:
            with self._db.write() as conn:
                conn.executemany(_MARK_SURVEYED, rows)


def _filters(
    *, store: str | None, since: datetime | None, time: str
) -> tuple[list[str], list[Any]]:
    """The WHERE terms (and their parameters) for a store and a lower
    bound on the *time* column."""
    where, params = ["1 = 1"], []
    if store is not None:
        where.append("store = ?")
        params.append(store)
    if since is not None:
        where.append(f"{time} >= ?")
        params.append(_micros(since))
    return where, params


def _document(value: NpsResponse | DiscountCode) -> str:
    return json.dumps(json_converter().unstructure(value))


def _read(document: str, kind: type[T]) -> T:
    return json_converter().structure(json.loads(document), kind)


# --- reference rates ---------------------------------------------------------

_INSERT_RATE = (
    "INSERT INTO rates "
    "(source, base, quote, rate_type, day, rate, published_on, fetched_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_RATE_SELECT = (
    "SELECT source, base, quote, rate_type, day, rate, published_on, fetched_at "
    "FROM rates"
)
_LATEST_RATE = (
    f"{_RATE_SELECT} "
    "WHERE source = ? AND base = ? AND quote = ? AND rate_type = ? AND day <= ? "
    "ORDER BY day DESC LIMIT 1"
)


class SQLiteRateStore:
    """Rates, one row each, never changed (see ``RateStore``)."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self._db = database

    def add(self, rates: Iterable[FxRate]) -> int:
        """Insert every rate in one transaction; a key already kept (or
        met earlier in *rates*) keeps its first rate.  How many were new."""
        rows = [_rate_row(rate) for rate in rates]
        if not rows:
            return 0
        with self._db.write() as conn:
            return conn.executemany(_INSERT_RATE, rows).rowcount

    def latest(
        self, source: str, base: str, quote: str, rate_type: RateType, day: date
    ) -> FxRate | None:
        """The newest rate of the series on or before *day* (the primary
        key's index)."""
        series = (source, base, quote, RateType(rate_type).value, day.isoformat())
        with self._db.read() as conn:
            found = conn.execute(_LATEST_RATE, series).fetchone()
        return None if found is None else _rate_from(found)

    def history(
        self,
        *,
        quote: str | None = None,
        source: str | None = None,
        rate_type: RateType | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> list[FxRate]:
        """Rates of the days from *start* to *end*, filtered, in day order
        (indexes ``rates_quote``, ``rates_source``, ``rates_day``)."""
        where, params = _rate_filters(quote, source, rate_type, start, end)
        sql = (
            f"{_RATE_SELECT} WHERE {' AND '.join(where)} "
            "ORDER BY day, source, base, quote, rate_type"
        )
        with self._db.read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_rate_from(row) for row in rows]


def _rate_filters(
    quote: str | None,
    source: str | None,
    rate_type: RateType | None,
    start: date | None,
    end: date | None,
) -> tuple[list[str], list[Any]]:
    """The WHERE terms (and their parameters) of a ``history`` query."""
    kind = None if rate_type is None else RateType(rate_type).value
    terms = [
        ("quote = ?", quote),
        ("source = ?", source),
        ("rate_type = ?", kind),
        ("day >= ?", None if start is None else start.isoformat()),
        ("day <= ?", None if end is None else end.isoformat()),
    ]
    where = ["1 = 1"] + [term for term, value in terms if value is not None]
    return where, [value for _, value in terms if value is not None]


def _rate_row(rate: FxRate) -> tuple[Any, ...]:
    published = rate.published_on
    return (
        rate.source,
        rate.base,
        rate.quote,
        rate.rate_type.value,
        rate.day.isoformat(),
        str(rate.rate),
        None if published is None else published.isoformat(),
        _micros(rate.fetched_at),
    )


def _rate_from(row: Sequence[Any]) -> FxRate:
    source, base, quote, kind, day, rate, published, fetched = row
    try:
        return FxRate(
            day=date.fromisoformat(day),
            base=base,
            quote=quote,
            rate=Decimal(rate),
            source=source,
            fetched_at=_EPOCH + fetched * _MICROSECOND,
            rate_type=RateType(kind),
            published_on=None if published is None else date.fromisoformat(published),
        )
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise StorageError(
            f"sqlite: the stored {kind} {base}/{quote} rate of {source} on {day} "
            f"cannot be read: {exc}"
        ) from exc


# --- pushed deliveries -------------------------------------------------------

_INSERT_WEBHOOK = (
    "INSERT INTO webhooks (delivery_id, processed, received_at, document) "
    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


class SQLiteWebhookInbox:
    """Deliveries, one row per delivery id; the first one kept stays (see
    ``WebhookInbox``)."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self._db = database

    def receive(self, delivery: WebhookDelivery) -> bool:
        row = (
            delivery.delivery_id,
            int(delivery.processed),
            _micros(delivery.received_at),
            _delivery_json(delivery),
        )
        with self._db.write() as conn:
            return conn.execute(_INSERT_WEBHOOK, row).rowcount == 1

    def get(self, delivery_id: str) -> WebhookDelivery | None:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT document FROM webhooks WHERE delivery_id = ?", (delivery_id,)
            ).fetchone()
        return None if found is None else _read(found[0], WebhookDelivery)

    def unprocessed(self, limit: int) -> list[WebhookDelivery]:
        """Oldest receipt first (index ``webhooks_unprocessed``)."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT document FROM webhooks WHERE processed = 0 "
                "ORDER BY received_at, delivery_id LIMIT ?",
                (max(0, limit),),
            ).fetchall()
        return [_read(document, WebhookDelivery) for (document,) in rows]

    def mark_processed(self, delivery_id: str, outcome: str, now: datetime) -> bool:
        with self._db.write() as conn:
            found = conn.execute(
                "SELECT document FROM webhooks WHERE delivery_id = ?", (delivery_id,)
            ).fetchone()
            if found is None:
                return False
            done = attrs.evolve(
                _read(found[0], WebhookDelivery),
                processed_at=ensure_utc(now),
                outcome=outcome,
            )
            conn.execute(
                "UPDATE webhooks SET processed = 1, document = ? WHERE delivery_id = ?",
                (_delivery_json(done), delivery_id),
            )
            return True


def _delivery_json(delivery: WebhookDelivery) -> str:
    return json.dumps(json_converter().unstructure(delivery))


# --- rate budgets ------------------------------------------------------------

_BUCKET = "SELECT tokens, updated FROM rate_budgets WHERE key = ?"
_SAVE_BUCKET = (
    "INSERT INTO rate_budgets (key, tokens, updated) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, "
    "updated = excluded.updated"
)


class SQLiteRateBudget(rate_budgets.BucketSteps):
    """Rate budgets shared by every process on the file: each step reads,
    changes and writes one bucket inside one ``BEGIN IMMEDIATE``
    transaction, so two processes never both spend the same tokens."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self._db = database

    def _apply(
        self,
        key: str,
        change: Callable[[rate_budgets.Bucket | None], tuple[rate_budgets.Bucket, T]],
    ) -> T:
        with self._db.write() as conn:
            row = conn.execute(_BUCKET, (key,)).fetchone()
            bucket = None if row is None else rate_budgets.Bucket(*row)
            after, answer = change(bucket)
            conn.execute(_SAVE_BUCKET, (key, after.tokens, after.updated))
            return answer


# --- the bundle --------------------------------------------------------------


class SQLiteStorage:
    """Every store on one SQLite file."""

    def __init__(self, settings: SQLiteSettings) -> None:
        self.database = SQLiteDatabase(settings)
        self.orders = SQLiteOrderStore(self.database)
        self.cursors = SQLiteCursorStore(self.database)
        self.ledger = SQLiteEffectLedger(self.database)
        self.leases = SQLiteLeaseStore(self.database)
        self.attention = SQLiteAttentionQueue(self.database)
        self.nps = SQLiteNpsStore(self.database)
        self.rates = SQLiteRateStore(self.database)
        self.webhooks = SQLiteWebhookInbox(self.database)
        self.rate_budgets = SQLiteRateBudget(self.database)
        self.runs = SQLiteRunLog(self.database)

    def close(self) -> None:
        self.database.close()


def build(settings: SQLiteSettings) -> SQLiteStorage:
    """Open (creating when needed) the database at ``settings.path``."""
    return SQLiteStorage(settings)
