"""The ECB adapter keeps the rate-source contract, built by its plugin
factory from the simulator's sandbox settings and talking to it, before
and after the day's publication; and what only a real HTTP conversation
shows (which file a range is read from, a maintenance page or a dropped
connection waited out, the adapter's own today)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from fulfilment.adapters.rates.ecb import EcbRateSource
from fulfilment.adapters.rates.ecb.plugin import fulfilment_register_rate_sources
from fulfilment.core.clock import ManualClock
from fulfilment.core.errors import TransientPartnerError
from fulfilment.runners.sandbox.ecb import MAINTENANCE_TITLE, EcbSimulator
from fulfilment.runners.sandbox.markets import ECB_CURRENCIES, ecb_publishes
from fulfilment.runners.sandbox.server import Fault, SimServer
from fulfilment.testing.builders import T0
from fulfilment.testing.rate_sources import RateSourceContract, RateWorld, days_of
from tests.notify.loopback import build, reset

Served = tuple[EcbSimulator, str]

# T0 is a Monday at 09:00 UTC, before the ECB publishes (16:00 CET);
# by 16:00 UTC that day's rates are out.
MORNING = T0
AFTERNOON = T0.replace(hour=16)
TODAY = T0.date()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    sim = EcbSimulator(data_dir=tmp_path_factory.mktemp("ecb"), clock=ManualClock(T0))
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def simulator(served: Served) -> EcbSimulator:
    sim = reset(served[0])
    assert isinstance(sim, EcbSimulator)
    return sim


def ecb_source(served: Served, clock: ManualClock | None = None) -> EcbRateSource:
    sim, url = served
    factory = fulfilment_register_rate_sources()["ecb"]
    source = build(factory, sim.sandbox_settings(url), clock or sim.clock)
    assert isinstance(source, EcbRateSource)
    return source


def files_read(sim: EcbSimulator) -> list[str]:
    return [name for name, _ in sim.requests]


class TestEcbRateSource(RateSourceContract):
    @pytest.fixture(params=[MORNING, AFTERNOON], ids=["morning", "afternoon"])
    def now(self, request: pytest.FixtureRequest) -> datetime:
        moment = request.param
        assert isinstance(moment, datetime)
        return moment

    @pytest.fixture
    def world(self, simulator: EcbSimulator, now: datetime) -> RateWorld:
        simulator.clock.set(now)  # type: ignore[attr-defined]
        return RateWorld(
            now.date(), simulator.rates_of, frozenset(ECB_CURRENCIES), foreign="MAD"
        )

    @pytest.fixture
    def source(self, served: Served, world: RateWorld) -> EcbRateSource:
        return ecb_source(served)


# --- which file --------------------------------------------------------------


def test_today_alone_is_read_from_the_daily_file(
    served: Served, simulator: EcbSimulator
) -> None:
    simulator.clock.set(AFTERNOON)  # type: ignore[attr-defined]

    (published,) = ecb_source(served).published(TODAY, TODAY, {"USD"})

    assert published.day == TODAY
    assert files_read(simulator) == ["daily"]


def test_a_recent_range_is_read_from_the_90_day_file(
    served: Served, simulator: EcbSimulator
) -> None:
    found = ecb_source(served).published(TODAY - timedelta(days=90), TODAY, {"USD"})

    assert days_of(found)[0] == TODAY - timedelta(days=90)
    assert files_read(simulator) == ["hist-90d"]


def test_an_older_range_is_read_from_the_full_history(
    served: Served, simulator: EcbSimulator
) -> None:
    found = ecb_source(served).published(date(2024, 1, 1), date(2024, 1, 5), {"USD"})

    assert days_of(found) == [date(2024, 1, d) for d in (2, 3, 4, 5)]
    assert files_read(simulator) == ["hist"]


def test_a_range_from_a_quiet_day_at_the_edge_of_the_90_days_is_complete(
    served: Served, simulator: EcbSimulator
) -> None:
    # A working day whose 90th day back is a Saturday: the 90-day file
    # starts on the Monday after, so the weekend cannot be told from a day
    # the file leaves out, and the full history settles it.
    day = TODAY
    while not (ecb_publishes(day) and (day - timedelta(days=90)).weekday() == 5):
        day -= timedelta(days=1)
    simulator.clock.set(
        datetime.combine(day, datetime.min.time(), UTC).replace(hour=17)
    )
    start = day - timedelta(days=90)

    found = ecb_source(served).published(start, day, {"USD"})

    assert days_of(found) == [
        d for d in (start + timedelta(days=n) for n in range(91)) if ecb_publishes(d)
    ]
    assert files_read(simulator) == ["hist-90d", "hist"]


def test_days_after_the_adapters_today_are_not_asked_for(
    served: Served, simulator: EcbSimulator
) -> None:
    # The simulator has moved on a week; the adapter's clock has not.
    simulator.clock.set(AFTERNOON + timedelta(days=7))  # type: ignore[attr-defined]
    behind = ManualClock(AFTERNOON)

    found = ecb_source(served, behind).published(
        TODAY - timedelta(days=3), TODAY + timedelta(days=7), {"USD"}
    )
    ahead = ecb_source(served, behind).published(
        TODAY + timedelta(days=1), TODAY + timedelta(days=7), {"USD"}
    )

    assert days_of(found)[-1] == TODAY
    assert ahead == []
    assert files_read(simulator) == ["hist-90d"]


# --- failures ----------------------------------------------------------------


def test_a_maintenance_page_is_waited_out(
    served: Served, simulator: EcbSimulator
) -> None:
    simulator.serve_maintenance_page("hist-90d")

    found = ecb_source(served).published(TODAY - timedelta(days=7), TODAY, {"USD"})

    assert days_of(found) == [
        d
        for d in (TODAY - timedelta(days=n) for n in range(7, 0, -1))
        if ecb_publishes(d)
    ]
    assert files_read(simulator) == ["hist-90d", "hist-90d"]


def test_a_lasting_maintenance_is_a_transient_error_naming_the_page(
    served: Served, simulator: EcbSimulator
) -> None:
    simulator.serve_maintenance_page("daily", times=5)
    simulator.clock.set(AFTERNOON)  # type: ignore[attr-defined]

    with pytest.raises(TransientPartnerError, match=MAINTENANCE_TITLE) as failed:
        ecb_source(served).published(TODAY, TODAY, {"USD"})

    assert failed.value.partner == "ecb"
    assert "HTML page" in str(failed.value)
    assert files_read(simulator) == ["daily"] * 5


@pytest.mark.parametrize(
    "fault",
    [Fault(status=503, retry_after=0), Fault(status=502), Fault(drop_after=True)],
    ids=["503", "502", "dropped"],
)
def test_a_passing_failure_is_retried(
    served: Served, simulator: EcbSimulator, fault: Fault
) -> None:
    simulator.faults.add("hist", fault)

    found = ecb_source(served).published(date(2024, 3, 25), date(2024, 3, 29), {"USD"})

    # 29 March 2024 is Good Friday: no rates.
    assert days_of(found) == [date(2024, 3, d) for d in (25, 26, 27, 28)]
    assert files_read(simulator) == ["hist", "hist"]
