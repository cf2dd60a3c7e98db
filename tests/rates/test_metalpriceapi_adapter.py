"""The MetalpriceAPI rate source over HTTP, routed by respx: the requests it
makes for a range of days, the figures it hands back, what each refusal and
failure means, and its key kept out of every error and log line."""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.rates.metalpriceapi import (
    MetalpriceApiClient,
    MetalpriceApiRateSource,
    MetalpriceApiSettings,
)
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerError,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.rates import PublishedRates
from fulfilment.runners.logs import Redactor

HOST = "https://api.metalpriceapi.test"
KEY = "mpa_FAKE_7c1e9b2d4f"
TLS = ssl.create_default_context()
# The fixture's timestamp (1717430400) is 2024-06-03 16:00 UTC: "today".
NOW = datetime(2024, 6, 3, 18, 30, tzinfo=UTC)
TODAY = NOW.date()
METALS = ("XAU", "XAG")


def latest(**rates: str) -> dict[str, Any]:
    """Our reference's fixture I.10, with other rates when given."""
    figures = rates or {
        "EUR": "0.920577",
        "XAG": "0.03314553",
        "XAU": "0.00042857",
        "USDXAG": "30.17",
        "USDXAU": "2333.34",
    }
    return {
        "success": True,
        "base": "USD",
        "timestamp": 1717430400,
        "rates": {code: Decimal(value) for code, value in figures.items()},
    }


def historical(day: date, xau: str = "0.00042", xag: str = "0.0331") -> dict[str, Any]:
    return {
        "success": True,
        "historical": True,
        "date": day.isoformat(),
        "base": "USD",
        "timestamp": int(
            datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC).timestamp()
        ),
        "rates": {"XAG": Decimal(xag), "XAU": Decimal(xau)},
    }


def answer(body: dict[str, Any], status: int = 200, **headers: str) -> httpx.Response:
    """An answer whose text holds the figures' digits exactly as written."""
    return httpx.Response(
        status,
        text=_json(body),
        headers={"Content-Type": "application/json", **headers},
    )


def _json(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{json.dumps(k)}: {_json(v)}" for k, v in value.items())
            + "}"
        )
    return json.dumps(value)


def refusal(status: int, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"statusCode": status, "message": message}}


def settings(**changes: Any) -> MetalpriceApiSettings:
    return MetalpriceApiSettings(**{"base_url": HOST, "api_key": KEY, **changes})


def source_for(
    retry: RetryPolicy | None = None, clock: ManualClock | None = None, **changes: Any
) -> MetalpriceApiRateSource:
    config = settings(**changes)
    client = MetalpriceApiClient(
        httpx.Client(base_url=HOST, verify=TLS), config.api_key
    )
    return MetalpriceApiRateSource(
        config, client, retry or RetryPolicy.for_tests(), clock or ManualClock(NOW)
    )


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(
        base_url=HOST, assert_all_called=True, assert_all_mocked=True
    ) as mock:
        yield mock


# --- what is asked -------------------------------------------------------------


def test_today_is_asked_of_latest_with_the_key_base_and_quotes(
    router: respx.MockRouter,
) -> None:
    route = router.get("/v1/latest").mock(return_value=answer(latest()))

    source_for().published(TODAY, TODAY, ["XAU", "XAG", "EUR"])

    request = route.calls.last.request
    assert dict(request.url.params) == {
        "api_key": KEY,
        "base": "USD",
        "currencies": "EUR,XAG,XAU",
    }
    assert request.headers["Accept"] == "application/json"


def test_earlier_days_are_asked_one_by_one_at_their_dated_path(
    router: respx.MockRouter,
) -> None:
    first = router.get("/v1/2024-06-01").mock(
        return_value=answer(historical(date(2024, 6, 1)))
    )
    second = router.get("/v1/2024-06-02").mock(
        return_value=answer(historical(date(2024, 6, 2)))
    )
    today = router.get("/v1/latest").mock(return_value=answer(latest()))

    days = source_for().published(date(2024, 6, 1), TODAY, METALS)

    assert [d.day for d in days] == [date(2024, 6, 1), date(2024, 6, 2), TODAY]
    assert (first.call_count, second.call_count, today.call_count) == (1, 1, 1)
    assert first.calls.last.request.url.params["api_key"] == KEY


def test_no_day_after_the_clocks_today_is_asked_for(router: respx.MockRouter) -> None:
    route = router.get("/v1/latest").mock(return_value=answer(latest()))

    days = source_for().published(TODAY, date(2024, 6, 9), METALS)

    assert [d.day for d in days] == [TODAY]
    assert route.call_count == 1


def test_a_range_wholly_after_today_asks_nothing(router: respx.MockRouter) -> None:
    assert source_for().published(date(2024, 6, 4), date(2024, 6, 9), METALS) == []
    assert source_for().published(date(2024, 6, 2), date(2024, 6, 1), METALS) == []
    assert not router.calls


