"""Reference rates end to end: the command line, a configuration file and
the loopback ECB, Open Exchange Rates (official and market feeds) and
MetalpriceAPI simulators, one make-believe market behind them all.

A month is fetched, a rerun stores nothing, a few silent days are filled,
a source that is down leaves its days as they were and makes the run fail
loudly, and what was kept reads back through ``rates show`` and
``rates export``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fulfilment.core.clock import ManualClock, SystemClock
from fulfilment.runners.cli import main
from fulfilment.runners.config import load_config
from fulfilment.runners.plugins import Registry
from fulfilment.runners.sandbox.markets import lbp_market, usd_rates
from fulfilment.runners.sandbox.seed import seed_orders
from fulfilment.runners.sandbox.server import Fault
from fulfilment.runners.sandbox.world import SandboxWorld
from fulfilment.runners.toml_writer import dumps
from fulfilment.runners.wiring import App, build_app
from fulfilment.testing.builders import T0

# T0 is Monday 2 November 2026, 09:00 UTC: the ECB has not published yet.
TODAY = T0.date()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SandboxWorld]:
    sandbox = SandboxWorld(tmp_path / "sandbox", clock=ManualClock(T0))
    with sandbox:
        yield sandbox


@pytest.fixture
def config(world: SandboxWorld, tmp_path: Path) -> str:
    path = tmp_path / "fulfilment.toml"
    path.write_text(dumps(world.config(database=str(tmp_path / "db.sqlite3"))))
    return str(path)


def run(capsys: pytest.CaptureFixture[str], config: str, *args: str) -> tuple[int, Any]:
    code = main(["--config", config, *args])
    out = capsys.readouterr().out
    return code, out


@pytest.fixture
def app(world: SandboxWorld, config: str) -> Iterator[App]:
    """A runner on the world's clock (the command line keeps the
    machine's), for the runs that need time to pass."""
    registry = Registry.discover()
    runner = build_app(
        load_config(Path(config), registry.adapters()), registry, clock=world.clock
    )
    try:
        yield runner
    finally:
        runner.close()


def fetch(app: App) -> tuple[int, dict[str, Any]]:
    report = app.run("fetch-fx-rates")
    return (1 if report["failed_sources"] else 0), report


def test_a_month_is_fetched_then_a_rerun_stores_nothing(app: App) -> None:
    code, first = fetch(app)

    assert code == 0
    assert first["failed_sources"] == {}
    sources = first["sources"]
    start = (TODAY - timedelta(days=31)).isoformat()
    assert {name: s["from"] for name, s in sources.items()} == dict.fromkeys(
        ("ecb", "lbp-market", "metals", "oxr"), start
    )
    # Open Exchange Rates: every day of the month up to yesterday (today's
    # latest is stamped this hour), five currencies.
    assert sources["oxr"]["stored"] == 5 * sources["oxr"]["published_days"]
    # The ECB skips weekends; those are carried.
    assert sources["ecb"]["carried"] > 0

    code, again = fetch(app)
    assert code == 0
    assert {s["stored"] for s in again["sources"].values()} == {0}


def test_a_few_silent_days_are_filled_and_a_source_down_is_raised(
    capsys: pytest.CaptureFixture[str], config: str, world: SandboxWorld, app: App
) -> None:
    fetch(app)
    clock: ManualClock = world.clock  # type: ignore[assignment]
    clock.advance(timedelta(days=4))
    for _ in range(5):  # more than the adapter's retries
        world.simulators["metals"].faults.add("latest", Fault(status=503))
        world.simulators["metals"].faults.add("historical", Fault(status=503))

    code, report = fetch(app)

    assert code == 1
    assert list(report["failed_sources"]) == ["metals"]
    assert "503" in report["failed_sources"]["metals"]
    # The others filled the four days.
    oxr = report["sources"]["oxr"]
    assert oxr["stored"] == 5 * oxr["published_days"]
    assert oxr["published_days"] >= 4
    code, out = run(capsys, config, "attention", "list")
    assert "rates:metals" in out
    assert "rate_source_failed" in out

    # Metals back up: the gap is filled, the item resolved.
    world.simulators["metals"].faults.clear()
    code, report = fetch(app)
    assert code == 0
    assert report["sources"]["metals"]["stored"] >= 2 * 4
    code, out = run(capsys, config, "attention", "list")
    assert "rates:metals" not in out


