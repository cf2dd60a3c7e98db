"""The MetalpriceAPI rate source built by its plugin factory from the
simulator's sandbox settings, talking to the loopback simulator: the sandbox
market's figures arrive to the digit, no day after today is asked for, and
refusals and failures come through the wire as they would from
MetalpriceAPI."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from fulfilment.adapters.rates.metalpriceapi import MetalpriceApiRateSource
from fulfilment.adapters.rates.metalpriceapi.plugin import (
    fulfilment_register_rate_sources,
)
from fulfilment.core.clock import ManualClock
from fulfilment.core.errors import PermanentPartnerError, TransientPartnerError
from fulfilment.runners.sandbox import markets
from fulfilment.runners.sandbox.metalpriceapi import (
    MetalpriceApiSimulator,
    rate_limited,
)
from fulfilment.runners.sandbox.server import Fault, SimServer
from fulfilment.testing.builders import T0
from tests.notify.loopback import build, reset

Served = tuple[MetalpriceApiSimulator, str]
TODAY = T0.date()
WEEK_AGO = TODAY - timedelta(days=6)
METALS = ("XAU", "XAG")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    sim = MetalpriceApiSimulator(
        data_dir=tmp_path_factory.mktemp("metalpriceapi"), clock=ManualClock(T0)
    )
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def simulator(served: Served) -> MetalpriceApiSimulator:
    sim = reset(served[0])
    assert isinstance(sim, MetalpriceApiSimulator)
    sim.monthly_quota = None
    return sim


def metals_source(served: Served, **changes: Any) -> MetalpriceApiRateSource:
    sim, url = served
    factory = fulfilment_register_rate_sources()["metalpriceapi"]
    source = build(factory, sim.sandbox_settings(url) | changes, sim.clock)
    assert isinstance(source, MetalpriceApiRateSource)
    return source


def test_the_markets_figures_arrive_to_the_digit_day_by_day(
    served: Served, simulator: MetalpriceApiSimulator
) -> None:
    days = metals_source(served).published(WEEK_AGO, TODAY, ["XAU", "XAG", "EUR"])

    assert [d.day for d in days] == [WEEK_AGO + timedelta(n) for n in range(7)]
    for published in days:
        usd = markets.usd_rates(published.day)
        assert published.base == "USD"
        assert published.rates == {q: usd[q] for q in ("XAU", "XAG", "EUR")}


def test_today_is_read_from_latest_and_earlier_days_from_their_dates(
    served: Served, simulator: MetalpriceApiSimulator
) -> None:
    metals_source(served).published(TODAY - timedelta(days=2), TODAY, METALS)

    assert [name for name, _ in simulator.requests] == [
        "historical",
        "historical",
        "latest",
    ]
    assert simulator.requests[0][1] == f"/v1/{TODAY - timedelta(days=2)}"


def test_no_day_after_the_clocks_today_is_asked_for(
    served: Served, simulator: MetalpriceApiSimulator
) -> None:
    days = metals_source(served).published(TODAY, TODAY + timedelta(days=5), METALS)

    assert [d.day for d in days] == [TODAY]
    assert len(simulator.requests) == 1


def test_the_clock_moving_on_makes_the_next_day_published(
    served: Served, simulator: MetalpriceApiSimulator
) -> None:
    tomorrow = TODAY + timedelta(days=1)
    source = metals_source(served)
    assert source.published(tomorrow, tomorrow, METALS) == []

    simulator.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    (published,) = source.published(tomorrow, tomorrow, METALS)

    assert published.rates["XAU"] == markets.usd_rates(tomorrow)["XAU"]


def test_a_currency_the_market_does_not_know_is_absent(
    served: Served, simulator: MetalpriceApiSimulator
) -> None:
    (published,) = metals_source(served).published(TODAY, TODAY, ["XAU", "ZAR"])

    assert set(published.rates) == {"XAU"}


def test_the_inverses_the_simulator_adds_agree_with_their_quotes(
    served: Served,
    simulator: MetalpriceApiSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)

    metals_source(served).published(WEEK_AGO, TODAY, METALS)

    assert "rates.inverse_mismatch" not in caplog.text


def test_another_base_is_crossed_through_the_dollar(
    served: Served, simulator: MetalpriceApiSimulator
) -> None:
    (published,) = metals_source(served, base="EUR").published(TODAY, TODAY, METALS)

    usd = markets.usd_rates(TODAY)
    assert published.base == "EUR"
    for metal in METALS:
        assert abs(published.rates[metal] * usd["EUR"] / usd[metal] - 1) < Decimal(
            "1e-8"
        )


def test_a_wrong_key_is_a_permanent_error_that_never_shows_the_key(
    served: Served, simulator: MetalpriceApiSimulator
) -> None:
    with pytest.raises(PermanentPartnerError) as refused:
        metals_source(served, api_key="mpa-wrong-key-0042").published(
            TODAY, TODAY, METALS
        )

    assert refused.value.status == 401
    assert "not valid" in refused.value.message
    assert "mpa-wrong-key-0042" not in str(refused.value)


def test_a_spent_monthly_quota_is_a_permanent_error_in_the_partners_words(
    served: Served, simulator: MetalpriceApiSimulator
) -> None:
    simulator.monthly_quota = 2

    with pytest.raises(PermanentPartnerError) as refused:
        metals_source(served).published(TODAY - timedelta(days=2), TODAY, METALS)

    assert refused.value.status == 403
    assert "requests of your plan" in refused.value.message
    assert len(simulator.requests) == 3


def test_a_rate_limit_is_waited_out(
    served: Served, simulator: MetalpriceApiSimulator
) -> None:
    simulator.faults.add("latest", rate_limited(0.01), Fault(status=503))

    (published,) = metals_source(served).published(TODAY, TODAY, METALS)

    assert published.rates["XAG"] == markets.usd_rates(TODAY)["XAG"]
    assert len(simulator.requests) == 3


def test_a_dropped_connection_is_read_again(
    served: Served, simulator: MetalpriceApiSimulator
) -> None:
    simulator.faults.add("historical", Fault(drop_after=True))

    (published,) = metals_source(served).published(WEEK_AGO, WEEK_AGO, METALS)

    assert published.day == WEEK_AGO
    assert len(simulator.requests) == 2


def test_an_outage_that_lasts_is_a_transient_error(
    served: Served, simulator: MetalpriceApiSimulator
) -> None:
    simulator.faults.add("latest", *[Fault(status=503)] * 5)

    with pytest.raises(TransientPartnerError) as failed:
        metals_source(served).published(TODAY, TODAY, METALS)

    assert failed.value.status == 503


def test_days_published_are_the_same_on_every_read(
    served: Served, simulator: MetalpriceApiSimulator
) -> None:
    source = metals_source(served)

    first = source.published(WEEK_AGO, TODAY, METALS)
    again = source.published(WEEK_AGO, TODAY, METALS)

    assert first == again
    assert all(isinstance(r, Decimal) for d in first for r in d.rates.values())
    assert first[0].day == WEEK_AGO
