"""Worker update-store-fulfilments: tell each store its parcels have left.

The tracking worker queues one ledger entry per order the first time its
parcel leaves ``booked`` (``store-fulfilment:<order key>``).  This worker
takes each due entry (atomically: QUEUED -> PENDING, so two runners never
report the same parcel), and reports the tracking number, carrier and
tracking page to the store that sold the order; Shopify records it as a
fulfilment and marks the order fulfilled.  A store keys nothing on our
side, so the only guard against a second fulfilment is to ask first: an
entry that was tried before, for whatever reason, is looked up by its
tracking number before it is reported again.  Outcomes:

- reported: DONE with the store's fulfilment id (``found`` when the lookup
  showed an earlier attempt had worked after all);
- refused by the store (nothing left to fulfil, order cancelled there):
  FAILED, with an attention item quoting the store's words;
- nothing happened (throttled, 503, connection refused): back to QUEUED for
  the next run, and the store's other entries wait for that run too;
- may have happened (timeout, broken reply): back to QUEUED as
  ``uncertain``; the next attempt starts with the lookup, never with a
  blind second report, and the store's other entries wait as well;
- an entry left PENDING by a runner that died mid-call: back to QUEUED once
  its grace period has passed, and so looked up first as well;
- credentials or permissions refused: back to QUEUED, the store waits, and
  an attention item says so;
- an unexpected error (a bug, an answer no adapter could read): UNCERTAIN,
  with an attention item, and the batch goes on;
- the order's store takes no reports (a channel without
  :class:`~fulfilment.core.ports.StoreFulfilments`, such as Amazon here):
  FAILED as ``unsupported``, which is a fact about the channel, not an
  error, so nobody is asked to look.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta

import attrs

from ..domain import Order, OrderKey
from ..errors import (
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
    StorageError,
    TransientPartnerError,
)
from ..ports import (
    AttentionItem,
    AttentionQueue,
    Clock,
    Effect,
    EffectLedger,
    EffectStatus,
    OrderStore,
    ShipmentReport,
    StoreFulfilments,
)
from ..store_reports import STORE_FULFILMENT, shipment_report
from ._outbox import requeue_abandoned, settle_crashed

__all__ = [
    "StoreFulfilmentReport",
    "StoreFulfilmentSettings",
    "update_store_fulfilments",
]

log = logging.getLogger(__name__)


@attrs.frozen
class StoreFulfilmentSettings:
    batch_size: int = 200
    # A report still PENDING this long after it was taken was being made by
    # a runner that died; whether the store has it is unknown.  Far longer
    # than any HTTP timeout, so a slow call is never mistaken for a dead one.
    pending_grace: timedelta = timedelta(minutes=15)
    # The carrier's name as stores should show it, per partner name;
    # a partner missing here is shown by its own name, capitalised.
    companies: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class StoreFulfilmentReport:
    """``outcomes`` counts entries by outcome; ``reported`` counts, per
    store, the parcels the store now has (reported or found);
    ``failed_stores`` names the stores that failed this run, with why."""

    outcomes: Mapping[str, int]
    reported: Mapping[str, int]
    failed_stores: Mapping[str, str] = attrs.field(factory=dict)


@attrs.define
class _Run:
    orders: OrderStore
    stores: Mapping[str, StoreFulfilments]
    ledger: EffectLedger
    attention: AttentionQueue
    clock: Clock
    settings: StoreFulfilmentSettings
    # Stores that failed this run: their other entries wait for the next.
    down: dict[str, str] = attrs.Factory(dict)


def update_store_fulfilments(
    *,
    orders: OrderStore,
    stores: Mapping[str, StoreFulfilments],
    ledger: EffectLedger,
    attention: AttentionQueue,
    clock: Clock,
    settings: StoreFulfilmentSettings | None = None,
) -> StoreFulfilmentReport:
    """Report every due parcel to its store.  *stores* holds, by store
    handle, the stores that take reports; an order of any other store is
    counted ``unsupported``."""
    settings = settings or StoreFulfilmentSettings()
    run = _Run(orders, stores, ledger, attention, clock, settings)
    outcomes: Counter[str] = Counter()
    reported: Counter[str] = Counter()

    outcomes.update(_requeue_abandoned(run))
    for entry in ledger.queued(STORE_FULFILMENT, clock.now(), settings.batch_size):
        try:
            outcome = _one(run, entry)
        except StorageError:
            raise
        except Exception as error:  # one bad entry must not stop the batch
            outcome = _crashed(run, entry, error)
        outcomes[outcome] += 1
        if outcome in ("reported", "found"):
            reported[OrderKey.parse(entry.subject).store] += 1

    log.info(
        "store_fulfilments.run %s failed_stores=%d",
        " ".join(f"{k}={v}" for k, v in sorted(outcomes.items())) or "nothing=0",
        len(run.down),
    )
    return StoreFulfilmentReport(dict(outcomes), dict(reported), dict(run.down))


def _one(run: _Run, entry: Effect) -> str:
    now = run.clock.now()
    order = run.orders.get(OrderKey.parse(entry.subject))
    if order is None or order.shipment is None:
        run.ledger.mark(entry.key, EffectStatus.FAILED, "order or parcel gone", now)
        return "dropped"
    store = run.stores.get(order.key.store)
    if store is None:
        why = f"store {order.key.store} takes no shipment reports"
        run.ledger.mark(entry.key, EffectStatus.FAILED, why, now)
        return "unsupported"
    if order.key.store in run.down:
        return "store_down"
    taken = run.ledger.take(entry.key, now)
    if taken is None:
        return "taken_elsewhere"

    report = shipment_report(order, run.settings.companies)
    try:
        found = _earlier_report(store, order, report, taken)
        fulfilment_id = found or store.report_shipment(order, report)
    except PartnerRejected as refused:
        _refused(run, taken, order, report, refused)
        return "refused"
    except OutcomeUnknown as unknown:
        _back_to_queue(run, order, taken, f"outcome unknown: {unknown}")
        return "uncertain"
    except PermanentPartnerError as broken:
        _back_to_queue(run, order, taken, str(broken))
        _store_unavailable(run, order.key.store, broken)
        return "store_failed"
    except TransientPartnerError as transient:
        _back_to_queue(run, order, taken, str(transient))
        return "retry_later"
    run.ledger.complete(
        entry.key,
        {**taken.result, "fulfilment_id": fulfilment_id, "company": report.company},
        now,
    )
    return "found" if found else "reported"


def _earlier_report(
    store: StoreFulfilments, order: Order, report: ShipmentReport, entry: Effect
) -> str | None:
    """The store's record of an earlier attempt, asked for only when there
    was one: every way back to the queue leaves a ``detail`` on the entry,
    and a first attempt has none."""
    if entry.detail is None:
        return None
    return store.find_shipment_report(order, report.tracking_number)


def _refused(
    run: _Run,
    entry: Effect,
    order: Order,
    report: ShipmentReport,
    refused: PartnerRejected,
) -> None:
    now = run.clock.now()
    run.ledger.mark(entry.key, EffectStatus.FAILED, str(refused), now)
    run.attention.raise_item(
        AttentionItem(
            entry.subject,
            "store_fulfilment_refused",
            f"store {order.key.store} refused to record parcel "
            f"{report.tracking_number} ({report.company}) on order {order.name}: "
            f"{refused.message}; record it in the store by hand",
            now,
        )
    )


def _back_to_queue(run: _Run, order: Order, entry: Effect, why: str) -> None:
    """Queue the entry again (its ``detail`` makes the next attempt look
    first) and leave the store alone for the rest of the run."""
    run.ledger.mark(entry.key, EffectStatus.QUEUED, why, run.clock.now())
    run.down[order.key.store] = why
    log.warning(
        "store_fulfilments.store_failed store=%s error=%s", order.key.store, why
    )


def _store_unavailable(run: _Run, store: str, error: PermanentPartnerError) -> None:
    run.attention.raise_item(
        AttentionItem(
            f"store:{store}",
            "store_unavailable",
            f"{error}; shipment reports to this store wait until it is fixed",
            run.clock.now(),
        )
    )


def _crashed(run: _Run, entry: Effect, error: Exception) -> str:
    log.exception("store_fulfilments.entry_failed entry=%s", entry.key)
    settle_crashed(
        run.ledger,
        run.attention,
        entry,
        error,
        run.clock.now(),
        reason="store_fulfilment_crashed",
        what_to_do=lambda why: (
            f"reporting parcel {entry.result.get('tracking_number')} to the "
            f"store stopped on an unexpected error ({why}); check the store's "
            "order for a fulfilment with that tracking number and record it "
            "by hand if there is none"
        ),
    )
    return "crashed"


def _requeue_abandoned(run: _Run) -> Counter[str]:
    settled = requeue_abandoned(
        run.ledger,
        STORE_FULFILMENT,
        run.clock.now(),
        grace=run.settings.pending_grace,
        limit=run.settings.batch_size,
        why="a runner stopped while reporting it; looked up before another try",
    )
    return Counter({"abandoned": settled} if settled else {})
