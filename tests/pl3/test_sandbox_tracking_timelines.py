"""Simulated parcels move on the shared clock: one scenario per parcel id,
fixed shares, and each partner simulator showing the journey in its own
words to the real adapters over simulated days."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.adapters.pl3.aramex import AramexClient, AramexDeliveryPartner
from fulfilment.adapters.pl3.aramex.mapping import client_info
from fulfilment.adapters.pl3.farfill import FarfillClient, FarfillDeliveryPartner
from fulfilment.adapters.pl3.flextock import FlextockClient, FlextockDeliveryPartner
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import TrackingStatus
from fulfilment.core.ports import DeliveryPartner
from fulfilment.runners.sandbox import timelines
from fulfilment.runners.sandbox.aramex import AramexSimulator, adapter_settings
from fulfilment.runners.sandbox.farfill import FarfillSimulator
from fulfilment.runners.sandbox.flextock import FlextockSimulator
from fulfilment.runners.sandbox.server import SimRequest, Simulator
from fulfilment.runners.sandbox.timelines import Scenario, Step
from fulfilment.testing.builders import T0
from fulfilment.testing.delivery_partners import book

from .test_farfill_contract import sandbox_settings as farfill_settings
from .test_flextock_contract import sandbox_settings as flextock_settings

S = TrackingStatus
AWBS = [str(50_300_000_001 + n) for n in range(20)]
SIM_URL = "http://sim.test"
TRACK = "/ShippingAPI.V2/Tracking/Service_1_0.svc/json/TrackShipments"


def bridged(sim: Simulator) -> httpx.Client:
    """An httpx client whose requests the simulator answers in-process."""

    def answer(request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.url.query.decode())
        headers = {k.lower(): v for k, v in request.headers.items()}
        asked = SimRequest(
            request.method, request.url.path, query, headers, request.content
        )
        response, _ = sim.dispatch(asked)
        headers = {"content-type": response.content_type, **response.headers}
        return httpx.Response(
            response.status, content=response.encode(), headers=headers
        )

    return httpx.Client(base_url=SIM_URL, transport=httpx.MockTransport(answer))


SIMULATORS: dict[str, tuple[type[Simulator], str]] = {
    "aramex": (AramexSimulator, "shemsiworld"),
    "flextock": (FlextockSimulator, "shemsi-egypt"),
    "farfill": (FarfillSimulator, "shemsi-uae"),
}


def partner_on(sim: Simulator, clock: ManualClock) -> DeliveryPartner:
    """The real adapter for *sim*'s partner, talking to it in-process."""
    http, retry = bridged(sim), RetryPolicy.for_tests()
    if isinstance(sim, AramexSimulator):
        settings = adapter_settings(SIM_URL)
        client = AramexClient(http, settings)
        return AramexDeliveryPartner(client, settings, retry=retry, clock=clock)
    if isinstance(sim, FlextockSimulator):
        flextock = flextock_settings(SIM_URL)
        return FlextockDeliveryPartner(flextock, FlextockClient(http), retry, clock)
    farfill = farfill_settings(SIM_URL)
    return FarfillDeliveryPartner(farfill, FarfillClient(http), retry, clock)


def world(name: str, clock: ManualClock) -> tuple[DeliveryPartner, str]:
    """A fresh simulator of partner *name*, its adapter and its store."""
    make, store = SIMULATORS[name]
    return partner_on(make(clock=clock), clock), store


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


# --- scenarios -------------------------------------------------------------------


def test_the_same_parcel_always_gets_the_same_scenario_and_timeline() -> None:
    first = [(timelines.scenario_for(a), timelines.build(a, T0)) for a in AWBS]
    again = [(timelines.scenario_for(a), timelines.build(a, T0)) for a in AWBS]

    assert first == again
    # Pinned: a hash that changed between processes would move these.
    assert [timelines.scenario_for(a).name for a in AWBS[:8]] == [
        "DELIVERED",
        "FAILED_THEN_DELIVERED",
        "DELIVERED",
        "FAILED_THEN_DELIVERED",
        "DELIVERED",
        "RETURNED",
        "DELIVERED",
        "UNKNOWN_CODE",
    ]


@pytest.mark.parametrize(
    "ids",
    [
        AWBS,
        [f"FF{n:08d}" for n in range(1, 21)],
        [f"shemsi-egypt-{5_551_234_567_890 + n}" for n in range(20)],
    ],
    ids=["aramex-awbs", "farfill-ids", "flextock-order-codes"],
)
def test_every_scenario_occurs_in_a_batch_of_twenty(ids: list[str]) -> None:
    scenarios = {timelines.scenario_for(parcel) for parcel in ids}

    assert scenarios == set(Scenario)


