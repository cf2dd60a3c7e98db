"""The loopback ECB writes its files the way the ECB does, publishes on
TARGET working days once 16:00 has passed in Frankfurt and never after its
clock's today, draws its figures from the sandbox market, and fails when
told."""

from __future__ import annotations

import decimal
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from fulfilment.runners.sandbox.ecb import (
    MAINTENANCE_TITLE,
    EcbSimulator,
    ecb_rates,
)
from fulfilment.runners.sandbox.markets import ECB_CURRENCIES, usd_rates
from fulfilment.runners.sandbox.server import Fault
from fulfilment.testing.builders import T0
from tests.notify.loopback import loopback_client

from .test_ecb_contract import Served, served, simulator

__all__ = ["served", "simulator"]

FOLDER = "/stats/eurofxref/"
GESMES = "{http://www.gesmes.org/xml/2002-08-01}"
REF = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with loopback_client(served[1], 5.0) as client:
        yield client


def at(sim: EcbSimulator, moment: datetime) -> EcbSimulator:
    sim.clock.set(moment)  # type: ignore[attr-defined]
    return sim


def days_in(http: httpx.Client, name: str) -> list[str]:
    answer = http.get(f"{FOLDER}{name}")
    assert answer.status_code == 200
    root = ET.fromstring(answer.text)  # noqa: S314 - our own simulator's file
    return [
        cube.attrib["time"] for cube in root.iter(f"{REF}Cube") if "time" in cube.attrib
    ]


def five_digits(value: Decimal) -> Decimal:
    return value.quantize(
        Decimal(1).scaleb(value.adjusted() - 4), rounding=decimal.ROUND_HALF_EVEN
    )


# --- the file as the ECB writes it ----------------------------------------------


def test_the_daily_file_is_the_gesmes_envelope_with_single_quoted_cubes(
    http: httpx.Client, simulator: EcbSimulator
) -> None:
    answer = http.get(f"{FOLDER}eurofxref-daily.xml")

    root = ET.fromstring(answer.text)  # noqa: S314 - our own simulator's file
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/xml"
    assert answer.text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    assert root.tag == f"{GESMES}Envelope"
    assert root.findtext(f"{GESMES}subject") == "Reference rates"
    assert root.findtext(f"{GESMES}Sender/{GESMES}name") == "European Central Bank"
    (day,) = root.findall(f"{REF}Cube/{REF}Cube")
    assert day.attrib == {"time": "2026-10-30"}
    assert "<Cube time='2026-10-30'>" in answer.text
    assert "<Cube currency='USD' rate='" in answer.text
    assert [c.attrib["currency"] for c in day] == [
        "USD",
        "JPY",
        "GBP",
        "CHF",
        "TRY",
        "CNY",
    ]


def test_the_figures_are_the_markets_dollar_rates_seen_from_the_euro() -> None:
    day = date(2026, 10, 30)
    usd = usd_rates(day)

    rates = ecb_rates(day)

    assert set(rates) == ECB_CURRENCIES
    assert rates["USD"] == five_digits(Decimal(1) / usd["EUR"])
    for currency in ECB_CURRENCIES - {"USD"}:
        assert rates[currency] == five_digits(usd[currency] / usd["EUR"]), currency
    # The other feeds' euro per dollar, turned over, agrees to five digits.
    assert abs(rates["USD"] * usd["EUR"] - 1) < Decimal("0.00005")


def test_every_figure_has_five_significant_digits_trailing_zeros_kept() -> None:
    for offset in range(60):
        for currency, rate in ecb_rates(
            date(2025, 1, 1) + timedelta(days=offset)
        ).items():
            assert len(rate.as_tuple().digits) == 5, (currency, rate)
            assert "E" not in f"{rate:f}"


def test_it_never_carries_the_currencies_the_connector_needs_elsewhere() -> None:
    rates = ecb_rates(T0.date())

    assert not {"MAD", "EGP", "AED", "LBP", "SAR", "XAU", "XAG", "EUR"} & set(rates)


