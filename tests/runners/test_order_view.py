"""The view behind `orders show`, on orders and ledger entries built by
hand: the cases the end-to-end story does not reach."""

from __future__ import annotations

from datetime import timedelta

import attrs

from fulfilment.core.domain import (
    Order,
    OrderState,
    Problem,
    Shipment,
    TrackingEvent,
    TrackingStatus,
)
from fulfilment.core.ports import AttentionItem, Effect, EffectStatus
from fulfilment.runners.views import order_show_json, order_show_text
from fulfilment.testing.builders import T0, make_order

KEY = "shopify:shemsi-egypt:7001"
MINUTE = timedelta(minutes=1)


def in_transit(next_attempt: bool = False) -> Order:
    order = make_order("7001", store="shemsi-egypt")
    events = (
        TrackingEvent("90", TrackingStatus.ON_HOLD, "Call 01001234567 first", T0),
        TrackingEvent("10", TrackingStatus.CREATED, "Created", T0 - 60 * MINUTE),
    )
    shipment = Shipment(
        "flextock",
        "FX-1",
        "shemsi-egypt-7001",
        status=TrackingStatus.ON_HOLD,
        incident="Customer 01001234567 unreachable",
        events=events,
        last_polled_at=T0,
    )
    return attrs.evolve(
        order,
        state=OrderState.IN_TRANSIT,
        partner="flextock",
        shipment=shipment,
        next_attempt_at=T0 + 30 * MINUTE if next_attempt else None,
    )


def sent_sms() -> Effect:
    return Effect(
        f"notice:{KEY}:shipped:sms",
        "notice",
        KEY,
        EffectStatus.DONE,
        T0,
        T0 + MINUTE,
        result={
            "order": KEY,
            "event": "shipped",
            "channel": "sms",
            "to": "+201001234567",
            "provider": "twilio",
            "message_id": "SM42",
            "status": "queued",
            "segments": 2,
        },
    )


def test_a_sent_sms_shows_its_receipt_and_segments() -> None:
    view = order_show_json(in_transit(), [sent_sms()], [])

    (notice,) = view["notifications"]
    assert notice["to"] == "+201******567"
    assert (notice["provider"], notice["message_id"], notice["segments"]) == (
        "twilio",
        "SM42",
        2,
    )
    assert "twilio, 2 segments" in order_show_text(view)


def test_an_effect_of_another_kind_is_listed_without_its_result() -> None:
    survey = Effect(
        f"nps:{KEY}",
        "nps",
        KEY,
        EffectStatus.FAILED,
        T0,
        T0 + MINUTE,
        result={"to": "layla@example.com", "code": "SECRET-10"},
        detail="survey provider refused layla@example.com",
    )

    view = order_show_json(in_transit(), [sent_sms(), survey], [])

    (effect,) = view["effects"]
    assert (effect["kind"], effect["status"]) == ("nps", "failed")
    assert effect["detail"] == "survey provider refused l***@example.com"
    assert "SECRET-10" not in str(view)
    assert "layla@" not in order_show_text(view)


def test_events_are_oldest_first_and_their_words_are_masked() -> None:
    view = order_show_json(in_transit(), [], [])

    tracking = view["tracking"]
    assert [e["code"] for e in tracking["events"]] == ["10", "90"]
    assert tracking["events"][1]["description"] == "Call 01******567 first"
    assert tracking["incident"] == "Customer 01******567 unreachable"
    assert "01001234567" not in order_show_text(view)


def test_a_parcel_still_followed_shows_when_it_is_polled_next() -> None:
    due_now = order_show_text(order_show_json(in_transit(), [], []))
    later = order_show_json(in_transit(next_attempt=True), [], [])

    assert "next poll  at the next run" in due_now
    assert later["tracking"]["polling"] is True
    assert later["tracking"]["next_poll_at"] == "2026-11-02T09:30:00Z"
    assert "next poll  2026-11-02T09:30:00Z" in order_show_text(later)


def test_only_attention_items_about_the_order_are_shown() -> None:
    items = [
        AttentionItem(KEY, "tracking_stale", "no news from 01001234567", T0),
        AttentionItem("partner:flextock", "unknown_tracking_code:90", "code", T0),
        AttentionItem("shopify:shemsi-egypt:7002", "tracking_stale", "other", T0),
    ]

    view = order_show_json(in_transit(), [], items)

    assert [(i["subject"], i["reason"]) for i in view["attention"]] == [
        (KEY, "tracking_stale")
    ]
    assert view["attention"][0]["message"] == "no news from 01******567"


def test_a_warning_from_the_source_is_shown_beside_the_problems() -> None:
    warning = Problem(
        "unusable_email",
        "customer.email is not one e-mail address (it holds a line break); "
        "no e-mail is sent to this customer",
        "customer.email",
    )
    order = attrs.evolve(in_transit(), source_warnings=(warning,))

    view = order_show_json(order, [], [])

    assert view["problems"] == []
    assert view["warnings"] == [
        {"code": warning.code, "message": warning.message, "field": warning.field}
    ]
    assert "warning   unusable_email: customer.email is not one" in (
        order_show_text(view)
    )
