"""Which customer notices an order's progress calls for (pure).

A notice is one message on one channel about one event of one order; its
ledger key ``notice:<order key>:<event>:<channel>`` makes it happen at most
once.  Orders from marketplaces that forbid direct contact (Amazon) get
none; a channel is used only when the order gives us somewhere to send it.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from .domain import Order, OrderState
from .messages import NotifyEvent

__all__ = [
    "NOTICE",
    "NO_DIRECT_CONTACT",
    "Notice",
    "events_for",
    "notices_for",
]

NOTICE = "notice"
# Channels whose rules forbid the seller to message buyers directly.
NO_DIRECT_CONTACT = frozenset({"amazon"})

_EVENT_OF_STATE = {
    OrderState.IN_TRANSIT: NotifyEvent.SHIPPED,
    OrderState.OUT_FOR_DELIVERY: NotifyEvent.OUT_FOR_DELIVERY,
    OrderState.DELIVERED: NotifyEvent.DELIVERED,
    OrderState.DELIVERY_FAILED: NotifyEvent.DELIVERY_FAILED,
}


@attrs.frozen
class Notice:
    order_key: str
    event: NotifyEvent
    channel: str
    to: str

    @property
    def key(self) -> str:
        return f"{NOTICE}:{self.order_key}:{self.event}:{self.channel}"

    def payload(self) -> dict[str, str]:
        return {
            "order": self.order_key,
            "event": self.event.value,
            "channel": self.channel,
            "to": self.to,
        }


def events_for(before: OrderState, after: OrderState) -> tuple[NotifyEvent, ...]:
    """The events an order passed through between two states.  Skipping
    straight from booked to delivered still says it shipped."""
    if before == after:
        return ()
    events = []
    if before is OrderState.BOOKED and after is not OrderState.CANCELLED:
        events.append(NotifyEvent.SHIPPED)
    event = _EVENT_OF_STATE.get(after)
    if event is not None and event not in events:
        events.append(event)
    return tuple(events)


def notices_for(order: Order, events: Iterable[NotifyEvent]) -> list[Notice]:
    if order.key.channel in NO_DIRECT_CONTACT:
        return []
    phone = order.phone
    email = order.customer.email if order.customer else None
    notices = []
    for event in events:
        if phone is not None and phone.e164:
            notices.append(Notice(str(order.key), event, "sms", phone.e164))
        if email:
            notices.append(Notice(str(order.key), event, "email", email))
    return notices
