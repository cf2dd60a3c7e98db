"""Reading the ECB's gesmes envelope: exact decimals, oldest day first, and a
clear error (never a crash, never a parse) for anything else that comes
back in a file's place."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.adapters.rates.ecb import wire
from fulfilment.core.errors import PermanentPartnerError, TransientPartnerError

DAILY = (Path(__file__).parent / "fixtures" / "eurofxref-daily.xml").read_bytes()
OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
    'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n'
    "\t<gesmes:subject>Reference rates</gesmes:subject>\n"
    "\t<gesmes:Sender><gesmes:name>European Central Bank</gesmes:name>"
    "</gesmes:Sender>\n"
)
CLOSE = "</gesmes:Envelope>\n"

Days = Sequence[tuple[str, Mapping[str, str]]]


def envelope(days: Days) -> str:
    """An envelope of *days* in the order given, attributes single-quoted
    as the ECB writes them."""
    cubes = "".join(
        f"\t\t<Cube time='{day}'>\n"
        + "".join(
            f"\t\t\t<Cube currency='{code}' rate='{rate}'/>\n"
            for code, rate in rates.items()
        )
        + "\t\t</Cube>\n"
        for day, rates in days
    )
    return f"{OPEN}\t<Cube>\n{cubes}\t</Cube>\n{CLOSE}"


def cube(rates: str, time: str = "2024-06-03") -> str:
    return f"{OPEN}<Cube><Cube time='{time}'>{rates}</Cube></Cube>{CLOSE}"


# --- what the ECB sends ------------------------------------------------------


def test_reads_the_daily_file_as_exact_decimals_per_euro() -> None:
    (published,) = wire.published_of(DAILY)

    assert published.day == date(2024, 6, 3)
    assert published.base == "EUR"
    assert len(published.rates) == 29
    assert published.rates["USD"] == Decimal("1.0867")
    assert published.rates["IDR"] == Decimal("17675.83")
    assert str(published.rates["ISK"]) == "149.70"
    assert not {"MAD", "EGP", "AED", "LBP"} & set(published.rates)


def test_a_history_listed_newest_first_comes_back_oldest_first() -> None:
    body = envelope(
        [
            ("2024-06-04", {"USD": "1.0888"}),
            ("2024-06-03", {"USD": "1.0867"}),
            ("2024-05-31", {"USD": "1.0827"}),
        ]
    )

    found = wire.published_of(body.encode())

    assert [p.day for p in found] == [
        date(2024, 5, 31),
        date(2024, 6, 3),
        date(2024, 6, 4),
    ]
    assert [p.rates["USD"] for p in found] == [
        Decimal("1.0827"),
        Decimal("1.0867"),
        Decimal("1.0888"),
    ]


def test_double_quoted_attributes_and_a_byte_order_mark_read_the_same() -> None:
    body = "\ufeff" + cube('<Cube currency="GBP" rate="0.85068"/>')

    (published,) = wire.published_of(body.encode("utf-8"))

    assert published.rates == {"GBP": Decimal("0.85068")}


def test_an_envelope_with_no_day_holds_nothing() -> None:
    assert wire.published_of(f"{OPEN}<Cube></Cube>{CLOSE}".encode()) == []


codes = st.text(alphabet=string.ascii_uppercase, min_size=3, max_size=3)
rates_text = st.builds(
    lambda whole, fraction: f"{whole}{fraction}",
    st.integers(1, 99_999).map(str),
    st.sampled_from(["", ".0", ".5", ".10", ".0867", ".85068", ".000001"]),
)
history = st.dictionaries(
    st.dates(date(1999, 1, 4), date(2030, 12, 31)),
    st.dictionaries(codes, rates_text, max_size=4),
    max_size=5,
)


@given(history)
def test_any_history_reads_back_exactly_as_written(
    days: dict[date, dict[str, str]],
) -> None:
    newest_first = sorted(days.items(), reverse=True)
    body = envelope([(day.isoformat(), rates) for day, rates in newest_first])

    found = wire.published_of(body.encode())

    assert [p.day for p in found] == sorted(days)
    for published in found:
        written = days[published.day]
        assert {c: str(r) for c, r in published.rates.items()} == written


# --- what else may come back ---------------------------------------------------

MAINTENANCE = (
    "<!DOCTYPE html>\n<html><head><title>Site under maintenance</title></head>"
    "<body><p>Back soon</p></body></html>"
)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"", "an empty body"),
        (b"  \n", "an empty body"),
        (MAINTENANCE.encode(), "an HTML page (title 'Site under maintenance')"),
        (b"<html><body>Bad gateway</body></html>", "an HTML page ('<html>"),
        (DAILY[: len(DAILY) // 2], "cannot be read"),
        (DAILY[:-3], "cannot be read"),
        (b'{"rates": {"USD": 1.0867}}', "cannot be read"),
        (b"<rss version='2.0'><channel/></rss>", "of 'rss', not gesmes:Envelope"),
        (f"{OPEN}{CLOSE}".encode(), "no Cube of rates"),
        ("caf\xe9".encode("latin-1"), "not UTF-8 text"),
        ("<a/>".encode("utf-16"), "not UTF-8 text"),
    ],
    ids=[
        "empty",
        "blank",
        "maintenance",
        "bare-html",
        "cut-half",
        "cut-end",
        "json",
        "rss",
        "no-cube",
        "latin-1",
        "utf-16",
    ],
)
def test_a_body_that_is_not_the_envelope_says_what_came(body: bytes, said: str) -> None:
    with pytest.raises(wire.NotEnvelope) as refused:
        wire.published_of(body)

    assert said in str(refused.value)


@pytest.mark.parametrize(
    ("inner", "said"),
    [
        ("<Cube currency='USD' rate='1,0867'/>", "USD the rate '1,0867'"),
        ("<Cube currency='USD' rate='-1.08'/>", "USD the rate '-1.08'"),
        ("<Cube currency='USD' rate='0'/>", "USD the rate '0'"),
        ("<Cube currency='USD' rate='NaN'/>", "USD the rate 'NaN'"),
        ("<Cube currency='USD' rate='1e3'/>", "USD the rate '1e3'"),
        ("<Cube currency='USD' rate='1_000'/>", "USD the rate '1_000'"),
        ("<Cube currency='USD' rate=' 1.08'/>", "USD the rate ' 1.08'"),
        ("<Cube currency='USD' rate='١٫٠٨'/>", "USD the rate '١٫٠٨'"),
        ("<Cube currency='USD'/>", "USD the rate ''"),
        ("<Cube currency='usd' rate='1.08'/>", "currency 'usd'"),
        ("<Cube rate='1.08'/>", "currency ''"),
        (
            "<Cube currency='USD' rate='1.08'/><Cube currency='USD' rate='1.09'/>",
            "lists USD twice",
        ),
    ],
)
def test_a_figure_that_is_not_a_rate_names_the_day_and_currency(
    inner: str, said: str
) -> None:
    with pytest.raises(wire.NotEnvelope) as refused:
        wire.published_of(cube(inner).encode())

    assert "Cube time='2024-06-03'" in str(refused.value)
    assert said in str(refused.value)


@pytest.mark.parametrize("stamp", ["", "03/06/2024", "2024-02-30", "today"])
def test_a_day_that_is_not_a_date_is_named(stamp: str) -> None:
    with pytest.raises(wire.NotEnvelope, match="not a YYYY-MM-DD day") as refused:
        wire.published_of(cube("", time=stamp).encode())

    assert repr(stamp) in str(refused.value)


def test_a_day_listed_twice_is_refused() -> None:
    body = envelope([("2024-06-03", {"USD": "1.08"}), ("2024-06-03", {"USD": "1.09"})])

    with pytest.raises(wire.NotEnvelope, match="lists 2024-06-03 twice"):
        wire.published_of(body.encode())


BOMB = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n > 1 else "&lol;" * 10}">'
        for n in range(1, 10)
    )
    + "]>\n"
    + cube("<Cube currency='USD' rate='1.08'/>")
    .replace("Reference rates", "&lol9;")
    .split("\n", 1)[1]
)


@pytest.mark.parametrize(
    "body",
    [
        BOMB,
        '<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>',
        "<!doctype gesmes:Envelope><gesmes:Envelope/>",
        cube("").replace("<Cube>", "<!ENTITY x 'y'><Cube>", 1),
    ],
    ids=["billion-laughs", "external-dtd", "lower-case-doctype", "stray-entity"],
)
def test_a_body_declaring_entities_is_refused_without_parsing(body: str) -> None:
    with pytest.raises(wire.UnsafeBody, match="was not parsed"):
        wire.published_of(body.encode())


# --- statuses ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fetched", "kind", "said"),
    [
        (
            wire.Fetched(301, b"", "https://ecb.test/new/"),
            PermanentPartnerError,
            "redirected to https://ecb.test/new/",
        ),
        (
            wire.Fetched(404, b"<html><title>Page not found</title></html>"),
            PermanentPartnerError,
            "no eurofxref-daily.xml under base_url",
        ),
        (wire.Fetched(400, b"Bad Request"), PermanentPartnerError, "Bad Request"),
        (
            wire.Fetched(520, b"<html><title>Origin error</title></html>"),
            TransientPartnerError,
            "Origin error",
        ),
    ],
    ids=["301", "404", "400", "520"],
)
def test_an_answer_other_than_the_file_is_an_error_in_its_own_words(
    fetched: wire.Fetched, kind: type[Exception], said: str
) -> None:
    error = wire.error_of(fetched, wire.DAILY)

    assert type(error) is kind
    assert error.status == fetched.status
    assert error.partner == "ecb"
    assert said in str(error)
