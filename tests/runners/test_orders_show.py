"""`fulfilment orders show`: one order's whole story, for a person and a
script.

The order is booked, tracked and notified by the real workers on a SQLite
file, with the in-memory partner and providers; the command then reads
that file through a configuration, as an operator's would.
"""

from __future__ import annotations

import json
import re
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from fulfilment.adapters.notify.memory import (
    LOST_REPLY,
    MemoryMailSender,
    MemorySmsSender,
)
from fulfilment.adapters.pl3.memory import MemoryDeliveryPartner, ScriptStep
from fulfilment.adapters.storage.sqlite import SQLiteSettings, SQLiteStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import OrderKey, TrackingEvent, TrackingStatus
from fulfilment.core.errors import PartnerRejected
from fulfilment.core.messages import QuietHours
from fulfilment.core.routing import RoutingPolicy
from fulfilment.core.workers.create_fulfilment_requests import (
    create_fulfilment_requests,
)
from fulfilment.core.workers.fetch_fulfilment_status import fetch_fulfilment_status
from fulfilment.core.workers.notify_customers import StoreVoice, notify_customers
from fulfilment.runners.cli import main
from fulfilment.testing.builders import T0, make_order

KEY = "shopify:shemsiworld:1001"
OTHER = "shopify:shemsiworld:1002"
PHONE, EMAIL = "+212661234567", "fatima@example.com"
HOUR = timedelta(hours=1)
S = TrackingStatus
SCRIPT: tuple[ScriptStep, ...] = (
    (timedelta(0), S.CREATED, "SH014", "Shipment created"),
    (4 * HOUR, S.PICKED_UP, "SH012", "Picked up from the shipper"),
    (20 * HOUR, S.IN_TRANSIT, "SH047", "Departed Casablanca hub"),
    (26 * HOUR, S.OUT_FOR_DELIVERY, "SH003", "Out for delivery"),
    (30 * HOUR, S.DELIVERED, "SH005", "Delivered"),
)
REFUSED = "5.1.1 <fatima@example.com>: mailbox unavailable"

CONFIG = """\
environment = "sandbox"

[storage]
backend = "sqlite"
path = "fulfilment.db"

[stores.shemsiworld]
channel = "shopify"
country = "MA"
currency = "MAD"
timezone = "Africa/Casablanca"
locale = "fr"
partner = ""

[stores.shemsiworld.source]
store = "shemsiworld"
base_url = "http://127.0.0.1:9/shops/shemsiworld"
access_token = "shpat_orders_show"
country = "MA"
"""


