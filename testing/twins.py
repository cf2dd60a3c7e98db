"""The in-memory twin of every port, gathered for tests and dry runs.

Each twin keeps state (what it booked, sent or stored) so a test asserts
outcomes, and each keeps the same contract suite as the real adapters.  A
plugin author wires a worker to these and swaps in the adapter under test
for the one port it implements.
"""

from __future__ import annotations

from fulfilment.adapters.notify.memory import (
    MemoryLinkShortener,
    MemoryMailSender,
    MemorySmsSender,
)
from fulfilment.adapters.oms.memory import MemoryOrderSource
from fulfilment.adapters.pl3.memory import MemoryDeliveryPartner
from fulfilment.adapters.rates.memory import MemoryRateSource
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.adapters.survey.memory import MemorySurveySource
from fulfilment.core.clock import ManualClock

__all__ = [
    "ManualClock",
    "MemoryDeliveryPartner",
    "MemoryLinkShortener",
    "MemoryMailSender",
    "MemoryOrderSource",
    "MemoryRateSource",
    "MemorySmsSender",
    "MemoryStorage",
    "MemorySurveySource",
]
