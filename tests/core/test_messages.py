"""Customer messages: templates per locale, SMS encoding, quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.core.domain import Money
from fulfilment.core.messages import (
    NotifyEvent,
    QuietHours,
    money_text,
    render,
    send_time,
    sms_segments,
)

VALUES = {
    "first_name": "Fatima",
    "order": "#1001",
    "store": "Shemsi",
    "partner": "Aramex",
    "link": "https://go.shemsi.example/abc",
    "code": "MERCI-7K2QF9XAB3",
    "discount": "15%",
    "expires": "2027-01-31",
}
TRACKING_EVENTS = [
    NotifyEvent.SHIPPED,
    NotifyEvent.OUT_FOR_DELIVERY,
    NotifyEvent.DELIVERED,
    NotifyEvent.DELIVERY_FAILED,
]


@pytest.mark.parametrize("locale", ["en", "fr", "ar"])
@pytest.mark.parametrize("event", list(NotifyEvent))
def test_every_event_has_a_message_in_every_language(
    locale: str, event: NotifyEvent
) -> None:
    rendered = render(event, locale, VALUES)

    if event is NotifyEvent.DISCOUNT:  # what matters is the code, not the order
        assert "MERCI-7K2QF9XAB3" in rendered.sms
        assert "15%" in rendered.sms
        assert "2027-01-31" in rendered.sms
        assert "#1001" in rendered.text
    else:
        assert "#1001" in rendered.sms
    if event is NotifyEvent.NPS_SURVEY:
        assert "https://go.shemsi.example/abc" in rendered.sms
    assert "$" not in rendered.sms + rendered.subject + rendered.text
    assert "[" not in rendered.sms + rendered.text + rendered.html
    assert rendered.language == locale


@pytest.mark.parametrize("locale", ["en", "fr", "ar"])
@pytest.mark.parametrize("event", TRACKING_EVENTS)
def test_without_a_tracking_link_no_sentence_points_at_one(
    locale: str, event: NotifyEvent
) -> None:
    linked = render(event, locale, VALUES)
    bare = render(event, locale, VALUES | {"link": ""})

    for text in (bare.sms, bare.text, bare.html):
        assert "[" not in text
        assert not text.rstrip().endswith(":")
        assert ": \n" not in text
    assert "<a href" not in bare.html
    if "go.shemsi.example" in linked.sms:
        assert len(bare.sms) < len(linked.sms) - len(VALUES["link"])
    assert bare.sms.rstrip()[-1] in ".!؟?"


def test_an_arabic_discount_keeps_its_code_and_date_left_to_right() -> None:
    rendered = render(NotifyEvent.DISCOUNT, "ar", VALUES)

    assert "<bdi>MERCI-7K2QF9XAB3</bdi>" in rendered.html
    assert "<bdi>2027-01-31</bdi>" in rendered.html
    assert "<bdi>15%</bdi>" in rendered.html


def test_arabic_is_right_to_left_with_the_link_isolated() -> None:
    rendered = render(NotifyEvent.SHIPPED, "ar", VALUES)

    assert rendered.direction == "rtl"
    assert 'dir="rtl"' in rendered.html
    assert "<bdi>#1001</bdi>" in rendered.html
    assert '<a href="https://go.shemsi.example/abc">' in rendered.html
    assert rendered.sms.startswith("مرحبا Fatima، طلبك #1001")


def test_a_locale_with_a_region_uses_its_language() -> None:
    assert render(NotifyEvent.DELIVERED, "fr-MA", VALUES).language == "fr"


def test_an_unknown_language_falls_back_to_english() -> None:
    assert render(NotifyEvent.DELIVERED, "de", VALUES).language == "en"


def test_cash_on_delivery_names_the_amount_to_prepare() -> None:
    rendered = render(
        NotifyEvent.OUT_FOR_DELIVERY, "fr", VALUES | {"amount": "459.00 MAD"}
    )

    assert "Merci de préparer 459.00 MAD pour le livreur." in rendered.sms


def test_html_escapes_what_the_customer_typed() -> None:
    rendered = render(NotifyEvent.DELIVERED, "en", VALUES | {"first_name": "<b>x"})

    assert "&lt;b&gt;x" in rendered.html
    assert "<b>x" not in rendered.html


def test_plain_latin_text_is_gsm7() -> None:
    assert sms_segments("Hello Fatima, your order is on its way.").encoding == "GSM-7"


def test_arabic_is_ucs2_and_costs_more_segments() -> None:
    text = render(NotifyEvent.SHIPPED, "ar", VALUES).sms

    encoding = sms_segments(text)

    assert encoding.encoding == "UCS-2"
    assert encoding.units == len(text)
    assert len(text) > 70
    assert encoding.segments == -(-len(text) // 67)


@pytest.mark.parametrize(
    ("text", "units", "segments"),
    [
        ("a" * 160, 160, 1),
        ("a" * 161, 161, 2),
        ("€" * 80, 160, 1),
        ("€" * 81, 162, 2),
        ("é" * 70, 70, 1),  # é is in the GSM alphabet
        ("ê" * 70, 70, 1),  # ê is not: UCS-2, still one segment
        ("ê" * 71, 71, 2),
        ("😀" * 35, 70, 1),  # an emoji is two UTF-16 units
    ],
)
def test_segment_counts_at_the_edges(text: str, units: int, segments: int) -> None:
    encoding = sms_segments(text)

    assert (encoding.units, encoding.segments) == (units, segments)


@given(st.text(max_size=500))
def test_segments_always_hold_the_text(text: str) -> None:
    encoding = sms_segments(text)
    per_segment = 153 if encoding.encoding == "GSM-7" else 67

    assert encoding.segments >= 1
    if encoding.segments > 1:
        assert encoding.segments * per_segment >= encoding.units


QUIET = QuietHours(time(21, 0), time(9, 0))


def test_a_message_due_at_night_waits_for_the_morning_in_the_stores_zone() -> None:
    due = datetime(2026, 12, 4, 21, 30, tzinfo=UTC)  # 22:30 in Casablanca

    when = send_time(due, "Africa/Casablanca", QUIET)

    assert when == datetime(2026, 12, 5, 8, 0, tzinfo=UTC)  # 09:00 local


def test_a_message_due_after_midnight_goes_the_same_morning() -> None:
    due = datetime(2026, 12, 4, 23, 0, tzinfo=UTC)  # 03:00 in Dubai

    assert send_time(due, "Asia/Dubai", QUIET) == datetime(
        2026, 12, 5, 5, 0, tzinfo=UTC
    )


def test_a_message_due_in_the_day_goes_at_once() -> None:
    due = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

    assert send_time(due, "Africa/Cairo", QUIET) == due


@given(st.datetimes(timezones=st.just(UTC)))
def test_nothing_is_ever_sent_inside_quiet_hours(due: datetime) -> None:
    when = send_time(due, "Asia/Beirut", QUIET)

    local = when.astimezone(ZoneInfo("Asia/Beirut"))
    assert not QUIET.contains(local.time().replace(tzinfo=None))
    assert when >= due


# --- what customers typed, and money -------------------------------------------

DIRECTION_CONTROLS = (
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


@pytest.mark.parametrize("locale", ["en", "fr", "ar"])
def test_direction_controls_are_dropped_and_the_name_is_isolated(locale: str) -> None:
    values = VALUES | {"first_name": "\u202eFati\u2066ma\u200f", "order": "#10\u202e01"}

    rendered = render(NotifyEvent.SHIPPED, locale, values)

    every_part = rendered.sms + rendered.subject + rendered.text + rendered.html
    assert [c for c in DIRECTION_CONTROLS if c in every_part] == []
    assert "<bdi>Fatima</bdi>" in rendered.html
    assert "<bdi>#1001</bdi>" in rendered.html
    assert "Fatima" in rendered.sms


@pytest.mark.parametrize("locale", ["en", "fr", "ar"])
def test_line_breaks_and_controls_in_a_name_become_single_spaces(locale: str) -> None:
    values = VALUES | {"first_name": " Fatima\r\n\r\nBcc:\x07 Zahra\t"}

    rendered = render(NotifyEvent.DELIVERED, locale, values)

    assert "Fatima Bcc: Zahra" in rendered.text
    assert "\x07" not in rendered.text + rendered.html
    assert rendered.text.count("\n\n") == 1  # the template's own paragraphs


@pytest.mark.parametrize("locale", ["en", "fr", "ar"])
@pytest.mark.parametrize("event", list(NotifyEvent))
def test_a_very_long_name_is_cut_so_the_sms_fits(
    locale: str, event: NotifyEvent
) -> None:
    values = VALUES | {"first_name": "Fatima" * 1000, "amount": "459.00 MAD"}

    rendered = render(event, locale, values)

    assert len(rendered.sms) <= 1600  # the longest text Twilio accepts
    assert "Fatima" * 6 + "Fati" in rendered.sms + rendered.text  # 40 characters
    assert "Fatima" * 7 not in rendered.sms + rendered.text + rendered.html


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("a" * 39 + "e\u0301" + "b" * 10, "a" * 39),  # é as e and its accent
        ("م" * 39 + "حَ" + "د" * 5, "م" * 39),  # a letter and its vowel mark
        ("x" * 38 + "👩\u200d👧" + "y", "x" * 38),  # one emoji of two people
    ],
)
def test_a_long_name_is_cut_between_characters_not_inside_one(
    name: str, kept: str
) -> None:
    rendered = render(NotifyEvent.DELIVERED, "en", VALUES | {"first_name": name})

    assert rendered.sms.startswith(f"Hello {kept}, your order")


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("570.0", "MAD", "570.00 MAD"),
        ("570", "EGP", "570.00 EGP"),
        ("1E+3", "AED", "1000.00 AED"),
        ("12.5", "USD", "12.50 USD"),
        ("0.1", "KWD", "0.100 KWD"),
        ("1500.0", "JPY", "1500 JPY"),
        ("19.999", "MAD", "20.00 MAD"),
    ],
)
def test_an_amount_shows_the_minor_units_of_its_currency(
    amount: str, currency: str, text: str
) -> None:
    assert money_text(Money(Decimal(amount), currency)) == text


@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        ("en", "Please have 570.00 MAD ready for the courier."),
        ("fr", "Merci de préparer 570.00 MAD pour le livreur."),
        ("ar", "يرجى تجهيز مبلغ 570.00 MAD للمندوب."),
    ],
)
def test_the_amount_to_prepare_reads_with_its_minor_units(
    locale: str, sentence: str
) -> None:
    amount = money_text(Money(Decimal("570.0"), "MAD"))

    rendered = render(NotifyEvent.OUT_FOR_DELIVERY, locale, VALUES | {"amount": amount})

    assert sentence in rendered.sms
    assert "<bdi>570.00 MAD</bdi>" in rendered.html
