"""The benchmarks (``python -m benchmarks``) run at a tiny size, so the
harness cannot rot between the runs that measure for real."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.__main__ import main
from benchmarks.harness import Sizes, open_stores
from benchmarks.idle import idle
from benchmarks.intake import api_limit, db_floor
from benchmarks.memory import peak_mb
from benchmarks.tracking import fan_out


def test_idle_workers_on_a_small_store_issue_a_handful_of_indexed_reads() -> None:
    with open_stores(["sqlite"]) as maker:
        figures = idle(maker, ["sqlite"], Sizes.tiny())

    assert len(figures) == 6
    assert all(f.met for f in figures), figures


def test_intake_round_trips_per_page_do_not_grow_with_the_page() -> None:
    with open_stores(["sqlite"]) as maker:
        figures = db_floor(maker, ["sqlite"], Sizes.tiny())

    trips = next(f for f in figures if f.name.endswith("round trips / page"))
    assert trips.met, trips
    assert 0 < trips.value <= 8


def test_backfill_paces_itself_from_the_bucket_without_being_throttled() -> None:
    with open_stores(["sqlite"]) as maker:
        figures = api_limit(maker, ["sqlite"], Sizes.tiny())

    throttled = [f for f in figures if f.name.endswith("throttled %")]
    assert [f.value for f in throttled] == [0.0, 0.0]
    shares = [f.value for f in figures if f.name.endswith("share of limit")]
    assert all(0 < share <= 1 for share in shares)


def test_tracking_makes_the_fewest_calls_the_batch_size_allows() -> None:
    with open_stores(["sqlite"]) as maker:
        figures = fan_out(maker, ["sqlite"], Sizes.tiny())

    calls = [f for f in figures if f.name.endswith("calls / fewest")]
    assert [(f.value, f.met) for f in calls] == [(1.0, True), (1.0, True)]


def test_a_backfill_reports_its_peak_memory_from_a_process_of_its_own() -> None:
    with open_stores(["sqlite"]) as maker:
        peak = peak_mb(maker, "sqlite", Sizes.tiny().memory_backlogs[0])

    assert 10 < peak < 1000


def test_the_command_line_writes_the_figures_as_json(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"

    code = main(
        ["--only", "idle", "--store", "sqlite", "--json", str(out)], Sizes.tiny()
    )

    written = json.loads(out.read_text(encoding="utf-8"))
    assert {f["store"] for f in written["figures"]} == {"sqlite"}
    assert code == 0
    assert written["sizes"]["idle_backlog"] == Sizes.tiny().idle_backlog
