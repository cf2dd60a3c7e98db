"""What an operator does to an order waiting for attention.

``record_booking`` says "the partner has this parcel": after a booking whose
outcome was unknown, the operator found it in the partner's portal and
records its reference; the ledger is completed so nothing books it again.
Only an order a person was asked about (``needs_attention``) takes one: an
order on hold waits for something else (a payment, a partner for its
country), and one being booked is a runner's to settle.

``retry_order`` says "I have fixed it (or checked the partner), try again":
the order goes back to ``new`` with its attempts reset, its open attention
items are resolved, and a booking the ledger could not settle is marked
failed so the next booking run may try again.  Only call it for a booking
of unknown outcome after checking the partner has no parcel for the order.

``retry_item`` acts on an attention item by its ID, doing what "retry"
means for the item's reason (:data:`~fulfilment.core.attention.REASONS`): a
booking goes back to ``new`` through ``retry_order``; an effect that may
already have happened (an uncertain notice) is never redone on a plain
retry, only with ``resend`` once a person checked it did not happen; a
parcel with no news is polled at the next tracking run; the rest is
refused with what the operator should do instead.  ``resolve_item`` closes
an item on a person's word, with their note.
"""

from __future__ import annotations

import re
from datetime import datetime

import attrs

from .attention import Retry, describe
from .booking import booking_reference
from .domain import Order, OrderKey, OrderState, Shipment
from .errors import ConflictError
from .ports import (
    AttentionItem,
    AttentionQueue,
    EffectLedger,
    EffectStatus,
    OrderStore,
)
from .states import ACTIVE_DELIVERY

__all__ = [
    "InvalidRecord",
    "NotRetryable",
    "check_record",
    "record_booking",
    "resolve_item",
    "retry_item",
    "retry_order",
]

RETRYABLE = frozenset({OrderState.NEEDS_ATTENTION, OrderState.ON_HOLD})
RECORDABLE = frozenset({OrderState.NEEDS_ATTENTION})

# A line break or another control character: it would break the lines a
# reference is shown on, and the partner never issues one.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A web page a person opens: http(s), a host name and an optional port,
# then anything but spaces and control characters.
_WEB_ADDRESS = re.compile(
    r"https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?"
    r"(?:[/?#][^\s\x00-\x1f\x7f-\x9f]*)?",
    re.IGNORECASE,
)


class NotRetryable(ValueError):
    """The order is not waiting for anyone: nothing to retry."""


class InvalidRecord(ValueError):
    """What the operator typed cannot be recorded (a blank reference, a
    label address that is not a web page)."""


def check_record(reference: str, label_url: str | None) -> None:
    """Raise :class:`InvalidRecord` unless *reference* is a partner
    reference and *label_url*, when given, an http(s) URL with a host."""
    if not reference.strip():
        raise InvalidRecord("the partner's reference must not be blank")
    if _CONTROL.search(reference):
        raise InvalidRecord(
            f"the partner's reference {reference!r} holds a line break or "
            "control character"
        )
    if label_url is not None and not _WEB_ADDRESS.fullmatch(label_url):
        raise InvalidRecord(
            f"the label URL {label_url!r} is not an http(s) URL with a host"
        )


def retry_order(
    *,
    key: OrderKey,
    orders: OrderStore,
    ledger: EffectLedger,
    attention: AttentionQueue,
    now: datetime,
    note: str = "sent back to booking",
    by: str | None = None,
) -> Order:
    order = orders.get(key)
    if order is None:
        raise LookupError(f"no order {key}")
    if order.state not in RETRYABLE:
        raise NotRetryable(
            f"order {key} is {order.state}; only held orders or "
            "orders waiting for attention can be retried"
        )

    effect = ledger.get(f"book:{key}")
    # Only a booking a person was asked to check is settled by a retry.  A
    # pending one (a lost reply not yet looked into) stays pending, so the
    # next run asks the partner first, or asks a person, never books blind.
    if effect is not None and effect.status is EffectStatus.UNCERTAIN:
        ledger.mark(effect.key, EffectStatus.FAILED, "operator retried", now)

    fresh = attrs.evolve(
        order,
        state=OrderState.NEW,
        problems=(),
        hold_reason=None,
        attempts=0,
        next_attempt_at=None,
        claim=None,
    )
    try:
        saved = orders.save(fresh)
    except ConflictError:
        raise ConflictError(f"order {key} changed meanwhile; look again") from None
    _resolve_all(attention, key, now, note=note, by=by)
    return saved


def record_booking(
    *,
    key: OrderKey,
    partner: str,
    reference: str,
    orders: OrderStore,
    ledger: EffectLedger,
    attention: AttentionQueue,
    now: datetime,
    label_url: str | None = None,
) -> Order:
    check_record(reference, label_url)
    reference = reference.strip()
    order = orders.get(key)
    if order is None:
        raise LookupError(f"no order {key}")
    if order.state not in RECORDABLE:
        raise NotRetryable(
            f"order {key} is {order.state}; only an order waiting for attention "
            "(needs_attention) can have a booking recorded"
        )
    merchant_reference = booking_reference(order)
    effect_key = f"book:{key}"
    ledger.begin(effect_key, "booking", str(key), now)
    ledger.complete(
        effect_key,
        {
            "partner": partner,
            "reference": reference,
            "label_url": label_url,
            "tracking_url": None,
            "recorded_by": "operator",
        },
        now,
    )
    shipment = Shipment(
        partner=partner,
        reference=reference,
        merchant_reference=merchant_reference,
        label_url=label_url,
        booked_at=now,
    )
    saved = orders.save(
        attrs.evolve(
            order,
            state=OrderState.BOOKED,
            partner=partner,
            shipment=shipment,
            problems=(),
            hold_reason=None,
            claim=None,
            next_attempt_at=None,
        )
    )
    _resolve_all(attention, key, now, note=f"parcel {reference} recorded", by=None)
    return saved


