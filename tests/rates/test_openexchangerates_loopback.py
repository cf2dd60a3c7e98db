"""The Open Exchange Rates source, built by its plugin factory from the
simulator's sandbox settings, talking to the loopback simulator: the
sandbox market's figures, exactly, for every day up to the shared clock's
today, and the simulator's refusals and faults met as the real API's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from fulfilment.adapters.rates.openexchangerates import OpenExchangeRatesSource
from fulfilment.adapters.rates.openexchangerates.plugin import (
    fulfilment_register_rate_sources,
)
from fulfilment.core.clock import ManualClock
from fulfilment.core.errors import PermanentPartnerError, TransientPartnerError
from fulfilment.runners.sandbox import markets
from fulfilment.runners.sandbox.openexchangerates import (
    OpenExchangeRatesSimulator,
    rate_limited,
)
from fulfilment.runners.sandbox.server import Fault, SimServer
from fulfilment.testing.builders import T0
from tests.notify.loopback import build, reset

Served = tuple[OpenExchangeRatesSimulator, str]

TODAY = T0.date()
WEEK_AGO = TODAY - timedelta(days=6)
QUOTES = ("AED", "EGP", "EUR", "LBP", "MAD", "SAR", "XAG", "XAU")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    sim = OpenExchangeRatesSimulator(
        data_dir=tmp_path_factory.mktemp("oxr"), clock=ManualClock(T0)
    )
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def simulator(served: Served) -> OpenExchangeRatesSimulator:
    sim = reset(served[0])
    assert isinstance(sim, OpenExchangeRatesSimulator)
    return sim


def oxr_source(served: Served, **changes: str) -> OpenExchangeRatesSource:
    sim, url = served
    factory = fulfilment_register_rate_sources()["openexchangerates"]
    source = build(factory, sim.sandbox_settings(url) | changes, sim.clock)
    assert isinstance(source, OpenExchangeRatesSource)
    return source


def market_figures(day: date, quotes: tuple[str, ...] = QUOTES) -> dict[str, object]:
    rates = markets.usd_rates(day)
    return {code: rates[code] for code in quotes}


def test_every_day_of_the_week_to_today_carries_the_markets_exact_figures(
    served: Served, simulator: OpenExchangeRatesSimulator
) -> None:
    published = oxr_source(served).published(WEEK_AGO, TODAY + timedelta(3), QUOTES)

    assert [p.day for p in published] == [
        WEEK_AGO + timedelta(days=n) for n in range(7)
    ]
    for day in published:
        assert day.base == "USD"
        assert dict(day.rates) == market_figures(day.day)


def test_a_quote_outside_the_market_is_absent_and_usd_is_one(
    served: Served, simulator: OpenExchangeRatesSimulator
) -> None:
    (today,) = oxr_source(served).published(TODAY, TODAY, ["USD", "XPT", "MAD"])

    assert dict(today.rates) == {"USD": 1, "MAD": markets.usd_rates(TODAY)["MAD"]}


def test_the_clock_moving_on_makes_the_next_day_published(
    served: Served, simulator: OpenExchangeRatesSimulator
) -> None:
    source = oxr_source(served)
    assert source.published(TODAY + timedelta(1), TODAY + timedelta(1), QUOTES) == []

    simulator.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    (tomorrow,) = source.published(TODAY + timedelta(1), TODAY + timedelta(1), QUOTES)

    assert dict(tomorrow.rates) == market_figures(TODAY + timedelta(1))


def test_a_day_the_simulator_has_no_figures_for_is_absent(
    served: Served, simulator: OpenExchangeRatesSimulator
) -> None:
    simulator.withhold(TODAY - timedelta(days=2))

    published = oxr_source(served).published(WEEK_AGO, TODAY, QUOTES)

    assert TODAY - timedelta(days=2) not in [p.day for p in published]
    assert len(published) == 6


def test_a_wrong_app_id_is_refused_in_the_apis_words(
    served: Served, simulator: OpenExchangeRatesSimulator
) -> None:
    source = oxr_source(served, app_id="not-the-sandbox-one")

    with pytest.raises(PermanentPartnerError) as refused:
        source.published(TODAY, TODAY, QUOTES)

    assert (refused.value.status, refused.value.code) == (401, "invalid_app_id")
    assert "not-the-sandbox-one" not in str(refused.value)


def test_a_base_other_than_usd_is_refused_as_a_free_plan_is(
    served: Served, simulator: OpenExchangeRatesSimulator
) -> None:
    with pytest.raises(PermanentPartnerError) as refused:
        oxr_source(served, base="EUR").published(TODAY, TODAY, QUOTES)

    assert (refused.value.status, refused.value.code) == (403, "not_allowed")
    assert "paid plan" in str(refused.value)


def test_a_rate_limit_is_waited_out(
    served: Served, simulator: OpenExchangeRatesSimulator
) -> None:
    simulator.faults.add("historical", rate_limited(retry_after=0.01))

    published = oxr_source(served).published(TODAY - timedelta(1), TODAY, QUOTES)

    assert len(published) == 2
    assert (
        simulator.requests.count(("historical", "/api/historical/2026-11-01.json")) == 2
    )


def test_a_rate_limit_that_lasts_is_transient(
    served: Served, simulator: OpenExchangeRatesSimulator
) -> None:
    simulator.faults.add("latest", *[rate_limited(retry_after=0.01)] * 5)

    with pytest.raises(TransientPartnerError) as limited:
        oxr_source(served).published(TODAY, TODAY, QUOTES)

    assert (limited.value.status, limited.value.code) == (429, "access_restricted")


def test_a_lost_answer_and_a_server_error_are_read_again(
    served: Served, simulator: OpenExchangeRatesSimulator
) -> None:
    simulator.faults.add("latest", Fault(drop_after=True), Fault(status=502))

    (today,) = oxr_source(served).published(TODAY, TODAY, QUOTES)

    assert dict(today.rates) == market_figures(TODAY)


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    sim = OpenExchangeRatesSimulator(
        data_dir=tmp_path_factory.mktemp("oxr-market"),
        clock=ManualClock(T0),
        feed="market",
    )
    with SimServer(sim) as server:
        yield sim, server.url


def test_the_market_feed_gives_lebanons_parallel_rate_and_the_rest_unchanged(
    market: Served,
) -> None:
    reset(market[0])

    published = oxr_source(market).published(WEEK_AGO, TODAY, QUOTES)

    for day in published:
        assert day.rates["LBP"] == markets.lbp_market(day.day)
        assert day.rates["LBP"] > markets.usd_rates(day.day)["LBP"]
        assert dict(day.rates) | {"LBP": 0} == market_figures(day.day) | {"LBP": 0}
