"""`fulfilment demo` end to end on the loopback simulators."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import date, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fulfilment.runners.cli import main
from fulfilment.runners.sandbox.seed import seed_orders
from fulfilment.runners.sandbox.world import SandboxWorld, ports_of
from fulfilment.runners.usage import UsageError
from fulfilment.runners.wiring import WORKERS
from fulfilment.testing.builders import T0
from tests.runners.conftest import DemoRun

CAIRO = ZoneInfo("Africa/Cairo")


def demo(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["demo", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def shipments(folder: Path) -> dict[str, int]:
    sandbox = folder / "sandbox"
    aramex = json.loads((sandbox / "aramex.json").read_text())
    flextock = json.loads((sandbox / "flextock.json").read_text())
    farfill = json.loads((sandbox / "farfill.json").read_text())
    return {
        "aramex": len(aramex["shipments"]),
        "flextock": len(flextock["orders"]),
        "farfill": len(farfill["orders"]),
    }


@pytest.fixture(scope="module")
def first_run(demo_run: DemoRun) -> tuple[Path, dict[str, Any]]:
    # The session's one demo run (tests/runners/conftest.py), at DEBUG.
    assert demo_run.exit_code == 0
    return demo_run.folder, demo_run.summary


def test_the_demo_books_with_all_three_partners(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    _, summary = first_run

    assert set(summary["bookings"]["by_partner"]) == {"aramex", "flextock", "farfill"}
    assert all(n > 0 for n in summary["bookings"]["by_partner"].values())
    assert summary["orders"]["ingested"] == summary["orders"]["total"] > 0
    assert set(summary["orders"]["by_store"]) == {
        "shemsiworld",
        "shemsi-egypt",
        "shemsi-uae",
        "shemsi-lebanon",
        "amazon-ae",
        "amazon-eg",
        "amazon-sa",
    }


def test_amazon_orders_are_booked_like_shopify_ones_and_never_messaged(
    first_run: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Merchant-fulfilled Amazon orders from the UAE and Egypt go to the
    same partners as the Shopify stores there; orders Amazon ships are kept
    and never booked, with nothing for a person; no Amazon buyer gets an
    SMS, an e-mail or a survey."""
    folder, summary = first_run
    config = str(folder / "fulfilment.toml")

    assert main(["--config", config, "orders", "list", "--json"]) == 0
    orders = {
        o["key"]: o
        for o in json.loads(capsys.readouterr().out)
        if o["channel"] == "amazon"
    }
    booked = {
        (o["store"], o["partner"]) for o in orders.values() if o["partner_reference"]
    }
    assert booked == {("amazon-ae", "farfill"), ("amazon-eg", "flextock")}
    elsewhere = [
        o for o in orders.values() if o["hold_reason"] == "fulfilled_elsewhere"
    ]
    assert {o["store"] for o in elsewhere} == {"amazon-ae", "amazon-eg"}
    assert all(o["partner_reference"] is None for o in elsewhere)
    assert [o["state"] for o in orders.values() if o["store"] == "amazon-sa"] == [
        "on_hold"
    ]
    attention = {item["subject"] for item in summary["attention"]}
    assert not {o["key"] for o in elsewhere} & attention
    # Every booked Amazon parcel moved, and nobody was told by us.
    assert (
        main(
            [
                "--config",
                config,
                "orders",
                "show",
                next(iter(k for k, o in orders.items() if o["partner_reference"])),
                "--json",
            ]
        )
        == 0
    )
    story = json.loads(capsys.readouterr().out)
    assert story["notifications"] == []
    mail = (folder / "sandbox" / "mail").glob("*.eml")
    assert not any(
        "amazon" in path.read_text(encoding="utf-8").lower() for path in mail
    )