# --- when it publishes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "latest"),
    [
        # Monday 09:00 UTC: Friday's rates.
        (datetime(2026, 11, 2, 9, 0, tzinfo=UTC), "2026-10-30"),
        # Monday 15:00 UTC is 16:00 CET: Monday's.
        (datetime(2026, 11, 2, 15, 0, tzinfo=UTC), "2026-11-02"),
        (datetime(2026, 11, 2, 14, 59, tzinfo=UTC), "2026-10-30"),
        # In summer 16:00 CEST is 14:00 UTC.
        (datetime(2026, 6, 3, 14, 0, tzinfo=UTC), "2026-06-03"),
        (datetime(2026, 6, 3, 13, 59, tzinfo=UTC), "2026-06-02"),
        # Saturday and Sunday: Friday's.
        (datetime(2026, 11, 7, 18, 0, tzinfo=UTC), "2026-11-06"),
        (datetime(2026, 11, 8, 18, 0, tzinfo=UTC), "2026-11-06"),
        # Easter Monday 2026 (6 April) and Good Friday (3 April): Thursday's.
        (datetime(2026, 4, 6, 18, 0, tzinfo=UTC), "2026-04-02"),
        # Christmas and Boxing Day: the 24th.
        (datetime(2026, 12, 26, 18, 0, tzinfo=UTC), "2026-12-24"),
    ],
)
def test_the_daily_file_holds_the_last_day_published(
    http: httpx.Client, simulator: EcbSimulator, moment: datetime, latest: str
) -> None:
    at(simulator, moment)

    assert days_in(http, "eurofxref-daily.xml") == [latest]


def test_the_90_day_file_lists_the_working_days_of_90_days_newest_first(
    http: httpx.Client, simulator: EcbSimulator
) -> None:
    at(simulator, datetime(2026, 11, 3, 18, 0, tzinfo=UTC))

    days = [date.fromisoformat(d) for d in days_in(http, "eurofxref-hist-90d.xml")]

    assert days == sorted(days, reverse=True)
    assert days[0] == date(2026, 11, 3)
    assert days[-1] == date(2026, 8, 5)
    assert all(day.weekday() < 5 for day in days)
    assert len(days) == 65


def test_the_full_history_runs_from_its_start_to_today(
    http: httpx.Client, simulator: EcbSimulator
) -> None:
    at(simulator, datetime(2026, 11, 3, 18, 0, tzinfo=UTC))

    days = days_in(http, "eurofxref-hist.xml")

    assert days[0] == "2026-11-03"
    # It starts on 1 January 2024, a TARGET holiday.
    assert days[-1] == "2024-01-02"
    for holiday in ("2024-03-29", "2024-04-01", "2024-05-01", "2025-12-25"):
        assert holiday not in days
    assert days == sorted(days, reverse=True)


def test_nothing_is_published_after_the_clocks_today(
    simulator: EcbSimulator,
) -> None:
    at(simulator, T0)

    assert simulator.rates_of(T0.date() - timedelta(days=3)) is not None
    assert simulator.rates_of(T0.date()) is None
    assert simulator.rates_of(T0.date() + timedelta(days=1)) is None
    assert simulator.rates_of(date(2023, 12, 29)) is None


# --- failures --------------------------------------------------------------------


def test_a_fault_hits_only_its_own_file(
    http: httpx.Client, simulator: EcbSimulator
) -> None:
    simulator.faults.add("hist-90d", Fault(status=503, retry_after=2))

    daily = http.get(f"{FOLDER}eurofxref-daily.xml")
    failed = http.get(f"{FOLDER}eurofxref-hist-90d.xml")
    again = http.get(f"{FOLDER}eurofxref-hist-90d.xml")

    assert daily.status_code == 200
    assert (failed.status_code, failed.headers["retry-after"]) == (503, "2")
    assert again.status_code == 200


@pytest.mark.parametrize("status", [200, 503])
def test_a_maintenance_page_stands_in_for_the_file(
    http: httpx.Client, simulator: EcbSimulator, status: int
) -> None:
    simulator.serve_maintenance_page("hist", status=status)

    page = http.get(f"{FOLDER}eurofxref-hist.xml")
    file = http.get(f"{FOLDER}eurofxref-hist.xml")

    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert f"<title>{MAINTENANCE_TITLE}</title>" in page.text
    assert file.status_code == 200
    assert file.text.startswith("<?xml")


@pytest.mark.parametrize(
    "path", ["eurofxref.zip", "eurofxref-hist.xml.bak", "nested/eurofxref-daily.xml"]
)
def test_another_file_in_the_folder_is_an_html_404(
    http: httpx.Client, simulator: EcbSimulator, path: str
) -> None:
    answer = http.get(f"{FOLDER}{path}")

    assert answer.status_code == 404
    assert "<title>Page not found</title>" in answer.text


def test_its_settings_point_at_the_folder(simulator: EcbSimulator) -> None:
    assert simulator.sandbox_settings("http://127.0.0.1:8080/") == {
        "base_url": "http://127.0.0.1:8080/stats/eurofxref/"
    }