def test_show_reads_the_market_back_with_metals_per_ounce_and_gram(
    capsys: pytest.CaptureFixture[str], config: str, app: App
) -> None:
    fetch(app)
    day = TODAY - timedelta(days=3)  # Friday: the ECB published

    code, out = run(
        capsys, config, "rates", "show", "--date", day.isoformat(), "--json"
    )

    assert code == 0
    board = json.loads(out)
    rates = {(r["currency"], r["rate_type"]): r for r in board["rates"]}
    market = usd_rates(day)
    assert Decimal(rates["MAD", "official"]["per_reporting"]) == market["MAD"]
    assert Decimal(rates["LBP", "market"]["per_reporting"]) == lbp_market(day)
    assert Decimal(rates["LBP", "official"]["per_reporting"]) == Decimal(89500)
    # The ECB's euro, five significant digits as it publishes, turned over.
    eur = Decimal(rates["EUR", "official"]["per_reporting"])
    assert abs(eur / market["EUR"] - 1) < Decimal("1e-4")
    gold = {m["metal"]: m for m in board["metals"]}["XAU"]
    per_ounce = Decimal(gold["per_ounce"])
    assert abs(per_ounce * market["XAU"] - 1) < Decimal("1e-9")
    assert abs(Decimal(gold["per_gram"]) * Decimal("31.1034768") / per_ounce - 1) < (
        Decimal("1e-9")
    )

    code, text = run(capsys, config, "rates", "show", "--date", day.isoformat())
    assert text.startswith(f"rates on {day.isoformat()}\n")
    assert "LBP       market" in text
    assert "USD/oz" in text


def test_export_writes_a_plot_friendly_history_with_carried_weekends(
    capsys: pytest.CaptureFixture[str], config: str, tmp_path: Path, app: App
) -> None:
    fetch(app)
    out = tmp_path / "eur.csv"
    # Friday 23 to Monday 26 October 2026.
    code, _ = run(
        capsys,
        config,
        "rates",
        "export",
        "eur",
        "--from",
        "2026-10-23",
        "--to",
        "2026-10-26",
        "--output",
        str(out),
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["day"], r["rate_day"], r["carried"]) for r in rows] == [
        ("2026-10-23", "2026-10-23", "no"),
        ("2026-10-24", "2026-10-23", "yes"),
        ("2026-10-25", "2026-10-23", "yes"),
        ("2026-10-26", "2026-10-26", "no"),
    ]
    assert rows[0]["rate"] == rows[1]["rate"] == rows[2]["rate"]
    assert {r["currency"] for r in rows} == {"EUR"}
    assert {r["against"] for r in rows} == {"USD"}


def test_export_leaves_out_days_without_a_rate_and_says_how_many(
    capsys: pytest.CaptureFixture[str], config: str, app: App
) -> None:
    fetch(app)
    start = TODAY - timedelta(days=40)
    code = main(
        [
            "--config",
            config,
            "rates",
            "export",
            "MAD",
            "--from",
            start.isoformat(),
            "--to",
            (TODAY - timedelta(days=25)).isoformat(),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    lines = captured.out.splitlines()
    assert lines[0] == "day,currency,against,rate,rate_day,carried,sources,type"
    first_kept = date.fromisoformat(lines[1].split(",")[0])
    assert first_kept == TODAY - timedelta(days=31)
    assert "9 day(s) without a rate left out" in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rates", "show", "--date", "2026-02-30"], "expected a day like"),
        (["rates", "export", "MADX"], "three-letter currency code"),
        (
            ["rates", "export", "MAD", "--from", "2026-11-02", "--to", "2026-11-01"],
            "--from 2026-11-02 is after --to 2026-11-01",
        ),
        (
            ["rates", "export", "QQQ"],
            "no source serves QQQ; the rates kept are of AED, EGP, EUR, GBP, LBP",
        ),
        (["rates", "export", "MAD", "--against", "KWD"], "no source serves KWD"),
    ],
)
def test_bad_arguments_are_usage_errors_without_a_traceback(
    capsys: pytest.CaptureFixture[str], config: str, args: list[str], message: str
) -> None:
    try:
        code = main(["--config", config, *args])
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("where", ["missing/rates.csv", "."])
def test_an_output_that_cannot_be_written_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], config: str, tmp_path: Path, where: str
) -> None:
    output = tmp_path / where

    code = main(["--config", config, "rates", "export", "MAD", "--output", str(output)])

    err = capsys.readouterr().err
    assert code == 2
    assert f"--output {output}: cannot write there (" in err
    assert "Traceback" not in err


