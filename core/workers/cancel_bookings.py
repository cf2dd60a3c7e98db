"""Step cancel-bookings: stop the parcels of orders the store cancelled
after they were booked.

Intake only records such a cancellation (problem ``cancelled_after_booking``)
and leaves the order in its delivery state.  This step finds those orders
(one indexed query: an order in a delivery state whose source is
cancelled) and, for each:

- the partner can cancel (``capabilities.cancel``): it is asked through the
  ledger entry ``partner-cancel:<order key>``, written before the call and
  completed after, so a cancellation that succeeded is never asked for
  again.  Accepted: the order is ``cancelled``, its shipment kept for the
  record, and the attention items it made moot are resolved.  Refused (the
  courier has the parcel): a person asks the partner to send it back, with
  the partner's words.  Nothing reached the partner: asked again next run.
  The answer was lost: asked again next run too, which is safe because every
  partner answers a second cancel of a cancelled parcel as a success;
- the partner cannot cancel (Aramex publishes no way to): one attention
  item says what to do by hand.

An order handed to a person carries a problem saying so and is not asked
about again; it is only closed, should the partner's tracking come to show
the parcel cancelled (a person cancelled it by hand).  Nothing is retried
forever: a cancellation still unsettled ``give_up_after`` its first attempt
goes to a person with the last error.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import attrs

from ..domain import Order, OrderKey, OrderState, Problem, TrackingStatus
from ..errors import (
    ConflictError,
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
    StorageError,
    TransientPartnerError,
)
from ..intake import CANCELLED_AFTER_BOOKING, EDITED_AFTER_BOOKING
from ..ports import (
    AttentionItem,
    AttentionQueue,
    Clock,
    DeliveryPartner,
    Effect,
    EffectLedger,
    EffectStatus,
    OrderStore,
)
from ..states import ACTIVE_DELIVERY, check_move

__all__ = [
    "CANCEL",
    "CANCEL_BY_HAND",
    "CANCEL_REFUSED",
    "CancelOutcome",
    "CancelReport",
    "CancelSettings",
    "cancel_bookings",
    "cancel_key",
]

log = logging.getLogger(__name__)
S = OrderState

# The ledger kind of a cancel request sent to a partner.
CANCEL = "partner-cancel"
# Problems that say a person has the cancellation now.
CANCEL_REFUSED = "cancel_refused"
CANCEL_BY_HAND = "cancel_by_hand"
WITH_A_PERSON = frozenset({CANCEL_REFUSED, CANCEL_BY_HAND})
# What a cancelled parcel makes moot: on the order, and in the queue.
_SETTLED_PROBLEMS = WITH_A_PERSON | {CANCELLED_AFTER_BOOKING, EDITED_AFTER_BOOKING}
_MOOT_ITEMS = (CANCELLED_AFTER_BOOKING, EDITED_AFTER_BOOKING, "tracking_stale")


@attrs.frozen
class CancelSettings:
    batch_size: int = 500
    # A partner that could not be asked for this long (an outage, an answer
    # lost again and again) leaves the cancellation to a person, while the
    # parcel may still be stopped by a phone call.
    give_up_after: timedelta = timedelta(days=1)


@attrs.frozen
class CancelOutcome:
    key: str
    outcome: str
    partner: str | None = None
    detail: str | None = None


@attrs.frozen
class CancelReport:
    """One outcome per order looked at; ``with_a_person`` counts the
    cancelled orders left alone because a person has them."""

    outcomes: tuple[CancelOutcome, ...]
    with_a_person: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(o.outcome for o in self.outcomes))


def cancel_key(order_key: OrderKey | str) -> str:
    """The ledger key of the cancel request for the order *order_key*."""
    return f"{CANCEL}:{order_key}"


@attrs.define
class _Run:
    orders: OrderStore
    partners: Mapping[str, DeliveryPartner]
    ledger: EffectLedger
    attention: AttentionQueue
    now: datetime
    settings: CancelSettings
    # Partners left alone for the rest of the run, with the reason.
    paused: dict[str, str] = attrs.Factory(dict)


def cancel_bookings(
    *,
    orders: OrderStore,
    partners: Mapping[str, DeliveryPartner],
    ledger: EffectLedger,
    attention: AttentionQueue,
    clock: Clock,
    settings: CancelSettings | None = None,
) -> CancelReport:
    """Cancel at their partners the parcels of up to ``batch_size`` booked
    orders their store cancelled, oldest first.  Raises only
    ``StorageError``; every partner outcome is a value in the report."""
    settings = settings or CancelSettings()
    run = _Run(orders, partners, ledger, attention, clock.now(), settings)
    found = orders.cancelled(ACTIVE_DELIVERY, settings.batch_size)

    todo = [o for o in found if _to_do(o)]

    outcomes = [_safely(run, order) for order in todo]
    waiting = len(found) - len(todo)
    report = CancelReport(tuple(outcomes), waiting)
    log.info(
        "cancels.run found=%d with_a_person=%d %s",
        len(found),
        waiting,
        " ".join(f"{k}={v}" for k, v in sorted(report.counts.items())),
    )
    return report


def _safely(run: _Run, order: Order) -> CancelOutcome:
    """One order; whatever goes wrong with it, the others are still done."""
    try:
        return _one(run, order)
    except ConflictError:
        return CancelOutcome(str(order.key), "skipped", None, "kept changing")
    except StorageError:
        raise
    except Exception as error:  # one bad order must not stop the batch
        return _crashed(run, order, error)


def _to_do(order: Order) -> bool:
    """Whether the connector still has something to do for *order*: ask
    its partner, or close it because tracking shows the parcel cancelled
    after a person took the cancellation over."""
    with_a_person = any(p.code in WITH_A_PERSON for p in order.problems)
    shipment = order.shipment
    gone = shipment is not None and shipment.status is TrackingStatus.CANCELLED
    return gone or not with_a_person


# --- deciding -----------------------------------------------------------------


def _one(run: _Run, order: Order) -> CancelOutcome:
    shipment = order.shipment
    if shipment is None:
        return _by_hand(
            run,
            order,
            f"no shipment is recorded for it; check {order.partner} for a parcel "
            "of this order and cancel it there",
        )
    if shipment.status is TrackingStatus.CANCELLED:
        return _settle(run, order, "already_cancelled", shipment.partner)
    partner = run.partners.get(shipment.partner)
    if partner is None:
        return _by_hand(
            run,
            order,
            f"{shipment.partner} is not configured here: {_what_to_ask(order)}",
        )
    if not partner.capabilities.cancel:
        return _by_hand(
            run,
            order,
            f"{partner.name} offers no cancellation the connector can send: "
            f"{_what_to_ask(order)}",
        )
    if partner.name in run.paused:
        return CancelOutcome(
            str(order.key), "skipped", partner.name, run.paused[partner.name]
        )
    return _ask(run, order, partner, shipment.reference)


def _what_to_ask(order: Order) -> str:
    assert order.shipment is not None
    partner, reference = order.shipment.partner, order.shipment.reference
    return (
        f"ask {partner} to cancel shipment {reference}, or to return it to the "
        "sender if the courier has it already"
    )


# --- acting -------------------------------------------------------------------


def _ask(
    run: _Run, order: Order, partner: DeliveryPartner, reference: str
) -> CancelOutcome:
    """Ask *partner* to cancel parcel *reference*, once per success."""
    key = str(order.key)
    effect, fresh = run.ledger.begin(cancel_key(key), CANCEL, key, run.now)
    if not fresh:
        earlier = _earlier(run, order, partner, effect)
        if earlier is not None:
            return earlier

    try:
        accepted = partner.cancel(reference)
    except PartnerRejected as refused:
        run.ledger.mark(effect.key, EffectStatus.FAILED, refused.message, run.now)
        return _refused(run, order, partner, refused)
    except OutcomeUnknown as unknown:
        # Left pending: the partner may have cancelled it, and asking again
        # next run settles which.
        run.ledger.mark(effect.key, EffectStatus.PENDING, str(unknown), run.now)
        return _retry_later(run, order, partner, unknown)
    except PermanentPartnerError as broken:
        run.ledger.mark(effect.key, EffectStatus.FAILED, broken.message, run.now)
        return _partner_broken(run, order, partner, broken)
    except TransientPartnerError as transient:
        run.ledger.mark(effect.key, EffectStatus.FAILED, transient.message, run.now)
        return _retry_later(run, order, partner, transient)

    if not accepted:
        run.ledger.mark(
            effect.key, EffectStatus.FAILED, "answered without cancelling", run.now
        )
        return _by_hand(
            run,
            order,
            f"{partner.name} answered the cancel of shipment {reference} without "
            f"saying it is cancelled: check with {partner.name}, and ask for a "
            "return if the parcel still goes out",
        )
    run.ledger.complete(
        effect.key, {"partner": partner.name, "reference": reference}, run.now
    )
    return _settle(run, order, "cancelled", partner.name, reference)


def _earlier(
    run: _Run, order: Order, partner: DeliveryPartner, effect: Effect
) -> CancelOutcome | None:
    """Make sense of an earlier request.  None means: ask (again)."""
    if effect.status is EffectStatus.DONE:
        # Accepted, then the runner stopped before the order was saved.
        return _settle(run, order, "recovered", partner.name)
    if run.now - effect.created_at >= run.settings.give_up_after:
        if effect.status is EffectStatus.PENDING:
            run.ledger.mark(
                effect.key, EffectStatus.UNCERTAIN, "given to a person", run.now
            )
        return _by_hand(
            run,
            order,
            f"{partner.name} could not be asked since "
            f"{effect.created_at:%Y-%m-%d %H:%M} UTC (last: "
            f"{effect.detail or 'no answer'}): {_what_to_ask(order)}",
        )
    if effect.status is EffectStatus.FAILED:
        run.ledger.reopen(effect.key, run.now)
    # Pending or uncertain: the answer was lost.  Cancelling is idempotent
    # at every partner, so asking again is how the outcome is settled.
    return None


def _settle(
    run: _Run,
    order: Order,
    outcome: str,
    partner: str,
    detail: str | None = None,
) -> CancelOutcome:
    """The parcel is cancelled at the partner: so is the order.  The
    shipment stays for the record; what the parcel made moot goes."""
    key = str(order.key)

    def cancelled(current: Order) -> Order:
        shipment = current.shipment
        if shipment is not None:
            shipment = attrs.evolve(shipment, status=TrackingStatus.CANCELLED)
        return attrs.evolve(
            current,
            state=check_move(current.state, S.CANCELLED),
            shipment=shipment,
            problems=tuple(
                p for p in current.problems if p.code not in _SETTLED_PROBLEMS
            ),
            next_attempt_at=None,
        )

    _update(run.orders, order.key, cancelled)
    for reason in _MOOT_ITEMS:
        run.attention.resolve(key, reason, run.now)
    log.info("cancels.cancelled order=%s partner=%s how=%s", key, partner, outcome)
    return CancelOutcome(key, outcome, partner, detail)


def _refused(
    run: _Run, order: Order, partner: DeliveryPartner, refused: PartnerRejected
) -> CancelOutcome:
    assert order.shipment is not None
    reference = order.shipment.reference
    words = tuple(
        Problem(f"{partner.name}_{code}".lower(), message)
        for code, message in refused.problems
    )
    return _to_a_person(
        run,
        order,
        Problem(
            CANCEL_REFUSED,
            f"{partner.name} refused to cancel shipment {reference} "
            f"({refused.message}): ask {partner.name} to return shipment "
            f"{reference} to the sender",
        ),
        "refused",
        words,
    )


def _by_hand(run: _Run, order: Order, why: str) -> CancelOutcome:
    problem = Problem(
        CANCEL_BY_HAND,
        f"cancelled in the store at {order.cancelled_at:%Y-%m-%d %H:%M} UTC after "
        f"it was booked; {why}",
    )
    return _to_a_person(run, order, problem, "by_hand")


def _to_a_person(
    run: _Run,
    order: Order,
    problem: Problem,
    outcome: str,
    partner_words: tuple[Problem, ...] = (),
) -> CancelOutcome:
    """Hand the cancellation to a person, once: the problem on the order
    keeps later runs from asking again, and the one attention item per
    order says what to do."""
    key = str(order.key)
    _update(
        run.orders,
        order.key,
        lambda o: attrs.evolve(
            o, problems=(*(p for p in o.problems if p.code != problem.code), problem)
        ),
    )
    run.attention.raise_item(
        AttentionItem(
            key,
            CANCELLED_AFTER_BOOKING,
            problem.message,
            run.now,
            (problem, *partner_words),
        )
    )
    partner = order.shipment.partner if order.shipment else order.partner
    return CancelOutcome(key, outcome, partner, problem.message)


def _retry_later(
    run: _Run, order: Order, partner: DeliveryPartner, error: TransientPartnerError
) -> CancelOutcome:
    """Nothing settled: the next run asks again.  The rest of this run
    leaves the partner alone, since its retries are already spent."""
    run.paused[partner.name] = f"paused after: {error}"
    log.warning(
        "cancels.retry_scheduled order=%s partner=%s error=%s",
        order.key,
        partner.name,
        error,
    )
    return CancelOutcome(str(order.key), "retry_later", partner.name, str(error))


def _partner_broken(
    run: _Run, order: Order, partner: DeliveryPartner, error: PermanentPartnerError
) -> CancelOutcome:
    run.paused[partner.name] = str(error)
    run.attention.raise_item(
        AttentionItem(
            f"partner:{partner.name}",
            "partner_unavailable",
            f"{error}; cancellations with {partner.name} wait until this is fixed",
            run.now,
        )
    )
    return CancelOutcome(str(order.key), "skipped", partner.name, str(error))


def _crashed(run: _Run, order: Order, error: Exception) -> CancelOutcome:
    """An unexpected error (a bug, an answer no adapter could read).  The
    ledger keeps whatever it knew, so the next run asks again safely; a
    person hears of it meanwhile."""
    key = str(order.key)
    log.exception("cancels.order_failed order=%s", key)
    why = f"{type(error).__name__}: {error}"
    run.attention.raise_item(
        AttentionItem(
            key,
            CANCELLED_AFTER_BOOKING,
            f"cancelling the parcel stopped on an unexpected error ({why}); it is "
            "tried again next run",
            run.now,
        )
    )
    return CancelOutcome(key, "crashed", order.partner, why)


def _update(
    orders: OrderStore, key: OrderKey, change: Callable[[Order], Order]
) -> Order:
    """Apply *change* to the freshest stored copy, re-reading on a lost
    race: tracking and intake write the same orders."""
    for _ in range(5):
        current = orders.get(key)
        if current is None:
            raise LookupError(f"order {key} vanished from the store")
        try:
            return orders.save(change(current))
        except ConflictError:
            continue
    raise ConflictError(f"order {key} kept changing while its parcel was cancelled")
