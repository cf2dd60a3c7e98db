"""The in-memory partner keeps the same contract as the real adapters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fulfilment.adapters.pl3.memory import (
    DELIVERED_IN_TWO_DAYS,
    MemoryDeliveryPartner,
)
from fulfilment.core.clock import ManualClock
from fulfilment.core.ports import Capabilities
from fulfilment.testing.builders import T0
from fulfilment.testing.delivery_partners import (
    CancelContract,
    DeliveryPartnerContract,
    LookupContract,
    NoCancelContract,
    TrackingContract,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


class TestMemoryPartner(
    DeliveryPartnerContract, LookupContract, TrackingContract, CancelContract
):
    @pytest.fixture
    def partner(self, clock: ManualClock) -> MemoryDeliveryPartner:
        return MemoryDeliveryPartner(
            "memory",
            cod_currencies=frozenset({"MAD"}),
            clock=clock,
            script=DELIVERED_IN_TWO_DAYS,
        )

    @pytest.fixture
    def store(self) -> str:
        return "shemsiworld"

    @pytest.fixture
    def partner_record(self, partner: MemoryDeliveryPartner) -> Any:
        def record(reference: str) -> dict[str, Any] | None:
            booked = partner.orders.get(reference)
            if booked is None:
                return None
            collect = booked.payment.collect
            return {
                "cod_amount": collect.amount if collect else Decimal(0),
                "cod_currency": collect.currency if collect else None,
            }

        return record


class TestMemoryPartnerPlayingOneThatCannotCancel(NoCancelContract):
    @pytest.fixture
    def partner(self, clock: ManualClock) -> MemoryDeliveryPartner:
        capabilities = Capabilities(cod_currencies=frozenset({"MAD"}), cancel=False)
        return MemoryDeliveryPartner("memory", capabilities, clock=clock)
