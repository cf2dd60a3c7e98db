"""In-memory stores: the twin of the SQLite and MongoDB stores.

They keep real state, so tests assert outcomes, and the same contract suite
(``tests/storage/test_contract.py``) runs over them and the real stores.
Thread-safe behind one lock, so concurrency tests can share them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import attrs

from fulfilment.core import rate_budgets
from fulfilment.core.attention import check_note
from fulfilment.core.domain import Order, OrderKey, OrderState, ensure_utc
from fulfilment.core.errors import ConflictError
from fulfilment.core.nps import DiscountCode, NpsResponse
from fulfilment.core.ports import (
    AttentionItem,
    Effect,
    EffectStatus,
    RunRecord,
    WebhookDelivery,
)
from fulfilment.core.rates import FxRate, RateType

T = TypeVar("T")

__all__ = [
    "MemoryAttentionQueue",
    "MemoryCursorStore",
    "MemoryEffectLedger",
    "MemoryLeaseStore",
    "MemoryNpsStore",
    "MemoryOrderStore",
    "MemoryRateBudget",
    "MemoryRateStore",
    "MemoryRunLog",
    "MemoryStorage",
    "MemoryWebhookInbox",
]


class MemoryOrderStore:
    def __init__(self) -> None:
        self._orders: dict[OrderKey, Order] = {}
        self._lock = threading.Lock()
        self.bulk_writes = 0

    def get(self, key: OrderKey) -> Order | None:
        with self._lock:
            return self._orders.get(key)

    def get_many(self, keys: Iterable[OrderKey]) -> dict[OrderKey, Order]:
        with self._lock:
            return {k: self._orders[k] for k in keys if k in self._orders}

    def save_many(self, orders: Sequence[Order]) -> list[OrderKey]:
        lost = []
        with self._lock:
            self.bulk_writes += 1
            for order in orders:
                if not self._write(order):
                    lost.append(order.key)
        return lost

    def save(self, order: Order) -> Order:
        with self._lock:
            if not self._write(order):
                raise ConflictError(
                    f"order {order.key} changed since revision {order.revision}"
                )
            return self._orders[order.key]

    def _write(self, order: Order) -> bool:
        stored = self._orders.get(order.key)
        stored_revision = stored.revision if stored else 0
        if stored_revision != order.revision:
            return False
        self._orders[order.key] = attrs.evolve(order, revision=order.revision + 1)
        return True

    def due(
        self, states: Iterable[OrderState], now: datetime, limit: int
    ) -> list[Order]:
        wanted = set(states)
        with self._lock:
            found = [
                o
                for o in self._orders.values()
                if o.state in wanted
                and (o.next_attempt_at is None or o.next_attempt_at <= now)
            ]
        return sorted(found, key=lambda o: (o.placed_at, str(o.key)))[:limit]

    def expired_claims(self, now: datetime, limit: int) -> list[Order]:
        with self._lock:
            found = [
                o
                for o in self._orders.values()
                if o.state is OrderState.BOOKING
                and (o.claim is None or o.claim.expires_at <= now)
            ]
        return sorted(found, key=lambda o: (o.placed_at, str(o.key)))[:limit]

    def cancelled(self, states: Iterable[OrderState], limit: int) -> list[Order]:
        wanted = set(states)
        with self._lock:
            found = [
                o for o in self._orders.values() if o.state in wanted and o.is_cancelled
            ]
        return sorted(found, key=lambda o: (o.placed_at, str(o.key)))[: max(0, limit)]

    def unstamped(self, limit: int) -> list[Order]:
        with self._lock:
            found = [o for o in self._orders.values() if o.reporting_total is None]
        return sorted(found, key=lambda o: (o.placed_at, str(o.key)))[: max(0, limit)]

    def list(
        self, *, state: OrderState | None = None, store: str | None = None
    ) -> list[Order]:
        with self._lock:
            found = [
                o
                for o in self._orders.values()
                if (state is None or o.state is state)
                and (store is None or o.key.store == store)
            ]
        return sorted(found, key=lambda o: o.key)


class MemoryCursorStore:
    def __init__(self) -> None:
        self._values: dict[str, datetime] = {}

    def get(self, name: str) -> datetime | None:
        return self._values.get(name)

    def set(self, name: str, value: datetime) -> None:
        # Kept in UTC, as the real stores hand it back.
        self._values[name] = ensure_utc(value)


class MemoryEffectLedger:
    def __init__(self) -> None:
        self._effects: dict[str, Effect] = {}
        self._lock = threading.Lock()

    def begin(
        self, key: str, kind: str, subject: str, now: datetime
    ) -> tuple[Effect, bool]:
        with self._lock:
            existing = self._effects.get(key)
            if existing is not None:
                return existing, False
            effect = Effect(key, kind, subject, EffectStatus.PENDING, now, now)
            self._effects[key] = effect
            return effect, True

    # Six positional parameters: the signature of EffectLedger.queue.
    def queue(
        self,
        key: str,
        kind: str,
        subject: str,
        now: datetime,
        *,
        payload: Mapping[str, Any],
        not_before: datetime | None = None,
    ) -> bool:
        """A QUEUED entry carrying *payload* in ``result``, unless the key is
        in the ledger in any status; True when it was created."""
        effect = Effect.queued(
            key, kind, subject, now, payload=payload, not_before=not_before
        )
        with self._lock:
            if key in self._effects:
                return False
            self._effects[key] = effect
            return True

    def take(self, key: str, now: datetime) -> Effect | None:
        """The QUEUED entry, now PENDING; None when it is not queued."""
        with self._lock:
            effect = self._effects.get(key)
            if effect is None or effect.status is not EffectStatus.QUEUED:
                return None
            taken = attrs.evolve(effect, status=EffectStatus.PENDING, updated_at=now)
            self._effects[key] = taken
            return taken

    def queued(self, kind: str, now: datetime, limit: int) -> list[Effect]:
        """Up to *limit* QUEUED entries of *kind* due at *now*, oldest
        first."""
        with self._lock:
            found = [e for e in self._effects.values() if _is_due(e, kind, now)]
        return sorted(found, key=lambda e: (e.created_at, e.key))[: max(limit, 0)]

    def reopen(self, key: str, now: datetime) -> Effect:
        with self._lock:
            effect = self._require(key)
            if effect.status is not EffectStatus.FAILED:
                raise ConflictError(f"effect {key} is {effect.status}, not failed")
            reopened = attrs.evolve(
                effect,
                status=EffectStatus.PENDING,
                attempts=effect.attempts + 1,
                updated_at=now,
                detail=None,
            )
            self._effects[key] = reopened
            return reopened

    def complete(self, key: str, result: Mapping[str, Any], now: datetime) -> Effect:
        with self._lock:
            done = attrs.evolve(
                self._require(key),
                status=EffectStatus.DONE,
                result=dict(result),
                updated_at=now,
            )
            self._effects[key] = done
            return done

    def mark(
        self, key: str, status: EffectStatus, detail: str, now: datetime
    ) -> Effect:
        with self._lock:
            marked = attrs.evolve(
                self._require(key), status=status, detail=detail, updated_at=now
            )
            self._effects[key] = marked
            return marked

    def get(self, key: str) -> Effect | None:
        return self._effects.get(key)

    def with_status(self, status: EffectStatus, limit: int) -> list[Effect]:
        with self._lock:
            found = [e for e in self._effects.values() if e.status is status]
        return sorted(found, key=lambda e: (e.created_at, e.key))[:limit]

    def for_subject(self, subject: str, limit: int = 1000) -> list[Effect]:
        with self._lock:
            found = [e for e in self._effects.values() if e.subject == subject]
        return sorted(found, key=lambda e: (e.created_at, e.key))[: max(limit, 0)]

    def _require(self, key: str) -> Effect:
        effect = self._effects.get(key)
        if effect is None:
            raise KeyError(f"no effect {key} in the ledger")
        return effect


def _is_due(effect: Effect, kind: str, now: datetime) -> bool:
    """Whether *effect* is a queued entry of *kind* that may go at *now*."""
    return (
        effect.status is EffectStatus.QUEUED
        and effect.kind == kind
        and (effect.not_before is None or effect.not_before <= now)
    )


class MemoryLeaseStore:
    def __init__(self) -> None:
        self._leases: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.Lock()

    def acquire(self, name: str, owner: str, now: datetime, ttl_seconds: float) -> bool:
        with self._lock:
            held = self._leases.get(name)
            if held is not None and held[0] != owner and held[1] > now:
                return False
            self._leases[name] = (owner, now + timedelta(seconds=ttl_seconds))
            return True

    def renew(self, name: str, owner: str, now: datetime, ttl_seconds: float) -> bool:
        with self._lock:
            held = self._leases.get(name)
            if held is None or held[0] != owner or held[1] <= now:
                return False
            self._leases[name] = (owner, now + timedelta(seconds=ttl_seconds))
            return True

    def release(self, name: str, owner: str) -> None:
        with self._lock:
            held = self._leases.get(name)
            if held is not None and held[0] == owner:
                del self._leases[name]


class MemoryRunLog:
    def __init__(self) -> None:
        self._runs: dict[str, RunRecord] = {}
        self._lock = threading.Lock()

    def started(self, name: str, run_id: str, owner: str, at: datetime) -> None:
        with self._lock:
            before = self._runs.get(name)
            success = before.last_success_at if before else None
            self._runs[name] = RunRecord(
                name, run_id, owner, at, last_success_at=success
            )

    def finished(
        self, name: str, run_id: str, at: datetime, ok: bool, summary: str
    ) -> bool:
        with self._lock:
            run = self._runs.get(name)
            if run is None or run.run_id != run_id:
                return False
            success = at if ok else run.last_success_at
            self._runs[name] = attrs.evolve(
                run, finished_at=at, ok=ok, summary=summary, last_success_at=success
            )
            return True

    def last(self, name: str) -> RunRecord | None:
        return self._runs.get(name)

    def all(self) -> list[RunRecord]:
        return [self._runs[name] for name in sorted(self._runs)]


class MemoryAttentionQueue:
    """Every item raised, open and resolved, by ID."""

    def __init__(self) -> None:
        self._items: dict[str, AttentionItem] = {}
        # The latest item of each (subject, reason): the open one, if any.
        self._latest: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def raise_item(self, item: AttentionItem) -> AttentionItem:
        pair = (item.subject, item.reason)
        with self._lock:
            latest = self._items.get(self._latest.get(pair, ""))
            occurrence = 1
            if latest is not None:
                occurrence = latest.occurrence + (not latest.is_open)
            stored = attrs.evolve(
                item,
                raised_at=ensure_utc(item.raised_at),
                occurrence=occurrence,
                resolved_at=None,
                note=None,
                resolved_by=None,
            )
            self._items[stored.id] = stored
            self._latest[pair] = stored.id
            return stored

    def open_items(
        self,
        *,
        reason: str | None = None,
        store: str | None = None,
        subject: str | None = None,
        limit: int | None = None,
    ) -> list[AttentionItem]:
        with self._lock:
            found = [
                i
                for i in self._items.values()
                if i.is_open
                and (reason is None or i.code == reason)
                and (store is None or i.store == store)
                and (subject is None or i.subject == subject)
            ]
        found.sort(key=lambda i: (i.raised_at, i.subject, i.reason))
        return found if limit is None else found[: max(limit, 0)]

    def get(self, item_id: str) -> AttentionItem | None:
        return self._items.get(item_id)

    def resolve(self, subject: str, reason: str, now: datetime) -> bool:
        with self._lock:
            item = self._items.get(self._latest.get((subject, reason), ""))
            if item is None or not item.is_open:
                return False
            self._items[item.id] = attrs.evolve(item, resolved_at=ensure_utc(now))
            return True

    def resolve_id(
        self, item_id: str, now: datetime, *, note: str, by: str | None = None
    ) -> AttentionItem | None:
        note = check_note(note)
        with self._lock:
            item = self._items.get(item_id)
            if item is None or not item.is_open:
                return None
            closed = attrs.evolve(
                item, resolved_at=ensure_utc(now), note=note, resolved_by=by
            )
            self._items[item_id] = closed
            return closed


class MemoryNpsStore:
    def __init__(self) -> None:
        self._responses: dict[tuple[str, str], NpsResponse] = {}
        self._discounts: dict[str, DiscountCode] = {}
        self._surveyed: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def add_response(self, response: NpsResponse) -> bool:
        with self._lock:
            key = (response.form_id, response.response_id)
            if key in self._responses:
                return False
            self._responses[key] = response
            return True

    def get_response(self, form_id: str, response_id: str) -> NpsResponse | None:
        return self._responses.get((form_id, response_id))

    def responses(
        self,
        *,
        store: str | None = None,
        since: datetime | None = None,
        unmatched: bool = False,
    ) -> list[NpsResponse]:
        found = [
            r
            for r in self._responses.values()
            if (store is None or r.store == store)
            and (since is None or r.submitted_at >= since)
            and (not unmatched or r.order_key is None)
        ]
        return sorted(found, key=lambda r: (r.submitted_at, r.response_id, r.form_id))

    def add_discount(self, code: DiscountCode) -> bool:
        with self._lock:
            if code.code in self._discounts:
                return False
            self._discounts[code.code] = code
            return True

    def discounts(
        self, *, store: str | None = None, since: datetime | None = None
    ) -> list[DiscountCode]:
        found = [
            d
            for d in self._discounts.values()
            if (store is None or d.store == store)
            and (since is None or d.starts_at >= since)
        ]
        return sorted(found, key=lambda d: (d.starts_at, d.code))

    def last_surveyed(self, contact: str) -> datetime | None:
        return self._surveyed.get(contact)

    def mark_surveyed(self, contacts: Iterable[str], at: datetime) -> None:
        with self._lock:
            for contact in contacts:
                previous = self._surveyed.get(contact)
                if previous is None or previous < at:
                    self._surveyed[contact] = ensure_utc(at)


# The rates of one (source, base, quote, rate type), by day.
_Series = tuple[str, str, str, RateType]


class MemoryRateStore:
    """Rates by series and day; the first rate of a key stays."""

    def __init__(self) -> None:
        self._series: dict[_Series, dict[date, FxRate]] = {}
        self._lock = threading.Lock()

    def add(self, rates: Iterable[FxRate]) -> int:
        new = 0
        with self._lock:
            for rate in rates:
                days = self._series.setdefault(_series(rate), {})
                if rate.day not in days:
                    days[rate.day] = rate
                    new += 1
        return new

    def latest(
        self, source: str, base: str, quote: str, rate_type: RateType, day: date
    ) -> FxRate | None:
        with self._lock:
            days = self._series.get((source, base, quote, RateType(rate_type)), {})
            earlier = [d for d in days if d <= day]
            return days[max(earlier)] if earlier else None

    def history(
        self,
        *,
        quote: str | None = None,
        source: str | None = None,
        rate_type: RateType | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> list[FxRate]:
        with self._lock:
            found = [
                rate
                for days in self._series.values()
                for rate in days.values()
                if (quote is None or rate.quote == quote)
                and (source is None or rate.source == source)
                and (rate_type is None or rate.rate_type is RateType(rate_type))
                and (start is None or rate.day >= start)
                and (end is None or rate.day <= end)
            ]
        return sorted(found, key=_history_order)


def _history_order(rate: FxRate) -> tuple[date, str, str, str, str]:
    return (rate.day, rate.source, rate.base, rate.quote, rate.rate_type)


def _series(rate: FxRate) -> _Series:
    return (rate.source, rate.base, rate.quote, rate.rate_type)


class MemoryWebhookInbox:
    """Deliveries by id; the first delivery of an id stays."""

    def __init__(self) -> None:
        self._deliveries: dict[str, WebhookDelivery] = {}
        self._lock = threading.Lock()

    def receive(self, delivery: WebhookDelivery) -> bool:
        with self._lock:
            if delivery.delivery_id in self._deliveries:
                return False
            self._deliveries[delivery.delivery_id] = delivery
            return True

    def get(self, delivery_id: str) -> WebhookDelivery | None:
        with self._lock:
            return self._deliveries.get(delivery_id)

    def unprocessed(self, limit: int) -> list[WebhookDelivery]:
        with self._lock:
            found = [d for d in self._deliveries.values() if not d.processed]
        found.sort(key=lambda d: (d.received_at, d.delivery_id))
        return found[: max(0, limit)]

    def mark_processed(self, delivery_id: str, outcome: str, now: datetime) -> bool:
        with self._lock:
            kept = self._deliveries.get(delivery_id)
            if kept is None:
                return False
            self._deliveries[delivery_id] = attrs.evolve(
                kept, processed_at=ensure_utc(now), outcome=outcome
            )
            return True


class MemoryRateBudget(rate_budgets.BucketSteps):
    """Rate budgets kept in this process: shared by the adapters that are
    handed the same instance, and by nothing else."""

    def __init__(self) -> None:
        self._buckets: dict[str, rate_budgets.Bucket] = {}
        self._lock = threading.Lock()

    def _apply(
        self,
        key: str,
        change: Callable[[rate_budgets.Bucket | None], tuple[rate_budgets.Bucket, T]],
    ) -> T:
        with self._lock:
            self._buckets[key], answer = change(self._buckets.get(key))
            return answer


@attrs.define
class MemoryStorage:
    orders: MemoryOrderStore = attrs.Factory(MemoryOrderStore)
    cursors: MemoryCursorStore = attrs.Factory(MemoryCursorStore)
    ledger: MemoryEffectLedger = attrs.Factory(MemoryEffectLedger)
    leases: MemoryLeaseStore = attrs.Factory(MemoryLeaseStore)
    attention: MemoryAttentionQueue = attrs.Factory(MemoryAttentionQueue)
    nps: MemoryNpsStore = attrs.Factory(MemoryNpsStore)
    rates: MemoryRateStore = attrs.Factory(MemoryRateStore)
    webhooks: MemoryWebhookInbox = attrs.Factory(MemoryWebhookInbox)
    rate_budgets: MemoryRateBudget = attrs.Factory(MemoryRateBudget)
    runs: MemoryRunLog = attrs.Factory(MemoryRunLog)

    def close(self) -> None:
        """Nothing to release."""
