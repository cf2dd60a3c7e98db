"""The Aramex adapter keeps the delivery-partner contract against the
loopback Aramex, and fails safely when the simulator fails like Aramex."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from fulfilment.adapters.pl3.aramex import AramexClient, AramexDeliveryPartner
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.booking import booking_reference
from fulfilment.core.clock import ManualClock
from fulfilment.core.errors import OutcomeUnknown, PermanentPartnerError
from fulfilment.runners.sandbox.aramex import AramexSimulator, adapter_settings
from fulfilment.runners.sandbox.server import Fault, SimServer
from fulfilment.testing.builders import T0, make_order
from fulfilment.testing.delivery_partners import (
    DeliveryPartnerContract,
    NoCancelContract,
    NoLookupContract,
    Record,
    TrackingContract,
    request_for,
)


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    with SimServer(AramexSimulator(clock=ManualClock(T0))) as server:
        yield server


@pytest.fixture
def sim(server: SimServer) -> Iterator[AramexSimulator]:
    simulator = server.simulator
    assert isinstance(simulator, AramexSimulator)
    yield simulator
    simulator.faults.clear()


@pytest.fixture
def clock(sim: AramexSimulator) -> ManualClock:
    """The simulator's clock, back at T0 for each test."""
    assert isinstance(sim.clock, ManualClock)
    sim.clock.set(T0)
    return sim.clock


def partner_for(url: str, http: httpx.Client, **changes: Any) -> AramexDeliveryPartner:
    settings = adapter_settings(url, **changes)
    return AramexDeliveryPartner(
        AramexClient(http, settings),
        settings,
        retry=RetryPolicy.for_tests(),
        clock=ManualClock(T0),
    )


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture
def partner(server: SimServer, http: httpx.Client) -> AramexDeliveryPartner:
    return partner_for(server.url, http)


@pytest.fixture
def store() -> str:
    return "shemsiworld"


@pytest.fixture
def partner_record(sim: AramexSimulator) -> Record:
    def record(reference: str) -> dict[str, Any] | None:
        shipments = sim.shipments_with_reference(reference)
        if not shipments:
            return None
        latest = shipments[-1]
        cod = latest["cod_amount"]
        return {
            "cod_amount": Decimal(cod) if cod is not None else None,
            "cod_currency": latest["cod_currency"],
            "phone": latest["phone"],
            "city": latest["city"],
        }

    return record


class TestAramexAgainstTheSimulator(
    DeliveryPartnerContract, NoLookupContract, TrackingContract, NoCancelContract
):
    def test_sends_the_customers_e164_phone_and_aramex_city_name(
        self, partner: AramexDeliveryPartner, partner_record: Record
    ) -> None:
        order = make_order("7101", city="Tanger", phone="+212661234567")

        partner.book(request_for(order))

        record = partner_record(booking_reference(order))
        assert record is not None
        assert record["phone"] == "+212661234567"
        assert record["city"] == "Tangier"

    def test_a_503_from_aramex_is_retried_and_books_one_parcel(
        self, partner: AramexDeliveryPartner, sim: AramexSimulator
    ) -> None:
        order = make_order("7102")
        sim.faults.add("CreateShipments", Fault(status=503, retry_after=1))

        booking = partner.book(request_for(order))

        [shipment] = sim.shipments_with_reference(booking_reference(order))
        assert shipment["awb"] == booking.reference

    def test_a_reply_lost_after_booking_is_unknown_and_not_repeated(
        self, partner: AramexDeliveryPartner, sim: AramexSimulator
    ) -> None:
        order = make_order("7103")
        sim.faults.add("CreateShipments", Fault(drop_after=True))

        with pytest.raises(OutcomeUnknown):
            partner.book(request_for(order))

        assert len(sim.shipments_with_reference(booking_reference(order))) == 1

    def test_wrong_credentials_are_a_permanent_error(
        self, server: SimServer, sim: AramexSimulator, http: httpx.Client
    ) -> None:
        order = make_order("7104")
        wrong = partner_for(server.url, http, password="guess")

        with pytest.raises(PermanentPartnerError):
            wrong.book(request_for(order))

        assert sim.shipments_with_reference(booking_reference(order)) == []
