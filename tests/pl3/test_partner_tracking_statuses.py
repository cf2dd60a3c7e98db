"""The partners' status tables, kept as data in ``statuses.toml``: every row
names a real status, the choices that matter hold, and unknown codes stay
unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

from fulfilment.adapters.pl3._cities import canonical_city
from fulfilment.adapters.pl3._statuses import (
    StatusTable,
    load_status_tables,
    normalise_code,
)
from fulfilment.adapters.pl3.aramex import mapping as aramex
from fulfilment.adapters.pl3.farfill import wire as farfill
from fulfilment.adapters.pl3.flextock import wire as flextock
from fulfilment.core.domain import TrackingStatus

PACKAGES = {
    "aramex": "fulfilment.adapters.pl3.aramex",
    "flextock": "fulfilment.adapters.pl3.flextock",
    "farfill": "fulfilment.adapters.pl3.farfill",
}
S = TrackingStatus
ROWS = [
    (partner, name, code)
    for partner, package in PACKAGES.items()
    for name, table in load_status_tables(package).items()
    for code in table
]


@pytest.mark.parametrize(
    ("partner", "table", "code"), ROWS, ids=[f"{p}:{c}" for p, _, c in ROWS]
)
def test_every_row_maps_to_a_real_status_or_keeps_one(
    partner: str, table: str, code: str
) -> None:
    found = load_status_tables(PACKAGES[partner])[table]

    assert code in found
    status = found.get(code)
    assert status is None or isinstance(status, TrackingStatus)


@pytest.mark.parametrize("package", PACKAGES.values())
def test_no_code_is_listed_twice_once_normalised(package: str) -> None:
    for table in load_status_tables(package).values():
        normalised = [normalise_code(code) for code in table]
        assert len(normalised) == len(set(normalised))


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("SH014", S.CREATED),
        ("SH203", S.CREATED),
        ("SH012", S.PICKED_UP),
        ("SH001", S.IN_TRANSIT),  # not "created", whatever some clients say
        ("SH160", S.IN_TRANSIT),
        ("SH007", S.IN_TRANSIT),  # postal last mile, not a return
        ("SH273", S.IN_TRANSIT),  # an appointment, not a courier on the road
        ("SH239", S.IN_TRANSIT),  # charges paid proves nothing on its own
        ("SH003", S.OUT_FOR_DELIVERY),
        ("SH004", S.OUT_FOR_DELIVERY),
        ("SH005", S.DELIVERED),
        ("SH006", S.DELIVERED),  # collected at the counter, not returned
        ("SH154", S.DELIVERED),  # partial, still with the customer
        ("SH234", S.DELIVERED),
        ("SH496", S.DELIVERED),
        ("SH008", S.ON_HOLD),
        ("SH164", S.ON_HOLD),
        ("SH294", S.DELIVERY_FAILED),
        ("SH515", S.DELIVERY_FAILED),
        ("SH375", S.DELIVERY_FAILED),
        ("SH043", S.DELIVERY_FAILED),
        ("SH033", S.DELIVERY_FAILED),
        ("SH044", S.DELIVERY_FAILED),
        ("SH076", S.DELIVERY_FAILED),
        ("SH498", S.RETURN_TO_SENDER),
        ("SH474", S.RETURN_TO_SENDER),
        ("SH069", S.RETURNED),
        ("SH407", S.RETURNED),
        ("SH559", S.RETURNED),
    ],
)
def test_aramex_codes_map_as_reference_a7_reads(code: str, expected: S) -> None:
    assert aramex.status_table().status(code) is expected


def test_codes_match_whatever_their_case_and_spacing() -> None:
    table = aramex.status_table()

    assert table.status(" sh005 ") is S.DELIVERED
    assert flextock.tracking_status("  PICKED   BY driver ") is S.PICKED_UP
    assert farfill.tracking_status("Delivery_Complete") is S.DELIVERED


@pytest.mark.parametrize(
    "table",
    [
        aramex.status_table(),
        flextock.status_tables().order_status,
        farfill.status_table(),
    ],
    ids=["aramex", "flextock", "farfill"],
)
def test_an_unknown_code_is_unknown(table: StatusTable) -> None:
    assert "SH999" not in table
    assert table.get("SH999") is None
    assert table.status("SH999") is S.UNKNOWN
    assert table.status(None) is S.UNKNOWN


def test_a_keep_row_is_known_but_has_no_status_of_its_own() -> None:
    subs = flextock.status_tables().order_sub_status

    assert "rescheduled" in subs
    assert subs.get("rescheduled") is None
    assert flextock.tracking_status("returning", "rescheduled") is S.RETURN_TO_SENDER


def test_every_quiqup_state_is_in_farfills_table() -> None:
    states = {
        "pending",
        "scheduled",
        "ready_for_collection",
        "collected",
        "at_depot",
        "received_at_depot",
        "out_for_delivery",
        "delivery_complete",
        "delivery_failed",
        "on_hold",
        "return_to_origin",
        "returned_to_origin",
        "cancelled",
    }

    assert set(farfill.status_table()) == states


def test_a_row_that_names_no_status_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "fake_partner"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "statuses.toml").write_text('[codes]\nX1 = "created"\nX2 = "lost"\n')
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(ValueError, match=r"\[codes\] X2 = 'lost'"):
        load_status_tables("fake_partner")


@pytest.mark.parametrize(
    ("typed", "listed"),
    [
        ("القاهرة", "Cairo"),
        ("Le Caire", "Cairo"),
        ("Dubaï", "Dubai"),
        ("\u200fالرباط\u200f", "Rabat"),
        ("  Fès ", "Fes"),
        ("Atlantis", "Atlantis"),
    ],
)
def test_cities_are_spelled_as_the_partners_list_them(typed: str, listed: str) -> None:
    assert canonical_city(typed) == listed
