"""MongoDB stores: the production store, for one runner or many.

Collections, one per aggregate: ``orders``, ``cursors``, ``effects``,
``leases``, ``attention``, for the feedback loop ``nps_responses``,
``nps_discounts`` and ``nps_surveyed``, ``rates``, ``rate_budgets``, and
``runs`` (the run history: one document per run name, its ``_id``, needing
no index beyond it).  Documents come from
:func:`~fulfilment.adapters.storage.documents.bson_converter`; an order's
``_id`` is its key string (``shopify:shemsi-egypt:5551234567890``), an
effect's ``_id`` its ledger key, a lease's and a cursor's ``_id`` its name.
Beside the converter's fields an order carries what worker queries filter
on: ``store``, ``due_at`` (``next_attempt_at``, or the year 1 when unset, so
an order with no next attempt is always due), ``claim_expires_at`` (the
claim's expiry, or the year 1 when unclaimed) and ``write_id`` (which write
put the document there).  An effect carries ``not_before_at``
(``not_before``, or the year 1 when unset, so an entry with no earliest time
is always due).  A survey answer carries ``store`` (of the order it names,
null when none) and ``unmatched`` (true when it names no known order); a
discount code's ``_id`` is the code and it carries ``store``; a surveyed
contact's ``_id`` is the contact, with ``at``.  A rate is the converter's
document and nothing more (its ``_id`` the server's): its day and
``published_on`` are ISO strings (``2026-12-04``), which sort and compare
as the days do, and its rate the exact decimal string.

:meth:`MongoStorage.ensure_indexes` creates an index for every worker query,
so a worker with nothing to do scans no collection:

=============  ====================================  ============================
orders         ``(state, due_at)``                   ``due`` (one query a state)
orders         ``(state, claim_expires_at)``         ``expired_claims``
orders         ``(store, state)``                    ``list(store=…)``
orders         ``(state, cancelled_at)``, partial    ``cancelled`` (one query a
                                                     state)
effects        ``(status, created_at, _id)``         ``with_status``
effects        ``(status, kind, not_before_at)``     ``queued``
effects        ``(subject, created_at, _id)``        ``for_subject``
attention      ``(subject, reason, occurrence)``,    one item per occurrence;
               unique                                the latest of a pair
attention      ``(resolved_at, raised_at)``          ``open_items``
attention      ``(resolved_at, code, raised_at)``    ``open_items(reason=…)``
attention      ``(resolved_at, store, raised_at)``   ``open_items(store=…)``
attention      ``(resolved_at, subject, raised_at)`` ``open_items(subject=…)``
nps_responses  ``(form_id, response_id)``, unique    one answer per response
nps_responses  ``(store, submitted_at)``             ``responses(store=…)``
nps_responses  ``(unmatched, submitted_at)``         ``responses(unmatched=…)``
nps_responses  ``(submitted_at)``                    ``responses(since=…)``
nps_discounts  ``(store, starts_at)``                ``discounts(store=…)``
nps_discounts  ``(starts_at)``                       ``discounts(since=…)``
orders         ``(placed_at, _id)``, partial         ``unstamped``
rates          ``(source, base, quote, rate_type,    one rate per key;
               day)``, unique                        ``latest``
rates          ``(source, quote, rate_type, day)``   ``history`` of one series
rates          ``(source, day)``                     ``history(source=…)``
rates          ``(quote, day)``                      ``history(quote=…)``
rates          ``(day)``                             ``history(start=…)``
webhooks       ``(processed, received_at, _id)``     ``unprocessed``
=============  ====================================  ============================

The ``queued`` index ends with its range field, right after the
equalities.  SecantusDB's planner serves a range only on the field that
follows the equality prefix, and its range scan compares whole keys: with
another field after ``not_before_at``, ``$lte`` would miss the entries due
exactly at *now*.  The due entries are then sorted by creation (on mongod
too, a sort field after a range is not read in order), which costs what is
due, not what is planned for later.  For the same reason every rate index
ends with ``day``, the unique one too: a ``history`` query that the planner
served from a key ordered ``(source, day, …)`` would lose the rates of its
last day.  SecantusDB serves a query from an index only when the query's
equalities are the index's leading fields (its range, if any, on the next
one), so ``history`` by a rate type alone, or by a currency and a source
with days but no type, reads the collection there (on mongod one of the
indexes above serves it, the rest of the filter applied to what it reads).

The unstamped orders' index holds the orders whose ``reporting_total`` is
null or missing, the query asks for exactly that, so the orders stored
before the stamp existed (no such field) are found with no migration.

Order keys, ledger keys, lease and cursor names, and webhook delivery ids
are unique as ``_id``.
A rate budget's bucket is ``{_id: key, tokens, updated, version}``
(``updated`` in seconds since the epoch).  Each step on it is a
compare-and-set: read the bucket, apply :mod:`fulfilment.core.rate_budgets`
to it, and write it back only if ``version`` is still the one read (or
insert it, when it was missing, and lose to a racing insert on ``_id``);
a lost write reads again.  The arithmetic stays in one place for all three
stores, and the commands are the plainest a server has (a pipeline update
would do it in one round trip, at the price of a second copy of the
arithmetic in aggregation operators).

Order keys, ledger keys, lease and cursor names are unique as ``_id``.
MongoDB keeps times to the millisecond: a time read back has lost its
microseconds.  pymongo and BSON errors surface as ``StorageError``, chained;
a lost compare-and-set as ``ConflictError``.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import attrs
import bson
from bson.codec_options import CodecOptions
from bson.errors import BSONError
from cattrs.errors import BaseValidationError
from pymongo import (
    ASCENDING,
    DESCENDING,
    MongoClient,
    ReplaceOne,
    ReturnDocument,
    UpdateOne,
)
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import (
    BulkWriteError,
    DuplicateKeyError,
    PyMongoError,
)
from pymongo.errors import ConfigurationError as PyMongoConfigurationError

from fulfilment.core import rate_budgets
from fulfilment.core.attention import check_note
from fulfilment.core.domain import Order, OrderKey, OrderState, ensure_utc
from fulfilment.core.errors import ConfigurationError, ConflictError, StorageError
from fulfilment.core.nps import DiscountCode, NpsResponse
from fulfilment.core.ports import (
    AttentionItem,
    Effect,
    EffectStatus,
    RunRecord,
    WebhookDelivery,
)
from fulfilment.core.rates import FxRate, RateType

from .documents import Document, as_utc, bson_converter, describe_error

__all__ = [
    "MongoAttentionQueue",
    "MongoCursorStore",
    "MongoEffectLedger",
    "MongoLeaseStore",
    "MongoNpsStore",
    "MongoOrderStore",
    "MongoRateBudget",
    "MongoRateStore",
    "MongoRunLog",
    "MongoSettings",
    "MongoStorage",
    "MongoWebhookInbox",
    "build",
]

P = ParamSpec("P")
R = TypeVar("R")
Collectionish = Collection[Document]

_CODEC: CodecOptions[Document] = CodecOptions(tz_aware=True, tzinfo=UTC)
_DUPLICATE_KEY = 11000
# Stands for "no time" in the query fields: before every real time.
_LOWEST = datetime(1, 1, 1, tzinfo=UTC)
# An order its source cancelled: ``cancelled_at`` holds a date (a range
# rather than ``$type`` or ``$ne: null``, which SecantusDB serves with an
# index only in this form; on mongod a date range never matches null).
_CANCELLED: Document = {"cancelled_at": {"$gt": _LOWEST}}
# An order still waiting for its reporting total: the field is null, or
# missing from a document written before the stamp existed.
_UNSTAMPED: Document = {"reporting_total": None}
_PLACEMENT = [("placed_at", ASCENDING), ("_id", ASCENDING)]
_CREATION = [("created_at", ASCENDING), ("_id", ASCENDING)]


def _translated(method: Callable[P, R]) -> Callable[P, R]:
    """Turn driver, BSON and unreadable-document errors into StorageError."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (PyMongoError, BSONError, OverflowError) as exc:
            raise StorageError(f"mongodb {method.__qualname__}: {exc}") from exc
        except BaseValidationError as exc:
            raise StorageError(
                f"mongodb {method.__qualname__}: a stored document cannot be "
                f"read: {describe_error(exc)}"
            ) from exc

    return wrapper