@given(start=st.integers(0, 10**12), prefix=st.sampled_from(["", "FF", "shop-"]))
def test_eight_consecutive_parcels_show_the_fixed_shares(
    start: int, prefix: str
) -> None:
    ids = [f"{prefix}{start + n}" for n in range(8)]

    shares = Counter(timelines.scenario_for(parcel) for parcel in ids)

    assert shares == {
        Scenario.DELIVERED: 4,
        Scenario.FAILED_THEN_DELIVERED: 2,
        Scenario.RETURNED: 1,
        Scenario.UNKNOWN_CODE: 1,
    }


@given(parcel=st.text(min_size=1, max_size=20))
def test_a_timeline_starts_at_booking_and_only_moves_forward(parcel: str) -> None:
    timeline = timelines.build(parcel, T0)

    assert timeline[0] == timelines.Milestone(Step.CREATED, T0)
    times = [milestone.at for milestone in timeline]
    assert times == sorted(times)
    assert len(set(times)) == len(times)


def ending(parcel: str) -> list[Step]:
    return [milestone.step for milestone in timelines.build(parcel, T0)]


def first_of(scenario: Scenario) -> str:
    return next(a for a in AWBS if timelines.scenario_for(a) is scenario)


def test_a_delivered_parcel_arrives_two_to_four_days_after_booking() -> None:
    for awb in [a for a in AWBS if timelines.scenario_for(a) is Scenario.DELIVERED]:
        delivered = timelines.build(awb, T0)[-1]

        assert delivered.step is Step.DELIVERED
        assert timedelta(days=2) - timedelta(hours=2) <= delivered.at - T0
        assert delivered.at - T0 <= timedelta(days=4) + timedelta(hours=1)


def test_a_failed_attempt_is_followed_by_delivery_the_next_day() -> None:
    timeline = timelines.build(first_of(Scenario.FAILED_THEN_DELIVERED), T0)
    failed = next(m for m in timeline if m.step is Step.FAILED_ATTEMPT)

    assert timeline[-1].step is Step.DELIVERED
    assert timedelta(hours=18) < timeline[-1].at - failed.at < timedelta(hours=30)


def test_a_returned_parcel_fails_twice_then_goes_back() -> None:
    steps = ending(first_of(Scenario.RETURNED))

    assert steps.count(Step.FAILED_ATTEMPT) == 2
    assert steps[-2:] == [Step.RETURNING, Step.RETURNED]
    assert Step.DELIVERED not in steps


def test_an_unknown_code_parcel_passes_an_odd_step_and_is_delivered() -> None:
    steps = ending(first_of(Scenario.UNKNOWN_CODE))

    assert Step.ODD in steps
    assert steps[-1] is Step.DELIVERED


def test_only_what_has_happened_is_reached() -> None:
    timeline = timelines.build(AWBS[0], T0)

    assert timelines.reached(timeline, T0) == timeline[:1]
    assert timelines.reached(timeline, T0 + timedelta(days=9)) == timeline


def test_a_parcel_is_cancelled_only_while_at_the_warehouse() -> None:
    timeline = timelines.build(AWBS[0], T0)
    now = T0 + timedelta(hours=1)

    cancelled = timelines.cancel(timeline, now)

    assert cancelled == [*timeline[:1], timelines.Milestone(Step.CANCELLED, now)]
    assert timelines.cancel(cancelled or [], now + timedelta(days=3)) == cancelled
    assert timelines.cancel(timeline, T0 + timedelta(hours=6)) is None


def test_a_timeline_survives_json() -> None:
    timeline = timelines.build(AWBS[3], T0)

    text = json.dumps(timelines.to_json(timeline))

    assert timelines.from_json(json.loads(text)) == timeline


# --- the simulators ---------------------------------------------------------------


def test_the_aramex_simulator_answers_only_what_happened_newest_first(
    clock: ManualClock,
) -> None:
    sim = AramexSimulator(clock=clock)
    awb = book(partner_on(sim, clock), "shemsiworld", "9601").reference
    body = {"ClientInfo": client_info(adapter_settings(SIM_URL)), "Shipments": [awb]}

    with bridged(sim) as http:
        at_booking = http.post(TRACK, json=body).json()
        clock.advance(timedelta(days=9))
        later = http.post(TRACK, json=body).json()

    [created] = at_booking["TrackingResults"][0]["Value"]
    events = later["TrackingResults"][0]["Value"]
    assert created["UpdateCode"] == "SH014"
    assert len(events) > 5
    assert events[-1]["UpdateCode"] == "SH014"
    assert events[0]["UpdateCode"] in {"SH005", "SH069"}
    assert all(e["UpdateDateTime"].endswith("+0300)/") for e in events)