def test_export_says_which_rate_type_each_line_rests_on(
    capsys: pytest.CaptureFixture[str], config: str, app: App
) -> None:
    fetch(app)
    days = ["--from", "2026-10-26", "--to", "2026-10-27"]

    code = main(["--config", config, "rates", "export", "MAD", "--market", *days])
    mad = capsys.readouterr()
    code_lbp = main(["--config", config, "rates", "export", "LBP", "--market", *days])
    lbp = capsys.readouterr()

    assert (code, code_lbp) == (0, 0)
    assert [line.rsplit(",", 1)[1] for line in mad.out.splitlines()[1:]] == [
        "official",
        "official",
    ]
    assert "no market rate is kept for MAD or USD; official rates exported" in mad.err
    assert [line.rsplit(",", 1)[1] for line in lbp.out.splitlines()[1:]] == [
        "market",
        "market",
    ]
    assert lbp.err == ""


def test_intake_stamps_orders_with_their_total_in_the_reporting_currency(
    capsys: pytest.CaptureFixture[str], config: str, world: SandboxWorld, app: App
) -> None:
    world.shopify.load_orders(seed_orders(world.clock.now()))
    fetch(app)
    clock: ManualClock = world.clock  # type: ignore[assignment]
    clock.advance(timedelta(minutes=5))  # past intake's lag
    app.run("fetch-new-orders")

    code, out = run(capsys, config, "orders", "list", "--json")
    assert code == 0
    orders = json.loads(out)
    stamped = [o for o in orders if o["reporting_total"] is not None]
    assert stamped, "no order was stamped"
    for view in stamped:
        stamp = view["reporting_total"]
        assert stamp["currency"] == "USD"
        placed = datetime.fromisoformat(view["placed_at"].replace("Z", "+00:00")).date()
        rate = Decimal(stamp["rate"])
        per_usd = usd_rates(date.fromisoformat(stamp["rate_day"]))[view["currency"]]
        assert abs(rate * per_usd - 1) < Decimal("1e-9")
        assert date.fromisoformat(stamp["rate_day"]) <= placed
        # The rate shown is rounded to ten digits; the amount was worked
        # out at full precision, then to the cent.
        expected = Decimal(view["total"]) / per_usd
        assert abs(Decimal(stamp["amount"]) - expected) <= Decimal("0.005")


def test_the_command_fails_loudly_when_a_source_is_down(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """On the machine's clock, as an operator runs it: exit status 1, the
    source named on the summary line, the others kept."""
    sandbox = SandboxWorld(tmp_path / "sandbox", clock=SystemClock())
    with sandbox:
        path = tmp_path / "fulfilment.toml"
        path.write_text(dumps(sandbox.config(database=str(tmp_path / "db.sqlite3"))))
        sandbox.simulators["ecb"].faults.add("hist-90d", *[Fault(status=503)] * 5)

        code = main(["--config", str(path), "run", "fetch-fx-rates"])

    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("fetch-fx-rates | ")
    assert "ecb: FAILED: ecb" in out
    assert "503" in out
    assert "oxr: " in out


def test_status_says_how_fresh_each_source_is(
    capsys: pytest.CaptureFixture[str], config: str, app: App
) -> None:
    code, out = run(capsys, config, "status", "--json")
    nothing = {"newest_day": None, "age_days": None}
    assert json.loads(out)["rates"] == {
        name: nothing for name in ("ecb", "lbp-market", "metals", "oxr")
    }
    fetch(app)

    code, out = run(capsys, config, "status", "--json")

    # The run was recorded on the world's clock, which may stand days
    # behind the machine's that status reads: then it is overdue (exit 3).
    overdue = json.loads(out)["overdue"]
    assert set(overdue) <= {"fetch-fx-rates"}
    assert code == (3 if overdue else 0)
    fresh = json.loads(out)["rates"]
    # The world's clock stands on Monday morning: the dollar feeds have
    # today, the ECB has Friday.
    assert fresh["oxr"]["newest_day"] == TODAY.isoformat()
    assert fresh["ecb"]["newest_day"] == (TODAY - timedelta(days=3)).isoformat()
    assert fresh["ecb"]["age_days"] - fresh["oxr"]["age_days"] == 3