def _as_stored(document: Document) -> Document:
    """*document* as the server will hand it back (milliseconds, UTC)."""
    return bson.decode(bson.encode(document), codec_options=_CODEC)


# --- orders ------------------------------------------------------------------


class MongoOrderStore:
    """Orders with compare-and-set on ``revision`` (see ``OrderStore``)."""

    def __init__(self, collection: Collectionish) -> None:
        self._orders = collection

    @_translated
    def get(self, key: OrderKey) -> Order | None:
        found = self._orders.find_one({"_id": str(key)})
        return None if found is None else _order_from(found)

    @_translated
    def get_many(self, keys: Iterable[OrderKey]) -> dict[OrderKey, Order]:
        wanted = list({str(key) for key in keys})
        orders = map(_order_from, self._orders.find({"_id": {"$in": wanted}}))
        return {order.key: order for order in orders}

    @_translated
    def save_many(self, orders: Sequence[Order]) -> list[OrderKey]:
        """One unordered bulk write of compare-and-set replacements; returns
        the keys that lost.  A page names each order once."""
        if not orders:
            return []
        batch = uuid.uuid4().hex
        writes = [
            ReplaceOne(
                _cas_filter(order),
                _order_document(order, f"{batch}:{index}"),
                upsert=order.revision == 0,
            )
            for index, order in enumerate(orders)
        ]
        outcome = _bulk_outcome(self._orders, writes)
        lost = _lost_inserts(orders, outcome)
        lost |= self._lost_updates(orders, outcome, batch)
        return [order.key for index, order in enumerate(orders) if index in lost]

    @_translated
    def save(self, order: Order) -> Order:
        """Write one order with compare-and-set and return the stored copy;
        ``ConflictError`` when the stored revision is not ``order.revision``."""
        try:
            found = self._orders.find_one_and_replace(
                _cas_filter(order),
                _order_document(order, uuid.uuid4().hex),
                upsert=order.revision == 0,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError as exc:
            raise _conflict(order) from exc
        if found is None:
            raise _conflict(order)
        return _order_from(found)

    @_translated
    def due(
        self, states: Iterable[OrderState], now: datetime, limit: int
    ) -> list[Order]:
        """Orders in *states* with no next attempt or one not after *now*,
        oldest placement first: one indexed query per state, merged."""
        if limit <= 0:
            return []
        per_state = [
            self._placed_first(
                {"state": state.value, "due_at": {"$lte": ensure_utc(now)}}, limit
            )
            for state in dict.fromkeys(map(OrderState, states))
        ]
        return list(heapq.merge(*per_state, key=_placement))[:limit]

    @_translated
    def expired_claims(self, now: datetime, limit: int) -> list[Order]:
        """Orders in ``booking`` whose claim is missing or expired at *now*."""
        if limit <= 0:
            return []
        booking = OrderState.BOOKING.value
        query = {"state": booking, "claim_expires_at": {"$lte": ensure_utc(now)}}
        return self._placed_first(query, limit)

    @_translated
    def cancelled(self, states: Iterable[OrderState], limit: int) -> list[Order]:
        """Orders in *states* their source cancelled, oldest placement first:
        one indexed query per state, merged."""
        if limit <= 0:
            return []
        per_state = [
            self._placed_first({"state": state.value, **_CANCELLED}, limit)
            for state in dict.fromkeys(map(OrderState, states))
        ]
        return list(heapq.merge(*per_state, key=_placement))[:limit]

    @_translated
    def unstamped(self, limit: int) -> list[Order]:
        """Orders without a reporting total, oldest placement first
        (partial index ``unstamped``)."""
        if limit <= 0:
            return []
        return self._placed_first(_UNSTAMPED, limit)

    def _placed_first(self, query: Document, limit: int) -> list[Order]:
        found = self._orders.find(query).sort(_PLACEMENT).limit(limit)
        return [_order_from(document) for document in found]

    def _lost_updates(
        self, orders: Sequence[Order], outcome: Document, batch: str
    ) -> set[int]:
        """Which replacements of stored orders matched nothing.

        The server reports only how many matched; when that falls short,
        each order's ``write_id`` says whose write is there now.  A write
        that won and was replaced by another runner's in the meantime is
        reported lost too: either way, the caller's version is not stored.
        """
        updates = [i for i, order in enumerate(orders) if order.revision > 0]
        if outcome["nMatched"] == len(updates):
            return set()
        keys = [str(orders[i].key) for i in updates]
        found = self._orders.find({"_id": {"$in": keys}}, {"write_id": True})
        written = {document.get("write_id") for document in found}
        return {i for i in updates if f"{batch}:{i}" not in written}

    @_translated
    def list(
        self, *, state: OrderState | None = None, store: str | None = None
    ) -> list[Order]:
        """Every order matching the filters, in key order (a report, not a
        worker query: without *store* or *state* it reads the collection)."""
        query: Document = {}
        if store is not None:
            query["store"] = store
        if state is not None:
            query["state"] = OrderState(state).value
        return sorted(map(_order_from, self._orders.find(query)), key=_key)


def _bulk_outcome(
    orders: Collectionish, writes: list[ReplaceOne[Document]]
) -> Document:
    """The server's bulk result; duplicate keys (lost inserts) are expected,
    any other write error is not."""
    try:
        return orders.bulk_write(writes, ordered=False).bulk_api_result
    except BulkWriteError as exc:
        details: dict[str, Any] = dict(exc.details)
        if _unexpected(details):
            raise
        return details


def _unexpected(details: Mapping[str, Any]) -> bool:
    """Whether a bulk write failed for more than keys already taken."""
    errors = details.get("writeErrors", [])
    taken = all(error["code"] == _DUPLICATE_KEY for error in errors)
    return not taken or bool(details.get("writeConcernErrors"))


def _lost_inserts(orders: Sequence[Order], outcome: Document) -> set[int]:
    upserted = {entry["index"] for entry in outcome.get("upserted", [])}
    return {
        index
        for index, order in enumerate(orders)
        if order.revision == 0 and index not in upserted
    }


def _cas_filter(order: Order) -> Document:
    return {"_id": str(order.key), "revision": order.revision}


def _conflict(order: Order) -> ConflictError:
    return ConflictError(f"order {order.key} changed since revision {order.revision}")


def _order_document(order: Order, write_id: str) -> Document:
    """The stored copy of *order* (``revision + 1``) with its query fields."""
    document: Document = bson_converter().unstructure(order)
    document["revision"] = order.revision + 1
    document["_id"] = document.pop("key")
    document["store"] = order.key.store
    document["due_at"] = order.next_attempt_at or _LOWEST
    document["claim_expires_at"] = order.claim.expires_at if order.claim else _LOWEST
    document["write_id"] = write_id
    return document


def _order_from(document: Mapping[str, Any]) -> Order:
    fields = dict(document)
    fields["key"] = fields.pop("_id")
    for derived in ("store", "due_at", "claim_expires_at", "write_id"):
        fields.pop(derived, None)
    return bson_converter().structure(fields, Order)


def _placement(order: Order) -> tuple[datetime, str]:
    return order.placed_at, str(order.key)


def _key(order: Order) -> OrderKey:
    return order.key


# --- cursors -----------------------------------------------------------------


class MongoCursorStore:
    """Named watermarks, one document each."""

    def __init__(self, collection: Collectionish) -> None:
        self._cursors = collection

    @_translated
    def get(self, name: str) -> datetime | None:
        found = self._cursors.find_one({"_id": name})
        return None if found is None else as_utc(found["value"])

    @_translated
    def set(self, name: str, value: datetime) -> None:
        self._cursors.update_one(
            {"_id": name}, {"$set": {"value": ensure_utc(value)}}, upsert=True
        )


# --- effect ledger -----------------------------------------------------------


class MongoEffectLedger:
    """The effect ledger (see ``EffectLedger``): ``begin`` is an insert that
    the unique ``_id`` lets through once; every other change is one atomic
    ``find_one_and_update``."""

    def __init__(self, collection: Collectionish) -> None:
        self._effects = collection

    @_translated
    def begin(
        self, key: str, kind: str, subject: str, now: datetime
    ) -> tuple[Effect, bool]:
        """A new pending entry and True, or the existing entry unchanged and
        False."""
        effect = Effect(key, kind, subject, EffectStatus.PENDING, now, now)
        document = _effect_document(effect)
        try:
            self._effects.insert_one(document)
        except DuplicateKeyError:
            # The unique _id settles races: an earlier begin is the one.
            return _effect_from(self._require(key)), False
        return _effect_from(_as_stored(document)), True

    # Six positional parameters: the signature of EffectLedger.queue.
    @_translated
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
        try:
            self._effects.insert_one(_effect_document(effect))
        except DuplicateKeyError:
            return False  # the unique _id: the key is already in the ledger
        return True

    @_translated
    def take(self, key: str, now: datetime) -> Effect | None:
        """The QUEUED entry, now PENDING; None when it is not queued.  One
        conditional update, so of many takers exactly one matches."""
        taken = self._effects.find_one_and_update(
            {"_id": key, "status": EffectStatus.QUEUED.value},
            {
                "$set": {
                    "status": EffectStatus.PENDING.value,
                    "updated_at": ensure_utc(now),
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return None if taken is None else _effect_from(taken)

    @_translated
    def queued(self, kind: str, now: datetime, limit: int) -> list[Effect]:
        """Up to *limit* QUEUED entries of *kind* due at *now*, oldest first
        (index ``queued``).  Times are compared at the millisecond."""
        if limit <= 0:
            return []
        query = {
            "status": EffectStatus.QUEUED.value,
            "kind": kind,
            "not_before_at": {"$lte": ensure_utc(now)},
        }
        found = self._effects.find(query).sort(_CREATION).limit(limit)
        return [_effect_from(document) for document in found]

    @_translated
    def reopen(self, key: str, now: datetime) -> Effect:
        """FAILED back to PENDING, one more attempt; ``ConflictError`` from
        any other status, ``KeyError`` for an unknown key."""
        reopened = self._effects.find_one_and_update(
            {"_id": key, "status": EffectStatus.FAILED.value},
            {
                "$set": {
                    "status": EffectStatus.PENDING.value,
                    "updated_at": ensure_utc(now),
                    "detail": None,
                },
                "$inc": {"attempts": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        if reopened is None:
            status = self._require(key)["status"]
            raise ConflictError(f"effect {key} is {status}, not failed")
        return _effect_from(reopened)

    @_translated
    def complete(self, key: str, result: Mapping[str, Any], now: datetime) -> Effect:
        """Mark the entry DONE with the call's result."""
        changes = {"status": EffectStatus.DONE.value, "result": dict(result)}
        return self._update(key, {**changes, "updated_at": ensure_utc(now)})

    @_translated
    def mark(
        self, key: str, status: EffectStatus, detail: str, now: datetime
    ) -> Effect:
        """Set the entry's status with a human-readable detail."""
        changes = {"status": EffectStatus(status).value, "detail": detail}
        return self._update(key, {**changes, "updated_at": ensure_utc(now)})

    @_translated
    def get(self, key: str) -> Effect | None:
        found = self._effects.find_one({"_id": key})
        return None if found is None else _effect_from(found)

    @_translated
    def with_status(self, status: EffectStatus, limit: int) -> list[Effect]:
        """Up to *limit* entries in *status*, oldest first."""
        if limit <= 0:
            return []
        found = self._effects.find({"status": EffectStatus(status).value})
        ordered = found.sort(_CREATION).limit(limit)
        return [_effect_from(document) for document in ordered]

    @_translated
    def for_subject(self, subject: str, limit: int = 1000) -> list[Effect]:
        """Up to *limit* entries about *subject*, oldest first (index
        ``subject``)."""
        if limit <= 0:
            return []
        found = self._effects.find({"subject": subject})
        ordered = found.sort(_CREATION).limit(limit)
        return [_effect_from(document) for document in ordered]

    def _update(self, key: str, changes: Document) -> Effect:
        updated = self._effects.find_one_and_update(
            {"_id": key}, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        if updated is None:
            raise KeyError(f"no effect {key} in the ledger")
        return _effect_from(updated)

    def _require(self, key: str) -> Document:
        found = self._effects.find_one({"_id": key})
        if found is None:
            raise KeyError(f"no effect {key} in the ledger")
        return found


def _effect_document(effect: Effect) -> Document:
    """The stored entry with its query field ``not_before_at``."""
    document: Document = bson_converter().unstructure(effect)
    document["_id"] = document.pop("key")
    document["not_before_at"] = effect.not_before or _LOWEST
    return document


def _effect_from(document: Mapping[str, Any]) -> Effect:
    fields = dict(document)
    fields["key"] = fields.pop("_id")
    fields.pop("not_before_at", None)
    return bson_converter().structure(fields, Effect)


# --- leases ------------------------------------------------------------------


class MongoLeaseStore:
    """Named leases, taken with one atomic conditional upsert."""

    def __init__(self, collection: Collectionish) -> None:
        self._leases = collection

    @_translated
    def acquire(self, name: str, owner: str, now: datetime, ttl_seconds: float) -> bool:
        """Take the lease if it is free, expired at *now*, or already
        *owner*'s; it then holds for *ttl_seconds*."""
        expires = ensure_utc(now + timedelta(seconds=ttl_seconds))
        takeable = {
            "_id": name,
            "$or": [{"owner": owner}, {"expires_at": {"$lte": ensure_utc(now)}}],
        }
        try:
            self._leases.find_one_and_update(
                takeable, {"$set": {"owner": owner, "expires_at": expires}}, upsert=True
            )
        except DuplicateKeyError:
            return False  # someone else holds a live lease
        return True

    @_translated
    def renew(self, name: str, owner: str, now: datetime, ttl_seconds: float) -> bool:
        """Extend *owner*'s lease, if it still holds it at *now*."""
        expires = ensure_utc(now + timedelta(seconds=ttl_seconds))
        held = {"_id": name, "owner": owner, "expires_at": {"$gt": ensure_utc(now)}}
        renewed = self._leases.update_one(held, {"$set": {"expires_at": expires}})
        return renewed.matched_count == 1

    @_translated
    def release(self, name: str, owner: str) -> None:
        """Give the lease up; does nothing unless *owner* holds it."""
        self._leases.delete_one({"_id": name, "owner": owner})


# --- run history -------------------------------------------------------------


class MongoRunLog:
    """One document per run name (its ``_id``), replaced as each run
    starts; ``last_success_at`` outlives the runs that fail after it."""

    def __init__(self, collection: Collectionish) -> None:
        self._runs = collection

    @_translated
    def started(self, name: str, run_id: str, owner: str, at: datetime) -> None:
        latest = {
            "run_id": run_id,
            "owner": owner,
            "started_at": ensure_utc(at),
            "finished_at": None,
            "ok": None,
            "summary": "",
        }
        self._runs.update_one({"_id": name}, {"$set": latest}, upsert=True)

    @_translated
    def finished(
        self, name: str, run_id: str, at: datetime, ok: bool, summary: str
    ) -> bool:
        ended: dict[str, Any] = {
            "finished_at": ensure_utc(at),
            "ok": ok,
            "summary": summary,
        }
        if ok:
            ended["last_success_at"] = ensure_utc(at)
        done = self._runs.update_one({"_id": name, "run_id": run_id}, {"$set": ended})
        return done.matched_count == 1

    @_translated
    def last(self, name: str) -> RunRecord | None:
        found = self._runs.find_one({"_id": name})
        return None if found is None else _run_from(found)

    @_translated
    def all(self) -> list[RunRecord]:
        return [_run_from(d) for d in self._runs.find({}).sort("_id", ASCENDING)]


def _run_from(document: Document) -> RunRecord:
    def when(field: str) -> datetime | None:
        value = document.get(field)
        return None if value is None else as_utc(value)

    return RunRecord(
        name=document["_id"],
        run_id=document["run_id"],
        owner=document["owner"],
        started_at=as_utc(document["started_at"]),
        finished_at=when("finished_at"),
        ok=document.get("ok"),
        summary=document.get("summary", ""),
        last_success_at=when("last_success_at"),
    )


# --- attention ---------------------------------------------------------------


class MongoAttentionQueue:
    """One document per item, open or resolved, its ``_id`` the item's ID,
    with the reason's ``code`` and the ``store`` it is about beside the
    converter's fields."""

    def __init__(self, collection: Collectionish) -> None:
        self._items = collection

    @_translated
    def raise_item(self, item: AttentionItem) -> AttentionItem:
        pair = {"subject": item.subject, "reason": item.reason}
        # Refresh the open item, else open the pair's next occurrence.  Two
        # runners opening one pair at once compute one ID: the second
        # insert fails on it and refreshes what the first opened.
        for _ in range(_RAISE_ATTEMPTS):
            latest = self._items.find_one(pair, sort=[("occurrence", DESCENDING)])
            occurrence = 1
            if latest is not None:
                occurrence = latest.get("occurrence", 1)
                occurrence += latest.get("resolved_at") is not None
            stored = attrs.evolve(
                item,
                occurrence=occurrence,
                resolved_at=None,
                note=None,
                resolved_by=None,
            )
            if latest is not None and latest.get("resolved_at") is None:
                refreshed = self._items.replace_one(
                    {"_id": stored.id, "resolved_at": None}, _item_document(stored)
                )
                if refreshed.matched_count == 1:
                    return stored
                continue
            try:
                self._items.insert_one(_item_document(stored))
            except DuplicateKeyError:
                continue
            return stored
        raise StorageError(
            f"attention item ({item.subject}, {item.reason}) kept changing "
            "while it was raised"
        )

    @_translated
    def open_items(
        self,
        *,
        reason: str | None = None,
        store: str | None = None,
        subject: str | None = None,
        limit: int | None = None,
    ) -> list[AttentionItem]:
        """Open items, oldest first."""
        if limit is not None and limit <= 0:
            return []  # to MongoDB, a limit of 0 means none
        where: dict[str, Any] = {"resolved_at": None}
        for field, value in (("code", reason), ("store", store), ("subject", subject)):
            if value is not None:
                where[field] = value
        found = self._items.find(where, _ITEM_FIELDS).sort(_OPEN_ORDER)
        if limit is not None:
            found = found.limit(limit)
        return [_item_from(document) for document in found]

    @_translated
    def get(self, item_id: str) -> AttentionItem | None:
        document = self._items.find_one({"_id": item_id}, _ITEM_FIELDS)
        return None if document is None else _item_from(document)

    @_translated
    def resolve(self, subject: str, reason: str, now: datetime) -> bool:
        """Close the open item; False when there is none."""
        closed = self._items.update_one(
            {"subject": subject, "reason": reason, "resolved_at": None},
            {"$set": {"resolved_at": ensure_utc(now)}},
        )
        return closed.matched_count == 1

    @_translated
    def resolve_id(
        self, item_id: str, now: datetime, *, note: str, by: str | None = None
    ) -> AttentionItem | None:
        note = check_note(note)
        closed = self._items.find_one_and_update(
            {"_id": item_id, "resolved_at": None},
            {"$set": {"resolved_at": ensure_utc(now), "note": note, "resolved_by": by}},
            projection=_ITEM_FIELDS,
            return_document=ReturnDocument.AFTER,
        )
        return None if closed is None else _item_from(closed)

    def give_ids(self) -> None:
        """Give the items stored before IDs existed theirs: each is the
        first occurrence of its pair, moved to a document keyed by its ID."""
        for document in self._items.find({"occurrence": {"$exists": False}}):
            item = _item_from(document)
            with contextlib.suppress(DuplicateKeyError):  # moved by another runner
                self._items.insert_one(_item_document(item))
            self._items.delete_one({"_id": document["_id"]})


# Enough for any real race: each lost one means another runner settled it.
_RAISE_ATTEMPTS = 5
_ITEM_FIELDS = {"_id": False, "code": False, "store": False}
_OPEN_ORDER = [("raised_at", ASCENDING), ("subject", ASCENDING), ("reason", ASCENDING)]


def _item_document(item: AttentionItem) -> dict[str, Any]:
    document: dict[str, Any] = bson_converter().unstructure(item)
    return {"_id": item.id, **document, "code": item.code, "store": item.store}


def _item_from(document: Mapping[str, Any]) -> AttentionItem:
    fields = {k: v for k, v in document.items() if k not in ("_id", "code", "store")}
    return bson_converter().structure(fields, AttentionItem)


# --- the feedback loop -------------------------------------------------------

_ANSWER_ORDER = [
    ("submitted_at", ASCENDING),
    ("response_id", ASCENDING),
    ("form_id", ASCENDING),
]
_CODE_ORDER = [("starts_at", ASCENDING), ("_id", ASCENDING)]
# Query fields beside the converter's: not part of the domain values.
_ANSWER_FIELDS = ("store", "unmatched")


class MongoNpsStore:
    """Survey answers (unique per form and response id through an index),
    the codes they earned (``_id``: the code) and who was asked when
    (``_id``: the contact).  See ``NpsStore``."""

    def __init__(
        self,
        responses: Collectionish,
        discounts: Collectionish,
        surveyed: Collectionish,
    ) -> None:
        self._responses = responses
        self._discounts = discounts
        self._surveyed = surveyed

    @_translated
    def add_response(self, response: NpsResponse) -> bool:
        """Keep *response* unless its (form, response id) is kept (the
        unique index ``form_response`` decides); True when it was new."""
        document: Document = bson_converter().unstructure(response)
        document["store"] = response.store
        document["unmatched"] = response.order_key is None
        try:
            self._responses.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    @_translated
    def get_response(self, form_id: str, response_id: str) -> NpsResponse | None:
        found = self._responses.find_one(
            {"form_id": form_id, "response_id": response_id}, {"_id": False}
        )
        return None if found is None else _response_from(found)

    @_translated
    def responses(
        self,
        *,
        store: str | None = None,
        since: datetime | None = None,
        unmatched: bool = False,
    ) -> list[NpsResponse]:
        """Answers oldest first (indexes ``store``, ``unmatched``, ``time``;
        with no filter at all it reads the collection, as a report does)."""
        query = _since("submitted_at", since)
        if store is not None:
            query["store"] = store
        if unmatched:
            query["unmatched"] = True
        found = self._responses.find(query, {"_id": False}).sort(_ANSWER_ORDER)
        return [_response_from(document) for document in found]

    @_translated
    def add_discount(self, code: DiscountCode) -> bool:
        """Keep *code* unless it is kept (its ``_id``); True when new."""
        document: Document = bson_converter().unstructure(code)
        document["_id"] = document.pop("code")
        document["store"] = code.store
        try:
            self._discounts.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    @_translated
    def discounts(
        self, *, store: str | None = None, since: datetime | None = None
    ) -> list[DiscountCode]:
        """Codes oldest start first (indexes ``store``, ``time``)."""
        query = _since("starts_at", since)
        if store is not None:
            query["store"] = store
        found = self._discounts.find(query).sort(_CODE_ORDER)
        return [_discount_from(document) for document in found]

    @_translated
    def last_surveyed(self, contact: str) -> datetime | None:
        found = self._surveyed.find_one({"_id": contact})
        return None if found is None else as_utc(found["at"])

    @_translated
    def mark_surveyed(self, contacts: Iterable[str], at: datetime) -> None:
        """One bulk write; ``$max`` keeps the latest time, whatever order
        the marks arrive in."""
        moment = ensure_utc(at)
        writes = [
            UpdateOne({"_id": contact}, {"$max": {"at": moment}}, upsert=True)
            for contact in dict.fromkeys(contacts)
        ]
        if writes:
            self._surveyed.bulk_write(writes, ordered=False)


def _since(field: str, since: datetime | None) -> Document:
    return {} if since is None else {field: {"$gte": ensure_utc(since)}}


def _response_from(document: Mapping[str, Any]) -> NpsResponse:
    fields = {k: v for k, v in document.items() if k not in _ANSWER_FIELDS}
    return bson_converter().structure(fields, NpsResponse)


def _discount_from(document: Mapping[str, Any]) -> DiscountCode:
    fields = dict(document)
    fields["code"] = fields.pop("_id")
    fields.pop("store", None)
    return bson_converter().structure(fields, DiscountCode)


# --- reference rates ---------------------------------------------------------

_RATE_ORDER = [
    ("day", ASCENDING),
    ("source", ASCENDING),
    ("base", ASCENDING),
    ("quote", ASCENDING),
    ("rate_type", ASCENDING),
]
_NEWEST_FIRST = [("day", DESCENDING)]
_WITHOUT_ID: Document = {"_id": False}


class MongoRateStore:
    """Rates, one document each, never changed; the unique index ``key``
    keeps the first of a key (see ``RateStore``)."""

    def __init__(self, collection: Collectionish) -> None:
        self._rates = collection

    @_translated
    def add(self, rates: Iterable[FxRate]) -> int:
        """One unordered bulk insert; a key already kept (or met earlier in
        *rates*) keeps its first rate.  How many were new."""
        first: dict[object, FxRate] = {}
        for rate in rates:
            first.setdefault(rate.key, rate)
        if not first:
            return 0
        documents = [bson_converter().unstructure(rate) for rate in first.values()]
        try:
            return len(self._rates.insert_many(documents, ordered=False).inserted_ids)
        except BulkWriteError as exc:
            details: dict[str, Any] = dict(exc.details)
            if _unexpected(details):
                raise
            inserted: int = details["nInserted"]
            return inserted

    @_translated
    def latest(
        self, source: str, base: str, quote: str, rate_type: RateType, day: date
    ) -> FxRate | None:
        """The newest rate of the series on or before *day* (index ``key``)."""
        query = {
            "source": source,
            "base": base,
            "quote": quote,
            "rate_type": RateType(rate_type).value,
            "day": {"$lte": day.isoformat()},
        }
        found = self._rates.find(query, _WITHOUT_ID).sort(_NEWEST_FIRST).limit(1)
        return next((_rate_from(document) for document in found), None)

    @_translated
    def history(
        self,
        *,
        quote: str | None = None,
        source: str | None = None,
        rate_type: RateType | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> list[FxRate]:
        """Rates of the days from *start* to *end*, filtered, in day order
        (indexes ``series``, ``source``, ``quote``, ``time``)."""
        query: Document = {}
        if quote is not None:
            query["quote"] = quote
        if source is not None:
            query["source"] = source
        if rate_type is not None:
            query["rate_type"] = RateType(rate_type).value
        days = _day_range(start, end)
        if days:
            query["day"] = days
        found = self._rates.find(query, _WITHOUT_ID).sort(_RATE_ORDER)
        return [_rate_from(document) for document in found]


def _day_range(start: date | None, end: date | None) -> Document:
    days: Document = {}
    if start is not None:
        days["$gte"] = start.isoformat()
    if end is not None:
        days["$lte"] = end.isoformat()
    return days


def _rate_from(document: Mapping[str, Any]) -> FxRate:
    return bson_converter().structure(dict(document), FxRate)


# --- pushed deliveries -------------------------------------------------------

_RECEIPT_ORDER = [("received_at", ASCENDING), ("_id", ASCENDING)]


class MongoWebhookInbox:
    """Deliveries, ``_id`` the delivery id (so the first one kept stays),
    with ``processed`` beside the converter's fields for the index
    ``unprocessed``.  See ``WebhookInbox``."""

    def __init__(self, collection: Collectionish) -> None:
        self._webhooks = collection

    @_translated
    def receive(self, delivery: WebhookDelivery) -> bool:
        document: Document = bson_converter().unstructure(delivery)
        document["_id"] = document.pop("delivery_id")
        document["processed"] = delivery.processed
        try:
            self._webhooks.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    @_translated
    def get(self, delivery_id: str) -> WebhookDelivery | None:
        found = self._webhooks.find_one({"_id": delivery_id})
        return None if found is None else _delivery_from(found)

    @_translated
    def unprocessed(self, limit: int) -> list[WebhookDelivery]:
        if limit <= 0:
            return []
        found = (
            self._webhooks.find({"processed": False}).sort(_RECEIPT_ORDER).limit(limit)
        )
        return [_delivery_from(document) for document in found]

    @_translated
    def mark_processed(self, delivery_id: str, outcome: str, now: datetime) -> bool:
        changes = {
            "processed": True,
            "processed_at": ensure_utc(now),
            "outcome": outcome,
        }
        done = self._webhooks.update_one({"_id": delivery_id}, {"$set": changes})
        return done.matched_count == 1


def _delivery_from(document: Mapping[str, Any]) -> WebhookDelivery:
    fields = {k: v for k, v in document.items() if k != "processed"}
    fields["delivery_id"] = fields.pop("_id")
    return bson_converter().structure(fields, WebhookDelivery)


# --- the bundle --------------------------------------------------------------


# --- rate budgets ------------------------------------------------------------

# How often a step on a budget reads again after losing its write to another
# runner's; each loss means another runner's step went through, so running
# out takes that many runners hammering one key at once.
_BUDGET_ATTEMPTS = 200


class MongoRateBudget(rate_budgets.BucketSteps):
    """Rate budgets shared by every runner on the database, each step a
    compare-and-set on one bucket document (see the module docstring)."""

    def __init__(self, collection: Collectionish) -> None:
        self._buckets = collection

    @_translated
    def _apply(
        self,
        key: str,
        change: Callable[[rate_budgets.Bucket | None], tuple[rate_budgets.Bucket, R]],
    ) -> R:
        for _ in range(_BUDGET_ATTEMPTS):
            found = self._buckets.find_one({"_id": key})
            bucket = None if found is None else _bucket_from(found)
            after, answer = change(bucket)
            fields = {"tokens": after.tokens, "updated": after.updated}
            if found is None:
                try:
                    self._buckets.insert_one({"_id": key, **fields, "version": 1})
                except DuplicateKeyError:
                    continue  # another runner made the bucket first
                return answer
            written = self._buckets.update_one(
                {"_id": key, "version": found["version"]},
                {"$set": fields, "$inc": {"version": 1}},
            )
            if written.matched_count == 1:
                return answer
        raise StorageError(
            f"mongodb rate budget {key}: {_BUDGET_ATTEMPTS} writes in a row "
            "lost to other runners"
        )


def _bucket_from(document: Mapping[str, Any]) -> rate_budgets.Bucket:
    return rate_budgets.Bucket(float(document["tokens"]), float(document["updated"]))


def _redact(uri: str) -> str:
    """*uri* with any password replaced, for messages and reprs."""
    return re.sub(r"(//[^:/@]+:)[^@/]*@", r"\1***@", uri)


@attrs.frozen
class MongoSettings:
    """How to reach the database.  The URI may carry credentials; it is
    never shown with its password."""

    uri: str = attrs.field(repr=lambda uri: repr(_redact(uri)))
    database: str = "fulfilment"
    server_selection_timeout: float = 10.0


class MongoStorage:
    """Every store on one MongoDB database.

    Takes a ``MongoClient`` (and the database name) or a ``Database``; it
    reads and writes timezone-aware UTC datetimes whatever the client's own
    codec options.  ``close()`` closes the client only when this storage
    built it (:func:`build`).
    """

    def __init__(
        self,
        target: MongoClient[Document] | Database[Document],
        database: str = "fulfilment",
        *,
        owns_client: bool = False,
    ) -> None:
        db = target[database] if isinstance(target, MongoClient) else target
        self.database: Database[Document] = db.with_options(codec_options=_CODEC)
        self._owns_client = owns_client
        self.orders = MongoOrderStore(self.database["orders"])
        self.cursors = MongoCursorStore(self.database["cursors"])
        self.ledger = MongoEffectLedger(self.database["effects"])
        self.leases = MongoLeaseStore(self.database["leases"])
        self.attention = MongoAttentionQueue(self.database["attention"])
        self.nps = MongoNpsStore(
            self.database["nps_responses"],
            self.database["nps_discounts"],
            self.database["nps_surveyed"],
        )
        self.rates = MongoRateStore(self.database["rates"])
        self.webhooks = MongoWebhookInbox(self.database["webhooks"])
        self.rate_budgets = MongoRateBudget(self.database["rate_budgets"])
        self.runs = MongoRunLog(self.database["runs"])

    @_translated
    def ensure_indexes(self) -> None:
        """Create the indexes every worker query relies on (idempotent)."""
        db = self.database
        db["orders"].create_index([("state", 1), ("due_at", 1)], name="due")
        db["orders"].create_index(
            [("state", 1), ("claim_expires_at", 1)], name="expired_claims"
        )
        db["orders"].create_index([("store", 1), ("state", 1)], name="store_state")
        # Only cancelled orders are in it: the few a connector has in flight.
        db["orders"].create_index(
            [("state", 1), ("cancelled_at", 1)],
            name="cancelled",
            partialFilterExpression=_CANCELLED,
        )
        db["effects"].create_index(
            [("status", 1), ("created_at", 1), ("_id", 1)], name="status"
        )
        db["effects"].create_index(
            [("status", 1), ("kind", 1), ("not_before_at", 1)], name="queued"
        )
        db["effects"].create_index(
            [("subject", 1), ("created_at", 1), ("_id", 1)], name="subject"
        )
        self._ensure_attention_indexes()
        # Only the orders still waiting for their reporting total.
        db["orders"].create_index(
            _PLACEMENT, name="unstamped", partialFilterExpression=_UNSTAMPED
        )
        self._ensure_nps_indexes()
        self._ensure_rate_indexes()
        self.database["webhooks"].create_index(
            [("processed", 1), ("received_at", 1), ("_id", 1)], name="unprocessed"
        )

    def _ensure_attention_indexes(self) -> None:
        attention = self.database["attention"]
        # Before IDs one item stood for its pair for good; now a pair has
        # one item per occurrence, and the old unique key would refuse them.
        if "subject_reason" in attention.index_information():
            attention.drop_index("subject_reason")
        self.attention.give_ids()
        attention.create_index(
            [("subject", 1), ("reason", 1), ("occurrence", 1)],
            name="occurrence",
            unique=True,
        )
        attention.create_index([("resolved_at", 1), ("raised_at", 1)], name="open")
        attention.create_index(
            [("resolved_at", 1), ("code", 1), ("raised_at", 1)], name="open_code"
        )
        attention.create_index(
            [("resolved_at", 1), ("store", 1), ("raised_at", 1)], name="open_store"
        )
        attention.create_index(
            [("resolved_at", 1), ("subject", 1), ("raised_at", 1)],
            name="open_subject",
        )

    def _ensure_rate_indexes(self) -> None:
        rates = self.database["rates"]
        # Each ends with the day (see the module docstring).
        rates.create_index(
            [("source", 1), ("base", 1), ("quote", 1), ("rate_type", 1), ("day", 1)],
            name="key",
            unique=True,
        )
        rates.create_index(
            [("source", 1), ("quote", 1), ("rate_type", 1), ("day", 1)], name="series"
        )
        rates.create_index([("source", 1), ("day", 1)], name="source")
        rates.create_index([("quote", 1), ("day", 1)], name="quote")
        rates.create_index([("day", 1)], name="time")

    def _ensure_nps_indexes(self) -> None:
        responses = self.database["nps_responses"]
        responses.create_index(
            [("form_id", 1), ("response_id", 1)], name="form_response", unique=True
        )
        # Each ends with its range field (see the module docstring).
        responses.create_index([("store", 1), ("submitted_at", 1)], name="store")
        responses.create_index(
            [("unmatched", 1), ("submitted_at", 1)], name="unmatched"
        )
        responses.create_index([("submitted_at", 1)], name="time")
        discounts = self.database["nps_discounts"]
        discounts.create_index([("store", 1), ("starts_at", 1)], name="store")
        discounts.create_index([("starts_at", 1)], name="time")

    def close(self) -> None:
        if self._owns_client:
            self.database.client.close()


def build(settings: MongoSettings) -> MongoStorage:
    """Connect to ``settings.uri`` and make sure the indexes exist."""
    try:
        client: MongoClient[Document] = MongoClient(
            settings.uri,
            tz_aware=True,
            tzinfo=UTC,
            serverSelectionTimeoutMS=int(settings.server_selection_timeout * 1000),
            appname="fulfilment-connector",
        )
    except (PyMongoConfigurationError, ValueError) as exc:
        raise ConfigurationError(
            f"mongodb uri {_redact(settings.uri)} is not usable ({type(exc).__name__})"
        ) from exc
    storage = MongoStorage(client, settings.database, owns_client=True)
    try:
        storage.ensure_indexes()
    except StorageError:
        storage.close()
        raise
    return storage
