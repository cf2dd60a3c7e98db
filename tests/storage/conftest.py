"""The storage backends every contract test runs on.

``backend`` is parametrised over the in-memory twin, SQLite (a file under
``tmp_path``) and MongoDB (a fresh database on the session's server, dropped
after the test).  ``backend.open()`` gives another handle on the same data,
as a second runner process would have; ``storage`` is the first handle.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from pymongo import MongoClient

from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.adapters.storage.mongo import MongoStorage
from fulfilment.adapters.storage.sqlite import SQLiteSettings, SQLiteStorage
from fulfilment.core.ports import Storage
from tests.support.mongo import MongoServer

BACKENDS = ["memory", "sqlite", "mongo"]


@attrs.define
class Backend:
    """A store under test and a way to open more handles on it."""

    name: str
    _opener: Callable[[], Storage]
    handles: list[Storage] = attrs.Factory(list)

    def open(self) -> Storage:
        storage = self._opener()
        self.handles.append(storage)
        return storage

    def close(self) -> None:
        for storage in self.handles:
            storage.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "memory":
        shared = MemoryStorage()
        yield from _serve(Backend("memory", lambda: shared))
    elif request.param == "sqlite":
        settings = SQLiteSettings(str(tmp_path / "fulfilment.db"))
        yield from _serve(Backend("sqlite", lambda: SQLiteStorage(settings)))
    else:
        server: MongoServer = request.getfixturevalue("mongo")
        client: MongoClient[dict[str, Any]] = request.getfixturevalue("mongo_client")
        name = f"{server.database_prefix}_{uuid.uuid4().hex[:12]}"
        MongoStorage(client, name).ensure_indexes()
        yield from _serve(Backend("mongo", lambda: MongoStorage(client, name)))
        client.drop_database(name)


def _serve(backend: Backend) -> Iterator[Backend]:
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def storage(backend: Backend) -> Storage:
    return backend.open()
