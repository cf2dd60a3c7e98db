"""Session fixtures every test folder may use."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from pymongo import MongoClient

from tests.support.mongo import MongoServer, mongo_server

# Property tests run a CI-sized number of examples by default; --slow (or
# HYPOTHESIS_PROFILE=soak) runs the long searches.
# Speed health checks are left out: a loaded 2-core CI machine makes them
# fail a run that found nothing wrong.
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "soak",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow",
        action="store_true",
        help="run long property searches and soak tests",
    )


def pytest_configure(config: pytest.Config) -> None:
    profile = "soak" if config.getoption("--slow") else "ci"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", profile))


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="soak test: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


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
