"""Session fixtures every test folder may use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from tests.support.mongo import MongoServer, mongo_server


@pytest.fixture(scope="session")
def mongo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """A MongoDB wire-protocol server for the session (see tests/support)."""
    with mongo_server(tmp_path_factory.mktemp("mongo")) as server:
        yield server


@pytest.fixture(scope="session")
def mongo_client(mongo: MongoServer) -> Iterator[MongoClient[dict[str, Any]]]:
    """A timezone-aware client of the session's server.  Tests create
    databases whose names start with ``mongo.database_prefix``."""
    with mongo.client() as client:
        yield client