@pytest.mark.parametrize("quotes", [["USD"], []], ids=["the-base", "none"])
def test_a_day_asked_for_the_base_alone_or_no_quote_is_there_without_rates(
    router: respx.MockRouter, quotes: list[str]
) -> None:
    route = router.get("/v1/latest").mock(return_value=answer(latest()))

    days = source_for().published(TODAY, TODAY, quotes)

    assert days == [PublishedRates(TODAY, "USD", {})]
    (call,) = route.calls
    assert call.request.url.params["base"] == "USD"
    assert "currencies" not in call.request.url.params


@pytest.mark.parametrize(
    "quotes",
    [["xau"], ["GOLD"], "XAU", [None], ["XA1"]],
    ids=["lower-case", "four-letters", "a-bare-string", "none", "digit"],
)
def test_a_quote_that_is_no_currency_code_is_refused_before_asking(
    router: respx.MockRouter, quotes: Any
) -> None:
    with pytest.raises(ValueError, match="three-letter currency codes"):
        source_for().published(TODAY, TODAY, quotes)
    assert not router.calls


def test_a_configured_base_is_asked_and_reported(router: respx.MockRouter) -> None:
    body = {**latest(XAU="0.000455", XAG="0.0361"), "base": "EUR"}
    route = router.get("/v1/latest").mock(return_value=answer(body))

    source = source_for(base="EUR")
    (day,) = source.published(TODAY, TODAY, ["XAU", "XAG", "EUR"])

    assert source.base == "EUR"
    assert route.calls.last.request.url.params["base"] == "EUR"
    assert route.calls.last.request.url.params["currencies"] == "XAG,XAU"
    assert day == PublishedRates(
        TODAY, "EUR", {"XAU": Decimal("0.000455"), "XAG": Decimal("0.0361")}
    )


# --- what comes back -----------------------------------------------------------


def test_hands_back_the_plain_quotes_to_the_digit(router: respx.MockRouter) -> None:
    router.get("/v1/latest").mock(return_value=answer(latest()))

    (day,) = source_for().published(TODAY, TODAY, ["XAU", "XAG", "EUR"])

    assert day == PublishedRates(
        TODAY,
        "USD",
        {
            "EUR": Decimal("0.920577"),
            "XAG": Decimal("0.03314553"),
            "XAU": Decimal("0.00042857"),
        },
    )
    assert "USDXAU" not in day.rates


def test_a_quote_it_does_not_carry_is_absent_not_invented(
    router: respx.MockRouter,
) -> None:
    router.get("/v1/latest").mock(return_value=answer(latest()))

    (day,) = source_for().published(TODAY, TODAY, ["XAU", "MAD"])

    assert day.rates == {"XAU": Decimal("0.00042857")}


def test_a_quote_it_was_not_asked_for_is_left_out(router: respx.MockRouter) -> None:
    router.get("/v1/latest").mock(return_value=answer(latest()))

    (day,) = source_for().published(TODAY, TODAY, ["XAU"])

    assert set(day.rates) == {"XAU"}


def test_latest_rates_still_from_yesterday_leave_today_out(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    router.get("/v1/latest").mock(return_value=answer(latest()))
    caplog.set_level(logging.INFO)
    tomorrow = ManualClock(datetime(2024, 6, 4, 0, 20, tzinfo=UTC))

    days = source_for(clock=tomorrow).published(
        date(2024, 6, 4), date(2024, 6, 4), METALS
    )

    assert days == []
    assert "rates.day_not_published" in caplog.text
    assert "answered=2024-06-03" in caplog.text


def test_a_historical_answer_for_another_day_leaves_the_day_out(
    router: respx.MockRouter,
) -> None:
    router.get("/v1/2024-06-01").mock(
        return_value=answer(historical(date(2024, 5, 31)))
    )

    assert source_for().published(date(2024, 6, 1), date(2024, 6, 1), METALS) == []


def test_a_historical_answer_naming_no_day_is_the_day_asked(
    router: respx.MockRouter,
) -> None:
    body = historical(date(2024, 6, 1))
    del body["date"], body["timestamp"]
    router.get("/v1/2024-06-01").mock(return_value=answer(body))

    (day,) = source_for().published(date(2024, 6, 1), date(2024, 6, 1), METALS)

    assert day.day == date(2024, 6, 1)


def test_an_inverse_that_disagrees_is_logged_and_the_plain_quote_kept(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    body = latest(XAU="0.00042857", USDXAU="2500.00", XAG="0.03314553", USDXAG="30.17")
    router.get("/v1/latest").mock(return_value=answer(body))
    caplog.set_level(logging.WARNING)

    (day,) = source_for().published(TODAY, TODAY, METALS)

    assert day.rates["XAU"] == Decimal("0.00042857")
    (record,) = caplog.records
    assert record.getMessage().startswith("rates.inverse_mismatch")
    assert "quote=XAU" in record.getMessage()
    assert "inverse=2500.00" in record.getMessage()


def test_rates_per_another_base_are_a_permanent_error(
    router: respx.MockRouter,
) -> None:
    route = router.get("/v1/latest").mock(
        return_value=answer({**latest(), "base": "EUR"})
    )

    with pytest.raises(PermanentPartnerError, match="per EUR, not per USD"):
        source_for().published(TODAY, TODAY, METALS)
    assert route.call_count == 1


# --- refusals and failures -----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (400, "Invalid currency code."),
        (401, "Invalid API Key."),
        (403, "Your plan does not allow historical rates."),
        (404, "Not found."),
        (422, "Invalid date."),
    ],
)
def test_refusals_are_permanent_in_metalpriceapis_words(
    router: respx.MockRouter, status: int, words: str
) -> None:
    route = router.get("/v1/latest").mock(
        return_value=answer(refusal(status, words), status)
    )

    with pytest.raises(PermanentPartnerError) as refused:
        source_for().published(TODAY, TODAY, METALS)

    assert type(refused.value) is PermanentPartnerError
    assert (refused.value.status, refused.value.message) == (status, words)
    assert route.call_count == 1


