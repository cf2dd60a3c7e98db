"""The ECB adapter over HTTP, routed by respx: which file each range is read
from, what it hands back of it, and what each status and each wrong body
means."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.rates.ecb import EcbClient, EcbRateSource, EcbSettings
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.core.errors import (
    OutcomeUnknown,
    PermanentPartnerError,
    TransientPartnerError,
)

from .test_ecb_wire import DAILY, MAINTENANCE, envelope

HOST = "https://ecb.test"
FOLDER = f"{HOST}/stats/eurofxref/"
DAILY_URL = f"{FOLDER}eurofxref-daily.xml"
NINETY_URL = f"{FOLDER}eurofxref-hist-90d.xml"
HISTORY_URL = f"{FOLDER}eurofxref-hist.xml"
# Monday 3 June 2024 at 17:00 UTC: that day's rates are out.
NOW = datetime(2024, 6, 3, 17, 0, tzinfo=UTC)
TODAY = NOW.date()

WEEK = envelope(
    [
        ("2024-06-03", {"USD": "1.0867", "GBP": "0.85068", "JPY": "169.77"}),
        ("2024-05-31", {"USD": "1.0826", "GBP": "0.85110", "JPY": "170.17"}),
        ("2024-05-30", {"USD": "1.0831", "GBP": "0.85093", "JPY": "169.98"}),
        ("2024-05-29", {"USD": "1.0822", "GBP": "0.85060", "JPY": "170.41"}),
    ]
).encode()
OLD = envelope(
    [
        ("2024-06-03", {"USD": "1.0867"}),
        ("2024-01-03", {"USD": "1.0919"}),
        ("2024-01-02", {"USD": "1.0956"}),
        ("2023-12-29", {"USD": "1.1050"}),
    ]
).encode()


def ecb(
    base_url: str = FOLDER, now: datetime = NOW, retry: RetryPolicy | None = None
) -> EcbRateSource:
    settings = EcbSettings(base_url=base_url)
    http = httpx.Client(base_url=settings.base_url, timeout=settings.timeout)
    return EcbRateSource(
        EcbClient(http), ManualClock(now), retry or RetryPolicy.for_tests()
    )


def xml(content: bytes, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, content=content, headers={"Content-Type": "text/xml", **headers}
    )


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as mock:
        yield mock


# --- which file, and what of it ----------------------------------------------


def test_today_alone_is_read_from_the_daily_file(router: respx.MockRouter) -> None:
    route = router.get(DAILY_URL).mock(return_value=xml(DAILY))

    (published,) = ecb().published(TODAY, TODAY, ["USD", "GBP", "MAD"])

    assert published.day == TODAY
    assert published.base == "EUR"
    assert published.rates == {"GBP": Decimal("0.85068"), "USD": Decimal("1.0867")}
    assert route.calls.last.request.headers["Accept"] == "application/xml, text/xml"


def test_today_before_the_days_rates_are_out_is_nothing(
    router: respx.MockRouter,
) -> None:
    # The daily file still holds Friday's rates at Monday noon.
    friday = envelope([("2024-05-31", {"USD": "1.0826"})]).encode()
    router.get(DAILY_URL).mock(return_value=xml(friday))

    assert ecb().published(TODAY, TODAY, ["USD"]) == []


def test_a_recent_range_is_read_from_the_90_day_file_oldest_first(
    router: respx.MockRouter,
) -> None:
    router.get(NINETY_URL).mock(return_value=xml(WEEK))

    found = ecb().published(date(2024, 5, 30), date(2024, 6, 2), ["JPY", "USD"])

    assert [(p.day, dict(p.rates)) for p in found] == [
        (date(2024, 5, 30), {"JPY": Decimal("169.98"), "USD": Decimal("1.0831")}),
        (date(2024, 5, 31), {"JPY": Decimal("170.17"), "USD": Decimal("1.0826")}),
    ]


def test_a_range_starting_90_days_back_still_reads_the_90_day_file(
    router: respx.MockRouter,
) -> None:
    start = TODAY - timedelta(days=90)
    body = envelope([("2024-06-03", {"USD": "1.0867"}), (str(start), {"USD": "1.08"})])
    router.get(NINETY_URL).mock(return_value=xml(body.encode()))

    found = ecb().published(start, TODAY, ["USD"])

    assert [p.day for p in found] == [start, TODAY]


def test_a_range_starting_earlier_is_read_from_the_full_history(
    router: respx.MockRouter,
) -> None:
    router.get(HISTORY_URL).mock(return_value=xml(OLD))

    found = ecb().published(date(2023, 12, 29), date(2024, 1, 2), ["USD"])

    assert [(p.day, p.rates["USD"]) for p in found] == [
        (date(2023, 12, 29), Decimal("1.1050")),
        (date(2024, 1, 2), Decimal("1.0956")),
    ]


def test_when_the_90_day_file_does_not_reach_back_the_full_history_is_read(
    router: respx.MockRouter,
) -> None:
    start = TODAY - timedelta(days=80)
    router.get(NINETY_URL).mock(return_value=xml(WEEK))
    full = envelope(
        [(str(start), {"USD": "1.0795"}), ("2024-05-29", {"USD": "1.0822"})]
    )
    router.get(HISTORY_URL).mock(return_value=xml(full.encode()))

    found = ecb().published(start, TODAY, ["USD"])

    assert [p.day for p in found] == [start, date(2024, 5, 29)]


def test_days_after_today_are_never_asked_for(router: respx.MockRouter) -> None:
    tomorrow = TODAY + timedelta(days=1)

    assert ecb().published(tomorrow, tomorrow + timedelta(days=9), ["USD"]) == []
    assert not router.calls


def test_a_range_reaching_past_today_ends_today(router: respx.MockRouter) -> None:
    router.get(NINETY_URL).mock(return_value=xml(WEEK))

    found = ecb().published(date(2024, 5, 31), TODAY + timedelta(days=5), ["USD"])

    assert [p.day for p in found] == [date(2024, 5, 31), TODAY]


@pytest.mark.parametrize(
    "base_url",
    ["https://ecb.test/stats/eurofxref/", "https://ecb.test/stats/eurofxref"],
)
def test_file_names_are_added_to_the_folder_of_base_url(
    router: respx.MockRouter, base_url: str
) -> None:
    router.get(DAILY_URL).mock(return_value=xml(DAILY))

    ecb(base_url).published(TODAY, TODAY, ["USD"])

    assert str(router.calls.last.request.url) == DAILY_URL


# --- statuses ------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.Response(503, text="Service Unavailable"),
        httpx.Response(500),
        httpx.Response(502),
        httpx.Response(504),
        httpx.Response(520, text="Origin unreachable"),
        xml(MAINTENANCE.encode()),
        xml(WEEK[: len(WEEK) // 3]),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
    ids=[
        "429",
        "503",
        "500",
        "502",
        "504",
        "520",
        "maintenance",
        "cut",
        "connect",
        "read-timeout",
    ],
)
def test_a_failure_that_may_pass_is_retried(
    router: respx.MockRouter, failure: Any
) -> None:
    route = router.get(NINETY_URL)
    route.side_effect = [failure, xml(WEEK)]

    found = ecb().published(date(2024, 5, 29), TODAY, ["USD"])

    assert len(found) == 4
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("failure", "kind", "said"),
    [
        (httpx.Response(503, text="Service Unavailable"), TransientPartnerError, "503"),
        (httpx.Response(502, text="Bad Gateway"), OutcomeUnknown, "Bad Gateway"),
        (
            xml(MAINTENANCE.encode()),
            TransientPartnerError,
            "an HTML page (title 'Site under maintenance')",
        ),
        (xml(WEEK[:-40]), TransientPartnerError, "a cut or garbled file"),
    ],
    ids=["503", "502", "maintenance", "cut"],
)
def test_a_failure_that_lasts_is_raised_after_the_retry_budget(
    router: respx.MockRouter, failure: httpx.Response, kind: type[Exception], said: str
) -> None:
    route = router.get(NINETY_URL).mock(return_value=failure)

    with pytest.raises(kind) as failed:
        ecb(retry=RetryPolicy.for_tests(attempts=3)).published(
            date(2024, 5, 29), TODAY, ["USD"]
        )

    assert type(failed.value) is kind
    assert said in str(failed.value)
    assert route.call_count == 3


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (httpx.Response(404, text="<title>Page not found</title>"), "no eurofxref"),
        (
            httpx.Response(301, headers={"Location": "https://ecb.test/eurofxref/"}),
            "redirected to https://ecb.test/eurofxref/",
        ),
        (httpx.Response(403, text="Forbidden"), "Forbidden"),
        (httpx.Response(401, text="Unauthorized"), "Unauthorized"),
        (httpx.Response(400, text="Bad Request"), "Bad Request"),
    ],
    ids=["404", "301", "403", "401", "400"],
)
def test_a_refusal_is_permanent_and_not_repeated(
    router: respx.MockRouter, answer: httpx.Response, said: str
) -> None:
    route = router.get(NINETY_URL).mock(return_value=answer)

    with pytest.raises(PermanentPartnerError) as refused:
        ecb().published(date(2024, 5, 29), TODAY, ["USD"])

    assert refused.value.status == answer.status_code
    assert said in str(refused.value)
    assert route.call_count == 1


def test_a_body_declaring_entities_is_refused_for_good(
    router: respx.MockRouter,
) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><e>&b;</e>'
    )
    route = router.get(NINETY_URL).mock(return_value=xml(bomb))

    with pytest.raises(PermanentPartnerError, match="was not parsed"):
        ecb().published(date(2024, 5, 29), TODAY, ["USD"])

    assert route.call_count == 1


# --- settings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"base_url": "ftp://ecb.test/stats/"}, "is not an http(s) URL"),
        ({"base_url": "https:///stats/"}, "is not an http(s) URL"),
        ({"base_url": "https://ecb.test/stats/?x=1"}, "no query or fragment"),
        ({"base_url": f"{DAILY_URL}"}, "names a file"),
        ({"timeout": 0}, "timeout must be above 0"),
    ],
)
def test_settings_refuse_what_cannot_work(changes: dict[str, Any], said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        EcbSettings(**{"base_url": FOLDER, **changes})


def test_settings_have_no_default_host() -> None:
    with pytest.raises(TypeError, match="base_url"):
        EcbSettings()  # type: ignore[call-arg]
