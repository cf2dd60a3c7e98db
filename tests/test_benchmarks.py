"""The benchmarks (``python -m benchmarks``) run at a tiny size, so the
harness cannot rot between the runs that measure for real."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.__main__ import main
from benchmarks.harness import Sizes, open_stores
from benchmarks.idle import idle
from benchmarks.intake import api_limit, db_floor


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


def test_the_command_line_writes_the_figures_as_json(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"

    main(["--quick", "--only", "idle", "--store", "sqlite", "--json", str(out)])

    written = json.loads(out.read_text(encoding="utf-8"))
    assert {f["store"] for f in written["figures"]} == {"sqlite"}
    assert written["sizes"]["idle_backlog"] == Sizes.quick().idle_backlog