def test_a_refusal_answered_with_200_is_read_as_a_refusal(
    router: respx.MockRouter,
) -> None:
    route = router.get("/v1/latest").mock(
        return_value=answer(refusal(403, "Monthly limit reached."))
    )

    with pytest.raises(PermanentPartnerError, match="Monthly limit reached"):
        source_for().published(TODAY, TODAY, METALS)
    assert route.call_count == 1


def test_a_429_is_retried_after_the_wait_asked_for(router: respx.MockRouter) -> None:
    waits: list[float] = []
    route = router.get("/v1/latest")
    route.side_effect = [
        answer(refusal(429, "Too many requests"), 429, **{"Retry-After": "3"}),
        answer(latest()),
    ]

    (day,) = source_for(retry=RetryPolicy(sleep=waits.append)).published(
        TODAY, TODAY, METALS
    )

    assert day.rates["XAU"] == Decimal("0.00042857")
    assert waits == [3.0]
    assert route.call_count == 2


def test_a_429_that_never_ends_is_a_transient_error(router: respx.MockRouter) -> None:
    route = router.get("/v1/latest").mock(
        return_value=answer(refusal(429, "Too many requests"), 429)
    )

    with pytest.raises(TransientPartnerError) as busy:
        source_for(retry=RetryPolicy.for_tests(attempts=3)).published(
            TODAY, TODAY, METALS
        )

    assert not isinstance(busy.value, OutcomeUnknown)
    assert busy.value.status == 429
    assert route.call_count == 3


@pytest.mark.parametrize(
    "failure",
    [500, 502, 503, 504, httpx.ReadTimeout("slow"), httpx.ConnectError("refused")],
)
def test_a_failed_read_is_read_again_because_reading_changes_nothing(
    router: respx.MockRouter, failure: Any
) -> None:
    route = router.get("/v1/2024-06-01")
    first = (
        httpx.Response(failure, text="upstream trouble")
        if isinstance(failure, int)
        else failure
    )
    route.side_effect = [first, answer(historical(date(2024, 6, 1)))]

    (day,) = source_for().published(date(2024, 6, 1), date(2024, 6, 1), METALS)

    assert day.rates["XAU"] == Decimal("0.00042")
    assert route.call_count == 2


def test_a_failure_that_lasts_is_raised_with_nothing_handed_back(
    router: respx.MockRouter,
) -> None:
    router.get("/v1/2024-06-01").mock(return_value=answer(historical(date(2024, 6, 1))))
    route = router.get("/v1/2024-06-02").mock(return_value=httpx.Response(503))

    with pytest.raises(TransientPartnerError) as failed:
        source_for(retry=RetryPolicy.for_tests(attempts=2)).published(
            date(2024, 6, 1), date(2024, 6, 2), METALS
        )

    assert failed.value.status == 503
    assert route.call_count == 2


@pytest.mark.parametrize(
    "text",
    [
        "<html><head><title>502 Bad Gateway</title></head></html>",
        '{"success": true, "base": "USD", "rates": {"XAU": 0.00042',
        '{"success": true, "base": "USD", "timestamp": 1717430400}',
        '{"success": true, "base": "USD", "rates": {"XAU": "n/a"}}',
        '["XAU", 0.00042857]',
        "",
    ],
    ids=["html", "cut-off", "no-rates", "rate-not-a-number", "a-list", "empty"],
)
def test_a_garbled_answer_is_retried_then_a_clear_transient_error(
    router: respx.MockRouter, text: str
) -> None:
    route = router.get("/v1/latest").mock(return_value=httpx.Response(200, text=text))

    with pytest.raises(TransientPartnerError, match="unreadable rates for 2024-06-03"):
        source_for(retry=RetryPolicy.for_tests(attempts=2)).published(
            TODAY, TODAY, METALS
        )
    assert route.call_count == 2


