"""MetalpriceAPI's wire shapes: figures read to the digit from the answer's
text, the day an answer names, and what each refusal means."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from fulfilment.adapters.pl3._reply import Reply
from fulfilment.adapters.rates.metalpriceapi import wire
from fulfilment.core.errors import PermanentPartnerError, TransientPartnerError

# Our reference's fixture for GET /v1/latest?base=USD&currencies=EUR,XAU,XAG.
LATEST = """{
  "success": true,
  "base": "USD",
  "timestamp": 1717430400,
  "rates": {
    "EUR": 0.920577,
    "XAG": 0.03314553,
    "XAU": 0.00042857,
    "USDXAG": 30.17,
    "USDXAU": 2333.34
  }
}"""
METALS = {"XAU", "XAG"}


def body(**changes: Any) -> dict[str, Any]:
    return {**wire.decode(LATEST), **changes}


def test_figures_are_read_as_the_decimals_written() -> None:
    answer = wire.answer_of(wire.decode(LATEST), {"XAU", "XAG", "EUR"})

    assert answer.rates == {
        "EUR": Decimal("0.920577"),
        "XAG": Decimal("0.03314553"),
        "XAU": Decimal("0.00042857"),
    }
    assert all(type(rate) is Decimal for rate in answer.rates.values())
    assert str(answer.rates["XAU"]) == "0.00042857"


def test_digits_a_float_would_lose_are_kept() -> None:
    text = (
        '{"success": true, "base": "USD", "rates": {"XAU": 0.000416666666666666666667}}'
    )

    answer = wire.answer_of(wire.decode(text), {"XAU"})

    assert answer.rates["XAU"] == Decimal("0.000416666666666666666667")


def test_whole_numbers_and_exponents_are_decimals_too() -> None:
    text = '{"success": true, "base": "USD", "rates": {"LBP": 89500, "XAU": 4.2857E-4}}'

    answer = wire.answer_of(wire.decode(text), {"LBP", "XAU"})

    assert answer.rates == {"LBP": Decimal(89500), "XAU": Decimal("0.00042857")}


def test_only_the_quotes_asked_come_back_and_the_inverses_apart() -> None:
    answer = wire.answer_of(wire.decode(LATEST), METALS)

    assert set(answer.rates) == METALS
    assert answer.inverses == {"XAU": Decimal("2333.34"), "XAG": Decimal("30.17")}


def test_a_quote_the_answer_does_not_carry_is_left_out() -> None:
    answer = wire.answer_of(body(rates={"XAU": Decimal("0.0004"), "XAG": None}), METALS)

    assert answer.rates == {"XAU": Decimal("0.0004")}
    assert answer.inverses == {}


def test_the_latest_answers_day_is_the_utc_day_of_its_timestamp() -> None:
    assert wire.answer_of(wire.decode(LATEST), METALS).day == date(2024, 6, 3)
    late = body(timestamp=Decimal(1717459199))  # 2024-06-03 23:59:59 UTC
    assert wire.answer_of(late, METALS).day == date(2024, 6, 3)


def test_a_stated_date_wins_over_the_timestamp() -> None:
    historical = body(historical=True, date="2024-05-31", timestamp=Decimal(1717430400))

    assert wire.answer_of(historical, METALS).day == date(2024, 5, 31)


def test_an_answer_naming_no_day_has_none() -> None:
    answer = {k: v for k, v in body().items() if k != "timestamp"}

    assert wire.answer_of(answer, METALS).day is None


def test_inverses_that_agree_with_their_quotes_are_no_disagreement() -> None:
    assert wire.answer_of(wire.decode(LATEST), METALS).disagreements() == []


def test_an_inverse_far_from_one_over_its_quote_is_a_disagreement() -> None:
    rates = {
        "XAU": Decimal("0.00042857"),
        "USDXAU": Decimal("2400"),
        "XAG": Decimal("0.03314553"),
        "USDXAG": Decimal("30.17"),
    }

    assert wire.answer_of(body(rates=rates), METALS).disagreements() == ["XAU"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<html><body>502 Bad Gateway</body></html>", "Expecting value"),
        ('{"success": true, "base": "USD", "rates": {"XAU": 0.000', "Expecting"),
        ('{"success": true, "base": "USD", "rates": {"XAU": NaN}}', "NaN"),
        ('{"success": true, "base": "USD", "rates": {"XAU": Infinity}}', "Infinity"),
        ("", "Expecting value"),
    ],
    ids=["html", "cut-off", "nan", "infinity", "empty"],
)
def test_text_that_is_not_json_numbers_is_refused(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        wire.decode(text)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (None, "not a JSON object"),
        (["XAU", 0.0004], "not a JSON object"),
        (body(success=None), "success is not true"),
        (body(base=None), "base is missing"),
        (body(rates=None), "rates is not an object"),
        (body(rates=[Decimal(1)]), "rates is not an object"),
        (body(rates={"XAU": "0.00042857"}), r"rates\.XAU is not a positive number"),
        (body(rates={"XAU": Decimal(0)}), r"rates\.XAU is not a positive number"),
        (body(rates={"XAU": Decimal("-0.1")}), r"rates\.XAU is not a positive number"),
        (body(rates={"XAU": True}), r"rates\.XAU is not a positive number"),
        (
            body(rates={"XAU": Decimal("0.0004"), "USDXAU": "2500"}),
            r"rates\.USDXAU is not a positive number",
        ),
        (body(date="3 June"), "date '3 June' is not YYYY-MM-DD"),
        (body(timestamp="yesterday"), "not whole Unix seconds"),
        (body(timestamp=Decimal("1717430400.5")), "not whole Unix seconds"),
        (body(timestamp=Decimal("1e30")), "out of range"),
    ],
    ids=[
        "null",
        "a-list",
        "no-success",
        "no-base",
        "no-rates",
        "rates-a-list",
        "rate-a-string",
        "rate-zero",
        "rate-negative",
        "rate-a-boolean",
        "inverse-a-string",
        "bad-date",
        "timestamp-text",
        "timestamp-fraction",
        "timestamp-huge",
    ],
)
def test_a_body_that_is_no_answer_is_refused_naming_the_field(
    answer: Any, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        wire.answer_of(answer, {"XAU"})


def refusal(status: int, message: str) -> dict[str, Any]:
    return {
        "success": False,
        "error": {"statusCode": Decimal(status), "message": message},
    }


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_refusal_is_permanent_in_the_partners_words(status: int) -> None:
    error = wire.error_of(Reply(status, refusal(status, "Invalid API Key.")))

    assert type(error) is PermanentPartnerError
    assert (error.partner, error.status) == ("metalpriceapi", status)
    assert error.message == "Invalid API Key."


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_busy_or_failing_service_is_transient(status: int) -> None:
    error = wire.error_of(Reply(status, refusal(status, "Slow down")))

    assert type(error) is TransientPartnerError
    assert error.status == status


def test_a_refusal_answered_with_200_takes_the_bodys_status() -> None:
    limited = wire.error_of(Reply(200, refusal(429, "Rate limit reached")))
    refused = wire.error_of(Reply(200, refusal(403, "Upgrade your plan")))

    assert (type(limited), limited.status) == (TransientPartnerError, 429)
    assert (type(refused), refused.status) == (PermanentPartnerError, 403)
    assert wire.is_refusal(refusal(403, "x"))
    assert not wire.is_refusal(wire.decode(LATEST))


@pytest.mark.parametrize(
    ("reply", "words", "code"),
    [
        (
            Reply(401, {"success": False, "error": {"code": 101, "info": "No key."}}),
            "No key.",
            "101",
        ),
        (
            Reply(401, {"success": False, "error": "invalid_api_key"}),
            "invalid_api_key",
            None,
        ),
        (Reply(403, None, "<html>Forbidden</html>"), "<html>Forbidden</html>", None),
        (Reply(418, None, ""), "HTTP 418 and no words", None),
    ],
    ids=["info-and-code", "error-text", "html", "nothing"],
)
def test_other_refusal_shapes_still_reach_the_operator(
    reply: Reply, words: str, code: str | None
) -> None:
    error = wire.error_of(reply)

    assert isinstance(error, PermanentPartnerError)
    assert (error.message, error.code) == (words, code)


def test_the_query_names_the_base_and_the_quotes_in_code_order() -> None:
    assert wire.query("USD", {"XAU", "EUR", "XAG"}) == {
        "base": "USD",
        "currencies": "EUR,XAG,XAU",
    }
    assert wire.historical_path(date(2024, 6, 3)) == "/v1/2024-06-03"
    assert wire.LATEST_PATH == "/v1/latest"
