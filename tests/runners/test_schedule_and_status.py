"""``fulfilment schedule`` and ``fulfilment status`` as an operator runs
them: a real process stopped with SIGTERM, overdue workers in the status
and its exit code, and the ``[runner.schedule]`` table checked line by
line."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fulfilment.adapters.storage.sqlite import SQLiteSettings, SQLiteStorage
from fulfilment.core.errors import ConfigurationError
from fulfilment.runners.cli import main
from fulfilment.runners.config import load_config
from fulfilment.runners.plugins import Registry
from fulfilment.runners.scheduling import _still_due
from fulfilment.runners.wiring import build_app

CONFIG = """\
environment = "sandbox"

[storage]
backend = "sqlite"
path = "fulfilment.db"

[stores.shemsiworld]
channel = "shopify"
country = "MA"
currency = "MAD"

[stores.shemsiworld.source]
base_url = "http://127.0.0.1:9/shops/shemsiworld"
access_token = "shpat_schedule_tests"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "fulfilment.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def storage_of(config: Path) -> SQLiteStorage:
    return SQLiteStorage(SQLiteSettings(str(config.parent / "fulfilment.db")))


# --- schedule ----------------------------------------------------------------


def test_sigterm_stops_the_schedule_after_its_current_run(config: Path) -> None:
    process = subprocess.Popen(  # noqa: S603 - our own argument list
        [
            sys.executable,
            "-m",
            "fulfilment.runners.cli",
            "--config",
            str(config),
            "schedule",
            "create-fulfilment-requests",
            "--every",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first = process.stdout.readline()  # type: ignore[union-attr]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()

    assert first == "create-fulfilment-requests | nothing due\n"
    assert process.returncode == 0
    assert (first + out).splitlines()[-1] == "create-fulfilment-requests | nothing due"
    assert "schedule.stopped" in err
    assert "signalled=True" in err
    with sqlite3.connect(config.parent / "fulfilment.db") as conn:
        assert conn.execute("SELECT count(*) FROM leases").fetchone() == (0,)
        (ok,) = conn.execute(
            "SELECT ok FROM runs WHERE name = 'create-fulfilment-requests'"
        ).fetchone()
    assert ok == 1


def test_the_schedule_runs_only_what_the_shared_history_says_is_due(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = storage_of(config)
    # Another scheduler ran intake a minute ago: it is not due for 4 more.
    now = datetime.now(UTC)
    storage.runs.started("fetch-new-orders:shopify:shemsiworld", "r1", "other", now)
    storage.runs.finished(
        "fetch-new-orders:shopify:shemsiworld", "r1", now, True, "fetched=0"
    )
    storage.close()

    code = main(
        [
            "--config",
            str(config),
            "schedule",
            "fetch-new-orders",
            "cancel-bookings",
            "--times",
            "1",
            "--tick",
            "0.01",
        ]
    )

    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines == ["cancel-bookings | nothing due"]


# --- status ------------------------------------------------------------------


def test_status_reports_an_overdue_worker_and_exits_3(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = storage_of(config)
    now = datetime.now(UTC)
    hours_ago = now - timedelta(hours=3)
    storage.runs.started("notify-customers", "n1", "runner-a", hours_ago)
    storage.runs.finished("notify-customers", "n1", hours_ago, True, "")
    storage.runs.started("cancel-bookings", "c1", "runner-a", now)
    storage.runs.finished("cancel-bookings", "c1", now, True, "")
    storage.runs.started("discount-codes", "d1", "runner-a", now)
    storage.runs.finished("discount-codes", "d1", now, False, "error=down")
    storage.close()

    code = main(["--config", str(config), "status", "--json"])

    data = json.loads(capsys.readouterr().out)
    assert code == 3
    assert data["overdue"] == ["discount-codes", "notify-customers"]
    runs = {row["name"]: row for row in data["runs"]}
    assert runs["notify-customers"]["last_success_at"] == hours_ago.isoformat()
    assert runs["cancel-bookings"]["overdue"] is False
    assert runs["fetch-fx-rates"]["last_run_id"] is None
    assert runs["fetch-new-orders:shopify:shemsiworld"]["store"] == "shemsiworld"
    assert data["cursors"]["shemsiworld"]["watermark"] is None


def test_status_exits_0_when_nothing_is_overdue(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(config), "status"])

    out = capsys.readouterr().out
    assert code == 0
    assert "fetch-new-orders shemsiworld" in out
    assert "never ran" in out
    assert "OVERDUE" not in out


# --- configuration -----------------------------------------------------------


def test_a_schedule_table_is_checked_key_by_key(config: Path) -> None:
    config.write_text(
        CONFIG
        + """
[runner]
overdue_factor = 3

[runner.schedule]
fetch-new-orders = "5 minutes"
fetch-fx-rates = "daily 25:00"
notify-customers = 5
fetch-everything = "1m"
send-nps-form = "daily 09:00 Africa/Cairo"
"""
    )

    with pytest.raises(ConfigurationError) as raised:
        load_config(config, Registry.discover().adapters())

    lines = str(raised.value).splitlines()
    assert len(lines) == 4
    assert all(line.startswith(f"{config}: runner.schedule.") for line in lines)
    assert "runner.schedule.fetch-new-orders: '5 minutes' is not a schedule" in lines[0]
    assert "fetch-fx-rates: 'daily 25:00' is not a schedule" in lines[1]
    assert "notify-customers: expected a string" in lines[2]
    assert "fetch-everything: unknown worker" in lines[3]


def test_a_schedule_table_overrides_the_defaults(config: Path) -> None:
    config.write_text(
        CONFIG + '\n[runner.schedule]\nsend-nps-form = "daily 09:00 Africa/Cairo"\n'
    )

    runner = load_config(config, Registry.discover().adapters()).runner

    assert str(runner.schedule["send-nps-form"].zone) == "Africa/Cairo"
    assert runner.schedule["notify-customers"].seconds == 120
    assert runner.overdue_factor == 2


def test_since_goes_with_intake_alone(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["--config", str(config), "run", "cancel-bookings", "--since", "2026-11-01"]
    )

    assert code == 2
    assert "--since and --store go with fetch-new-orders alone" in (
        capsys.readouterr().err
    )


def test_a_backfill_names_a_known_store(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "--config",
            str(config),
            "run",
            "fetch-new-orders",
            "--since",
            "2026-11-01",
            "--store",
            "shemsi-mars",
        ]
    )

    assert code == 2
    assert "no store 'shemsi-mars'" in capsys.readouterr().err


def test_every_store_of_a_repeated_store_option_is_checked(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "--config",
            str(config),
            "run",
            "fetch-new-orders",
            "--store",
            "shemsi-mars",
            "--store",
            "shemsiworld",
        ]
    )

    assert code == 2
    assert "no store 'shemsi-mars'" in capsys.readouterr().err


def test_an_unreadable_since_is_a_usage_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(config), "run", "fetch-new-orders", "--since", "soon"])

    assert exit_.value.code == 2
    assert "expected a day like 2026-11-01" in capsys.readouterr().err


def test_a_since_in_the_future_is_a_usage_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["--config", str(config), "run", "fetch-new-orders", "--since", "2206-11-01"]
    )

    assert code == 2
    assert "--since 2206-11-01T00:00:00+00:00 is in the future" in (
        capsys.readouterr().err
    )
    assert storage_of(config).runs.last("fetch-new-orders:shopify:shemsiworld") is None


def test_a_run_another_scheduler_just_did_is_skipped_under_the_lease(
    config: Path,
) -> None:
    registry = Registry.discover()
    app = build_app(load_config(config, registry.adapters()), registry)
    try:
        now = app.clock.now()
        # Between this scheduler's look at the history and its lease, the
        # other one ran the worker.
        app.storage.runs.started("cancel-bookings", "r1", "other", now)
        app.storage.runs.finished("cancel-bookings", "r1", now, True, "")

        result = app.run(
            "cancel-bookings", still_due=_still_due(app, "cancel-bookings", None)
        )

        record = app.storage.runs.last("cancel-bookings")
        free = app.storage.leases.acquire("cancel-bookings", "third", now, 60)
    finally:
        app.close()
    assert result["skipped"] == "another runner just ran it"
    assert record is not None
    assert record.run_id == "r1"
    assert free
