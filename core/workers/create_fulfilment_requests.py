"""Worker create-fulfilment-requests: book every shippable order with its
store's delivery partner, exactly once.

For each due order: route it and decide (pure), then act.  Booking claims
the order (``booking`` with owner and expiry, compare-and-set), writes the
ledger entry ``book:<order key>`` before calling the partner and completes
it after.  An earlier attempt whose outcome is unknown is looked up at the
partner by reference before anything is sent again; a partner that cannot
be asked leaves the order with a person instead of risking a second parcel.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import attrs

from ..booking import Attend, Book, Hold, booking_reference, decide
from ..domain import Booking, Claim, Order, OrderKey, OrderState, Problem, Shipment
from ..errors import (
    ConflictError,
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
    StorageError,
    TransientPartnerError,
)
from ..intake import (
    AFTER_BOOKING_PROBLEMS,
    CANCELLED_AFTER_BOOKING,
    EDITED_AFTER_BOOKING,
    delivery_fingerprint,
)
from ..ports import (
    AttentionItem,
    AttentionQueue,
    BookingRequest,
    Clock,
    DeliveryPartner,
    Effect,
    EffectLedger,
    EffectStatus,
    OrderStore,
)
from ..routing import NO_PARTNER_FOR_STORE, RoutingPolicy

__all__ = [
    "BookingOutcome",
    "BookingReport",
    "BookingSettings",
    "create_fulfilment_requests",
]

log = logging.getLogger(__name__)
S = OrderState


@attrs.frozen
class BookingSettings:
    claim_ttl: timedelta = timedelta(minutes=10)
    retry_delays: tuple[timedelta, ...] = (
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=3),
    )
    hold_recheck: timedelta = timedelta(hours=1)
    batch_size: int = 500
    # After this many orders in a row fail transiently with one partner, the
    # partner is left alone for the rest of the run instead of each further
    # order spending its own retries on an outage.
    pause_after_failures: int = 3

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1


@attrs.frozen
class BookingOutcome:
    key: str
    outcome: str
    partner: str | None = None
    detail: str | None = None


@attrs.frozen
class BookingReport:
    outcomes: tuple[BookingOutcome, ...]

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(o.outcome for o in self.outcomes))

    def booked_by_partner(self) -> dict[str, int]:
        booked = ("booked", "recovered")
        return dict(
            Counter(o.partner or "" for o in self.outcomes if o.outcome in booked)
        )


@attrs.define
class _Run:
    orders: OrderStore
    partners: Mapping[str, DeliveryPartner]
    ledger: EffectLedger
    attention: AttentionQueue
    owner: str
    now: datetime
    settings: BookingSettings
    broken_partners: dict[str, str] = attrs.Factory(dict)
    failing_in_a_row: dict[str, int] = attrs.Factory(dict)


def create_fulfilment_requests(
    *,
    orders: OrderStore,
    partners: Mapping[str, DeliveryPartner],
    routing: RoutingPolicy,
    ledger: EffectLedger,
    attention: AttentionQueue,
    clock: Clock,
    owner: str,
    settings: BookingSettings | None = None,
) -> BookingReport:
    settings = settings or BookingSettings()
    now = clock.now()
    run = _Run(orders, partners, ledger, attention, owner, now, settings)
    capabilities = {name: p.capabilities for name, p in partners.items()}
    # New orders are looked at before held ones are re-checked, so a pile
    # of held orders can never crowd new ones out of a batch.
    due = orders.due((S.NEW,), now, settings.batch_size)
    due += orders.due((S.ON_HOLD,), now, settings.batch_size)
    due += orders.expired_claims(now, settings.batch_size)

    outcomes = []
    for order in due:
        try:
            if order.is_cancelled:
                outcomes.append(_cancelled(run, order))
                continue
            decision = decide(order, routing.route(order, capabilities), capabilities)
            outcomes.append(_act(run, order, decision))
        except ConflictError:
            outcomes.append(
                BookingOutcome(str(order.key), "skipped", None, "kept changing")
            )
        except StorageError:
            raise
        except Exception as error:  # one bad order must not stop the batch
            outcomes.append(_crashed(run, order, error))

    report = BookingReport(tuple(outcomes))
    log.info(
        "bookings.run owner=%s due=%d %s",
        owner,
        len(due),
        " ".join(f"{k}={v}" for k, v in sorted(report.counts.items())),
    )
    return report


def _act(run: _Run, order: Order, decision: Book | Hold | Attend) -> BookingOutcome:
    key = str(order.key)
    if isinstance(decision, Hold):
        newly_held = order.hold_reason != decision.reason
        if decision.reason == NO_PARTNER_FOR_STORE and newly_held:
            _no_partner(run, order, decision.message)
        problem = Problem(decision.reason, decision.message)
        _save_quietly(
            run,
            attrs.evolve(
                order,
                state=S.ON_HOLD,
                hold_reason=decision.reason,
                problems=(problem,),
                next_attempt_at=run.now + run.settings.hold_recheck,
                claim=None,
            ),
        )
        return BookingOutcome(key, "held", None, decision.reason)
    if isinstance(decision, Attend):
        _needs_attention(run, order, decision.problems, "order_not_bookable")
        return BookingOutcome(key, "needs_attention", None, decision.problems[0].code)
    if decision.partner in run.broken_partners:
        return BookingOutcome(
            key, "skipped", decision.partner, run.broken_partners[decision.partner]
        )
    return _book(run, order, run.partners[decision.partner])


def _no_partner(run: _Run, order: Order, why: str) -> None:
    """A store with no partner is the config's problem, not the order's:
    one item per store, raised again by each order newly held for it (so a
    person who resolved it while the store's orders were meant to wait
    hears of the next one), not by every re-check of a held order."""
    store = order.key.store
    run.attention.raise_item(
        AttentionItem(
            f"store:{store}",
            NO_PARTNER_FOR_STORE,
            f"no delivery partner is configured for orders of store {store} "
            f"like {order.name} ({order.key}), so they are held: {why}; route "
            "them to a partner in the config, and the held orders are booked "
            "at their next check",
            run.now,
        )
    )


def _book(run: _Run, order: Order, partner: DeliveryPartner) -> BookingOutcome:
    key = str(order.key)
    claim = Claim(run.owner, run.now + run.settings.claim_ttl)
    try:
        order = run.orders.save(
            attrs.evolve(
                order,
                state=S.BOOKING,
                claim=claim,
                partner=partner.name,
                hold_reason=None,
            )
        )
    except ConflictError:
        return BookingOutcome(key, "skipped", partner.name, "changed by another runner")

    reference = booking_reference(order)
    effect, fresh = run.ledger.begin(f"book:{key}", "booking", key, run.now)
    if not fresh:
        earlier = _recover(run, order, partner, reference, effect)
        if earlier is not None:
            return earlier
    # Remember what the partner is about to be told, to notice an edit made
    # before an unanswered booking is recovered.
    run.ledger.mark(
        effect.key, EffectStatus.PENDING, delivery_fingerprint(order), run.now
    )

    try:
        booking = partner.book(BookingRequest(reference, order))
    except PartnerRejected as rejected:
        run.ledger.mark(effect.key, EffectStatus.FAILED, rejected.message, run.now)
        problems = tuple(
            Problem(f"{partner.name}_{code}".lower(), message)
            for code, message in rejected.problems
        )
        _needs_attention(run, order, problems, "rejected_by_partner")
        return BookingOutcome(key, "rejected", partner.name, str(rejected))
    except OutcomeUnknown as unknown:
        # Leave the ledger entry pending: the next attempt asks first.
        return _transient(run, order, partner, unknown)
    except PermanentPartnerError as broken:
        run.ledger.mark(effect.key, EffectStatus.FAILED, broken.message, run.now)
        return _partner_broken(run, order, partner, broken)
    except TransientPartnerError as transient:
        run.ledger.mark(effect.key, EffectStatus.FAILED, transient.message, run.now)
        return _transient(run, order, partner, transient)

    run.failing_in_a_row[partner.name] = 0
    return _booked(run, order, reference, _as(partner, booking), "booked")


def _transient(
    run: _Run, order: Order, partner: DeliveryPartner, error: TransientPartnerError
) -> BookingOutcome:
    streak = run.failing_in_a_row.get(partner.name, 0) + 1
    run.failing_in_a_row[partner.name] = streak
    if streak >= run.settings.pause_after_failures:
        run.broken_partners[partner.name] = f"paused after {streak} failures: {error}"
        log.warning(
            "bookings.partner_paused partner=%s failures=%d error=%s",
            partner.name,
            streak,
            error,
        )
    return _retry_later(run, order, partner, str(error))


def _recover(
    run: _Run,
    order: Order,
    partner: DeliveryPartner,
    reference: str,
    effect: Effect,
) -> BookingOutcome | None:
    """Make sense of an earlier attempt.  None means: go ahead and book."""
    if effect.status is EffectStatus.DONE:
        return _booked(
            run,
            order,
            reference,
            _as(partner, _done_booking(effect, partner.name)),
            "recovered",
            sent_fingerprint=_sent(effect),
        )
    if effect.status is EffectStatus.FAILED:
        run.ledger.reopen(effect.key, run.now)
        return None
    if effect.status is EffectStatus.UNCERTAIN:
        return _uncertain(run, order, partner, reference, effect.detail or "")

    # PENDING: an earlier attempt crashed or timed out mid-call.
    if not partner.capabilities.lookup_by_reference:
        run.ledger.mark(
            effect.key,
            EffectStatus.UNCERTAIN,
            f"{partner.name} cannot be asked whether {reference} exists",
            run.now,
        )
        return _uncertain(run, order, partner, reference, "earlier attempt unanswered")
    try:
        found = partner.find_booking(reference)
    except TransientPartnerError as transient:
        return _retry_later(run, order, partner, f"lookup failed: {transient}")
    except PermanentPartnerError as broken:
        return _partner_broken(run, order, partner, broken)
    if found is None:
        return None
    return _booked(
        run,
        order,
        reference,
        _as(partner, found),
        "recovered",
        sent_fingerprint=_sent(effect),
    )


def _done_booking(effect: Effect, partner: str) -> Booking:
    """The booking a completed ledger entry recorded."""
    return Booking(
        partner=str(effect.result.get("partner", partner)),
        reference=str(effect.result["reference"]),
        label_url=effect.result.get("label_url"),
        tracking_url=effect.result.get("tracking_url"),
    )


def _edited_meanwhile(booking: Booking) -> Problem:
    return Problem(
        EDITED_AFTER_BOOKING,
        f"the order changed in the store while its booking with {booking.partner} "
        f"({booking.reference}) was unanswered; the parcel has the old details",
    )


def _sent(effect: Effect) -> str | None:
    detail = effect.detail or ""
    return detail if detail.startswith("fp:") else None


def _as(partner: DeliveryPartner, booking: Booking) -> Booking:
    """The booking under the partner's configured name, which is what
    tracking and operators look partners up by."""
    return attrs.evolve(booking, partner=partner.name)


def _booked(
    run: _Run,
    order: Order,
    reference: str,
    booking: Booking,
    outcome: str,
    *,
    sent_fingerprint: str | None = None,
) -> BookingOutcome:
    key = str(order.key)
    run.ledger.complete(
        f"book:{key}",
        {
            "partner": booking.partner,
            "reference": booking.reference,
            "label_url": booking.label_url,
            "tracking_url": booking.tracking_url,
        },
        run.now,
    )
    shipment = Shipment(
        partner=booking.partner,
        reference=booking.reference,
        merchant_reference=reference,
        label_url=booking.label_url,
        tracking_url=booking.tracking_url,
        booked_at=run.now,
    )

    sent = sent_fingerprint or delivery_fingerprint(order)

    def mark_booked(current: Order) -> Order:
        kept = tuple(p for p in current.problems if p.code in AFTER_BOOKING_PROBLEMS)
        if delivery_fingerprint(current) != sent:
            kept = (*kept, _edited_meanwhile(booking))
        return attrs.evolve(
            current,
            state=S.BOOKED,
            shipment=shipment,
            partner=booking.partner,
            claim=None,
            problems=kept,
            hold_reason=None,
            next_attempt_at=None,
        )

    saved = _update(run.orders, order.key, mark_booked)
    edited = [p for p in saved.problems if p.code == EDITED_AFTER_BOOKING]
    if edited:
        run.attention.raise_item(
            AttentionItem(key, EDITED_AFTER_BOOKING, edited[-1].message, run.now)
        )
    _settle_attention(run, key, booking.partner)
    return BookingOutcome(key, outcome, booking.partner, booking.reference)


def _settle_attention(run: _Run, key: str, partner: str) -> None:
    """A booked order no longer needs the items about why it could not be
    booked, a partner that books again is no longer unavailable, and its
    store has a partner after all."""
    stale = {
        "rejected_by_partner",
        "order_not_bookable",
        "booking_outcome_unknown",
        "booking_failed_repeatedly",
        "booking_crashed",
    }
    for item in run.attention.open_items(subject=key):
        if item.reason in stale:
            run.attention.resolve(item.subject, item.reason, run.now)
    run.attention.resolve(f"partner:{partner}", "partner_unavailable", run.now)
    store = OrderKey.parse(key).store
    run.attention.resolve(f"store:{store}", NO_PARTNER_FOR_STORE, run.now)


def _retry_later(
    run: _Run, order: Order, partner: DeliveryPartner, why: str
) -> BookingOutcome:
    key = str(order.key)
    attempts = order.attempts + 1
    if attempts >= run.settings.max_attempts:
        problem = Problem(
            "booking_failed_repeatedly",
            f"{partner.name} failed {attempts} times; last error: {why}",
        )
        _needs_attention(run, order, (problem,), problem.code)
        return BookingOutcome(key, "needs_attention", partner.name, why)
    delay = run.settings.retry_delays[attempts - 1]
    log.warning(
        "bookings.retry_scheduled order=%s partner=%s attempt=%d in=%s error=%s",
        key,
        partner.name,
        attempts,
        delay,
        why,
    )
    _update(
        run.orders,
        order.key,
        lambda o: attrs.evolve(
            o,
            state=S.NEW,
            claim=None,
            attempts=attempts,
            next_attempt_at=run.now + delay,
        ),
    )
    return BookingOutcome(key, "retry_scheduled", partner.name, why)


def _partner_broken(
    run: _Run, order: Order, partner: DeliveryPartner, error: PermanentPartnerError
) -> BookingOutcome:
    """Credentials or contract trouble: stop sending this partner anything
    in this run, give the order back untouched, and tell a person once."""
    run.broken_partners[partner.name] = str(error)
    run.attention.raise_item(
        AttentionItem(
            f"partner:{partner.name}",
            "partner_unavailable",
            f"{error}; bookings with {partner.name} were paused for the rest of "
            "the run; they resume by themselves once this is fixed",
            run.now,
        )
    )
    _update(run.orders, order.key, lambda o: attrs.evolve(o, state=S.NEW, claim=None))
    return BookingOutcome(str(order.key), "skipped", partner.name, str(error))


def _uncertain(
    run: _Run, order: Order, partner: DeliveryPartner, reference: str, why: str
) -> BookingOutcome:
    problem = Problem(
        "booking_outcome_unknown",
        f"an earlier booking with {partner.name} under reference {reference} got "
        f"no answer ({why}); check the partner's portal, then record the "
        "shipment or retry the order",
    )
    _needs_attention(run, order, (problem,), problem.code)
    return BookingOutcome(str(order.key), "uncertain", partner.name, why)


def _cancelled(run: _Run, order: Order) -> BookingOutcome:
    """An order cancelled in the store is never booked.  If a booking of it
    was under way (a runner died, a reply was lost), a parcel may exist.
    When the ledger knows the parcel, it is recorded, and the cancel-bookings
    step cancels it with the partner; otherwise a person checks the partner
    and cancels it there."""
    key = str(order.key)
    effect = run.ledger.get(f"book:{key}")
    if effect is not None and effect.status is EffectStatus.DONE:
        booking = _done_booking(effect, order.partner or "")
        return _booked(run, order, booking_reference(order), booking, "recovered")
    unsettled = effect is not None and effect.status is not EffectStatus.FAILED
    if not unsettled:
        _update(
            run.orders,
            order.key,
            lambda o: attrs.evolve(
                o,
                state=S.CANCELLED,
                claim=None,
                next_attempt_at=None,
                # A booking that failed left no parcel to cancel.
                problems=tuple(
                    p for p in o.problems if p.code != CANCELLED_AFTER_BOOKING
                ),
            ),
        )
        return BookingOutcome(key, "cancelled")
    assert effect is not None
    if effect.status is EffectStatus.PENDING:
        run.ledger.mark(
            effect.key, EffectStatus.UNCERTAIN, "cancelled meanwhile", run.now
        )
    problem = Problem(
        CANCELLED_AFTER_BOOKING,
        f"cancelled in the store while a booking with {order.partner} was "
        f"unsettled; check {order.partner} for reference {booking_reference(order)} "
        "and cancel the parcel there if it exists",
    )
    _needs_attention(run, order, (problem,), problem.code)
    return BookingOutcome(key, "needs_attention", order.partner, problem.code)


def _crashed(run: _Run, order: Order, error: Exception) -> BookingOutcome:
    """An unexpected error while handling one order (a bug, data no adapter
    could map).  Whether the partner was called cannot be known, so an open
    ledger entry is marked uncertain and a person looks before any retry."""
    key = str(order.key)
    log.exception("bookings.order_failed order=%s partner=%s", key, order.partner)
    why = f"{type(error).__name__}: {error}"
    effect = run.ledger.get(f"book:{key}")
    if effect is not None and effect.status is EffectStatus.PENDING:
        run.ledger.mark(effect.key, EffectStatus.UNCERTAIN, why, run.now)
    problem = Problem(
        "booking_crashed",
        f"booking stopped on an unexpected error ({why}); check the partner "
        f"for reference {booking_reference(order)} before retrying the order",
    )
    _needs_attention(run, order, (problem,), problem.code)
    return BookingOutcome(key, "crashed", order.partner, why)


def _needs_attention(
    run: _Run, order: Order, problems: tuple[Problem, ...], reason: str
) -> None:
    # The item first: an order parked in needs_attention is never looked at
    # again by this worker, so a runner dying between the two writes must
    # leave an item about an order still due, not a parked order nobody was
    # told about.  Raising the item twice only refreshes it.
    run.attention.raise_item(
        AttentionItem(
            str(order.key),
            reason,
            "; ".join(p.message for p in problems),
            run.now,
            problems,
        )
    )
    _update(
        run.orders,
        order.key,
        lambda o: attrs.evolve(
            o, state=S.NEEDS_ATTENTION, problems=problems, claim=None
        ),
    )


def _save_quietly(run: _Run, order: Order) -> None:
    try:
        run.orders.save(order)
    except ConflictError:
        log.info("bookings.skipped_changed order=%s", order.key)


def _update(
    orders: OrderStore, key: OrderKey, change: Callable[[Order], Order]
) -> Order:
    """Apply *change* to the freshest stored copy, re-reading on a lost
    race: intake may refresh source fields while we book."""
    for _ in range(5):
        current = orders.get(key)
        if current is None:
            raise LookupError(f"order {key} vanished from the store")
        try:
            return orders.save(change(current))
        except ConflictError:
            continue
    raise ConflictError(f"order {key} kept changing while it was being booked")
