"""What every figure shares: the result row, the run's sizes, the two stores
with their round trips counted, and the table.

A figure is one measured value next to its target.  Timings on a shared
machine are noisy, so a figure is a *ratio* of two things measured side by
side in one run (our time against the database's own floor, the points we
spent against the points the plan grants), never a bare number of seconds.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import attrs
from pymongo import MongoClient, monitoring

from fulfilment.adapters.storage.mongo import MongoStorage
from fulfilment.adapters.storage.sqlite import SQLiteSettings, SQLiteStorage
from tests.support.mongo import MongoServer, mongo_server

__all__ = [
    "STORES",
    "CommandCounter",
    "Figure",
    "Sizes",
    "Store",
    "open_stores",
    "print_table",
    "write_json",
]

STORES = ("sqlite", "mongo")

# Driver housekeeping, not work a worker asked for.
_HOUSEKEEPING = frozenset(
    {"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo"}
)


@attrs.frozen
class Figure:
    """One measured value against its target; *met* is decided by the
    figure's own rule (at least, at most), *note* says what was measured."""

    name: str
    store: str
    value: float
    target: str
    met: bool
    note: str = ""


@attrs.frozen
class Sizes:
    """How big each benchmark runs.  The full sizes are the ones the
    targets are stated for; ``quick`` runs in seconds and shows the same
    shape on smaller numbers."""

    backfill: int
    api_backfill: int
    idle_backlog: int
    parcels: int
    memory_backlogs: tuple[int, int]

    @classmethod
    def full(cls) -> Sizes:
        return cls(20_000, 20_000, 100_000, 10_000, (25_000, 100_000))

    @classmethod
    def quick(cls) -> Sizes:
        return cls(1_000, 1_000, 5_000, 1_000, (2_000, 8_000))

    @classmethod
    def tiny(cls) -> Sizes:
        """For the test that keeps the harness from rotting."""
        return cls(60, 30, 200, 120, (100, 200))


class CommandCounter(monitoring.CommandListener):
    """Counts the commands a MongoClient sends, by name, and keeps the
    reads so their plans can be explained afterwards."""

    def __init__(self) -> None:
        self.commands: Counter[str] = Counter()
        self.reads: list[tuple[str, dict[str, Any]]] = []
        self.seconds = 0.0
        self.seconds_by_name: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in _HOUSEKEEPING:
            return
        self.commands[event.command_name] += 1
        if event.command_name in ("find", "count", "aggregate"):
            self.reads.append((event.database_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._took(event.command_name, event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._took(event.command_name, event.duration_micros)

    def _took(self, name: str, micros: int) -> None:
        self.seconds += micros / 1e6
        self.seconds_by_name[name] += micros / 1e6

    def reset(self) -> None:
        self.commands.clear()
        self.reads.clear()
        self.seconds = 0.0
        self.seconds_by_name.clear()

    @property
    def total(self) -> int:
        return sum(self.commands.values())


@attrs.define
class Store:
    """One storage under test, its round-trip counter and how to reach it
    without the library (for the floors)."""

    name: str
    storage: SQLiteStorage | MongoStorage
    statements: list[str]
    counter: CommandCounter | None = None
    raw_mongo: MongoClient[dict[str, Any]] | None = None
    path: str = ""

    @property
    def round_trips(self) -> int:
        """Commands (MongoDB) or statements (SQLite) since the last reset."""
        if self.counter is not None:
            return self.counter.total
        return len(self.statements)

    def counting(self, on: bool) -> None:
        """Switch SQLite's statement trace on or off: it costs more than a
        statement (it reads every row's text), so timed runs go without."""
        if self.name == "sqlite":
            trace = (lambda sql: _count_statement(self.statements, sql)) if on else None
            self.storage.database.connection().set_trace_callback(trace)  # type: ignore[union-attr]

    def reset_counts(self) -> None:
        self.statements.clear()
        if self.counter is not None:
            self.counter.reset()


class StoreMaker:
    """Builds fresh, empty stores of one kind for one run."""

    def __init__(self, folder: Path, mongo: MongoServer | None) -> None:
        self._folder = folder
        self.mongo_server = mongo
        self._clients: list[MongoClient[dict[str, Any]]] = []

    def __call__(self, kind: str) -> Store:
        return self.sqlite() if kind == "sqlite" else self.mongo()

    def sqlite(self) -> Store:
        path = str(self._folder / f"{uuid.uuid4().hex}.db")
        storage = SQLiteStorage(SQLiteSettings(path))
        store = Store("sqlite", storage, [], path=path)
        store.counting(True)
        return store

    def mongo(self) -> Store:
        assert self.mongo_server is not None
        counter = CommandCounter()
        client = self.mongo_server.client(event_listeners=[counter])
        self._clients.append(client)
        name = f"{self.mongo_server.database_prefix}_{uuid.uuid4().hex[:8]}"
        storage = MongoStorage(client, name)
        storage.ensure_indexes()
        counter.reset()
        return Store("mongo", storage, [], counter, client, path=name)

    def close(self) -> None:
        for client in self._clients:
            client.close()


def _count_statement(statements: list[str], sql: str) -> None:
    """Count one call into SQLite.  The trace reports every row of an
    ``executemany`` as its own statement: consecutive statements of one
    shape (literals aside) are one call.  Transaction control belongs to
    the statement it wraps."""
    if sql.split(None, 1)[0].upper() in ("BEGIN", "COMMIT", "ROLLBACK"):
        return
    shape = _LITERALS.sub("?", sql)
    if statements and _LITERALS.sub("?", statements[-1]) == shape:
        return
    statements.append(sql)


_LITERALS = re.compile(r"'(?:[^']|'')*'|\b-?\d+(?:\.\d+)?\b|NULL")


@contextmanager
def open_stores(kinds: Sequence[str]) -> Iterator[StoreMaker]:
    """A maker of fresh stores of *kinds*; MongoDB is SecantusDB on a free
    loopback port, or ``MONGODB_URI``."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        mongo = None
        if "mongo" in kinds:
            mongo = stack.enter_context(mongo_server(folder))
        maker = StoreMaker(folder, mongo)
        stack.callback(maker.close)
        yield maker


def sqlite_floor(path: str) -> sqlite3.Connection:
    """A plain connection to *path*, set up as the adapter sets up its own."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def at_least(value: float, target: float) -> tuple[str, bool]:
    return f">= {target:g}", value >= target


def at_most(value: float, target: float) -> tuple[str, bool]:
    return f"<= {target:g}", value <= target


def figure(
    name: str,
    store: str,
    value: float,
    rule: Callable[[float, float], tuple[str, bool]],
    target: float,
    *,
    note: str = "",
) -> Figure:
    text, met = rule(value, target)
    return Figure(name, store, round(value, 3), text, met, note)


def print_table(figures: Sequence[Figure]) -> None:
    header = f"{'figure':34} {'store':7} {'value':>10}  {'target':>9}  met"
    print(header)
    print("-" * len(header))
    for f in figures:
        met = "yes" if f.met else "NO"
        print(f"{f.name:34} {f.store:7} {f.value:10.3f}  {f.target:>9}  {met}")
        if f.note:
            print(f"{'':43}{f.note}")


def write_json(figures: Sequence[Figure], path: Path, sizes: Sizes) -> None:
    payload = {
        "sizes": attrs.asdict(sizes),
        "figures": [attrs.asdict(f) for f in figures],
    }
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