def test_the_demo_holds_lebanon_with_a_reason(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    _, summary = first_run

    lebanon = [h for h in summary["held"] if ":shemsi-lebanon:" in h["key"]]

    assert lebanon
    assert {h["reason"] for h in lebanon} == {"no_partner_for_store"}


def test_the_demo_keeps_the_malformed_order_with_its_problems(
    first_run: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, summary = first_run

    assert (
        main(
            [
                "--config",
                str(folder / "fulfilment.toml"),
                "orders",
                "list",
                "--state",
                "needs_attention",
                "--json",
            ]
        )
        == 0
    )
    orders = json.loads(capsys.readouterr().out)

    malformed = [o for o in orders if o["store"] == "shemsi-egypt"]
    assert malformed
    assert malformed[0]["problems"]
    assert all({"code", "message"} <= set(p) for p in malformed[0]["problems"])
    reasons = {i["reason"] for i in summary["attention"]}
    assert {"malformed_order", "rejected_by_partner"} <= reasons


def test_the_demo_follows_every_parcel_to_its_end(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    _, summary = first_run
    tracking = summary["tracking"]

    for partner in ("aramex", "flextock", "farfill"):
        assert tracking["by_partner"][partner].get("delivered", 0) > 0, partner
    assert tracking["by_status"].get("returned", 0) >= 1
    assert tracking["with_failed_attempt"] >= 1
    assert set(tracking["by_status"]) <= {"delivered", "returned", "cancelled"}


def test_every_parcel_that_left_has_one_short_tracking_link(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    folder, summary = first_run
    links = json.loads((folder / "sandbox" / "rebrandly.json").read_text())["links"]
    destinations = [
        link["destination"]
        for link in links.values()
        if not link["destination"].startswith("https://shemsi.typeform.test/")
    ]

    assert len(destinations) == summary["store_fulfilments"]["reported"]
    assert len(set(destinations)) == len(destinations)
    hosts = {d.split("/")[2] for d in destinations}
    assert hosts == {
        "track.aramex.test",
        "track.sandbox-express.test",
        "track.farfill.test",
    }


def test_the_demo_tells_each_store_once_per_parcel(
    first_run: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Every Shopify parcel that left is reported to its store once.  (The
    Amazon stores take no shipment reports: that write-back is not built.)"""
    folder, summary = first_run
    reports = summary["store_fulfilments"]
    assert (
        main(["--config", str(folder / "fulfilment.toml"), "orders", "list", "--json"])
        == 0
    )
    picked_up = sum(
        1
        for o in json.loads(capsys.readouterr().out)
        if o["channel"] == "shopify"
        and o["partner_reference"]
        and o["state"] != "cancelled"
    )

    assert reports["reported"] == picked_up > 0
    assert sum(reports["fulfilments_in_shopify"].values()) == picked_up


def test_the_demo_cancels_a_parcel_whose_order_was_cancelled_in_its_store(
    first_run: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, summary = first_run
    key = summary["timeline"]["cancelled_in_store"]

    assert (
        main(
            [
                "--config",
                str(folder / "fulfilment.toml"),
                "orders",
                "show",
                key,
                "--json",
            ]
        )
        == 0
    )
    order = json.loads(capsys.readouterr().out)

    assert order["state"] == "cancelled"
    assert order["tracking"]["status"] == "cancelled"
    assert [e["kind"] for e in order["effects"]] == ["booking", "partner-cancel"]
    assert order["notifications"] == []
    assert summary["tracking"]["by_status"]["cancelled"] == 1
    assert not [a for a in summary["attention"] if a["subject"] == key]


def test_the_demo_closes_the_feedback_loop(
    first_run: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, summary = first_run
    nps, codes = summary["nps"], summary["discounts"]
    # Amazon buyers are never asked: count the Shopify parcels.
    assert (
        main(["--config", str(folder / "fulfilment.toml"), "orders", "list", "--json"])
        == 0
    )
    delivered = sum(
        1
        for o in json.loads(capsys.readouterr().out)
        if o["channel"] == "shopify" and o["state"] == "delivered"
    )

    # Every delivered order's customer is asked once; returned and
    # cancelled ones are not.
    assert nps["sent"] == delivered
    assert summary["notifications"]["by_event"]["nps_survey"] == 2 * delivered
    assert 0 < nps["responses"] == nps["answered_in_typeform"] <= nps["sent"]
    assert set(nps["by_category"]) == {"promoter", "passive", "detractor"}
    assert set(nps["score_by_store"]) == {"shemsiworld", "shemsi-egypt", "shemsi-uae"}
    # One code per answer, except those over a store's monthly budget.
    over_budget = [
        a for a in summary["attention"] if a["subject"] == "discounts:shemsi-uae"
    ]
    assert len(over_budget) == 1
    assert 0 < codes["created"] < nps["responses"]
    assert codes["in_shopify"] == codes["created"]
    assert summary["notifications"]["by_event"]["discount"] == 2 * codes["created"]

    assert main(["--config", str(folder / "fulfilment.toml"), "report", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sum(m["codes"] for m in report["months"]) == codes["created"]
    assert sum(m["responses"] for m in report["months"]) == nps["responses"]


def test_the_demo_fetches_a_month_of_rates_and_stamps_every_order(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    _, summary = first_run
    rates = summary["rates"]

    assert set(rates["by_source"]) == {"ecb", "oxr", "metals", "lbp-market"}
    first_day = date.fromisoformat(summary["timeline"]["from"][:10])
    for source in rates["by_source"].values():
        assert date.fromisoformat(source["from"]) == first_day - timedelta(days=31)
    # The ECB's weekends are carried; the dollar feeds publish every day.
    assert rates["by_source"]["ecb"]["carried"] > 0
    assert rates["by_source"]["oxr"]["carried"] == 0
    assert rates["orders_stamped"] == rates["orders"] == summary["orders"]["total"]
    assert Decimal(rates["board"]["LBP (market)"]) > Decimal(rates["board"]["LBP"])
    assert Decimal(rates["board"]["XAU/oz"]) > Decimal(rates["board"]["XAG/oz"])
    assert set(rates["totals_by_store"]) == set(summary["orders"]["by_store"])


def test_the_demo_tells_customers_each_event_once(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    _, summary = first_run
    notices = summary["notifications"]

    assert notices["by_channel"]["sms"] > 0
    assert notices["by_channel"]["email"] > 0
    # What the sandbox's providers received is exactly what the ledger sent.
    assert notices["received_by_sandbox"] == notices["by_channel"]
    # Sent, or (held back at night until the parcel moved on) superseded.
    assert set(notices["by_status"]) <= {"done", "failed"}
    assert set(notices["by_event"]) == {
        "shipped",
        "out_for_delivery",
        "delivered",
        "delivery_failed",
        "nps_survey",
        "discount",
    }


def test_the_demo_emails_are_readable_in_the_sink_and_sent_by_day(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    _, summary = first_run
    folder = Path(summary["notifications"]["mail_folder"])
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]

    assert len(messages) == summary["notifications"]["by_channel"]["email"]
    arabic = [m for m in messages if m["Content-Language"] == "ar"]
    assert arabic
    for message in arabic:
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert 'dir="rtl"' in html
        assert "مرحبا" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        sent = parsedate_to_datetime(message["Date"]).astimezone(CAIRO)
        assert 9 <= sent.hour < 21, message["Date"]  # never in quiet hours
    bodies = [m.get_body(("plain",)).get_content() for m in messages]  # type: ignore[union-attr]
    assert any("https://go.shemsi.example/" in body for body in bodies)
    french = [m for m in messages if m["Content-Language"] == "fr"]
    assert any(
        "Bonjour" in str(m["Subject"]) + m.get_body(("plain",)).get_content()
        for m in french
    )  # type: ignore[union-attr]


def test_a_second_run_over_the_same_folder_books_nothing_twice(
    first_run: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, summary = first_run
    before = shipments(folder)

    again = demo(capsys, "--data-dir", str(folder))

    assert shipments(folder) == before
    sent = summary["notifications"]["received_by_sandbox"]
    assert again["notifications"]["received_by_sandbox"] == sent
    assert again["timeline"]["from"] >= summary["timeline"]["to"]
    assert again["bookings"]["by_partner"] == summary["bookings"]["by_partner"]
    assert again["bookings"]["this_run"].get("booked", 0) == 0
    assert again["orders"]["ingested"] == 0
    # Rates: nothing kept twice; the second run only adds its own days.
    for name, source in again["rates"]["by_source"].items():
        assert source["from"] == summary["rates"]["by_source"][name]["from"]
    assert again["rates"]["totals_by_store"] == summary["rates"]["totals_by_store"]


def test_orders_list_json_has_the_documented_fields(
    first_run: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = first_run

    assert (
        main(["--config", str(folder / "fulfilment.toml"), "orders", "list", "--json"])
        == 0
    )
    orders = json.loads(capsys.readouterr().out)

    fields = {
        "key",
        "store",
        "name",
        "state",
        "payment",
        "cod_amount",
        "currency",
        "phone",
        "partner",
        "partner_reference",
        "problems",
    }
    assert all(fields <= set(o) for o in orders)
    cod = [o for o in orders if o["payment"] == "cash_on_delivery"]
    assert cod
    assert all(o["cod_amount"] for o in cod)
    assert {o["payment"] for o in orders} == {"prepaid", "cash_on_delivery"}
    booked = [o for o in orders if o["state"] == "booked"]
    assert all(o["partner_reference"] for o in booked)
    assert all(o["phone"].startswith("+") for o in booked)


def test_orders_from_a_file_replace_the_seeded_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed_orders(T0)
    chosen = {
        "shemsiworld": seeded["shemsiworld"][:2],
        "shemsi-uae": seeded["shemsi-uae"][:1],
    }
    orders_file = tmp_path / "orders.json"
    orders_file.write_text(json.dumps(chosen, ensure_ascii=False))

    summary = demo(
        capsys, "--data-dir", str(tmp_path / "world"), "--orders", str(orders_file)
    )

    assert summary["orders"]["by_store"] == {"shemsi-uae": 1, "shemsiworld": 2}


def test_orders_the_demo_would_never_fetch_are_named_not_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed_orders(T0)
    future, ancient = seeded["shemsiworld"][0], seeded["shemsiworld"][1]
    future["updatedAt"] = "9999-01-01T00:00:00Z"
    ancient["updatedAt"] = ancient["createdAt"] = "1900-01-01T00:00:00Z"
    orders_file = tmp_path / "orders.json"
    orders_file.write_text(json.dumps({"shemsiworld": [future, ancient]}))

    code = main(
        ["demo", "--data-dir", str(tmp_path / "w"), "--orders", str(orders_file)]
    )

    err = capsys.readouterr().err
    assert code == 2
    assert "shemsiworld[0]: updatedAt 9999-01-01T00:00:00Z is outside" in err
    assert "shemsiworld[1]: updatedAt 1900-01-01T00:00:00Z is outside" in err


def test_an_orders_file_with_an_unknown_store_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    orders_file = tmp_path / "orders.json"
    orders_file.write_text(json.dumps({"shemsi-france": []}))

    code = main(
        ["demo", "--data-dir", str(tmp_path / "w"), "--orders", str(orders_file)]
    )

    err = capsys.readouterr().err
    assert code == 2
    assert "unknown store handle(s) shemsi-france" in err
    assert "Traceback" not in err


def test_an_unreachable_shop_fails_loudly_without_holding_up_the_rest(
    first_run: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = first_run  # the demo has stopped its simulators
    config = str(folder / "fulfilment.toml")

    code = main(["--config", config, "run", "all", "--json"])

    results = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [r["worker"] for r in results] == list(WORKERS)
    by_worker = {r["worker"]: r for r in results}
    intake = by_worker["fetch-new-orders"]
    booking = by_worker["create-fulfilment-requests"]
    assert intake["failed_stores"] == [
        "shemsi-egypt",
        "shemsi-lebanon",
        "shemsi-uae",
        "shemsiworld",
    ]
    assert "could not connect" in intake["stores"]["shemsiworld"]["error"]
    assert "error" not in booking


def test_schedule_runs_rounds_until_told_to_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "world"
    demo(capsys, "--data-dir", str(folder))

    code = main(
        [
            "--config",
            str(folder / "fulfilment.toml"),
            "schedule",
            "create-fulfilment-requests",
            "--every",
            "0.01",
            "--times",
            "2",
        ]
    )

    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines == ["create-fulfilment-requests | nothing due"] * 2


def test_schedule_refuses_a_zero_interval(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["schedule", "--every", "0"])

    assert exit_.value.code == 2
    assert "must be a number above 0" in capsys.readouterr().err


def test_a_bad_order_key_is_a_usage_error(
    first_run: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = first_run

    code = main(["--config", str(folder / "fulfilment.toml"), "orders", "show", "foo"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: order key 'foo' is not of the form")


def test_a_data_folder_that_is_a_file_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")

    code = main(["demo", "--data-dir", str(not_a_folder)])

    err = capsys.readouterr().err
    assert code == 2
    assert f"{not_a_folder}/sandbox: cannot use as a data folder" in err


def test_corrupt_simulator_state_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo(capsys, "--data-dir", str(tmp_path))
    (tmp_path / "sandbox" / "aramex.json").write_text("{not json")

    code = main(["demo", "--data-dir", str(tmp_path)])

    err = capsys.readouterr().err
    assert code == 2
    assert "aramex.json: simulator state cannot be read" in err


def test_one_world_is_served_by_one_process_at_a_time(tmp_path: Path) -> None:
    first = SandboxWorld(tmp_path)

    with first, pytest.raises(UsageError, match="already being served"):
        SandboxWorld(tmp_path).start()


def test_serving_on_ports_a_configuration_names_refuses_busy_ones(
    tmp_path: Path,
) -> None:
    with SandboxWorld(tmp_path / "one") as first:
        taken = int(first.urls["aramex"].rsplit(":", 1)[1])
        second = SandboxWorld(tmp_path / "two", ports={"aramex": taken})

        with pytest.raises(
            UsageError, match=re.escape(f"cannot serve aramex on 127.0.0.1:{taken}")
        ):
            second.start()
        second.stop()


def test_a_sandbox_table_with_a_bad_address_is_named() -> None:
    with pytest.raises(
        UsageError, match=re.escape("sandbox.shopify: 'http://127.0.0.1:abc'")
    ):
        ports_of({"shopify": "http://127.0.0.1:abc"})
