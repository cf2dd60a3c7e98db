"""Open Exchange Rates' wire shapes: figures read exactly from the body's
digits, every field that is not as the API sends it named, and each
refusal mapped to what the caller does next, in the API's words."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.adapters.rates.openexchangerates import wire
from fulfilment.core.errors import PermanentPartnerError, TransientPartnerError

# Fixture I.9 of the reference, as the API writes it.
LATEST = b"""{
  "disclaimer": "Usage subject to terms: https://openexchangerates.org/terms",
  "license": "https://openexchangerates.org/license",
  "timestamp": 1717430400,
  "base": "USD",
  "rates": {
    "AED": 3.673,
    "EGP": 47.3,
    "EUR": 0.920577,
    "LBP": 89550,
    "MAD": 9.9412,
    "XAG": 0.03314553,
    "XAU": 0.00042857
  }
}"""
EVERY_CODE = ("AED", "EGP", "EUR", "LBP", "MAD", "XAG", "XAU")
WHERE = "GET https://oxr.test/api/latest.json?app_id=***"


def answer(status: int, body: Any = None, **changes: Any) -> wire.Answer:
    values: dict[str, Any] = {"text": "", "where": WHERE, **changes}
    return wire.Answer(status, body, **values)


def refusal(status: int, message: str, description: str) -> dict[str, Any]:
    return {
        "error": True,
        "status": status,
        "message": message,
        "description": description,
    }


def body_with(**changes: Any) -> dict[str, Any]:
    body = wire.loads(LATEST)
    body.update(changes)
    return dict(body)


# --- the query ---------------------------------------------------------------


def test_the_query_names_the_quotes_sorted_and_leaves_out_the_usd_base() -> None:
    assert wire.query("USD", {"XAU", "AED", "EGP"}) == {"symbols": "AED,EGP,XAU"}


def test_another_base_is_asked_for_by_name() -> None:
    assert wire.query("EUR", {"MAD"}) == {"base": "EUR", "symbols": "MAD"}


def test_no_quotes_asks_for_no_symbols_filter() -> None:
    assert wire.query("USD", ()) == {}


def test_a_historical_day_has_its_own_address() -> None:
    assert wire.historical_path(date(2026, 1, 9)) == "/api/historical/2026-01-09.json"


# --- the figures -------------------------------------------------------------


def test_figures_keep_the_digits_the_api_wrote() -> None:
    publication = wire.publication_of(wire.loads(LATEST), EVERY_CODE)

    assert {code: str(rate) for code, rate in publication.rates.items()} == {
        "AED": "3.673",
        "EGP": "47.3",
        "EUR": "0.920577",
        "LBP": "89550",
        "MAD": "9.9412",
        "XAG": "0.03314553",
        "XAU": "0.00042857",
    }
    assert all(type(rate) is Decimal for rate in publication.rates.values())


def test_the_timestamp_gives_the_utc_moment_and_day() -> None:
    publication = wire.publication_of(wire.loads(LATEST), ["EUR"])

    assert publication.at == datetime(2024, 6, 3, 16, 0, tzinfo=UTC)
    assert (publication.day, publication.base) == (date(2024, 6, 3), "USD")


def test_only_the_wanted_codes_are_kept_and_a_missing_one_is_absent() -> None:
    publication = wire.publication_of(wire.loads(LATEST), ["MAD", "XAU", "SAR"])

    assert dict(publication.rates) == {
        "MAD": Decimal("9.9412"),
        "XAU": Decimal("0.00042857"),
    }


def test_a_code_not_wanted_is_not_read_even_when_it_is_garbage() -> None:
    body = body_with(rates={"MAD": Decimal("9.9"), "VES_BLKMKT": "n/a"})

    assert dict(wire.publication_of(body, ["MAD"]).rates) == {"MAD": Decimal("9.9")}


@pytest.mark.parametrize(
    "figure", [0, -1, Decimal("-0.5"), "9.9", None, True, [], Decimal("NaN")]
)
def test_a_wanted_figure_that_is_not_a_positive_number_is_named(
    figure: Any,
) -> None:
    body = body_with(rates={"EGP": figure})

    with pytest.raises(wire.Malformed, match=r"rates\.EGP is .* not a positive"):
        wire.publication_of(body, ["EGP"])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rates": None}, "rates is absent"),
        ({"rates": [1, 2]}, "rates is list"),
        ({"base": None}, "base is None"),
        ({"base": "usd"}, "base is 'usd'"),
        ({"timestamp": None}, "timestamp is None"),
        ({"timestamp": "1717430400"}, "timestamp is '1717430400'"),
        ({"timestamp": Decimal("1717430400.5")}, "timestamp is Decimal"),
        ({"timestamp": True}, "timestamp is True"),
        ({"timestamp": 10**20}, "timestamp 1000"),
    ],
)
def test_a_field_that_is_not_as_the_api_sends_it_is_named(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(wire.Malformed, match=field):
        wire.publication_of(body_with(**changes), ["EUR"])


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(wire.Malformed, match="not a JSON object"):
        wire.publication_of(["USD"], ["EUR"])


@pytest.mark.parametrize(
    "content",
    [
        LATEST[:-40],  # cut short
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        b"",
        b'{"rates": {"EUR": NaN}}',
        b'{"rates": {"EUR": Infinity}}',
        b"\xff\xfe{}",
    ],
)
def test_a_body_that_is_not_json_decodes_to_nothing(content: bytes) -> None:
    assert wire.loads(content) is None


def test_fractions_never_pass_through_a_float() -> None:
    body = wire.loads(b'{"rates": {"XAU": 0.000416666666666666666667, "LBP": 1e5}}')

    assert body["rates"]["XAU"] == Decimal("0.000416666666666666666667")
    assert body["rates"]["LBP"] == Decimal("1E+5")


@given(
    st.decimals(
        min_value=Decimal("1e-12"),
        max_value=Decimal("1e12"),
        allow_nan=False,
        allow_infinity=False,
    ).filter(lambda d: d > 0)
)
def test_any_figure_written_in_decimal_digits_is_read_back_exactly(
    rate: Decimal,
) -> None:
    content = (
        '{"timestamp": 1717430400, "base": "USD", '
        f'"rates": {{"MAD": {format(rate, "f")}}}}}'
    ).encode()

    publication = wire.publication_of(wire.loads(content), ["MAD"])

    assert publication.rates["MAD"] == rate


# --- refusals ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "invalid_app_id"),
        (401, "missing_app_id"),
        (403, "not_allowed"),
        (403, "access_restricted"),
        (404, "not_found"),
        (400, "invalid_base"),
        (429, "not_allowed"),  # the reference's table puts it under 429
    ],
)
def test_refusals_about_the_account_or_request_are_permanent_in_the_apis_words(
    status: int, message: str
) -> None:
    error = wire.error_of(answer(status, refusal(status, message, "Words here.")))

    assert type(error) is PermanentPartnerError
    assert (error.partner, error.status, error.code) == (
        "openexchangerates",
        status,
        message,
    )
    assert str(error).startswith(f"openexchangerates HTTP {status} {message}: ")
    assert "Words here." in str(error)
    assert WHERE in str(error)


def test_over_use_is_worth_waiting_for_as_long_as_asked() -> None:
    body = refusal(429, "access_restricted", "Slow down.")

    error = wire.error_of(answer(429, body, retry_after=30.0))

    assert type(error) is TransientPartnerError
    assert (error.code, error.retry_after) == ("access_restricted", 30.0)
    assert "Slow down." in str(error)


def test_a_refusal_without_the_apis_body_quotes_what_came() -> None:
    error = wire.error_of(answer(404, None, text="<html>Not Found</html>"))

    assert type(error) is PermanentPartnerError
    assert error.code is None
    assert "<html>Not Found</html>" in str(error)


@pytest.mark.parametrize("message", ["not_available", "invalid_date"])
def test_a_day_without_figures_is_told_apart_from_other_refusals(
    message: str,
) -> None:
    assert wire.is_no_data(answer(400, refusal(400, message, "No data.")))


@pytest.mark.parametrize(
    ("status", "message"),
    [(400, "invalid_base"), (404, "not_available"), (401, "invalid_app_id")],
)
def test_other_refusals_are_not_days_without_figures(status: int, message: str) -> None:
    assert not wire.is_no_data(answer(status, refusal(status, message, "-")))
