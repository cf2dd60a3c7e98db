"""Worker fetch-fulfilment-status: follow every booked parcel to its end.

Due shipments (a booked order whose next poll time has come; terminal
orders are never polled again) are tracked per partner in batches as large
as the partner allows.  Events are de-duplicated, sorted by the time they
happened, and folded into the order's state with
:func:`fulfilment.core.states.advance`, so the order only moves forward: a
late, older event is kept in the history but never rewinds the state.
Unknown partner codes are kept raw, mapped to ``unknown`` and raised once
per (partner, code); a parcel with no partner update for ``stale_after``
raises an attention item.

Given the effect ledger, every move also queues what it calls for there,
before the order is saved (queuing is idempotent, so a lost save only
queues again what is already queued): the customer notices; the first
time the parcel leaves ``booked``, the report of its tracking number to
the store (see :mod:`fulfilment.core.store_reports`); and, when surveys are
on, the first time it is delivered, the survey of its customer
(``nps-survey:<order key>``, for the send-nps-form worker; never for a
marketplace that forbids direct contact).  Its ``not_before`` is
:func:`~fulfilment.core.nps.earliest_survey_at`, placement plus
``survey_after_days`` less a day and a few hours: the days are counted on
the store's calendar, which this worker does not know, and the survey
worker leaves an entry that is still too early where it is.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import attrs

from ..domain import Order, OrderKey, OrderState, TrackingEvent, TrackingStatus
from ..errors import PermanentPartnerError, TransientPartnerError
from ..notices import NO_DIRECT_CONTACT, NOTICE, events_for, notices_for
from ..nps import NPS_SURVEY, earliest_survey_at, survey_key
from ..ports import (
    AttentionItem,
    AttentionQueue,
    Clock,
    DeliveryPartner,
    EffectLedger,
    OrderStore,
    TrackingBatch,
)
from ..states import ACTIVE_DELIVERY, advance
from ..store_reports import (
    STORE_FULFILMENT,
    picked_up,
    report_payload,
    store_fulfilment_key,
)

__all__ = ["TrackingReport", "TrackingSettings", "fetch_fulfilment_status"]

log = logging.getLogger(__name__)
S = OrderState
NOT_CONFIGURED = "not configured"


@attrs.frozen
class TrackingSettings:
    """``survey_after_days``: ask the customers of delivered orders for
    their opinion this many days after placement (None: no surveys); it
    should equal the surveys' ``SurveyPolicy.delay_days``.  ``concurrency``
    is how many tracking calls may wait on a partner at once: a run is
    mostly waiting for answers, and the partner's latency, not our work,
    sets its length (1: one call after the other)."""

    poll_interval: timedelta = timedelta(minutes=30)
    stale_after: timedelta = timedelta(days=5)
    batch_size: int = 1000
    survey_after_days: int | None = None
    concurrency: int = 1


@attrs.frozen
class TrackingReport:
    polled: int
    moved: Mapping[str, int]
    new_events: int
    unknown_codes: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    failed_partners: Mapping[str, str] = attrs.field(factory=dict)


def fetch_fulfilment_status(
    *,
    orders: OrderStore,
    partners: Mapping[str, DeliveryPartner],
    attention: AttentionQueue,
    clock: Clock,
    ledger: EffectLedger | None = None,
    settings: TrackingSettings | None = None,
) -> TrackingReport:
    """With a *ledger*, every move of an order queues its customer notices
    there (before the order is saved; queuing is idempotent), for the
    notify-customers worker to send, and a parcel's first move out of
    ``booked`` queues its report to the store, for the
    update-store-fulfilments worker."""
    settings = settings or TrackingSettings()
    now = clock.now()
    due = [
        o for o in orders.due(ACTIVE_DELIVERY, now, settings.batch_size) if o.shipment
    ]
    by_partner: dict[str, list[Order]] = defaultdict(list)
    for order in due:
        by_partner[order.shipment.partner].append(order)  # type: ignore[union-attr]

    moved: Counter[str] = Counter()
    unknown: set[str] = set()
    stale: list[str] = []
    failed: dict[str, str] = {}
    new_events = 0
    for name, group in by_partner.items():
        partner = partners.get(name)
        if partner is None:
            failed[name] = NOT_CONFIGURED
            continue
        batches = _batches(group, partner.capabilities.max_tracking_batch)
        for batch, result in _tracked(partner, batches, settings.concurrency):
            if isinstance(result, Exception):
                failed[name] = str(result)
                log.warning("tracking.failed partner=%s error=%s", name, result)
                break
            outcomes = [_apply(order, result, now, settings) for order in batch]
            for order, outcome in zip(batch, outcomes, strict=True):
                new_events += outcome.new_events
                unknown |= {f"{name}:{c}" for c in outcome.unknown_codes}
                if outcome.stale:
                    stale.append(str(order.key))
                if ledger is not None:
                    _queue_notices(ledger, order, outcome.order, now)
                    _queue_store_report(ledger, order, outcome.order, now)
                    _queue_survey(ledger, order, outcome.order, now, settings)
            lost = _save_all(orders, [outcome.order for outcome in outcomes])
            for order, outcome in zip(batch, outcomes, strict=True):
                if order.key not in lost:
                    moved[outcome.order.state.value] += (
                        order.state != outcome.order.state
                    )

    _raise_attention(attention, unknown, stale, failed, now=now, settings=settings)
    report = TrackingReport(
        len(due), dict(+moved), new_events, tuple(sorted(unknown)), tuple(stale), failed
    )
    log.info(
        "tracking.run polled=%d new_events=%d unknown=%d stale=%d failed=%d",
        report.polled,
        report.new_events,
        len(report.unknown_codes),
        len(report.stale),
        len(failed),
    )
    return report


def _raise_attention(
    attention: AttentionQueue,
    unknown: set[str],
    stale: list[str],
    failed: Mapping[str, str],
    *,
    now: datetime,
    settings: TrackingSettings,
) -> None:
    """Unknown codes once per (partner, code), stale parcels one by one,
    and partners the config no longer has."""
    for code in sorted(unknown):
        partner_name, _, raw = code.partition(":")
        attention.raise_item(
            AttentionItem(
                f"partner:{partner_name}",
                f"unknown_tracking_code:{raw}",
                f"{partner_name} reported code {raw!r}, which is not in its status "
                "table; it is kept as 'unknown' until the table says what it means",
                now,
            )
        )
    for name, why in failed.items():
        if why == NOT_CONFIGURED:
            attention.raise_item(
                AttentionItem(
                    f"partner:{name}",
                    "partner_not_configured",
                    f"parcels booked with {name} cannot be followed: {name} is "
                    "not configured; configure it again, or follow its parcels "
                    "in its portal",
                    now,
                )
            )
    for key in stale:
        attention.raise_item(
            AttentionItem(
                key,
                "tracking_stale",
                f"no news from the partner for {settings.stale_after.days} days",
                now,
            )
        )


@attrs.frozen
class _Outcome:
    order: Order
    new_events: int
    unknown_codes: frozenset[str]
    stale: bool


def _apply(
    order: Order,
    fetched: TrackingBatch,
    now: datetime,
    settings: TrackingSettings,
) -> _Outcome:
    shipment = order.shipment
    assert shipment is not None
    known = set(shipment.events)
    newest = max(shipment.events, key=lambda e: e.occurred_at, default=None)
    incoming = [
        e
        for e in fetched.events.get(shipment.reference, ())
        if e not in known and not _repeats(e, newest)
    ]
    fresh = sorted(set(incoming), key=lambda e: e.occurred_at)
    history = tuple(sorted(known | set(fresh), key=lambda e: e.occurred_at))

    state, status = order.state, shipment.status
    returning = any(e.status is TrackingStatus.RETURN_TO_SENDER for e in history)
    latest_known = max((e.occurred_at for e in shipment.events), default=None)
    for event in fresh:
        if latest_known is not None and event.occurred_at < latest_known:
            continue  # history now, not news: it never moves the order
        state = advance(state, event.status, return_started=returning)
        if event.status is not TrackingStatus.UNKNOWN:
            status = event.status

    last_news = max((e.occurred_at for e in history), default=shipment.booked_at)
    stale = (
        state not in (S.DELIVERED, S.RETURNED)
        and last_news is not None
        and now - last_news > settings.stale_after
    )
    incident = next(
        (
            e.description
            for e in reversed(history)
            if e.status in (TrackingStatus.DELIVERY_FAILED, TrackingStatus.ON_HOLD)
        ),
        shipment.incident,
    )
    if state is S.DELIVERED:
        incident = None  # whatever went wrong on the way is over
    updated = attrs.evolve(
        order,
        state=state,
        shipment=attrs.evolve(
            shipment,
            events=history,
            status=status,
            incident=incident,
            last_polled_at=now,
            # A link learnt from tracking fills a gap; the booking's stays.
            tracking_url=shipment.tracking_url or fetched.links.get(shipment.reference),
        ),
        next_attempt_at=now + settings.poll_interval,
    )
    unknown = frozenset(e.code for e in fresh if e.status is TrackingStatus.UNKNOWN)
    return _Outcome(updated, len(fresh), unknown, stale)


def _repeats(event: TrackingEvent, newest: TrackingEvent | None) -> bool:
    """A partner that reports only the current status (Flextock) stamps it
    with the poll time; the same status again is no news."""
    return (
        newest is not None
        and event.occurred_at >= newest.occurred_at
        and (event.code, event.status, event.description)
        == (newest.code, newest.status, newest.description)
    )


def _queue_notices(
    ledger: EffectLedger, before: Order, after: Order, now: datetime
) -> None:
    for notice in notices_for(after, events_for(before.state, after.state)):
        ledger.queue(
            notice.key, NOTICE, notice.order_key, now, payload=notice.payload()
        )


def _queue_store_report(
    ledger: EffectLedger, before: Order, after: Order, now: datetime
) -> None:
    if picked_up(before.state, after.state):
        key = str(after.key)
        ledger.queue(
            store_fulfilment_key(key),
            STORE_FULFILMENT,
            key,
            now,
            payload=report_payload(after),
        )


def _queue_survey(
    ledger: EffectLedger,
    before: Order,
    after: Order,
    now: datetime,
    settings: TrackingSettings,
) -> None:
    days = settings.survey_after_days
    delivered = before.state is not S.DELIVERED and after.state is S.DELIVERED
    if days is None or not delivered or after.key.channel in NO_DIRECT_CONTACT:
        return
    key = str(after.key)
    ledger.queue(
        survey_key(key),
        NPS_SURVEY,
        key,
        now,
        payload={"order": key},
        not_before=earliest_survey_at(after.placed_at, days),
    )


def _batches(orders: list[Order], size: int) -> Iterable[list[Order]]:
    size = max(1, size)
    for start in range(0, len(orders), size):
        yield orders[start : start + size]


Asked = TrackingBatch | TransientPartnerError | PermanentPartnerError


def _tracked(
    partner: DeliveryPartner, batches: Iterable[list[Order]], concurrency: int
) -> Iterator[tuple[list[Order], Asked]]:
    """Each batch with the partner's answer (or error), in batch order,
    with up to *concurrency* calls in flight.  A consumer that stops early
    leaves at most ``concurrency - 1`` calls to finish unread; only the
    partner calls run beside each other, never the writes."""

    def ask(batch: list[Order]) -> Asked:
        references = [o.shipment.reference for o in batch]  # type: ignore[union-attr]
        try:
            return partner.track(references)
        except (TransientPartnerError, PermanentPartnerError) as error:
            return error

    if concurrency <= 1:
        yield from ((batch, ask(batch)) for batch in batches)
        return
    waiting = iter(batches)
    with ThreadPoolExecutor(concurrency, thread_name_prefix="tracking") as pool:
        flying = deque(
            (batch, pool.submit(ask, batch))
            for batch in itertools.islice(waiting, concurrency)
        )
        while flying:
            batch, answer = flying.popleft()
            following = next(waiting, None)
            if following is not None:
                flying.append((following, pool.submit(ask, following)))
            yield batch, answer.result()


def _save_all(orders: OrderStore, batch: list[Order]) -> set[OrderKey]:
    """Write a tracked batch in one bulk write (one round trip, not one a
    parcel); the keys of the orders that lost to a newer write."""
    lost = set(orders.save_many(batch))
    for key in lost:
        # Intake refreshed the order meanwhile; the next poll tracks it again.
        log.info("tracking.skipped_changed order=%s", key)
    return lost
