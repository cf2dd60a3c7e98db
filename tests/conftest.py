"""Session fixtures every test folder may use."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from pymongo import MongoClient

from fulfilment.runners.logs import Redactor
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


# Loggers whose level ``configure_logging`` sets for the whole process.
_CONFIGURED = ("", "httpx", "mail.log")


@pytest.fixture(autouse=True)
def _logging_as_found() -> Iterator[None]:
    """A command run in a test configures logging for the process: a root
    handler with the redactor, httpx quieted.  Each test gets logging back
    as it found it, so what one test reads of a log does not depend on
    which commands ran before it."""
    levels = {name: logging.getLogger(name).level for name in _CONFIGURED}
    yield
    root = logging.getLogger()
    for handler in root.handlers[:]:
        if any(isinstance(f, Redactor) for f in handler.filters):
            root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
