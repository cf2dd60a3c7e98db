"""Which customer notices an order's progress calls for (pure).

A notice is one message on one channel about one event of one order; its
ledger key ``notice:<order key>:<event>:<channel>`` makes it happen at most
once.  Orders from marketplaces that forbid direct contact (Amazon) get
none; a channel is used only when the order gives us somewhere to send it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from .domain import Order, OrderState, TrackingStatus
from .messages import NotifyEvent
from .ports import EffectLedger, EffectStatus

__all__ = [
    "NOTICE",
    "NO_DIRECT_CONTACT",
    "OPT_OUT",
    "PARCEL_EVENTS",
    "Notice",
    "events_for",
    "has_opted_out",
    "notices_for",
    "occurrence",
    "opt_out_key",
    "reached",
    "record_opt_out",
    "superseded",
    "withdraw_opt_out",
]

NOTICE = "notice"
# Ledger entries remembering a customer who unsubscribed from a channel.
OPT_OUT = "opt-out"
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
    """``values`` are template values the order alone does not give (a
    survey link, a discount code), kept in the ledger entry so the message
    sent later says exactly what was decided when it was queued."""

    order_key: str
    event: NotifyEvent
    channel: str
    to: str
    values: Mapping[str, str] = attrs.field(factory=dict)
    # The n-th time the order reached this event (a second delivery round
    # after a failed attempt is news again); the first keeps the plain key.
    occurrence: int = 1

    @property
    def key(self) -> str:
        event = str(self.event)
        if self.occurrence > 1:
            event = f"{event}-{self.occurrence}"
        return f"{NOTICE}:{self.order_key}:{event}:{self.channel}"

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "order": self.order_key,
            "event": self.event.value,
            "channel": self.channel,
            "to": self.to,
        }
        if self.values:
            payload["values"] = dict(self.values)
        if self.occurrence > 1:
            payload["occurrence"] = self.occurrence
        return payload


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


def notices_for(
    order: Order,
    events: Iterable[NotifyEvent],
    values: Mapping[str, str] | None = None,
) -> list[Notice]:
    if order.key.channel in NO_DIRECT_CONTACT:
        return []
    phone = order.phone
    email = order.customer.email if order.customer else None
    extra = dict(values or {})
    notices = []
    for event in events:
        n = occurrence(order, event)
        if phone is not None and phone.e164:
            notices.append(Notice(str(order.key), event, "sms", phone.e164, extra, n))
        if email:
            notices.append(Notice(str(order.key), event, "email", email, extra, n))
    return notices


# Events that can happen more than once to one parcel, by the tracking
# status that marks each time.
_REPEATING = {
    NotifyEvent.OUT_FOR_DELIVERY: TrackingStatus.OUT_FOR_DELIVERY,
    NotifyEvent.DELIVERY_FAILED: TrackingStatus.DELIVERY_FAILED,
}


def occurrence(order: Order, event: NotifyEvent) -> int:
    """How many times *order*'s parcel has reached *event*, counted from
    its tracking history (so every rerun counts the same)."""
    status = _REPEATING.get(event)
    if status is None or order.shipment is None:
        return 1
    return max(1, sum(e.status is status for e in order.shipment.events))


# The parcel notices that still tell the truth in each state.
_STILL_NEWS = {
    OrderState.IN_TRANSIT: {NotifyEvent.SHIPPED},
    OrderState.OUT_FOR_DELIVERY: {NotifyEvent.OUT_FOR_DELIVERY},
    OrderState.DELIVERY_FAILED: {NotifyEvent.DELIVERY_FAILED},
    OrderState.DELIVERED: {NotifyEvent.DELIVERED},
}
PARCEL_EVENTS = frozenset(
    {
        NotifyEvent.SHIPPED,
        NotifyEvent.OUT_FOR_DELIVERY,
        NotifyEvent.DELIVERED,
        NotifyEvent.DELIVERY_FAILED,
    }
)


def reached(order: Order, event: NotifyEvent, n: int = 1) -> bool:
    """Whether the stored *order* has got as far as the *n*-th *event*.  A
    tracking run queues notices before it saves the order; until the save
    lands (or when a runner died in between and the next poll redoes it),
    the notice is early, not wrong."""
    if event not in PARCEL_EVENTS:
        return True
    if event is NotifyEvent.SHIPPED:
        return order.state not in (OrderState.BOOKED, OrderState.BOOKING)
    history = order.shipment.events if order.shipment else ()
    if event is NotifyEvent.DELIVERED:
        return order.state is OrderState.DELIVERED or any(
            e.status is TrackingStatus.DELIVERED for e in history
        )
    status = _REPEATING[event]
    return sum(e.status is status for e in history) >= n


def superseded(event: NotifyEvent, state: OrderState) -> bool:
    """Whether a parcel notice queued earlier is no longer true now that
    the order is in *state* ("out for delivery today" once it is delivered,
    "the courier will try again" once it is on its way back).  Other
    notices (a survey, a code) never are."""
    if event not in PARCEL_EVENTS:
        return False
    return event not in _STILL_NEWS.get(state, set())


def opt_out_key(channel: str, address: str) -> str:
    """The ledger key under which an opt-out of *address* on *channel* is
    kept (addresses compared without case, phones as E.164)."""
    return f"{OPT_OUT}:{channel}:{address.strip().casefold()}"


def has_opted_out(ledger: EffectLedger, channel: str, address: str) -> bool:
    effect = ledger.get(opt_out_key(channel, address))
    return effect is not None and effect.status is EffectStatus.DONE


def record_opt_out(
    ledger: EffectLedger,
    *,
    channel: str,
    address: str,
    subject: str,
    reason: str,
    now: datetime,
) -> bool:
    """Remember that *address* wants no more messages on *channel*; True
    when it is new.  *subject* is the order (or operator) that learnt it."""
    key = opt_out_key(channel, address)
    effect, fresh = ledger.begin(key, OPT_OUT, subject, now)
    if not fresh and effect.status is EffectStatus.DONE:
        return False
    if not fresh:  # withdrawn earlier: the customer opted out again
        ledger.reopen(key, now)
    ledger.complete(key, {"channel": channel, "reason": reason}, now)
    return True


def withdraw_opt_out(
    ledger: EffectLedger, *, channel: str, address: str, reason: str, now: datetime
) -> bool:
    """The customer opted back in; True when there was an opt-out to lift.
    The entry stays in the ledger (marked failed, with *reason*) as the
    record of both decisions."""
    key = opt_out_key(channel, address)
    if not has_opted_out(ledger, channel, address):
        return False
    ledger.mark(key, EffectStatus.FAILED, f"opted back in: {reason}", now)
    return True
