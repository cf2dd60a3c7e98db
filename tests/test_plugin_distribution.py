"""The done-when test of the plugin story: a fresh virtual environment with
the library and examples/fulfilment-bosta installed from this checkout
(real installs, not editable) books Egyptian orders through the plugin,
with nothing changed in the library and only the store's partner selected
in the configuration.

The new environment gets the library's dependencies from the test
interpreter's site-packages through a path file (so nothing is downloaded
again), but none of its ``fulfilment`` distributions: the library and the
plugin it runs are the ones this test installs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "support" / "bosta_sandbox_run.py"
# What the test interpreter holds that the new environment must not share:
# this checkout (editable) and the example plugins.
OURS = ("fulfilment", "__editable__", "_fulfilment", "distutils-precedence")


def share_dependencies(venv: Path, folder: Path) -> None:
    """Link every installed distribution but ours into *folder* and put it
    on the new environment's path."""
    folder.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(OURS) and not entry.name.endswith(".pth"):
            (folder / entry.name).symlink_to(entry)
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "shared-dependencies.pth").write_text(f"{folder}\n")


def run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run(  # noqa: S603 (our interpreters, our checkout)
        [str(part) for part in command],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("fresh")
    venv = home / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=home)
    share_dependencies(venv, home / "dependencies")
    python = venv / "bin" / "python"
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-deps",
        ROOT,
        ROOT / "examples" / "fulfilment-bosta",
        cwd=home,
    )
    return dict(json.loads(run(python, SCRIPT, home, cwd=home)))


def test_the_fresh_environment_runs_its_own_installed_library(
    outcome: dict[str, Any],
) -> None:
    assert "/venv/lib/" in outcome["library"]
    assert not outcome["library"].startswith(str(ROOT))


def test_the_plugin_is_found_through_its_entry_point_alone(
    outcome: dict[str, Any],
) -> None:
    rows = outcome["plugins"]["adapters"]
    partners = {r["name"]: r["source"] for r in rows if r["kind"] == "delivery partner"}

    assert partners == {
        "aramex": "built-in",
        "flextock": "built-in",
        "farfill": "built-in",
        "bosta": "fulfilment-bosta 0.1.0",
    }
    assert outcome["plugins"]["failures"] == []


def test_egyptian_orders_are_booked_with_bosta(outcome: dict[str, Any]) -> None:
    status, stdout, stderr = outcome["run"]
    fetched, booking = json.loads(stdout)

    booked = [o for o in outcome["orders"] if o["state"] == "booked"]
    assert status == 0, stderr
    assert fetched["worker"] == "fetch-new-orders"
    assert booking["booked_by_partner"] == {"bosta": len(booked)}
    assert len(booked) >= 3
    assert {o["partner"] for o in booked} == {"bosta"}


def test_every_booking_is_a_delivery_at_the_simulated_bosta(
    outcome: dict[str, Any],
) -> None:
    deliveries = outcome["deliveries"]

    booked = {
        o["partner_reference"]: o for o in outcome["orders"] if o["state"] == "booked"
    }
    assert set(booked) == set(deliveries)
    for number, order in booked.items():
        body = deliveries[number]["body"]
        external_id = order["key"].rsplit(":", 1)[1]
        assert body["businessReference"] == f"shemsi-egypt-{external_id}"
        assert body["receiver"]["phone"].startswith("01")
        expected_cod = float(order["cod_amount"]) if order["cod_amount"] else 0
        assert body["cod"] == expected_cod
