"""Registers the built-in stores through the storage hook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..hookspecs import AdapterContext, Factory, hookimpl
from . import memory, mongo, sqlite


@attrs.frozen
class MemorySettings:
    """The in-memory store takes no settings; it forgets on exit."""


def _memory(_: MemorySettings, __: AdapterContext) -> memory.MemoryStorage:
    return memory.MemoryStorage()


def _sqlite(settings: sqlite.SQLiteSettings, _: AdapterContext) -> sqlite.SQLiteStorage:
    return sqlite.build(settings)


def _mongo(settings: mongo.MongoSettings, _: AdapterContext) -> mongo.MongoStorage:
    return mongo.build(settings)


@hookimpl
def fulfilment_register_storages() -> Mapping[str, Factory[Any]]:
    return {
        "memory": Factory(MemorySettings, _memory, "in memory, for tests"),
        "sqlite": Factory(sqlite.SQLiteSettings, _sqlite, "one SQLite file"),
        "mongodb": Factory(mongo.MongoSettings, _mongo, "MongoDB (production)"),
    }
