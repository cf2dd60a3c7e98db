"""What the SMS simulators share: reading a number as a provider would
(:func:`is_reachable`), and the segment count they report.

The count is the library's own GSM-7/UCS-2 rule
(:func:`fulfilment.core.messages.sms_segments`), so the simulators answer
with the ``num_segments``/``smsCount`` a carrier would; the adapters never
count, they report what the provider said.  Pass ``segments=`` to a
simulator to model a carrier that counts differently.
"""

from __future__ import annotations

from collections.abc import Callable

from fulfilment.adapters.notify.common import is_possible_e164 as is_reachable
from fulfilment.core.messages import sms_segments

__all__ = ["SegmentCounter", "carrier_segments", "is_reachable"]

SegmentCounter = Callable[[str], int]


def carrier_segments(body: str) -> int:
    """The parts a carrier splits *body* into."""
    return sms_segments(body).segments
