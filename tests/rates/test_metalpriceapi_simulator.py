"""The loopback MetalpriceAPI answers like MetalpriceAPI: its answer shapes
with exact figures from the sandbox market, its refusals, its plan's monthly
limit, and no day after the clock's today."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from fulfilment.adapters.rates.metalpriceapi import MetalpriceApiSettings
from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox import markets
from fulfilment.runners.sandbox.metalpriceapi import (
    SANDBOX_API_KEY,
    MetalpriceApiSimulator,
    rate_limited,
)
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.testing.builders import T0
from tests.notify.loopback import loopback_client

from .test_metalpriceapi_loopback import Served, served, simulator

__all__ = ["served", "simulator"]

TODAY = T0.date()
YESTERDAY = TODAY - timedelta(days=1)


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with loopback_client(served[1], 5.0) as client:
        yield client


def get(http: httpx.Client, path: str = "/v1/latest", **query: Any) -> httpx.Response:
    return http.get(path, params={"api_key": SANDBOX_API_KEY, **query})


def exact(answer: httpx.Response) -> Any:
    return json.loads(answer.text, parse_float=Decimal, parse_int=Decimal)


# --- answers -------------------------------------------------------------------


def test_latest_answers_todays_figures_in_metalpriceapis_shape(
    http: httpx.Client, simulator: MetalpriceApiSimulator
) -> None:
    answer = get(http, base="USD", currencies="XAU,XAG,EUR")

    body = exact(answer)
    usd = markets.usd_rates(TODAY)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert list(body) == ["success", "base", "timestamp", "rates"]
    assert (body["success"], body["base"]) == (True, "USD")
    assert body["timestamp"] == int(T0.timestamp())
    assert list(body["rates"]) == ["EUR", "XAG", "XAU", "USDXAG", "USDXAU"]
    assert body["rates"]["XAU"] == usd["XAU"]
    assert body["rates"]["EUR"] == usd["EUR"]


def test_figures_are_written_as_their_digits_not_through_a_float(
    http: httpx.Client, simulator: MetalpriceApiSimulator
) -> None:
    answer = get(http, currencies="XAU,LBP")

    usd = markets.usd_rates(TODAY)
    assert f'"XAU": {usd["XAU"]}' in answer.text
    assert '"LBP": 89500' in answer.text


def test_the_inverses_are_the_base_price_of_one_ounce(
    http: httpx.Client, simulator: MetalpriceApiSimulator
) -> None:
    rates = exact(get(http, currencies="XAU,XAG,EUR"))["rates"]

    assert "USDEUR" not in rates  # our reference shows inverses for metals only
    for metal in ("XAU", "XAG"):
        assert abs(rates[f"USD{metal}"] * rates[metal] - 1) < Decimal("1e-8")
    assert Decimal(2000) < rates["USDXAU"] < Decimal(3000)


def test_a_past_day_answers_with_its_date_and_its_closing_time(
    http: httpx.Client, simulator: MetalpriceApiSimulator
) -> None:
    body = exact(get(http, f"/v1/{YESTERDAY}", currencies="XAU"))

    assert body["historical"] is True
    assert body["date"] == YESTERDAY.isoformat()
    closing = datetime.combine(YESTERDAY, datetime.max.time(), UTC)
    assert body["timestamp"] == int(closing.replace(microsecond=0).timestamp())
    assert body["rates"]["XAU"] == markets.usd_rates(YESTERDAY)["XAU"]


def test_today_by_its_date_is_stamped_no_later_than_now(
    http: httpx.Client, simulator: MetalpriceApiSimulator
) -> None:
    body = exact(get(http, f"/v1/{TODAY}", currencies="XAG"))

    assert body["timestamp"] == int(T0.timestamp())
    assert body["rates"]["XAG"] == markets.usd_rates(TODAY)["XAG"]


def test_without_currencies_every_currency_of_the_market_comes(
    http: httpx.Client, simulator: MetalpriceApiSimulator
) -> None:
    rates = exact(get(http))["rates"]

    plain = {code for code in rates if len(code) == 3}
    assert plain == markets.CURRENCIES - {"USD"}


def test_a_currency_it_does_not_know_is_left_out_without_an_error(
    http: httpx.Client, simulator: MetalpriceApiSimulator
) -> None:
    answer = get(http, currencies="XAU,ZAR,xag")

    assert answer.status_code == 200
    assert set(exact(answer)["rates"]) == {"XAU", "XAG", "USDXAU", "USDXAG"}


def test_another_base_is_crossed_through_the_dollar(
    http: httpx.Client, simulator: MetalpriceApiSimulator
) -> None:
    body = exact(get(http, base="EUR", currencies="XAU,USD"))

    usd = markets.usd_rates(TODAY)
    assert body["base"] == "EUR"
    assert body["rates"]["USD"] == (1 / usd["EUR"]).quantize(body["rates"]["USD"])
    assert "EURXAU" in body["rates"]


def test_crossed_figures_are_as_written_digit_for_digit(
    http: httpx.Client, simulator: MetalpriceApiSimulator
) -> None:
    # Crossed to nine digits, a figure may end in zeros a JSON writer
    # drops; what the simulator says it published must be what it wrote.
    for back in range(10):
        day = TODAY - timedelta(days=back)
        published = simulator.rates(day, "EUR")

        body = exact(get(http, f"/v1/{day}", base="EUR"))

        written = {code: str(body["rates"][code]) for code in published}
        assert written == {code: str(rate) for code, rate in published.items()}


# --- days without figures -------------------------------------------------------


def closing_of(day: date) -> int:
    return int(datetime.combine(day, time(23, 59, 59), UTC).timestamp())


def test_a_withheld_day_answers_with_the_last_figures_before_it(
    http: httpx.Client, simulator: MetalpriceApiSimulator
) -> None:
    two_days_ago = TODAY - timedelta(days=2)
    simulator.withhold(YESTERDAY)
    simulator.withhold(two_days_ago)
    before = TODAY - timedelta(days=3)

    body = exact(get(http, f"/v1/{YESTERDAY}", currencies="XAU"))

    assert body["date"] == before.isoformat()
    assert body["timestamp"] == closing_of(before)
    assert body["rates"]["XAU"] == markets.usd_rates(before)["XAU"]
    assert not simulator.publishes(YESTERDAY)
    assert not simulator.publishes(two_days_ago)
    assert simulator.publishes(before)


def test_a_withheld_today_leaves_latest_on_yesterdays_figures(
    http: httpx.Client, simulator: MetalpriceApiSimulator
) -> None:
    simulator.withhold(TODAY)

    body = exact(get(http, currencies="XAG"))

    assert "date" not in body
    assert body["timestamp"] == closing_of(YESTERDAY)
    assert body["rates"]["XAG"] == markets.usd_rates(YESTERDAY)["XAG"]
    assert not simulator.publishes(TODAY)


def test_every_day_to_today_has_figures_of_its_own_unless_withheld(
    simulator: MetalpriceApiSimulator,
) -> None:
    assert simulator.publishes(TODAY)
    assert simulator.publishes(TODAY - timedelta(days=400))
    assert not simulator.publishes(TODAY + timedelta(days=1))


# --- refusals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "No API key was provided."),
        ({"api_key": "guess"}, "The API key provided is not valid."),
    ],
    ids=["no-key", "wrong-key"],
)
def test_a_missing_or_wrong_key_is_401(
    http: httpx.Client,
    simulator: MetalpriceApiSimulator,
    query: dict[str, str],
    message: str,
) -> None:
    for path in ("/v1/latest", f"/v1/{YESTERDAY}"):
        answer = http.get(path, params=query)

        assert answer.status_code == 401
        assert answer.json() == {
            "success": False,
            "error": {"statusCode": 401, "message": message},
        }


@pytest.mark.parametrize(
    ("path", "query", "words"),
    [
        ("/v1/2026-02-30", {}, "Invalid date"),
        (f"/v1/{TODAY + timedelta(days=1)}", {}, "in the future"),
        ("/v1/latest", {"base": "XYZ"}, "Invalid base currency"),
    ],
    ids=["no-such-date", "tomorrow", "unknown-base"],
)
def test_a_query_it_cannot_answer_is_400(
    http: httpx.Client,
    simulator: MetalpriceApiSimulator,
    path: str,
    query: dict[str, str],
    words: str,
) -> None:
    answer = get(http, path, **query)

    body = answer.json()
    assert answer.status_code == 400
    assert body["success"] is False
    assert body["error"]["statusCode"] == 400
    assert words in body["error"]["message"]


def test_past_the_monthly_quota_every_request_is_403_until_the_month_turns(
    http: httpx.Client, simulator: MetalpriceApiSimulator
) -> None:
    simulator.monthly_quota = 2
    assert [get(http).status_code for _ in range(3)] == [200, 200, 403]
    assert "for this month" in get(http).json()["error"]["message"]

    simulator.clock.set(datetime(2026, 12, 1, 0, 1, tzinfo=UTC))  # type: ignore[attr-defined]

    assert get(http).status_code == 200


def test_a_rate_limit_fault_answers_429_with_a_wait(
    http: httpx.Client, simulator: MetalpriceApiSimulator
) -> None:
    simulator.faults.add("historical", rate_limited(2))

    limited = get(http, f"/v1/{YESTERDAY}")
    after = get(http, f"/v1/{YESTERDAY}")

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    assert limited.json()["error"]["statusCode"] == 429
    assert after.status_code == 200


# --- the sandbox ---------------------------------------------------------------


def test_it_listens_on_loopback_only(served: Served) -> None:
    assert served[1].startswith("http://127.0.0.1:")


def test_its_sandbox_settings_are_a_valid_adapter_table(
    served: Served, simulator: MetalpriceApiSimulator
) -> None:
    table = simulator.sandbox_settings(served[1])

    settings = MetalpriceApiSettings(**table)
    assert (settings.base_url, settings.base) == (served[1], "USD")


def test_the_requests_it_served_this_month_survive_a_restart(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    first = MetalpriceApiSimulator(data_dir=tmp_path, clock=clock, monthly_quota=1)
    with SimServer(first) as server, loopback_client(server.url, 5.0) as http:
        assert get(http).status_code == 200

    again = MetalpriceApiSimulator(data_dir=tmp_path, clock=clock, monthly_quota=1)
    with SimServer(again) as server, loopback_client(server.url, 5.0) as http:
        assert get(http).status_code == 403


def test_withheld_days_survive_a_restart(tmp_path: Path) -> None:
    first = MetalpriceApiSimulator(data_dir=tmp_path, clock=ManualClock(T0))
    first.withhold(YESTERDAY)

    again = MetalpriceApiSimulator(data_dir=tmp_path, clock=ManualClock(T0))

    assert not again.publishes(YESTERDAY)
    assert again.publishes(TODAY)