def _resolve_all(
    attention: AttentionQueue,
    key: OrderKey,
    now: datetime,
    *,
    note: str,
    by: str | None,
) -> None:
    for item in attention.open_items(subject=str(key)):
        attention.resolve_id(item.id, now, note=note, by=by)


# --- acting on an attention item by its ID ----------------------------------


def resolve_item(
    *,
    item_id: str,
    note: str,
    attention: AttentionQueue,
    now: datetime,
    by: str | None = None,
) -> AttentionItem:
    """Close the open item *item_id* with *note* (``InvalidNote`` when
    blank); ``LookupError`` when there is no such item, ``NotRetryable``
    when it is closed already."""
    item = _open_item(attention, item_id)
    closed = attention.resolve_id(item.id, now, note=note, by=by)
    if closed is None:
        raise NotRetryable(f"item {item_id} was resolved meanwhile; look again")
    return closed


def retry_item(
    *,
    item_id: str,
    orders: OrderStore,
    ledger: EffectLedger,
    attention: AttentionQueue,
    now: datetime,
    resend: bool = False,
    by: str | None = None,
) -> str:
    """Do what "retry" means for the item's reason; what was done, for the
    operator.  ``NotRetryable`` says why not and what to do instead."""
    item = _open_item(attention, item_id)
    reason = describe(item.reason)
    how = reason.retry if reason else Retry.BY_HAND
    if how is Retry.BOOKING:
        order = retry_order(
            key=_order_key(item), orders=orders, ledger=ledger,
            attention=attention, now=now, by=by,
        )  # fmt: skip
        return f"{order.key}: back to {order.state}; the next booking run takes it"
    if how is Retry.RESEND:
        return _resend(item, ledger, attention, now, resend=resend, by=by)
    if how is Retry.REPOLL:
        return _repoll(item, orders, attention, now, by=by)
    action = reason.action if reason else "look at what the message says"
    if how is Retry.BY_ITSELF:
        raise NotRetryable(
            f"item {item.id} ({item.reason}) is retried by the next run by "
            f"itself, and resolved by it once that works: {action}"
        )
    raise NotRetryable(
        f"item {item.id} ({item.reason}) has nothing the connector can retry: "
        f"{action}; then: fulfilment attention resolve {item.id} --note TEXT"
    )


def _open_item(attention: AttentionQueue, item_id: str) -> AttentionItem:
    item = attention.get(item_id.strip().lower())
    if item is None:
        raise LookupError(f"no attention item {item_id}")
    if item.resolved_at is not None:
        raise NotRetryable(
            f"item {item.id} was resolved at {item.resolved_at:%Y-%m-%d %H:%M} "
            "UTC; nothing is left to do"
        )
    return item


def _order_key(item: AttentionItem) -> OrderKey:
    try:
        return OrderKey.parse(item.subject)
    except ValueError:
        raise NotRetryable(
            f"item {item.id} is about {item.subject}, not an order"
        ) from None


def _resend(
    item: AttentionItem,
    ledger: EffectLedger,
    attention: AttentionQueue,
    now: datetime,
    *,
    resend: bool,
    by: str | None,
) -> str:
    """An effect that may have happened is queued again only on a person's
    word that it did not: a second SMS, code or store report is worse than
    a person's minute."""
    if not resend:
        raise NotRetryable(
            f"item {item.id}: {item.message}. It may already have happened, "
            "so it is never redone blindly. Check first; if it did not "
            f"happen: fulfilment attention retry {item.id} --resend; if it "
            f"did: fulfilment attention resolve {item.id} --note TEXT"
        )
    effect = ledger.get(item.effect) if item.effect else None
    if effect is None:
        raise NotRetryable(
            f"item {item.id} names no ledger entry to queue again; do it by "
            f"hand, then: fulfilment attention resolve {item.id} --note TEXT"
        )
    if effect.status is not EffectStatus.UNCERTAIN:
        raise NotRetryable(
            f"entry {effect.key} is {effect.status.value}, not uncertain; "
            "only an entry whose outcome is unknown is queued again"
        )
    ledger.mark(effect.key, EffectStatus.QUEUED, "resent on an operator's word", now)
    attention.resolve_id(
        item.id, now, note=f"queued {effect.key} again after checking", by=by
    )
    return f"{effect.key}: queued again; the next run sends it"


def _repoll(
    item: AttentionItem,
    orders: OrderStore,
    attention: AttentionQueue,
    now: datetime,
    *,
    by: str | None,
) -> str:
    """A parcel is made due for the next tracking run; an unknown code
    needs no move (its parcels keep being polled).  Either item closes: if
    the parcel is still silent, or the code still unknown, the next run
    raises a new one."""
    if item.subject.startswith("partner:"):
        attention.resolve_id(item.id, now, note="closed to see it again", by=by)
        return (
            f"{item.id} closed; parcels of {item.subject.removeprefix('partner:')} "
            "are polled as usual, and if the code comes back while the status "
            "table still lacks it, a new item is raised"
        )
    key = _order_key(item)
    order = orders.get(key)
    if order is None:
        raise LookupError(f"no order {key}")
    if order.state not in ACTIVE_DELIVERY:
        raise NotRetryable(
            f"order {key} is {order.state}; its parcel is not followed any more"
        )
    try:
        orders.save(attrs.evolve(order, next_attempt_at=None))
    except ConflictError:
        raise ConflictError(f"order {key} changed meanwhile; look again") from None
    attention.resolve_id(item.id, now, note="polled again on request", by=by)
    return f"{key}: polled at the next tracking run"