def test_an_html_error_page_with_a_refusal_status_keeps_its_words(
    router: respx.MockRouter,
) -> None:
    router.get("/v1/latest").mock(
        return_value=httpx.Response(403, text="<html><h1>Access denied</h1></html>")
    )

    with pytest.raises(PermanentPartnerError, match="Access denied"):
        source_for().published(TODAY, TODAY, METALS)


# --- the key stays secret --------------------------------------------------------


ECHOES = [
    httpx.Response(401, json=refusal(401, f"Invalid API key {KEY}.")),
    httpx.Response(200, json=refusal(403, f"Key {KEY} has no plan.")),
    httpx.Response(404, text=f"<p>No page at /v1/latest?api_key={KEY}&base=USD</p>"),
    httpx.Response(503, text=f"upstream failed for api_key={KEY}"),
    httpx.Response(500, text=f"trace: GET /v1/latest?api_key={KEY}"),
    httpx.Response(200, text=f"<html>login again, {KEY}</html>"),
]


@pytest.mark.parametrize(
    "reply", ECHOES, ids=["401", "200-refusal", "404-html", "503", "500", "garbled"]
)
def test_the_key_never_reaches_an_error_even_when_the_answer_quotes_it(
    router: respx.MockRouter, reply: httpx.Response
) -> None:
    router.get("/v1/latest").mock(return_value=reply)

    with pytest.raises(PartnerError) as failed:
        source_for(retry=RetryPolicy.for_tests(attempts=1)).published(
            TODAY, TODAY, METALS
        )

    shown = f"{failed.value} {failed.value.message!r} {failed.value.args!r}"
    assert KEY not in shown
    assert "***" in shown


def test_the_key_never_reaches_a_transport_errors_text(
    router: respx.MockRouter,
) -> None:
    router.get("/v1/latest").mock(
        side_effect=httpx.ConnectError(f"cannot reach {HOST}/v1/latest?api_key={KEY}")
    )

    with pytest.raises(TransientPartnerError) as failed:
        source_for(retry=RetryPolicy.for_tests(attempts=1)).published(
            TODAY, TODAY, METALS
        )

    assert KEY not in str(failed.value)
    assert "could not connect" in str(failed.value)
    assert failed.value.__suppress_context__


def test_a_key_with_characters_escaped_in_the_url_is_masked_in_both_forms(
    router: respx.MockRouter,
) -> None:
    key = "mpa/FAKE+key"
    router.get("/v1/latest").mock(
        return_value=httpx.Response(
            401, text=f"bad key {key} (sent as api_key=mpa%2FFAKE%2Bkey)"
        )
    )

    with pytest.raises(PermanentPartnerError) as refused:
        source_for(api_key=key).published(TODAY, TODAY, METALS)

    assert key not in str(refused.value)
    assert "mpa%2FFAKE%2Bkey" not in str(refused.value)


def test_the_key_is_hidden_in_httpxs_request_lines_once_redacted(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    router.get("/v1/latest").mock(return_value=answer(latest()))
    caplog.set_level(logging.DEBUG)

    source_for().published(TODAY, TODAY, METALS)

    lines = [r for r in caplog.records if r.name == "httpx"]
    assert lines, "httpx logs each request at INFO"
    assert any(KEY in r.getMessage() for r in lines)  # as httpx writes it
    for record in caplog.records:
        written = logging.makeLogRecord(dict(record.__dict__))
        Redactor([]).filter(written)  # no secret configured: the pattern alone
        assert KEY not in written.getMessage()


# --- settings ------------------------------------------------------------------


def test_settings_have_no_default_api_host() -> None:
    with pytest.raises(TypeError):
        MetalpriceApiSettings(api_key=KEY)  # type: ignore[call-arg]


def test_settings_default_to_the_dollar() -> None:
    assert settings().base == "USD"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"base_url": "metals.example"}, "base_url"),
        ({"base_url": "https://metals.example/v1"}, "must not end with /v1"),
        ({"base_url": "https://metals.example/?api_key=x"}, "host alone"),
        ({"api_key": "  "}, "api_key must not be blank"),
        ({"api_key": "abc\n123"}, "spaces or line breaks"),
        ({"base": "usd"}, "three-letter currency code"),
        ({"base": "DOLLAR"}, "three-letter currency code"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        settings(**changes)


def test_the_key_stays_out_of_repr() -> None:
    assert KEY not in repr(settings())
