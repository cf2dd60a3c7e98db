"""The loopback HTTP server every partner simulator runs on.

A :class:`Simulator` is plain Python: it declares routes and keeps state in
a JSON-able dict.  :class:`SimServer` serves one on ``127.0.0.1`` on a free
port in a background thread.  Faults are injected per route, either from
Python (``sim.faults.add("CreateShipments", Fault(status=503))``) or over
HTTP (``POST /_sim/faults``), so a test or another process can make the
partner fail the way real ones do: an error status, a ``Retry-After``, a
slow answer, or a dropped connection after the work was done.

State is saved to ``<data_dir>/<name>.json`` after every change when the
simulator has a data directory, so a second run continues the same world.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

from fulfilment.core.clock import SystemClock
from fulfilment.core.ports import Clock

from ..logs import hide_query_credentials
from ..usage import UsageError

__all__ = [
    "Fault",
    "Faults",
    "SimRequest",
    "SimResponse",
    "SimServer",
    "Simulator",
    "route",
]

log = logging.getLogger(__name__)


@attrs.frozen
class SimRequest:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    params: Mapping[str, str] = attrs.field(factory=dict)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@attrs.frozen
class SimResponse:
    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json; charset=utf-8"

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


@attrs.frozen
class Fault:
    """One injected failure.  ``status`` answers with that status (and
    ``retry_after`` seconds, ``body``) without doing the work; ``delay``
    sleeps first; ``drop_after`` does the work, then closes the connection
    without answering, the worst case for a client."""

    status: int | None = None
    body: Any = None
    retry_after: float | None = None
    delay: float = 0.0
    drop_after: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        return cls(**{k: data[k] for k in attrs.fields_dict(cls) if k in data})


class Faults:
    """Queues of faults per route name; each fault fires once, in order."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = {}
        self._lock = threading.Lock()

    def add(self, route_name: str, *faults: Fault) -> None:
        with self._lock:
            self._queues.setdefault(route_name, deque()).extend(faults)

    def next(self, route_name: str) -> Fault | None:
        with self._lock:
            queue = self._queues.get(route_name)
            return queue.popleft() if queue else None

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()

    def pending(self) -> dict[str, int]:
        with self._lock:
            return {k: len(v) for k, v in self._queues.items() if v}


Handler = Callable[[Any, SimRequest], SimResponse]


def route(
    method: str, pattern: str, name: str | None = None
) -> Callable[[Handler], Handler]:
    """Mark a simulator method as the handler of ``method pattern``.  The
    pattern is a regular expression matched against the whole path, case
    insensitively; named groups become ``request.params``."""

    def mark(fn: Handler) -> Handler:
        fn._sim_route = (method.upper(), pattern, name or fn.__name__)  # type: ignore[attr-defined]
        return fn

    return mark


class Simulator:
    """Base class: routes, faults, a lock and persisted state."""

    name = "simulator"

    def __init__(
        self, *, data_dir: Path | None = None, clock: Clock | None = None
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        # Seconds every API answer takes, like a partner across the world;
        # answers wait in parallel, as they would on the partner's servers.
        self.latency = 0.0
        self.faults = Faults()
        self.lock = threading.RLock()
        self.data_dir = Path(data_dir) if data_dir else None
        self.requests: list[tuple[str, str]] = []
        self.state: dict[str, Any] = self.initial_state()
        if self.data_dir and self.state_path.exists():
            self.state = _read_state(self.state_path)
        self._routes = [
            (m, re.compile(p, re.IGNORECASE), n, getattr(self, attr))
            for attr in dir(type(self))
            if (marker := getattr(getattr(type(self), attr), "_sim_route", None))
            for m, p, n in [marker]
        ]

    @property
    def state_path(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / f"{self.name}.json"

    def initial_state(self) -> dict[str, Any]:
        return {}

    def reset(self) -> None:
        """An empty world: initial state, no recorded requests, no faults
        (tests share one server per module and reset it per test)."""
        with self.lock:
            self.state = self.initial_state()
            self.requests.clear()
            self.faults.clear()

    def save(self) -> None:
        """Persist state atomically when there is a data directory."""
        if self.data_dir is None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, ensure_ascii=False, indent=1), "utf-8")
        os.replace(tmp, self.state_path)

    def dispatch(self, request: SimRequest) -> tuple[SimResponse, Fault | None]:
        if request.path.startswith("/_sim/"):
            return self._control(request), None
        for method, pattern, name, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                fault = self.faults.next(name)
                with self.lock:
                    self.requests.append((name, request.path))
                if self.latency > 0:
                    time.sleep(self.latency)
                if fault and fault.delay:
                    time.sleep(fault.delay)
                if fault and fault.status is not None:
                    return _fault_response(fault), fault
                bound = attrs.evolve(request, params=match.groupdict())
                with self.lock:
                    response = handler(bound)
                    self.save()
                return response, fault
        return SimResponse(
            404, {"errors": f"no route for {request.method} {request.path}"}
        ), None

    def _control(self, request: SimRequest) -> SimResponse:
        if request.path == "/_sim/faults" and request.method == "POST":
            data = request.json() or {}
            self.faults.add(
                data["route"], *(Fault.from_json(f) for f in data["faults"])
            )
            return SimResponse(200, {"pending": self.faults.pending()})
        if request.path == "/_sim/state" and request.method == "GET":
            with self.lock:
                return SimResponse(200, self.state)
        return SimResponse(404, {"errors": "unknown control path"})


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(
            f"{path}: simulator state cannot be read ({error}); remove the "
            "sandbox folder to start a new world"
        ) from error
    if not isinstance(state, dict):
        raise UsageError(f"{path}: simulator state is not a JSON object")
    return state


def _fault_response(fault: Fault) -> SimResponse:
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    body = fault.body if fault.body is not None else {"errors": "injected fault"}
    return SimResponse(fault.status or 500, body, headers)


class _Handler(BaseHTTPRequestHandler):
    simulator: Simulator
    protocol_version = "HTTP/1.1"
    # Headers and body are written separately; without this, Nagle's
    # algorithm adds ~40 ms to every request on a kept-alive connection.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = SimRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            response, fault = self.simulator.dispatch(request)
        except Exception as error:  # a simulator bug must not hang the client
            log.exception("sandbox.handler_failed sim=%s", self.simulator.name)
            response, fault = SimResponse(500, {"errors": repr(error)}), None
        if fault is not None and fault.drop_after:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        payload = response.encode()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    # The method names are fixed by http.server.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        # The request line carries the client's query, keys included: a
        # simulator's log is ours, and ours masks at the source.
        line = hide_query_credentials(format % args)
        log.debug("sandbox.request sim=%s %s", self.simulator.name, line)


class SimServer:
    """Serve a simulator on 127.0.0.1 in a background thread."""

    def __init__(self, simulator: Simulator, port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"simulator": simulator})
        self.simulator = simulator
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sim-{simulator.name}",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SimServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
