"""A MongoDB wire-protocol server for the tests.

When ``MONGODB_URI`` is set the tests use that server (a real ``mongod``),
each in databases named with a per-session prefix that are dropped at the
end.  Otherwise :func:`mongo_server` starts SecantusDB (``secantusd-py``,
in-memory WiredTiger storage) on a free loopback port and stops it after.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
from pymongo import MongoClient
from pymongo.errors import PyMongoError

__all__ = ["MongoServer", "mongo_server"]

STARTUP_TIMEOUT = 30.0


@attrs.frozen
class MongoServer:
    """Where the test server listens and the prefix of the databases the
    session may create (and drops)."""

    uri: str
    database_prefix: str

    def client(self, **options: Any) -> MongoClient[dict[str, Any]]:
        """A new timezone-aware client; the caller closes it."""
        return MongoClient(self.uri, tz_aware=True, **options)


@contextmanager
def mongo_server(workdir: Path) -> Iterator[MongoServer]:
    """The session's server: ``MONGODB_URI`` if set, else SecantusDB."""
    prefix = f"fulfilment_test_{uuid.uuid4().hex[:8]}"
    external = os.environ.get("MONGODB_URI")
    if external:
        server = MongoServer(external, prefix)
        try:
            yield server
        finally:
            _drop_databases(server)
        return
    with _secantus(workdir) as uri:
        yield MongoServer(uri, prefix)


def _drop_databases(server: MongoServer) -> None:
    with server.client() as client:
        for name in client.list_database_names():
            if name.startswith(server.database_prefix):
                client.drop_database(name)


@contextmanager
def _secantus(workdir: Path) -> Iterator[str]:
    process, uri = _start_secantus(workdir)
    try:
        yield uri
    finally:
        _stop(process)


def _start_secantus(
    workdir: Path, attempts: int = 3
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server on a free port.  Another process may take the port
    between our probe and the server's bind, so a failed start is retried."""
    # An empty configuration file turns off the search for one in the
    # working and home directories, so nothing on the machine changes it.
    config = workdir / "secantusd.toml"
    config.write_text("")
    for attempt in range(1, attempts + 1):
        port = _free_port()
        log_path = workdir / f"secantusd-{attempt}.log"
        process = _launch(config, port, log_path)
        uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        try:
            _wait_until_ready(uri, process, log_path)
        except ServerExitedError:
            if attempt == attempts:
                raise
            continue
        return process, uri
    raise AssertionError("unreachable")


class ServerExitedError(RuntimeError):
    """The server stopped before it answered."""


def _launch(config: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    command = [
        _executable(),
        "--config", str(config),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--storage-path", ":memory:",
        "--log-level", "WARNING",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        return subprocess.Popen(  # noqa: S603 - our own argument list
            command, cwd=config.parent, stdout=log, stderr=subprocess.STDOUT
        )


def _executable() -> str:
    beside_python = Path(sys.executable).with_name("secantusd-py")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("secantusd-py")
    if found is None:
        raise RuntimeError("secantusd-py is not installed (pip install secantusdb)")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_ready(
    uri: str, process: subprocess.Popen[bytes], log_path: Path
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerExitedError(
                f"secantusd-py exited with {process.returncode}:\n"
                f"{log_path.read_text(errors='replace')}"
            )
        if _pings(uri):
            return
        time.sleep(0.1)
    _stop(process)
    raise RuntimeError(f"secantusd-py did not answer within {STARTUP_TIMEOUT}s")


def _pings(uri: str) -> bool:
    try:
        with MongoClient(uri, serverSelectionTimeoutMS=250) as client:
            client.admin.command("ping")
    except PyMongoError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
