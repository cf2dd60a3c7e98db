"""The production runner: a lease per worker and store that a live run
renews and a dead runner's lapses, a run history the schedulers share, one
summary line per run, a schedule loop that outlives a failing worker, and
backfills that show how far they have read.

Runners are wired from a sandbox configuration on SQLite against the
loopback simulators, as an operator's would be."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fulfilment.adapters.storage.memory import MemoryLeaseStore
from fulfilment.core.clock import ManualClock, SystemClock
from fulfilment.core.masking import mask_text
from fulfilment.runners.cli import main
from fulfilment.runners.config import load_config
from fulfilment.runners.heartbeat import Heartbeat
from fulfilment.runners.plugins import Registry
from fulfilment.runners.progress import Progress
from fulfilment.runners.sandbox.seed import seed_orders
from fulfilment.runners.sandbox.world import SandboxWorld
from fulfilment.runners.scheduling import run_schedule
from fulfilment.runners.toml_writer import dumps
from fulfilment.runners.wiring import App, build_app, default_http_client, new_run_id
from fulfilment.testing.builders import T0

MA = "fetch-new-orders:shopify:shemsiworld"
EG = "fetch-new-orders:shopify:shemsi-egypt"
BOOKING = "create-fulfilment-requests"
HttpClient = Callable[[str, float], httpx.Client]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SandboxWorld]:
    registry = Registry.discover()
    world = SandboxWorld(tmp_path / "sandbox", registry=registry, clock=ManualClock(T0))
    world.shopify.load_orders(seed_orders(T0))
    with world:
        yield world


@pytest.fixture
def live_world(tmp_path: Path) -> Iterator[SandboxWorld]:
    """The simulators on the system clock, for a scheduler on it."""
    world = SandboxWorld(tmp_path / "live", registry=Registry.discover())
    world.shopify.load_orders(seed_orders(world.clock.now()))
    with world:
        yield world


def runner(
    world: SandboxWorld,
    folder: Path,
    *,
    http_client: HttpClient | None = None,
    clock: Any = None,
) -> App:
    registry = Registry.discover()
    data = world.config()
    data["environment"] = "sandbox"
    data["storage"] = {"backend": "sqlite", "path": str(folder / "runs.sqlite3")}
    data["retry"] = {"attempts": 1, "initial_wait_seconds": 0}
    path = folder / "fulfilment.toml"
    path.write_text(dumps(data))
    config = load_config(path, registry.adapters())
    return build_app(
        config, registry, clock=clock or world.clock, http_client=http_client
    )


@pytest.fixture
def app(world: SandboxWorld, tmp_path: Path) -> Iterator[App]:
    built = runner(world, tmp_path)
    yield built
    built.close()


# --- leases per worker and store ---------------------------------------------


def test_intake_leases_each_store_on_its_own(app: App) -> None:
    app.storage.leases.acquire(MA, "another-runner", app.clock.now(), 600)

    result = app.run("fetch-new-orders")

    stores = result["stores"]
    assert stores["shemsiworld"] == {"skipped": "another runner holds the lease"}
    assert stores["shemsi-egypt"]["fetched"] > 0
    assert stores["shemsi-egypt"]["run_id"] == app.storage.runs.last(EG).run_id  # type: ignore[union-attr]
    assert app.storage.runs.last(MA) is None
    assert app.storage.leases.acquire(EG, "another-runner", app.clock.now(), 1)


def test_a_dead_runners_lease_lapses_and_another_runner_takes_over(
    app: App,
) -> None:
    clock = app.clock
    assert isinstance(clock, ManualClock)
    ttl = app.config.runner.lease_minutes * 60
    app.storage.leases.acquire(BOOKING, "crashed-runner", clock.now(), ttl)

    held = app.run(BOOKING)
    clock.advance(timedelta(seconds=ttl + 1))
    taken_over = app.run(BOOKING)

    assert held["skipped"] == "another runner holds the lease"
    assert "run_id" in taken_over
    record = app.storage.runs.last(BOOKING)
    assert record is not None
    assert (record.run_id, record.owner, record.ok) == (
        taken_over["run_id"],
        app.owner,
        True,
    )
    assert app.storage.leases.acquire(BOOKING, "third-runner", clock.now(), 60)


def test_a_heartbeat_keeps_a_long_run_s_lease() -> None:
    leases, clock = MemoryLeaseStore(), ManualClock(T0)
    leases.acquire(BOOKING, "runner-a", T0, 60)

    with Heartbeat(
        leases, BOOKING, "runner-a", clock=clock, ttl_seconds=60, every=0.01
    ) as beat:
        clock.advance(timedelta(seconds=50))
        time.sleep(0.1)

    assert not beat.lost
    assert not leases.acquire(BOOKING, "runner-b", T0 + timedelta(seconds=100), 60)


def test_a_run_whose_lease_was_taken_is_reported_lease_lost(
    world: SandboxWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder: list[App] = []

    def steal(request: httpx.Request) -> None:
        # The run stalls past its lease and another runner takes it over.
        app = holder[0]
        if app.storage.leases.acquire(MA, "runner-b", app.clock.now(), 1):
            return
        ttl = app.config.runner.lease_minutes * 60
        app.clock.advance(timedelta(seconds=ttl + 1))  # type: ignore[attr-defined]
        app.storage.leases.acquire(MA, "runner-b", app.clock.now(), ttl)
        time.sleep(0.2)

    def client(base_url: str, timeout: float) -> httpx.Client:
        made = default_http_client(base_url, timeout)
        made.event_hooks["request"].append(steal)
        return made

    app = runner(world, tmp_path, http_client=client)
    app.heartbeat_seconds = 0.02
    holder.append(app)
    try:
        with caplog.at_level(logging.INFO):
            result = app.run("fetch-new-orders", stores=["shemsiworld"])
        record = app.storage.runs.last(MA)
    finally:
        app.close()

    assert result["stores"]["shemsiworld"]["lease_lost"] is True
    assert record is not None
    assert record.ok is False
    lost = [r for r in caplog.records if r.getMessage().startswith("worker.lease_lost")]
    assert lost
    assert lost[0].levelno == logging.ERROR


# --- run history and summary lines -------------------------------------------


def test_each_run_has_one_summary_line_with_its_run_id(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        intake = app.run("fetch-new-orders")
        booking = app.run(BOOKING)

    lines = [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith("worker.finished ")
    ]
    assert len(lines) == len(intake["stores"]) + 1
    egypt = next(line for line in lines if " store=shemsi-egypt " in line)
    assert f"run_id={intake['stores']['shemsi-egypt']['run_id']}" in egypt
    assert "fetched=" in egypt
    assert "duration_seconds=" in egypt
    assert f"run_id={booking['run_id']}" in lines[-1]
    assert "outcomes_booked=" in lines[-1]
    record = app.storage.runs.last(BOOKING)
    assert record is not None
    assert f"run_id={booking['run_id']}" in record.summary


# --- the schedule loop -------------------------------------------------------


def test_the_loop_survives_a_failing_worker_and_retries_it(
    live_world: SandboxWorld, tmp_path: Path
) -> None:
    calls = {"n": 0}

    def first_call_breaks(request: httpx.Request) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the store's load balancer reset the stream")

    def client(base_url: str, timeout: float) -> httpx.Client:
        made = default_http_client(base_url, timeout)
        made.event_hooks["request"].append(first_call_breaks)
        return made

    app = runner(live_world, tmp_path, http_client=client, clock=SystemClock())
    reports: list[dict[str, Any]] = []
    try:
        done = run_schedule(
            app,
            ["fetch-new-orders"],
            stop=threading.Event(),
            emit=reports.append,
            every=0.05,
            times=2,
            tick=0.05,
        )
        records = {r.name: r for r in app.storage.runs.all()}
    finally:
        app.close()

    broken = reports[0]["failed_stores"]
    assert len(broken) == 1
    assert "load balancer" in reports[0]["stores"][broken[0]]["error"]
    assert len(reports[0]["stores"]) == len(app.sources)
    assert reports[1]["failed_stores"] == []
    assert (done.runs, done.failures) == (2, 1)
    assert all(r.ok for r in records.values())
    assert len(records) == len(app.sources)


# --- backfill ----------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_backfill_rereads_without_losing_or_moving_the_watermark_back(
    app: App,
) -> None:
    app.run("fetch-new-orders", stores=["shemsiworld"])
    watermark = app.storage.cursors.get(MA)
    kept = {o.key: o.revision for o in app.storage.orders.list(store="shemsiworld")}
    lines = io.StringIO()

    result = app.run(
        "fetch-new-orders",
        stores=["shemsiworld"],
        since=T0 - timedelta(days=90),
        progress=Progress(lines, every=0),
    )

    store = result["stores"]["shemsiworld"]
    assert store["fetched"] == len(kept)
    assert store["ingested"] == 0
    assert {
        o.key: o.revision for o in app.storage.orders.list(store="shemsiworld")
    } == kept
    assert app.storage.cursors.get(MA) == watermark
    shown = lines.getvalue().splitlines()
    assert shown
    assert all(line.startswith("backfill store=shemsiworld") for line in shown)
    assert f"orders={len(kept)}" in shown[-1]


def test_a_backfill_on_a_terminal_draws_a_bar(app: App) -> None:
    screen = Terminal()
    progress = Progress(screen)

    app.run(
        "fetch-new-orders",
        stores=["shemsi-egypt"],
        since=T0 - timedelta(days=45),
        progress=progress,
    )
    progress.done()

    drawn = screen.getvalue()
    assert drawn.startswith("\rshemsi-egypt [")
    assert drawn.endswith("\n")
    assert "orders=" in drawn
    assert "pages=" in drawn
    assert "/s" in drawn


# --- the summary line in both log formats ------------------------------------


def test_a_run_id_never_reads_as_a_phone_number_in_the_logs() -> None:
    # A hex id opening with "00" and digits is masked like a phone: the
    # summary line would lose the id it exists to carry.
    assert mask_text("run_id=00123456789a") != "run_id=00123456789a"
    ids = [new_run_id() for _ in range(5000)]

    assert all(len(i) == 12 and i.isalnum() for i in ids)
    assert all(mask_text(f"run_id={i} ") == f"run_id={i} " for i in ids)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_run_from_the_command_line_logs_one_summary_line_per_run(
    live_world: SandboxWorld,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    log_format: str,
) -> None:
    runner(live_world, tmp_path).close()  # writes fulfilment.toml
    config = str(tmp_path / "fulfilment.toml")

    code = main(
        ["--config", config, "--log-format", log_format, "run", "fetch-new-orders"]
    )

    err = capsys.readouterr().err.splitlines()
    summaries = [line for line in err if "worker.finished" in line]
    assert code == 0
    assert len(summaries) == len(live_world.config()["stores"])
    if log_format == "json":
        fields = [json.loads(line) for line in summaries]
        assert {f["store"] for f in fields} == set(live_world.config()["stores"])
        assert all(len(f["run_id"]) == 12 for f in fields)
        assert all(isinstance(f["fetched"], int) for f in fields)
        assert all("duration_seconds" in f for f in fields)
    else:
        assert all(re.search(r" store=\S+ run_id=\w{12} ", s) for s in summaries)
    assert not any(re.search(r"[\w.+-]+@[\w-]+\.\w+|\+\d{9,}", line) for line in err)
    assert "shpat_" not in "\n".join(err)
