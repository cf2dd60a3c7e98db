"""The Open Exchange Rates source over HTTP, routed by respx: which
address each day is read from, which days are left out, what is retried
and what is reported, in the API's words, with the app id never shown."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.rates.openexchangerates import (
    OpenExchangeRatesClient,
    OpenExchangeRatesSettings,
    OpenExchangeRatesSource,
)
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.core.errors import (
    OutcomeUnknown,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.rates import PublishedRates
from fulfilment.testing.builders import T0

HOST = "https://oxr.test"
APP_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
LATEST = "/api/latest.json"
TODAY = T0.date()  # Monday 2 November 2026
SATURDAY, SUNDAY = date(2026, 10, 31), date(2026, 11, 1)
QUOTES = ("EGP", "XAU")


def historical(day: date) -> str:
    return f"/api/historical/{day.isoformat()}.json"


def rates_body(
    day: date,
    rates: dict[str, str] | None = None,
    *,
    base: str = "USD",
    at: datetime | None = None,
) -> bytes:
    """A rates answer as the API writes it: figures as bare digits."""
    moment = at or datetime.combine(day, time(23, 59, 59), UTC)
    figures = rates if rates is not None else {"EGP": "48.6012", "XAU": "0.000416667"}
    written = ", ".join(f'"{code}": {value}' for code, value in figures.items())
    return (
        '{"disclaimer": "Usage subject to terms: https://openexchangerates.org/terms",'
        ' "license": "https://openexchangerates.org/license",'
        f' "timestamp": {int(moment.timestamp())}, "base": "{base}",'
        f' "rates": {{{written}}}}}'
    ).encode()


def refusal(status: int, message: str, description: str) -> dict[str, Any]:
    return {
        "error": True,
        "status": status,
        "message": message,
        "description": description,
    }


def source_for(
    retry: RetryPolicy | None = None, **changes: Any
) -> OpenExchangeRatesSource:
    settings = OpenExchangeRatesSettings(
        **{"base_url": HOST, "app_id": APP_ID, **changes}
    )
    client = OpenExchangeRatesClient(httpx.Client(base_url=HOST), settings.app_id)
    return OpenExchangeRatesSource(
        settings, client, retry or RetryPolicy.for_tests(), ManualClock(T0)
    )


def waits_recorded(attempts: int = 3) -> tuple[RetryPolicy, list[float]]:
    waits: list[float] = []
    return RetryPolicy(attempts=attempts, sleep=waits.append), waits


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(
        base_url=HOST, assert_all_called=True, assert_all_mocked=True
    ) as mock:
        yield mock


# --- which address, which days -------------------------------------------------


def test_today_comes_from_latest_and_earlier_days_from_their_historical_answers(
    router: respx.MockRouter,
) -> None:
    saturday = router.get(historical(SATURDAY)).respond(
        200, content=rates_body(SATURDAY)
    )
    sunday = router.get(historical(SUNDAY)).respond(200, content=rates_body(SUNDAY))
    latest = router.get(LATEST).respond(
        200, content=rates_body(TODAY, at=T0.replace(minute=0))
    )

    published = source_for().published(SATURDAY, TODAY, QUOTES)

    assert [p.day for p in published] == [SATURDAY, SUNDAY, TODAY]
    assert published[0] == PublishedRates(
        SATURDAY, "USD", {"EGP": Decimal("48.6012"), "XAU": Decimal("0.000416667")}
    )
    for route in (saturday, sunday, latest):
        params = route.calls.last.request.url.params
        assert dict(params) == {"app_id": APP_ID, "symbols": "EGP,XAU"}


def test_days_after_the_clocks_today_are_not_asked_for(
    router: respx.MockRouter,
) -> None:
    router.get(historical(SUNDAY)).respond(200, content=rates_body(SUNDAY))
    router.get(LATEST).respond(200, content=rates_body(TODAY, at=T0))

    published = source_for().published(SUNDAY, date(2026, 11, 6), QUOTES)

    assert [p.day for p in published] == [SUNDAY, TODAY]


def test_a_range_after_today_or_ending_before_it_starts_asks_nothing(
    router: respx.MockRouter,
) -> None:
    source = source_for()

    assert source.published(date(2026, 11, 3), date(2026, 11, 9), QUOTES) == []
    assert source.published(SUNDAY, SATURDAY, QUOTES) == []
    assert not router.calls


def test_a_quote_the_api_does_not_carry_is_absent_from_the_day(
    router: respx.MockRouter,
) -> None:
    router.get(LATEST).respond(200, content=rates_body(TODAY, {"EGP": "48.6"}, at=T0))

    (today,) = source_for().published(TODAY, TODAY, ["EGP", "XPT"])

    assert dict(today.rates) == {"EGP": Decimal("48.6")}


def test_a_base_other_than_usd_is_asked_for_by_name(router: respx.MockRouter) -> None:
    route = router.get(LATEST).respond(
        200, content=rates_body(TODAY, {"MAD": "10.81"}, base="EUR", at=T0)
    )

    (today,) = source_for(base="EUR").published(TODAY, TODAY, ["MAD"])

    assert (today.base, source_for(base="EUR").base) == ("EUR", "EUR")
    assert route.calls.last.request.url.params["base"] == "EUR"


@pytest.mark.parametrize(
    "quotes", [["usd"], ["EURO"], ["EU"], "EUR", ["EUR,MAD"], [None]]
)
def test_quotes_that_are_not_currency_codes_are_refused_before_any_call(
    router: respx.MockRouter, quotes: Any
) -> None:
    with pytest.raises(ValueError, match="quotes"):
        source_for().published(TODAY, TODAY, quotes)

    assert not router.calls


# --- days that were not published ----------------------------------------------


@pytest.mark.parametrize("message", ["not_available", "invalid_date"])
def test_a_day_the_api_has_no_figures_for_is_absent_and_logged(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture, message: str
) -> None:
    router.get(historical(SATURDAY)).respond(
        400, json=refusal(400, message, "No rates for that date.")
    )
    router.get(historical(SUNDAY)).respond(200, content=rates_body(SUNDAY))
    caplog.set_level(logging.INFO)

    published = source_for().published(SATURDAY, SUNDAY, QUOTES)

    assert [p.day for p in published] == [SUNDAY]
    assert (
        "rates.day_not_published provider=openexchangerates day=2026-10-31 "
        f"reason={message}"
    ) in caplog.messages


def test_a_historical_answer_for_another_day_is_not_that_days_publication(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    router.get(historical(SUNDAY)).respond(200, content=rates_body(SATURDAY))
    caplog.set_level(logging.INFO)

    assert source_for().published(SUNDAY, SUNDAY, QUOTES) == []
    assert any(
        "day=2026-11-01 reason=answered_for_another_day answered=2026-10-31" in m
        for m in caplog.messages
    )


def test_latest_still_showing_last_nights_rates_is_not_todays_publication(
    router: respx.MockRouter,
) -> None:
    last_night = datetime.combine(SUNDAY, time(23, 0), UTC)
    router.get(LATEST).respond(200, content=rates_body(TODAY, at=last_night))

    assert source_for().published(TODAY, TODAY, QUOTES) == []


# --- refusals ------------------------------------------------------------------


@pytest.mark.parametrize("message", ["invalid_app_id", "missing_app_id"])
def test_an_app_id_the_api_refuses_is_permanent_in_its_words(
    router: respx.MockRouter, message: str
) -> None:
    route = router.get(LATEST).respond(
        401, json=refusal(401, message, "Invalid App ID provided.")
    )

    with pytest.raises(PermanentPartnerError) as refused:
        source_for().published(TODAY, TODAY, QUOTES)

    assert (refused.value.status, refused.value.code) == (401, message)
    assert "Invalid App ID provided." in str(refused.value)
    assert route.call_count == 1


def test_a_base_the_plan_does_not_allow_is_permanent_in_the_apis_words(
    router: respx.MockRouter,
) -> None:
    words = "Changing the API `base` currency needs a paid plan."
    router.get(LATEST).respond(403, json=refusal(403, "not_allowed", words))

    with pytest.raises(PermanentPartnerError) as refused:
        source_for(base="EUR").published(TODAY, TODAY, QUOTES)

    assert (refused.value.status, refused.value.code) == (403, "not_allowed")
    assert words in str(refused.value)


@pytest.mark.parametrize(
    ("status", "message"),
    [(403, "access_restricted"), (400, "invalid_base"), (404, "not_found")],
)
def test_other_refusals_are_permanent_and_not_repeated(
    router: respx.MockRouter, status: int, message: str
) -> None:
    route = router.get(LATEST).respond(status, json=refusal(status, message, "No."))

    with pytest.raises(PermanentPartnerError) as refused:
        source_for().published(TODAY, TODAY, QUOTES)

    assert refused.value.code == message
    assert route.call_count == 1


def test_an_answer_per_another_base_is_a_contract_failure(
    router: respx.MockRouter,
) -> None:
    router.get(LATEST).respond(200, content=rates_body(TODAY, base="EUR", at=T0))

    with pytest.raises(PermanentPartnerError, match="per USD, answered per EUR"):
        source_for().published(TODAY, TODAY, QUOTES)


def test_json_that_is_not_a_rates_answer_is_permanent_and_names_the_field(
    router: respx.MockRouter,
) -> None:
    route = router.get(LATEST).respond(200, json={"status": "ok"})

    with pytest.raises(PermanentPartnerError, match="rates is absent"):
        source_for().published(TODAY, TODAY, QUOTES)

    assert route.call_count == 1


# --- what is retried -----------------------------------------------------------


def test_over_use_is_waited_out_for_as_long_as_the_api_asks(
    router: respx.MockRouter,
) -> None:
    router.get(LATEST).mock(
        side_effect=[
            httpx.Response(
                429,
                json=refusal(429, "access_restricted", "Slow down."),
                headers={"Retry-After": "7"},
            ),
            httpx.Response(200, content=rates_body(TODAY, at=T0)),
        ]
    )
    retry, waits = waits_recorded()

    published = source_for(retry).published(TODAY, TODAY, QUOTES)

    assert [p.day for p in published] == [TODAY]
    assert waits == [7.0]


def test_over_use_that_lasts_is_transient_in_the_apis_words(
    router: respx.MockRouter,
) -> None:
    route = router.get(LATEST).respond(
        429,
        json=refusal(429, "access_restricted", "Slow down."),
        headers={"Retry-After": "7"},
    )
    retry, _ = waits_recorded(attempts=3)

    with pytest.raises(TransientPartnerError) as limited:
        source_for(retry).published(TODAY, TODAY, QUOTES)

    assert (limited.value.code, limited.value.retry_after) == ("access_restricted", 7)
    assert "Slow down." in str(limited.value)
    assert route.call_count == 3


def test_a_429_about_the_plan_is_not_repeated(router: respx.MockRouter) -> None:
    route = router.get(LATEST).respond(
        429, json=refusal(429, "not_allowed", "Not on your plan.")
    )

    with pytest.raises(PermanentPartnerError, match="Not on your plan"):
        source_for().published(TODAY, TODAY, QUOTES)

    assert route.call_count == 1


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.Response(503, headers={"Retry-After": "1"}),
        httpx.Response(504),
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.Response(200, content=rates_body(TODAY, at=T0)[:-30]),
        httpx.Response(200, text="<html><body>Gateway</body></html>"),
    ],
    ids=["500", "502", "503", "504", "refused", "timeout", "cut-short", "html"],
)
def test_failures_that_may_pass_are_read_again_since_a_read_changes_nothing(
    router: respx.MockRouter, failure: Any
) -> None:
    route = router.get(LATEST).mock(
        side_effect=[failure, httpx.Response(200, content=rates_body(TODAY, at=T0))]
    )

    published = source_for().published(TODAY, TODAY, QUOTES)

    assert [p.day for p in published] == [TODAY]
    assert route.call_count == 2


def test_a_body_that_stays_unreadable_is_transient_and_says_where(
    router: respx.MockRouter,
) -> None:
    router.get(historical(SUNDAY)).respond(200, text="<html>Maintenance</html>")
    retry, _ = waits_recorded(attempts=2)

    with pytest.raises(TransientPartnerError) as unreadable:
        source_for(retry).published(SUNDAY, SUNDAY, QUOTES)

    message = str(unreadable.value)
    assert "not JSON" in message
    assert "/api/historical/2026-11-01.json?app_id=***&symbols=EGP%2CXAU" in message
    assert "Maintenance" in message


# --- the app id stays secret ---------------------------------------------------


@pytest.mark.parametrize(
    "status", [400, 401, 403, 404, 429, 500, 502, 503, 200], ids=str
)
def test_the_app_id_never_reaches_a_message_or_a_log_line(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    # An error page that echoes the address it was asked for, app id and all.
    echo = f"<html>No page at /api/latest.json?app_id={APP_ID}&symbols=EGP</html>"
    router.get(LATEST).respond(status, text=echo)
    caplog.set_level(logging.DEBUG, logger="fulfilment")
    retry, _ = waits_recorded(attempts=2)

    with pytest.raises((PermanentPartnerError, TransientPartnerError)) as failed:
        source_for(retry).published(TODAY, TODAY, QUOTES)

    assert APP_ID not in str(failed.value)
    assert "app_id=***" in str(failed.value)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("fulfilment")]
    assert not [line for line in ours if APP_ID in line]


def test_a_transport_failure_keeps_its_cause_but_not_the_app_id(
    router: respx.MockRouter,
) -> None:
    router.get(LATEST).mock(side_effect=httpx.ReadTimeout(f"timed out at {APP_ID}"))

    with pytest.raises(OutcomeUnknown) as lost:
        source_for(RetryPolicy.for_tests(attempts=1)).published(TODAY, TODAY, QUOTES)

    assert APP_ID not in str(lost.value)
    assert isinstance(lost.value.__cause__, httpx.ReadTimeout)
    assert lost.value.__context__ is None or lost.value.__suppress_context__