class Shop:
    """Two Moroccan orders on a SQLite file, moved by the real workers."""

    def __init__(self, folder: Path) -> None:
        self.clock = ManualClock(T0)
        self.storage = SQLiteStorage(SQLiteSettings(str(folder / "fulfilment.db")))
        self.partner = MemoryDeliveryPartner("aramex", clock=self.clock, script=SCRIPT)
        self.sms = MemorySmsSender("infobip")
        self.mail = MemoryMailSender("smtp")
        # Quiet hours that never begin: the clock alone decides what is sent.
        never = QuietHours(time(0, 0), time(0, 0))
        self.voice = StoreVoice(
            "Shemsi World",
            "fr",
            "Africa/Casablanca",
            never,
            sms=self.sms,
            mail=self.mail,
        )

    def book(self) -> None:
        self.storage.orders.save_many([make_order("1001"), make_order("1002")])
        create_fulfilment_requests(
            orders=self.storage.orders,
            partners={"aramex": self.partner},
            routing=RoutingPolicy.one_partner_per_store({"shemsiworld": "aramex"}),
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            clock=self.clock,
            owner="runner",
        )
        # The partner gives no tracking page; the store's template would.
        booked = self.storage.orders.get(OrderKey.parse(KEY))
        assert booked is not None
        assert booked.shipment is not None
        link = f"https://track.example/{booked.shipment.reference}"
        shipment = attrs.evolve(booked.shipment, tracking_url=link)
        self.storage.orders.save(attrs.evolve(booked, shipment=shipment))

    def at(self, hours: int, *, notify: bool = True) -> None:
        self.clock.set(T0 + hours * HOUR)
        fetch_fulfilment_status(
            orders=self.storage.orders,
            partners={"aramex": self.partner},
            attention=self.storage.attention,
            clock=self.clock,
            ledger=self.storage.ledger,
        )
        if notify:
            notify_customers(
                orders=self.storage.orders,
                ledger=self.storage.ledger,
                attention=self.storage.attention,
                voices={"shemsiworld": self.voice},
                clock=self.clock,
            )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Order 1001 delivered after a day and a half: shipped notices sent by
    SMS and refused by the mail server, the out-for-delivery SMS lost in
    flight, the delivered notices still queued."""
    folder = tmp_path_factory.mktemp("orders-show")
    shop = Shop(folder)
    shop.book()
    reference = shop.partner.parcels["shemsiworld-1001"].reference
    shop.partner.add_event(
        reference,
        TrackingEvent("SH001", S.IN_TRANSIT, "Arrived at facility", T0 + 22 * HOUR,
                      location="Rabat"),
    )  # fmt: skip
    shop.mail.fail_next(
        PartnerRejected(REFUSED, partner="smtp", code="550"),
        PartnerRejected(REFUSED, partner="smtp", code="550"),
        PartnerRejected(REFUSED, partner="smtp", code="550"),
        PartnerRejected(REFUSED, partner="smtp", code="550"),
    )

    shop.at(5)
    shop.sms.fail_next(LOST_REPLY)  # 1001's out-for-delivery SMS goes first
    shop.at(27)
    shop.at(31, notify=False)
    shop.storage.close()

    path = folder / "fulfilment.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return str(path)


def show(
    capsys: pytest.CaptureFixture[str], config: str, *args: str
) -> tuple[int, str, str]:
    code = main(["--config", config, "orders", "show", *args])
    out, err = capsys.readouterr()
    return code, out, err


def show_json(
    capsys: pytest.CaptureFixture[str], config: str, key: str = KEY
) -> dict[str, Any]:
    code, out, _ = show(capsys, config, key, "--json")
    assert code == 0
    view: dict[str, Any] = json.loads(out)
    return view


def section(text: str, title: str) -> list[str]:
    """The lines of section *title*, without their indent, up to the next
    title (a line that is not indented)."""
    lines = text.splitlines()
    start = lines.index(title) + 1
    end = next(
        (i for i in range(start, len(lines)) if lines[i][:1] not in ("", " ")),
        len(lines),
    )
    body = [line[2:] for line in lines[start:end]]
    while body and not body[-1]:
        body.pop()
    return body


def test_the_json_has_the_tracking_history_oldest_first(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    view = show_json(capsys, config)

    tracking = view["tracking"]
    events = tracking["events"]
    assert [(e["status"], e["code"]) for e in events] == [
        ("created", "SH014"),
        ("picked_up", "SH012"),
        ("in_transit", "SH047"),
        ("in_transit", "SH001"),
        ("out_for_delivery", "SH003"),
        ("delivered", "SH005"),
    ]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert events[0]["at"] == "2026-11-02T09:00:00Z"
    assert events[3] == {
        "at": "2026-11-03T07:00:00Z",
        "status": "in_transit",
        "code": "SH001",
        "description": "Arrived at facility",
        "location": "Rabat",
    }
    assert (tracking["partner"], tracking["status"]) == ("aramex", "delivered")
    assert tracking["reference"] == view["partner_reference"]
    assert tracking["last_polled_at"] == "2026-11-03T16:00:00Z"
    assert tracking["tracking_url"] == "https://track.example/ARA00000001"
    assert (tracking["polling"], tracking["next_poll_at"]) == (False, None)
    assert view["state"] == "delivered"


def test_the_json_lists_every_notice_with_its_outcome(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    view = show_json(capsys, config)

    notices = {(n["event"], n["channel"]): n for n in view["notifications"]}
    assert {k: n["status"] for k, n in notices.items()} == {
        ("shipped", "sms"): "done",
        ("shipped", "email"): "failed",
        ("out_for_delivery", "sms"): "uncertain",
        ("out_for_delivery", "email"): "failed",
        ("delivered", "sms"): "queued",
        ("delivered", "email"): "queued",
    }
    sent = notices[("shipped", "sms")]
    assert sent["provider"] == "infobip"
    assert re.fullmatch(r"SM\d{8}", sent["message_id"])
    assert (sent["provider_status"], sent["segments"]) == ("queued", None)
    assert sent["to"] == "+212******567"
    assert sent["updated_at"] == "2026-11-02T14:00:00Z"
    refused = notices[("shipped", "email")]
    assert (
        refused["detail"] == "smtp 550: 5.1.1 <f***@example.com>: mailbox unavailable"
    )
    assert refused["to"] == "f***@example.com"
    assert refused["provider"] is None
    assert "may have sent it" in notices[("out_for_delivery", "sms")]["detail"]
    assert notices[("delivered", "sms")]["created_at"] == "2026-11-03T16:00:00Z"


def test_the_json_shows_the_booking_and_what_needs_attention(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    view = show_json(capsys, config)

    booking, report = view["effects"]
    assert (report["kind"], report["status"]) == ("store-fulfilment", "queued")
    booking.pop("detail")  # what the booking worker notes there is its own
    assert booking == {
        "key": f"book:{KEY}",
        "kind": "booking",
        "status": "done",
        "attempts": 1,
        "created_at": "2026-11-02T09:00:00Z",
        "updated_at": "2026-11-02T09:00:00Z",
        "not_before": None,
    }
    (item,) = view["attention"]
    assert item["subject"] == KEY
    assert item["reason"] == "notification_uncertain:out_for_delivery:sms"
    assert item["message"].startswith("sms notice out_for_delivery")
    assert all(OTHER not in n["key"] for n in view["notifications"])


def test_the_json_masks_phones_and_emails_everywhere(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, _ = show(capsys, config, KEY, "--json")
    view = json.loads(out)

    assert code == 0
    assert PHONE not in out
    assert EMAIL not in out
    assert (view["phone"], view["phone_original"]) == ("+212******567",) * 2
    assert view["email"] == "f***@example.com"
    assert (view["total"], view["cod_amount"]) == ("459.00", "459.00")


def test_orders_list_and_show_give_the_same_masked_phone(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    shown = show_json(capsys, config)

    assert main(["--config", config, "orders", "list", "--json"]) == 0
    listed = {o["key"]: o for o in json.loads(capsys.readouterr().out)}

    assert listed[KEY]["phone"] == shown["phone"] == "+212******567"
    assert listed[KEY] == {k: shown[k] for k in listed[KEY]}


def test_the_text_reads_as_sections(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, _ = show(capsys, config, KEY)

    assert code == 0
    assert out.startswith(f"order     {KEY}  #1001\nstate     delivered\n")
    assert "partner   aramex, reference ARA00000001" in out
    titles = [line for line in out.splitlines() if line and not line[0].isspace()]
    assert titles[-4:] == ["tracking", "notifications", "effects", "attention"]
    assert ": {" not in out
    assert ": [" not in out


def test_the_text_lists_the_tracking_history_oldest_first(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    _, out, _ = show(capsys, config, KEY)

    lines = section(out, "tracking")
    events = lines[lines.index("") + 1 :]
    assert events[0].split() == ["TIME", "STATUS", "CODE", "DESCRIPTION", "LOCATION"]
    assert [e.split()[1] for e in events[1:]] == [
        "created",
        "picked_up",
        "in_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert events[4].split()[2:] == ["SH001", "Arrived", "at", "facility", "Rabat"]
    assert "next poll  no longer polled" in lines
    assert "link       https://track.example/ARA00000001" in lines
    # The columns line up: every event's code starts where CODE does.
    column = events[0].index("CODE")
    assert all(e[column : column + 2] == "SH" for e in events[1:])


def test_the_text_shows_notices_effects_and_attention(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    _, out, _ = show(capsys, config, KEY)

    notices = section(out, "notifications")
    rows = [line.split() for line in notices if not line.startswith("  ")]
    assert [r[:4] for r in rows[1:]] == [
        ["shipped", "email", "f***@example.com", "failed"],
        ["shipped", "sms", "+212******567", "done"],
        ["out_for_delivery", "email", "f***@example.com", "failed"],
        ["out_for_delivery", "sms", "+212******567", "uncertain"],
        ["delivered", "email", "f***@example.com", "queued"],
        ["delivered", "sms", "+212******567", "queued"],
    ]
    assert notices[2] == "    smtp 550: 5.1.1 <f***@example.com>: mailbox unavailable"
    effects = [e for e in section(out, "effects")[1:] if not e.startswith("  ")]
    effect, report = effects
    assert effect.split()[:4] == [f"book:{KEY}", "booking", "done", "1"]
    assert report.split()[:3] == [
        f"store-fulfilment:{KEY}",
        "store-fulfilment",
        "queued",
    ]
    assert section(out, "attention")[0].startswith(
        "notification_uncertain:out_for_delivery:sms  raised"
    )
    assert PHONE not in out
    assert EMAIL not in out


def test_an_unknown_order_is_exit_1_with_a_message(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, err = show(capsys, config, "shopify:shemsiworld:404")

    assert code == 1
    assert out == ""
    assert err.strip() == "no order shopify:shemsiworld:404"


def test_an_order_not_booked_yet_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    storage = SQLiteStorage(SQLiteSettings(str(tmp_path / "fulfilment.db")))
    storage.orders.save(make_order("2001", phone=None))
    storage.close()
    path = tmp_path / "fulfilment.toml"
    path.write_text(CONFIG, encoding="utf-8")

    _, out, _ = show(capsys, str(path), "shopify:shemsiworld:2001")
    view = show_json(capsys, str(path), "shopify:shemsiworld:2001")

    assert section(out, "tracking") == ["not booked"]
    assert section(out, "notifications") == ["none"]
    assert section(out, "effects") == ["none"]
    assert (view["tracking"], view["notifications"], view["effects"]) == (None, [], [])
    assert (view["phone"], view["attention"]) == (None, [])