def test_an_aramex_parcel_of_the_unknown_scenario_shows_sh999(
    clock: ManualClock,
) -> None:
    partner, _ = world("aramex", clock)
    awbs = [book(partner, "shemsiworld", f"96{n:02d}").reference for n in range(8)]
    odd = next(a for a in awbs if timelines.scenario_for(a) is Scenario.UNKNOWN_CODE)
    clock.advance(timedelta(days=2))

    events = partner.track([odd]).events[odd]

    [customs] = [e for e in events if e.code == "SH999"]
    assert customs.status is S.UNKNOWN
    assert customs.description == "Customs inspection"


def test_flextock_reports_the_current_status_and_the_courier_once_picked_up(
    clock: ManualClock,
) -> None:
    partner, store = world("flextock", clock)
    code = book(partner, store, "9701").reference
    seen = []

    for hours in (0, 2, 6, 10):
        clock.set(T0 + timedelta(hours=hours))
        [event] = partner.track([code]).events[code]
        seen.append((event.code, event.status))

    assert seen == [
        ("pending", S.CREATED),
        ("fulfilled", S.CREATED),
        ("picked by driver", S.PICKED_UP),
        ("in transit", S.IN_TRANSIT),
    ]
    assert "courier Sandbox Express" in event.description


def test_flextock_cancels_a_packed_order_within_the_hour(clock: ManualClock) -> None:
    partner, store = world("flextock", clock)
    code = book(partner, store, "9702").reference
    clock.advance(timedelta(hours=2))

    accepted = partner.cancel(code)
    [meanwhile] = partner.track([code]).events[code]
    clock.advance(timedelta(hours=1))
    [afterwards] = partner.track([code]).events[code]

    assert accepted is True
    assert meanwhile.status is S.CREATED
    assert afterwards.status is S.CANCELLED
    assert afterwards.code == "canceled"


def test_farfill_shows_the_whole_history_so_far(clock: ManualClock) -> None:
    partner, store = world("farfill", clock)
    order_id = book(partner, store, "9801").reference
    clock.advance(timedelta(hours=9))

    events = partner.track([order_id]).events[order_id]

    assert [e.code for e in events] == [
        "pending",
        "ready_for_collection",
        "collected",
        "received_at_depot",
    ]
    assert events[2].description == "Collected by courier"


@pytest.mark.parametrize("name", sorted(SIMULATORS))
def test_sixteen_parcels_tracked_over_a_week_show_every_outcome(
    name: str, clock: ManualClock
) -> None:
    partner, store = world(name, clock)
    parcels = [book(partner, store, f"95{n:02d}").reference for n in range(16)]
    seen: dict[str, set[S]] = {parcel: set() for parcel in parcels}

    for _ in range(16):
        clock.advance(timedelta(hours=12))
        batch = partner.track(parcels)
        for parcel in parcels:
            seen[parcel] |= {event.status for event in batch.events[parcel]}

    everything = set().union(*seen.values())
    outcomes = {S.DELIVERED, S.DELIVERY_FAILED, S.RETURN_TO_SENDER, S.RETURNED}
    assert {*outcomes, S.UNKNOWN} <= everything
    final = partner.track(parcels)
    latest = [max(final.events[p], key=lambda e: e.occurred_at) for p in parcels]
    assert {event.status for event in latest} == {S.DELIVERED, S.RETURNED}


@pytest.mark.parametrize("name", sorted(SIMULATORS))
def test_moving_parcels_survive_a_restart_of_the_simulator(
    name: str, tmp_path: Path, clock: ManualClock
) -> None:
    make, store = SIMULATORS[name]
    before = make(data_dir=tmp_path, clock=clock)
    parcel = book(partner_on(before, clock), store, "9901").reference
    clock.advance(timedelta(days=1))
    expected = partner_on(before, clock).track([parcel])

    after = make(data_dir=tmp_path, clock=clock)
    again = partner_on(after, clock).track([parcel])

    assert again == expected
    assert expected.events[parcel][-1].status is not S.CREATED
