"""The in-memory partner keeps the same contract as the real adapters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fulfilment.adapters.pl3.memory import MemoryDeliveryPartner
from fulfilment.core.ports import Capabilities

from .contract import DeliveryPartnerContract, LookupContract


class TestMemoryPartner(DeliveryPartnerContract, LookupContract):
    @pytest.fixture
    def partner(self) -> MemoryDeliveryPartner:
        return MemoryDeliveryPartner(
            "memory", Capabilities(cod_currencies=frozenset({"MAD"}))
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
