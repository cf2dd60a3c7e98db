"""The loopback Open Exchange Rates answers like the API: its body, its
refusals in the API's error shape, its figures written as exact digits
from the sandbox market, never a day after its clock's today; and its
world survives a restart."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from fulfilment.runners.sandbox import markets
from fulfilment.runners.sandbox.openexchangerates import (
    SANDBOX_APP_ID,
    OpenExchangeRatesSimulator,
    rate_limited,
)
from fulfilment.runners.sandbox.server import SimRequest
from fulfilment.testing.builders import T0
from tests.notify.loopback import loopback_client

from .test_openexchangerates_loopback import Served, served, simulator

__all__ = ["served", "simulator"]

TODAY = T0.date()
YESTERDAY = TODAY - timedelta(days=1)
ERROR_KEYS = {"error", "status", "message", "description"}


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with loopback_client(served[1], 5.0) as client:
        yield client


def get(http: httpx.Client, path: str, **query: Any) -> httpx.Response:
    query.setdefault("app_id", SANDBOX_APP_ID)
    return http.get(path, params={k: v for k, v in query.items() if v is not None})


def decoded(answer: httpx.Response) -> Any:
    return json.loads(answer.text, parse_float=Decimal, parse_int=Decimal)


def assert_refused(answer: httpx.Response, status: int, message: str) -> None:
    body = answer.json()
    assert answer.status_code == status
    assert set(body) == ERROR_KEYS
    assert (body["error"], body["status"], body["message"]) == (True, status, message)
    assert body["description"]


# --- refusals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("app_id", "message"),
    [(None, "missing_app_id"), ("", "missing_app_id"), ("guess", "invalid_app_id")],
)
def test_an_app_id_it_does_not_know_is_401(
    http: httpx.Client, simulator: OpenExchangeRatesSimulator, app_id: Any, message: str
) -> None:
    for path in ("/api/latest.json", "/api/historical/2026-11-01.json"):
        assert_refused(get(http, path, app_id=app_id), 401, message)


def test_a_base_other_than_usd_is_403_not_allowed(
    http: httpx.Client, simulator: OpenExchangeRatesSimulator
) -> None:
    assert_refused(get(http, "/api/latest.json", base="EUR"), 403, "not_allowed")
    assert get(http, "/api/latest.json", base="USD").status_code == 200


@pytest.mark.parametrize("text", ["2026-13-01", "2026-11-1", "yesterday", ""])
def test_a_date_it_cannot_read_is_400_invalid_date(
    http: httpx.Client, simulator: OpenExchangeRatesSimulator, text: str
) -> None:
    assert_refused(get(http, f"/api/historical/{text}.json"), 400, "invalid_date")


@pytest.mark.parametrize(
    "day", [TODAY + timedelta(days=1), date(1998, 12, 31)], ids=str
)
def test_a_day_after_today_or_before_1999_is_400_not_available(
    http: httpx.Client, simulator: OpenExchangeRatesSimulator, day: date
) -> None:
    answer = get(http, f"/api/historical/{day.isoformat()}.json")

    assert_refused(answer, 400, "not_available")


def test_a_withheld_day_is_400_not_available(
    http: httpx.Client, simulator: OpenExchangeRatesSimulator
) -> None:
    simulator.withhold(YESTERDAY)

    answer = get(http, f"/api/historical/{YESTERDAY.isoformat()}.json")

    assert_refused(answer, 400, "not_available")


def test_it_says_it_publishes_a_day_exactly_when_history_has_figures(
    http: httpx.Client, simulator: OpenExchangeRatesSimulator
) -> None:
    simulator.withhold(YESTERDAY)
    expected = {
        date(1998, 12, 31): False,
        date(1999, 1, 1): True,
        YESTERDAY - timedelta(days=1): True,
        YESTERDAY: False,
        TODAY: True,
        TODAY + timedelta(days=1): False,
    }

    answered = {
        day: get(http, f"/api/historical/{day.isoformat()}.json").status_code == 200
        for day in expected
    }

    assert answered == expected
    assert {day: simulator.publishes(day) for day in expected} == expected


def test_an_unknown_address_is_404_not_found(
    http: httpx.Client, simulator: OpenExchangeRatesSimulator
) -> None:
    assert_refused(get(http, "/api/time-series.json"), 404, "not_found")
    assert_refused(get(http, "/latest.json"), 404, "not_found")


def test_a_rate_limit_fault_is_429_with_retry_after_in_the_apis_shape(
    http: httpx.Client, simulator: OpenExchangeRatesSimulator
) -> None:
    simulator.faults.add("latest", rate_limited(retry_after=3))

    answer = get(http, "/api/latest.json")

    assert_refused(answer, 429, "access_restricted")
    assert answer.headers["Retry-After"] == "3"


# --- the answer ----------------------------------------------------------------


def test_latest_is_todays_market_stamped_at_the_start_of_the_hour(
    http: httpx.Client, simulator: OpenExchangeRatesSimulator
) -> None:
    simulator.clock.set(T0 + timedelta(minutes=42))  # type: ignore[attr-defined]

    body = decoded(get(http, "/api/latest.json"))

    assert list(body) == ["disclaimer", "license", "timestamp", "base", "rates"]
    assert body["base"] == "USD"
    assert datetime.fromtimestamp(int(body["timestamp"]), UTC) == T0
    assert body["rates"] == markets.usd_rates(TODAY)
    assert list(body["rates"]) == sorted(body["rates"])


def test_a_past_day_is_that_days_market_stamped_at_its_last_second(
    http: httpx.Client, simulator: OpenExchangeRatesSimulator
) -> None:
    body = decoded(get(http, "/api/historical/2026-10-31.json"))

    stamp = datetime.fromtimestamp(int(body["timestamp"]), UTC)
    assert stamp == datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)
    assert body["rates"] == markets.usd_rates(date(2026, 10, 31))


def test_today_asked_as_history_is_answered_like_latest(
    http: httpx.Client, simulator: OpenExchangeRatesSimulator
) -> None:
    history = decoded(get(http, f"/api/historical/{TODAY.isoformat()}.json"))

    assert history == decoded(get(http, "/api/latest.json"))


def test_symbols_keep_the_codes_named_and_ignore_unknown_ones(
    http: httpx.Client, simulator: OpenExchangeRatesSimulator
) -> None:
    body = decoded(get(http, "/api/latest.json", symbols="xau,LBP, MAD,ZZZ"))

    assert set(body["rates"]) == {"LBP", "MAD", "XAU"}


def test_figures_are_written_as_the_markets_exact_digits(
    http: httpx.Client, simulator: OpenExchangeRatesSimulator
) -> None:
    text = get(http, "/api/latest.json", symbols="LBP,XAU,EUR").text
    rates = markets.usd_rates(TODAY)

    assert '"LBP": 89500' in text
    assert f'"XAU": {format(rates["XAU"], "f")}' in text
    assert f'"EUR": {rates["EUR"]}' in text
    written = re.findall(r'"[A-Z]{3}": ([^,\n}]+)', text)
    assert len(written) == 3
    assert all(re.fullmatch(r"[0-9]+(\.[0-9]+)?", n) for n in written)


def test_prettyprint_off_gives_a_compact_body_of_the_same_figures(
    http: httpx.Client, simulator: OpenExchangeRatesSimulator
) -> None:
    pretty = get(http, "/api/latest.json")
    compact = get(http, "/api/latest.json", prettyprint="false")

    assert "\n" in pretty.text
    assert "\n" not in compact.text
    assert decoded(compact) == decoded(pretty)


def test_the_market_feed_differs_from_the_official_one_only_in_lbp(
    tmp_path: Path,
) -> None:
    official = OpenExchangeRatesSimulator(data_dir=tmp_path)
    market = OpenExchangeRatesSimulator(data_dir=tmp_path, feed="market")

    day = date(2026, 6, 3)
    assert market.rates_on(day)["LBP"] == markets.lbp_market(day)
    assert official.rates_on(day)["LBP"] == Decimal(89500)
    assert market.rates_on(day) | {"LBP": 0} == official.rates_on(day) | {"LBP": 0}
    assert market.state_path != official.state_path


def test_an_unknown_feed_or_no_app_id_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="feed must be one of official, market"):
        OpenExchangeRatesSimulator(feed="black")
    with pytest.raises(ValueError, match="app_ids"):
        OpenExchangeRatesSimulator(app_ids="one-id")


def test_withheld_days_survive_a_restart(tmp_path: Path) -> None:
    first = OpenExchangeRatesSimulator(data_dir=tmp_path)
    first.withhold(YESTERDAY)

    again = OpenExchangeRatesSimulator(data_dir=tmp_path)

    assert again.state["withheld"] == [YESTERDAY.isoformat()]


def test_every_configured_app_id_is_let_in_and_the_first_goes_in_settings() -> None:
    sim = OpenExchangeRatesSimulator(app_ids=("first-id", "second-id"))

    statuses = [
        sim.dispatch(
            SimRequest("GET", "/api/latest.json", {"app_id": [app_id]}, {}, b"")
        )[0].status
        for app_id in ("first-id", "second-id", SANDBOX_APP_ID)
    ]

    assert statuses == [200, 200, 401]
    assert sim.sandbox_settings("http://127.0.0.1:9") == {
        "base_url": "http://127.0.0.1:9",
        "app_id": "first-id",
    }
