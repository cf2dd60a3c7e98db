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
"""

from __future__ import annotations

import re
from datetime import datetime

import attrs

from .booking import booking_reference
from .domain import Order, OrderKey, OrderState, Shipment
from .errors import ConflictError
from .ports import AttentionQueue, EffectLedger, EffectStatus, OrderStore

__all__ = [
    "InvalidRecord",
    "NotRetryable",
    "check_record",
    "record_booking",
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
    _resolve_all(attention, key, now)
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
    _resolve_all(attention, key, now)
    return saved


def _resolve_all(attention: AttentionQueue, key: OrderKey, now: datetime) -> None:
    for item in attention.open_items(subject=str(key)):
        attention.resolve(item.subject, item.reason, now)
