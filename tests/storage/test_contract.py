"""The storage contract: every store behaves like the in-memory twin.

Each test runs on memory, SQLite and MongoDB (see ``conftest.py``).  Times
are whole milliseconds, the resolution MongoDB keeps.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

from fulfilment.core.attention import InvalidNote, is_attention_id
from fulfilment.core.domain import (
    Claim,
    Money,
    Order,
    OrderKey,
    OrderState,
    ReportingTotal,
)
from fulfilment.core.errors import ConflictError
from fulfilment.core.intake import MergeOutcome, merge
from fulfilment.core.nps import DiscountCode, DiscountKind, NpsCategory, NpsResponse
from fulfilment.core.ports import AttentionItem, EffectStatus, RunRecord, Storage
from fulfilment.core.rates import FxRate, RateType, carry_forward
from fulfilment.testing.builders import T0, make_order
from tests.storage.conftest import Backend
from tests.strategies import discount_codes, fx_rates, nps_responses, orders

S = OrderState
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


def order(external_id: str, **changes: Any) -> Order:
    """A bookable Moroccan order with *changes* applied; ``store=`` only
    changes the key."""
    store = changes.pop("store", "shemsiworld")
    key = OrderKey("shopify", store, external_id)
    return attrs.evolve(make_order(external_id), key=key, **changes)


def saved(storage: Storage, *pending: Order) -> list[Order]:
    return [storage.orders.save(o) for o in pending]


def external_ids(found: list[Order]) -> list[str]:
    return [o.key.external_id for o in found]


# --- orders: compare-and-set -------------------------------------------------


def test_a_new_order_is_stored_as_revision_one(storage: Storage) -> None:
    new = order("1", raw={"id": 1, "line_items": [{"sku": "TAJ"}]})

    stored = storage.orders.save(new)

    assert stored == attrs.evolve(new, revision=1)
    assert storage.orders.get(new.key) == stored
    assert storage.orders.get(new.key).raw == new.raw  # type: ignore[union-attr]


def test_an_unknown_order_is_none(storage: Storage) -> None:
    assert storage.orders.get(OrderKey("shopify", "shemsiworld", "404")) is None


def test_a_write_at_the_stored_revision_wins(storage: Storage) -> None:
    (first,) = saved(storage, order("1"))

    second = storage.orders.save(attrs.evolve(first, state=S.ON_HOLD))

    assert second.revision == 2
    assert storage.orders.get(first.key) == second


def test_a_stale_revision_loses_the_write(storage: Storage) -> None:
    (first,) = saved(storage, order("1"))
    storage.orders.save(attrs.evolve(first, note="first writer"))

    with pytest.raises(ConflictError):
        storage.orders.save(attrs.evolve(first, note="second writer"))

    assert storage.orders.get(first.key).note == "first writer"  # type: ignore[union-attr]


def test_a_second_insert_of_a_new_order_loses(storage: Storage) -> None:
    saved(storage, order("1", note="first"))

    with pytest.raises(ConflictError):
        storage.orders.save(order("1", note="second"))

    assert storage.orders.get(order("1").key).note == "first"  # type: ignore[union-attr]


def test_an_absent_order_counts_as_revision_zero(storage: Storage) -> None:
    ghost = order("1", revision=3)

    with pytest.raises(ConflictError):
        storage.orders.save(ghost)

    assert storage.orders.get(ghost.key) is None


def test_of_two_writers_of_a_new_order_one_wins(backend: Backend) -> None:
    one, other = backend.open(), backend.open()
    one.orders.save(order("1", note="one"))

    with pytest.raises(ConflictError):
        other.orders.save(order("1", note="other"))

    assert other.orders.get(order("1").key).note == "one"  # type: ignore[union-attr]


def test_get_many_returns_the_stored_orders_only(storage: Storage) -> None:
    saved(storage, order("1"), order("2"))
    wanted = [order(i).key for i in ("1", "2", "3")]

    found = storage.orders.get_many(wanted)

    assert sorted(k.external_id for k in found) == ["1", "2"]
    assert all(found[k].key == k for k in found)


# --- orders: pages -----------------------------------------------------------


def test_save_many_writes_a_whole_page(storage: Storage) -> None:
    page = [order(str(i)) for i in range(1, 6)]

    lost = storage.orders.save_many(page)

    assert lost == []
    stored = storage.orders.get_many([o.key for o in page])
    assert stored == {o.key: attrs.evolve(o, revision=1) for o in page}


def test_save_many_returns_the_losers_and_writes_the_rest(storage: Storage) -> None:
    kept, moved = saved(storage, order("kept"), order("moved"))
    storage.orders.save(attrs.evolve(moved, note="someone else"))
    page = [
        attrs.evolve(kept, note="update"),  # revision 1 is current: wins
        attrs.evolve(moved, note="stale"),  # revision 1, stored 2: loses
        order("fresh"),  # new: wins
        order("kept"),  # new but stored: loses
        order("ghost", revision=4),  # absent counts as 0: loses
    ]

    lost = storage.orders.save_many(page)

    assert sorted(k.external_id for k in lost) == ["ghost", "kept", "moved"]
    assert storage.orders.get(kept.key).note == "update"  # type: ignore[union-attr]
    assert storage.orders.get(moved.key).note == "someone else"  # type: ignore[union-attr]
    assert storage.orders.get(order("fresh").key).revision == 1  # type: ignore[union-attr]
    assert storage.orders.get(order("ghost").key) is None


def test_save_many_of_an_empty_page_writes_nothing(storage: Storage) -> None:
    assert storage.orders.save_many([]) == []
    assert storage.orders.list() == []


# --- orders: worker queries --------------------------------------------------


def test_due_orders_are_those_whose_next_attempt_has_come(storage: Storage) -> None:
    saved(
        storage,
        order("unset"),
        order("past", next_attempt_at=T0 - MINUTE),
        order("now", next_attempt_at=T0),
        order("future", next_attempt_at=T0 + MINUTE),
        order("held", state=S.ON_HOLD),
        order("booked", state=S.BOOKED),
    )

    due = storage.orders.due([S.NEW, S.ON_HOLD], T0, limit=10)

    assert sorted(external_ids(due)) == ["held", "now", "past", "unset"]


def test_due_orders_come_oldest_placement_first_then_by_key(storage: Storage) -> None:
    saved(
        storage,
        order("c", placed_at=T0 - 2 * MINUTE),
        order("b", placed_at=T0 - 3 * MINUTE, state=S.ON_HOLD),
        order("a", placed_at=T0 - 2 * MINUTE, state=S.ON_HOLD),
        order("d", placed_at=T0 - 9 * MINUTE, store="shemsi-egypt"),
    )

    due = storage.orders.due([S.NEW, S.ON_HOLD], T0, limit=10)

    assert external_ids(due) == ["d", "b", "a", "c"]


def test_due_returns_at_most_the_limit_oldest_first(storage: Storage) -> None:
    half = MINUTE / 2
    for i in range(4):
        saved(storage, order(f"n{i}", placed_at=T0 - i * MINUTE))
        saved(
            storage, order(f"h{i}", placed_at=T0 - i * MINUTE - half, state=S.ON_HOLD)
        )

    due = storage.orders.due([S.NEW, S.ON_HOLD], T0, limit=3)

    assert external_ids(due) == ["h3", "n3", "h2"]
    assert storage.orders.due([S.NEW], T0, limit=0) == []


def test_expired_claims_are_bookings_with_no_live_claim(storage: Storage) -> None:
    def claimed(until: datetime) -> Claim:
        return Claim("runner-1", until)

    saved(
        storage,
        order("unclaimed", state=S.BOOKING),
        order("expired", state=S.BOOKING, claim=claimed(T0 - MINUTE)),
        order("at-now", state=S.BOOKING, claim=claimed(T0)),
        order("live", state=S.BOOKING, claim=claimed(T0 + MINUTE)),
        order("booked", state=S.BOOKED, claim=claimed(T0 - MINUTE)),
    )

    expired = storage.orders.expired_claims(T0, limit=10)

    assert sorted(external_ids(expired)) == ["at-now", "expired", "unclaimed"]


def test_expired_claims_come_oldest_first_up_to_the_limit(storage: Storage) -> None:
    saved(
        storage,
        *[order(f"b{i}", state=S.BOOKING, placed_at=T0 - i * MINUTE) for i in range(4)],
    )

    assert external_ids(storage.orders.expired_claims(T0, limit=2)) == ["b3", "b2"]
    assert storage.orders.expired_claims(T0, limit=0) == []


def test_cancelled_orders_are_those_of_the_states_their_source_cancelled(
    storage: Storage,
) -> None:
    gone = T0 - MINUTE
    saved(
        storage,
        order("booked", state=S.BOOKED, cancelled_at=gone),
        order("moving", state=S.IN_TRANSIT, cancelled_at=gone),
        order("still-wanted", state=S.BOOKED),
        order("delivered", state=S.DELIVERED, cancelled_at=gone),
        order("before-booking", state=S.CANCELLED, cancelled_at=gone),
    )

    found = storage.orders.cancelled([S.BOOKED, S.IN_TRANSIT], limit=10)

    assert sorted(external_ids(found)) == ["booked", "moving"]
    assert all(o.cancelled_at == gone for o in found)


def test_cancelled_orders_come_oldest_placement_first_up_to_the_limit(
    storage: Storage,
) -> None:
    states = [S.BOOKED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY]
    saved(
        storage,
        *[
            order(
                f"c{i}",
                state=states[i % 3],
                placed_at=T0 - i * MINUTE,
                cancelled_at=T0,
            )
            for i in range(5)
        ],
    )

    found = storage.orders.cancelled(states, limit=3)

    assert external_ids(found) == ["c4", "c3", "c2"]
    assert storage.orders.cancelled(states, limit=0) == []


def test_an_order_cancelled_later_is_found_once_saved_so(storage: Storage) -> None:
    (booked,) = saved(storage, order("1", state=S.BOOKED))
    assert storage.orders.cancelled([S.BOOKED], limit=10) == []

    stored = storage.orders.save(attrs.evolve(booked, cancelled_at=T0))
    found = storage.orders.cancelled([S.BOOKED], limit=10)
    storage.orders.save(attrs.evolve(stored, state=S.CANCELLED))

    assert found == [stored]
    assert storage.orders.cancelled([S.BOOKED], limit=10) == []


STAMP = ReportingTotal(
    amount=Money(Decimal("45.90"), "USD"),
    rate=Decimal("0.1000000000"),
    rate_day=date(2026, 11, 2),
    sources=("openexchangerates",),
    stamped_at=T0 + MINUTE,
)


def test_unstamped_orders_come_oldest_placement_first_up_to_the_limit(
    storage: Storage,
) -> None:
    saved(
        storage,
        order("b", placed_at=T0 - 2 * MINUTE, state=S.BOOKED),
        order("c", placed_at=T0 - MINUTE, store="shemsi-egypt"),
        order("a", placed_at=T0 - 2 * MINUTE, state=S.CANCELLED),
        order("stamped", placed_at=T0 - 9 * MINUTE, reporting_total=STAMP),
        order("d", placed_at=T0 - 3 * MINUTE, state=S.NEEDS_ATTENTION),
    )

    found = storage.orders.unstamped(limit=3)

    assert external_ids(found) == ["d", "a", "b"]
    assert external_ids(storage.orders.unstamped(limit=10)) == ["d", "a", "b", "c"]
    assert storage.orders.unstamped(limit=0) == []


def test_a_stamped_order_leaves_the_unstamped_list(storage: Storage) -> None:
    first, second = saved(storage, order("1"), order("2", placed_at=T0 + MINUTE))

    stamped = storage.orders.save(attrs.evolve(first, reporting_total=STAMP))

    assert storage.orders.unstamped(limit=10) == [second]
    read = storage.orders.get(first.key)
    assert read == stamped
    assert read is not None
    assert read.reporting_total == STAMP
    assert str(read.reporting_total.rate) == "0.1000000000"  # type: ignore[union-attr]


def test_the_stamp_survives_a_newer_source_version(storage: Storage) -> None:
    (stored,) = saved(storage, order("1", reporting_total=STAMP))
    fetched = order(
        "1",
        note="call before delivery",
        source_updated_at=stored.source_updated_at + MINUTE,
    )

    merged = merge(stored, fetched, T0 + 2 * MINUTE)
    assert merged.outcome is MergeOutcome.UPDATED
    assert merged.order is not None
    lost = storage.orders.save_many([merged.order])

    read = storage.orders.get(stored.key)
    assert lost == []
    assert read is not None
    assert (read.note, read.reporting_total) == ("call before delivery", STAMP)
    assert storage.orders.unstamped(limit=10) == []


def test_list_filters_by_state_and_store_in_key_order(storage: Storage) -> None:
    saved(
        storage,
        order("2"),
        order("1", state=S.BOOKED),
        order("3", store="shemsi-egypt"),
        order("4", store="shemsi"),
        attrs.evolve(order("5"), key=OrderKey("amazon", "shemsi-uae", "5")),
    )

    everything = storage.orders.list()
    booked = storage.orders.list(state=S.BOOKED)
    moroccan_new = storage.orders.list(state=S.NEW, store="shemsiworld")

    # Key order compares channel, store, id: "shemsi" < "shemsi-egypt" even
    # though "shemsi:" sorts after "shemsi-" as a string.
    assert [str(o.key) for o in everything] == [
        "amazon:shemsi-uae:5",
        "shopify:shemsi:4",
        "shopify:shemsi-egypt:3",
        "shopify:shemsiworld:1",
        "shopify:shemsiworld:2",
    ]
    assert external_ids(booked) == ["1"]
    assert external_ids(moroccan_new) == ["2"]
    assert storage.orders.list(store="shemsi-lebanon") == []


@settings(
    max_examples=25,
    deadline=None,
    # One store serves every example; keys that repeat overwrite earlier ones.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=orders())
def test_every_field_of_an_order_survives_the_store(
    storage: Storage, drawn: Order
) -> None:
    current = storage.orders.get(drawn.key)
    written = attrs.evolve(drawn, revision=current.revision if current else 0)

    storage.orders.save_many([written])

    read = storage.orders.get(drawn.key)
    assert read == attrs.evolve(written, revision=written.revision + 1)
    assert read is not None
    assert read.raw == drawn.raw


# --- cursors -----------------------------------------------------------------


def test_an_unset_cursor_is_none(storage: Storage) -> None:
    assert storage.cursors.get("fetch-new-orders:shemsiworld") is None


def test_a_cursor_keeps_the_last_value_set(storage: Storage) -> None:
    cairo = timezone(timedelta(hours=2))
    storage.cursors.set("fetch-new-orders:shemsiworld", T0)
    storage.cursors.set(
        "fetch-new-orders:shemsiworld", datetime(2026, 11, 2, 12, tzinfo=cairo)
    )
    storage.cursors.set("fetch-new-orders:shemsi-egypt", T0 - MINUTE)

    value = storage.cursors.get("fetch-new-orders:shemsiworld")

    assert value == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert value is not None
    assert value.utcoffset() == timedelta(0)
    assert storage.cursors.get("fetch-new-orders:shemsi-egypt") == T0 - MINUTE


# --- effect ledger -----------------------------------------------------------

BOOK = "book:shopify:shemsiworld:1001"


def test_begin_records_a_pending_entry_once(storage: Storage) -> None:
    entry, created = storage.ledger.begin(BOOK, "book", "shopify:shemsiworld:1001", T0)
    again, created_again = storage.ledger.begin(BOOK, "sms", "other", T0 + MINUTE)

    assert created
    assert not created_again
    assert entry.status is EffectStatus.PENDING
    assert entry.attempts == 1
    assert (entry.created_at, entry.updated_at) == (T0, T0)
    assert again == entry == storage.ledger.get(BOOK)


def test_complete_records_the_result(storage: Storage) -> None:
    storage.ledger.begin(BOOK, "book", "order", T0)

    done = storage.ledger.complete(
        BOOK, {"reference": "AWB1", "cod": "459.00"}, T0 + MINUTE
    )

    assert done.status is EffectStatus.DONE
    assert done.result == {"reference": "AWB1", "cod": "459.00"}
    assert done.updated_at == T0 + MINUTE
    assert done.created_at == T0
    assert storage.ledger.get(BOOK) == done


def test_mark_sets_the_status_and_detail(storage: Storage) -> None:
    storage.ledger.begin(BOOK, "book", "order", T0)

    marked = storage.ledger.mark(
        BOOK, EffectStatus.UNCERTAIN, "read timeout", T0 + MINUTE
    )

    assert (marked.status, marked.detail) == (EffectStatus.UNCERTAIN, "read timeout")
    assert storage.ledger.get(BOOK) == marked


def test_reopen_turns_a_failed_entry_into_a_new_attempt(storage: Storage) -> None:
    storage.ledger.begin(BOOK, "book", "order", T0)
    storage.ledger.mark(BOOK, EffectStatus.FAILED, "HTTP 503", T0 + MINUTE)

    reopened = storage.ledger.reopen(BOOK, T0 + 2 * MINUTE)

    assert reopened.status is EffectStatus.PENDING
    assert (reopened.attempts, reopened.detail) == (2, None)
    assert reopened.updated_at == T0 + 2 * MINUTE
    assert storage.ledger.get(BOOK) == reopened


@pytest.mark.parametrize(
    "status", [EffectStatus.PENDING, EffectStatus.DONE, EffectStatus.UNCERTAIN]
)
def test_reopen_refuses_an_entry_that_did_not_fail(
    storage: Storage, status: EffectStatus
) -> None:
    storage.ledger.begin(BOOK, "book", "order", T0)
    before = storage.ledger.mark(BOOK, status, "as it is", T0)

    with pytest.raises(ConflictError):
        storage.ledger.reopen(BOOK, T0 + MINUTE)

    assert storage.ledger.get(BOOK) == before


def test_changing_an_unknown_entry_raises_key_error(storage: Storage) -> None:
    with pytest.raises(KeyError):
        storage.ledger.complete("nope", {}, T0)
    with pytest.raises(KeyError):
        storage.ledger.mark("nope", EffectStatus.FAILED, "x", T0)
    with pytest.raises(KeyError):
        storage.ledger.reopen("nope", T0)
    assert storage.ledger.get("nope") is None


def test_with_status_lists_entries_oldest_first_up_to_the_limit(
    storage: Storage,
) -> None:
    for minute, key in [(3, "c"), (1, "b"), (1, "a"), (0, "d")]:
        storage.ledger.begin(key, "sms", key, T0 + minute * MINUTE)
    storage.ledger.complete("d", {}, T0)

    pending = storage.ledger.with_status(EffectStatus.PENDING, limit=2)

    assert [e.key for e in pending] == ["a", "b"]
    assert [e.key for e in storage.ledger.with_status(EffectStatus.DONE, 5)] == ["d"]
    assert storage.ledger.with_status(EffectStatus.FAILED, 5) == []


# --- effect ledger as an outbox ----------------------------------------------

SMS = "sms:shipped:shopify:shemsiworld:1001"
PAYLOAD = {"to": "+212600000000", "template": "shipped", "order": "1001"}


def queue_sms(
    storage: Storage,
    key: str,
    minute: int = 0,
    kind: str = "sms",
    not_before: datetime | None = None,
) -> bool:
    """Queue an entry of *kind* (an SMS) *minute* minutes after T0."""
    now = T0 + minute * MINUTE
    return storage.ledger.queue(
        key, kind, key, now, payload=PAYLOAD, not_before=not_before
    )


def queued_keys(storage: Storage, kind: str, now: datetime, limit: int) -> list[str]:
    return [e.key for e in storage.ledger.queued(kind, now, limit)]


def test_queue_records_a_queued_entry_with_its_payload(storage: Storage) -> None:
    created = storage.ledger.queue(
        SMS, "sms", "shopify:shemsiworld:1001", T0, payload=PAYLOAD
    )

    entry = storage.ledger.get(SMS)
    assert created
    assert entry is not None
    assert (entry.status, entry.kind, entry.subject) == (
        EffectStatus.QUEUED,
        "sms",
        "shopify:shemsiworld:1001",
    )
    assert entry.result == PAYLOAD
    assert (entry.created_at, entry.updated_at, entry.not_before) == (T0, T0, None)


def test_queueing_a_key_twice_keeps_the_first_entry(storage: Storage) -> None:
    queue_sms(storage, SMS)
    first = storage.ledger.get(SMS)

    again = storage.ledger.queue(SMS, "mail", "other", T0 + MINUTE, payload={"to": "x"})

    assert not again
    assert storage.ledger.get(SMS) == first


@pytest.mark.parametrize("status", list(EffectStatus))
def test_queue_refuses_a_key_already_in_the_ledger(
    storage: Storage, status: EffectStatus
) -> None:
    storage.ledger.begin(SMS, "sms", "order", T0)
    before = storage.ledger.mark(SMS, status, "as it is", T0)

    assert not queue_sms(storage, SMS, minute=1)

    assert storage.ledger.get(SMS) == before


def test_begin_after_queue_returns_the_queued_entry(storage: Storage) -> None:
    queue_sms(storage, SMS)

    entry, created = storage.ledger.begin(SMS, "sms", SMS, T0 + MINUTE)

    assert not created
    assert entry.status is EffectStatus.QUEUED


def test_not_before_survives_the_store(storage: Storage) -> None:
    later = T0 + timedelta(hours=3, milliseconds=250)

    queue_sms(storage, SMS, not_before=later)

    entry = storage.ledger.get(SMS)
    assert entry is not None
    assert entry.not_before == later
    assert entry.not_before.utcoffset() == timedelta(0)


def test_take_moves_a_queued_entry_to_pending_once(storage: Storage) -> None:
    queue_sms(storage, SMS, not_before=T0 + MINUTE)

    taken = storage.ledger.take(SMS, T0 + 2 * MINUTE)
    again = storage.ledger.take(SMS, T0 + 3 * MINUTE)

    assert taken is not None
    assert taken.status is EffectStatus.PENDING
    assert (taken.created_at, taken.updated_at) == (T0, T0 + 2 * MINUTE)
    assert (taken.result, taken.not_before) == (PAYLOAD, T0 + MINUTE)
    assert again is None
    assert storage.ledger.get(SMS) == taken


def test_a_taken_entry_completes_like_a_begun_one(storage: Storage) -> None:
    queue_sms(storage, SMS)
    storage.ledger.take(SMS, T0)

    done = storage.ledger.complete(SMS, {"message_id": "m-1"}, T0 + MINUTE)

    assert done.status is EffectStatus.DONE
    assert storage.ledger.take(SMS, T0 + 2 * MINUTE) is None
    assert storage.ledger.get(SMS) == done


def test_take_finds_nothing_for_an_entry_that_is_not_queued(
    storage: Storage,
) -> None:
    storage.ledger.begin(BOOK, "book", "order", T0)

    assert storage.ledger.take(BOOK, T0 + MINUTE) is None
    assert storage.ledger.take("never-queued", T0) is None
    assert storage.ledger.get(BOOK).updated_at == T0  # type: ignore[union-attr]


def test_queued_lists_due_entries_of_one_kind_oldest_first(
    storage: Storage,
) -> None:
    queue_sms(storage, "c", minute=3)
    queue_sms(storage, "b", minute=1)
    queue_sms(storage, "a", minute=1)
    queue_sms(storage, "mail", minute=0, kind="mail")
    queue_sms(storage, "at-now", minute=2, not_before=T0 + 5 * MINUTE)
    queue_sms(storage, "later", minute=0, not_before=T0 + 5 * MINUTE + MINUTE / 60)
    storage.ledger.begin("pending", "sms", "order", T0)
    queue_sms(storage, "taken")
    storage.ledger.take("taken", T0)

    due = queued_keys(storage, "sms", T0 + 5 * MINUTE, limit=10)

    assert due == ["a", "b", "at-now", "c"]
    assert queued_keys(storage, "mail", T0, limit=10) == ["mail"]
    assert queued_keys(storage, "nps", T0, limit=10) == []


def test_queued_returns_at_most_the_limit(storage: Storage) -> None:
    for minute in range(5):
        queue_sms(storage, f"sms-{minute}", minute=minute)

    assert queued_keys(storage, "sms", T0 + MINUTE * 9, limit=2) == ["sms-0", "sms-1"]
    assert storage.ledger.queued("sms", T0 + MINUTE * 9, limit=0) == []


def test_queued_entries_carry_their_payload(storage: Storage) -> None:
    queue_sms(storage, SMS, not_before=T0)

    (entry,) = storage.ledger.queued("sms", T0, limit=1)

    assert entry == storage.ledger.get(SMS)
    assert (entry.result, entry.not_before) == (PAYLOAD, T0)


# --- effect ledger: one subject's history ------------------------------------

ORDER_1001 = "shopify:shemsiworld:1001"
ORDER_1002 = "shopify:shemsiworld:1002"


def test_for_subject_lists_every_entry_about_one_subject_oldest_first(
    storage: Storage,
) -> None:
    storage.ledger.queue(
        "notice:b", "notice", ORDER_1001, T0 + 2 * MINUTE, payload=PAYLOAD
    )
    storage.ledger.queue(
        "notice:a", "notice", ORDER_1001, T0 + 2 * MINUTE, payload=PAYLOAD
    )
    storage.ledger.begin("book:1001", "booking", ORDER_1001, T0)
    storage.ledger.complete("book:1001", {"reference": "AWB1"}, T0 + MINUTE)
    storage.ledger.begin("book:1002", "booking", ORDER_1002, T0 - MINUTE)
    storage.ledger.take("notice:a", T0 + 3 * MINUTE)
    storage.ledger.mark("notice:a", EffectStatus.FAILED, "opted out", T0 + 4 * MINUTE)

    history = storage.ledger.for_subject(ORDER_1001)

    assert [e.key for e in history] == ["book:1001", "notice:a", "notice:b"]
    assert history == [storage.ledger.get(e.key) for e in history]
    assert [e.status for e in history] == [
        EffectStatus.DONE,
        EffectStatus.FAILED,
        EffectStatus.QUEUED,
    ]
    assert [e.key for e in storage.ledger.for_subject(ORDER_1002)] == ["book:1002"]


def test_for_subject_of_an_unknown_subject_is_empty(storage: Storage) -> None:
    storage.ledger.begin("book:1001", "booking", ORDER_1001, T0)

    assert storage.ledger.for_subject("shopify:shemsiworld:404") == []
    assert storage.ledger.for_subject("shopify:shemsiworld") == []


def test_for_subject_returns_at_most_the_limit(storage: Storage) -> None:
    for minute in range(5):
        storage.ledger.begin(f"e{minute}", "notice", ORDER_1001, T0 + minute * MINUTE)

    assert [e.key for e in storage.ledger.for_subject(ORDER_1001, limit=2)] == [
        "e0",
        "e1",
    ]
    assert storage.ledger.for_subject(ORDER_1001, limit=0) == []


# --- leases ------------------------------------------------------------------

LEASE = "create-fulfilment-requests:shemsiworld"


def test_a_free_lease_is_acquired(storage: Storage) -> None:
    assert storage.leases.acquire(LEASE, "runner-a", T0, 60)


def test_a_held_lease_is_refused_to_another_owner(backend: Backend) -> None:
    one, other = backend.open(), backend.open()
    one.leases.acquire(LEASE, "runner-a", T0, 60)

    assert not other.leases.acquire(
        LEASE, "runner-b", T0 + 59 * timedelta(seconds=1), 60
    )
    assert other.leases.acquire("another-lease", "runner-b", T0, 60)


def test_the_owner_reacquires_and_extends_its_lease(storage: Storage) -> None:
    storage.leases.acquire(LEASE, "runner-a", T0, 60)

    assert storage.leases.acquire(LEASE, "runner-a", T0 + 30 * timedelta(seconds=1), 60)
    assert not storage.leases.acquire(
        LEASE, "runner-b", T0 + 80 * timedelta(seconds=1), 60
    )


def test_an_expired_lease_goes_to_another_owner(storage: Storage) -> None:
    storage.leases.acquire(LEASE, "runner-a", T0, 60)

    assert storage.leases.acquire(LEASE, "runner-b", T0 + MINUTE, 60)
    assert not storage.leases.acquire(LEASE, "runner-a", T0 + MINUTE, 60)


def test_release_by_the_owner_frees_the_lease(storage: Storage) -> None:
    storage.leases.acquire(LEASE, "runner-a", T0, 60)

    storage.leases.release(LEASE, "runner-a")

    assert storage.leases.acquire(LEASE, "runner-b", T0, 60)


def test_release_by_another_owner_does_nothing(storage: Storage) -> None:
    storage.leases.acquire(LEASE, "runner-a", T0, 60)

    storage.leases.release(LEASE, "runner-b")
    storage.leases.release("never-taken", "runner-b")

    assert not storage.leases.acquire(LEASE, "runner-b", T0, 60)


def test_the_holder_renews_its_live_lease(backend: Backend) -> None:
    one, other = backend.open(), backend.open()
    one.leases.acquire(LEASE, "runner-a", T0, 60)

    assert one.leases.renew(LEASE, "runner-a", T0 + 50 * SECOND, 60)

    assert not other.leases.acquire(LEASE, "runner-b", T0 + 100 * SECOND, 60)
    assert other.leases.acquire(LEASE, "runner-b", T0 + 110 * SECOND, 60)


def test_another_owner_cannot_renew_a_lease(storage: Storage) -> None:
    storage.leases.acquire(LEASE, "runner-a", T0, 60)

    assert not storage.leases.renew(LEASE, "runner-b", T0 + SECOND, 60)
    assert not storage.leases.renew("never-taken", "runner-b", T0, 60)

    assert not storage.leases.acquire(LEASE, "runner-b", T0 + 59 * SECOND, 60)


def test_a_lapsed_lease_is_not_renewed_even_by_its_holder(storage: Storage) -> None:
    storage.leases.acquire(LEASE, "runner-a", T0, 60)

    assert not storage.leases.renew(LEASE, "runner-a", T0 + MINUTE, 60)

    assert storage.leases.acquire(LEASE, "runner-b", T0 + MINUTE, 60)


def test_a_lease_taken_over_after_expiry_stays_with_the_new_holder(
    backend: Backend,
) -> None:
    crashed, successor = backend.open(), backend.open()
    crashed.leases.acquire(LEASE, "runner-a", T0, 60)
    successor.leases.acquire(LEASE, "runner-b", T0 + 2 * MINUTE, 60)

    assert not crashed.leases.renew(LEASE, "runner-a", T0 + 2 * MINUTE, 60)
    crashed.leases.release(LEASE, "runner-a")

    assert successor.leases.renew(LEASE, "runner-b", T0 + 150 * SECOND, 60)


# --- run history -------------------------------------------------------------

RUN = "fetch-new-orders:shopify:shemsiworld"


def test_an_unknown_run_name_has_no_record(storage: Storage) -> None:
    assert storage.runs.last(RUN) is None
    assert storage.runs.all() == []


def test_a_started_run_is_the_latest_with_no_outcome(storage: Storage) -> None:
    storage.runs.started(RUN, "run-1", "runner-a", T0)

    assert storage.runs.last(RUN) == RunRecord(RUN, "run-1", "runner-a", T0)


def test_a_finished_run_keeps_its_outcome_and_success(backend: Backend) -> None:
    one, other = backend.open(), backend.open()
    one.runs.started(RUN, "run-1", "runner-a", T0)

    assert one.runs.finished(RUN, "run-1", T0 + MINUTE, True, "fetched=3")

    assert other.runs.last(RUN) == RunRecord(
        RUN,
        "run-1",
        "runner-a",
        T0,
        finished_at=T0 + MINUTE,
        ok=True,
        summary="fetched=3",
        last_success_at=T0 + MINUTE,
    )


def test_a_failed_run_keeps_the_last_success(storage: Storage) -> None:
    storage.runs.started(RUN, "run-1", "runner-a", T0)
    storage.runs.finished(RUN, "run-1", T0 + MINUTE, True, "")
    storage.runs.started(RUN, "run-2", "runner-b", T0 + 5 * MINUTE)

    storage.runs.finished(RUN, "run-2", T0 + 6 * MINUTE, False, "error=timeout")

    record = storage.runs.last(RUN)
    assert record is not None
    assert (record.run_id, record.owner, record.ok) == ("run-2", "runner-b", False)
    assert record.summary == "error=timeout"
    assert record.last_success_at == T0 + MINUTE


def test_a_new_run_clears_the_outcome_of_the_one_before(storage: Storage) -> None:
    storage.runs.started(RUN, "run-1", "runner-a", T0)
    storage.runs.finished(RUN, "run-1", T0 + MINUTE, False, "error=down")

    storage.runs.started(RUN, "run-2", "runner-a", T0 + 2 * MINUTE)

    record = storage.runs.last(RUN)
    assert record == RunRecord(RUN, "run-2", "runner-a", T0 + 2 * MINUTE)


def test_an_overtaken_run_does_not_overwrite_the_later_one(storage: Storage) -> None:
    storage.runs.started(RUN, "run-1", "runner-a", T0)
    storage.runs.started(RUN, "run-2", "runner-b", T0 + 20 * MINUTE)

    assert not storage.runs.finished(RUN, "run-1", T0 + 21 * MINUTE, True, "late")
    assert not storage.runs.finished("never-run", "run-1", T0, True, "")

    assert storage.runs.last(RUN) == RunRecord(
        RUN, "run-2", "runner-b", T0 + 20 * MINUTE
    )
    assert storage.runs.last("never-run") is None


def test_all_lists_one_record_per_name_by_name(storage: Storage) -> None:
    storage.runs.started("notify-customers", "run-2", "runner-a", T0)
    storage.runs.started(RUN, "run-1", "runner-a", T0)
    storage.runs.started(RUN, "run-3", "runner-a", T0 + MINUTE)

    records = storage.runs.all()

    assert [(r.name, r.run_id) for r in records] == [
        (RUN, "run-3"),
        ("notify-customers", "run-2"),
    ]


# --- attention queue ---------------------------------------------------------


def item(subject: str = "shopify:shemsi-lebanon:1", **changes: Any) -> AttentionItem:
    base = AttentionItem(subject, "no_partner", "Lebanon has no partner yet", T0)
    return attrs.evolve(base, **changes)


def test_a_raised_item_is_open(storage: Storage) -> None:
    storage.attention.raise_item(item())

    assert storage.attention.open_items() == [item()]


def test_raising_one_subject_and_reason_again_refreshes_one_item(
    storage: Storage,
) -> None:
    storage.attention.raise_item(item())

    storage.attention.raise_item(
        item(message="still no partner", raised_at=T0 + MINUTE)
    )

    assert storage.attention.open_items() == [
        item(message="still no partner", raised_at=T0 + MINUTE)
    ]


def test_each_reason_for_a_subject_is_its_own_item(storage: Storage) -> None:
    storage.attention.raise_item(item())
    storage.attention.raise_item(item(reason="invalid_phone", raised_at=T0 + MINUTE))

    reasons = [i.reason for i in storage.attention.open_items()]

    assert reasons == ["no_partner", "invalid_phone"]


def test_resolve_closes_the_open_item(storage: Storage) -> None:
    storage.attention.raise_item(item())

    assert storage.attention.resolve(item().subject, "no_partner", T0 + MINUTE)

    assert storage.attention.open_items() == []
    assert not storage.attention.resolve(item().subject, "no_partner", T0 + MINUTE)
    assert not storage.attention.resolve("unknown", "no_partner", T0)


def test_raising_a_resolved_item_opens_a_new_one_with_a_new_id(
    storage: Storage,
) -> None:
    first = storage.attention.raise_item(item())
    storage.attention.resolve(item().subject, "no_partner", T0 + MINUTE)

    second = storage.attention.raise_item(item(raised_at=T0 + 2 * MINUTE))

    assert storage.attention.open_items() == [
        item(raised_at=T0 + 2 * MINUTE, occurrence=2)
    ]
    assert second.id != first.id
    assert second.id.split("-")[0] == first.id.split("-")[0]
    assert storage.attention.get(first.id) == item(resolved_at=T0 + MINUTE)


def test_a_raised_item_gets_a_stable_id_and_is_found_by_it(storage: Storage) -> None:
    raised = storage.attention.raise_item(item())

    again = storage.attention.raise_item(item(message="still", raised_at=T0 + MINUTE))

    assert raised.id == again.id == item().id
    assert is_attention_id(raised.id)
    assert storage.attention.get(raised.id) == again
    assert storage.attention.get("aaaaaaaaaa-1") is None


def test_each_subject_and_reason_has_its_own_id(storage: Storage) -> None:
    ids = {
        storage.attention.raise_item(item(subject, reason=reason)).id
        for subject in ("shopify:shemsi-lebanon:1", "shopify:shemsi-lebanon:2")
        for reason in ("no_partner", "invalid_phone")
    }

    assert len(ids) == 4


def test_resolving_by_id_keeps_the_note_and_who(storage: Storage) -> None:
    raised = storage.attention.raise_item(item())

    closed = storage.attention.resolve_id(
        raised.id, T0 + MINUTE, note="  called the customer  ", by="amina"
    )

    expected = item(resolved_at=T0 + MINUTE, note="called the customer")
    assert closed == attrs.evolve(expected, resolved_by="amina")
    assert storage.attention.get(raised.id) == closed
    assert storage.attention.open_items() == []
    assert storage.attention.resolve_id(raised.id, T0, note="again") is None
    assert storage.attention.resolve_id("aaaaaaaaaa-1", T0, note="x") is None


def test_resolving_by_id_needs_a_note(storage: Storage) -> None:
    raised = storage.attention.raise_item(item())

    with pytest.raises(InvalidNote, match="note is required"):
        storage.attention.resolve_id(raised.id, T0, note=" \n ")

    assert storage.attention.open_items() == [item()]


def test_resolving_by_id_refuses_a_note_with_control_characters(
    storage: Storage,
) -> None:
    raised = storage.attention.raise_item(item())

    with pytest.raises(InvalidNote, match="control characters"):
        storage.attention.resolve_id(raised.id, T0, note="ok\x1b[2J")

    assert storage.attention.open_items() == [item()]


def test_a_cleared_condition_resolves_the_item_without_a_note(
    storage: Storage,
) -> None:
    raised = storage.attention.raise_item(item())

    storage.attention.resolve(item().subject, "no_partner", T0 + MINUTE)

    closed = storage.attention.get(raised.id)
    assert closed is not None
    assert (closed.resolved_at, closed.note, closed.resolved_by) == (
        T0 + MINUTE,
        None,
        None,
    )


def test_a_refresh_keeps_the_latest_words_and_effect(storage: Storage) -> None:
    storage.attention.raise_item(item())

    storage.attention.raise_item(item(message="new words", effect="sms:1:shipped"))

    (found,) = storage.attention.open_items()
    assert (found.message, found.effect, found.occurrence) == (
        "new words",
        "sms:1:shipped",
        1,
    )


def test_open_items_filter_by_reason_code_store_and_subject(
    storage: Storage,
) -> None:
    raised = [
        item("shopify:shemsi-egypt:1", reason="tracking_stale"),
        item("shopify:shemsi-uae:2", reason="tracking_stale"),
        item("partner:flextock", reason="unknown_tracking_code:90"),
        item("partner:flextock", reason="unknown_tracking_code:91"),
        item("store:shemsi-egypt", reason="store_unavailable"),
    ]
    for minute, one in enumerate(raised):
        storage.attention.raise_item(attrs.evolve(one, raised_at=T0 + minute * MINUTE))
    queue = storage.attention

    def reasons(found: list[AttentionItem]) -> list[tuple[str, str]]:
        return [(i.subject, i.reason) for i in found]

    assert reasons(queue.open_items(reason="unknown_tracking_code")) == [
        ("partner:flextock", "unknown_tracking_code:90"),
        ("partner:flextock", "unknown_tracking_code:91"),
    ]
    assert reasons(queue.open_items(store="shemsi-egypt")) == [
        ("shopify:shemsi-egypt:1", "tracking_stale"),
        ("store:shemsi-egypt", "store_unavailable"),
    ]
    assert reasons(queue.open_items(reason="tracking_stale", store="shemsi-uae")) == [
        ("shopify:shemsi-uae:2", "tracking_stale")
    ]
    assert len(queue.open_items(subject="partner:flextock")) == 2
    assert len(queue.open_items(limit=3)) == 3
    assert queue.open_items(limit=0) == []
    assert queue.open_items(reason="no_partner_for_store") == []


def test_a_resolved_item_stays_in_the_history_across_handles(
    backend: Backend,
) -> None:
    one, two = backend.open(), backend.open()
    raised = one.attention.raise_item(item())
    two.attention.resolve_id(raised.id, T0 + MINUTE, note="done", by="amina")

    reopened = one.attention.raise_item(item(raised_at=T0 + 2 * MINUTE))

    assert reopened.occurrence == 2
    assert two.attention.open_items() == [reopened]
    first = two.attention.get(raised.id)
    assert first is not None
    assert first.note == "done"


def test_open_items_come_oldest_first(storage: Storage) -> None:
    for minute, subject in [(2, "c"), (0, "b"), (0, "a"), (1, "d")]:
        storage.attention.raise_item(item(subject, raised_at=T0 + minute * MINUTE))

    assert [i.subject for i in storage.attention.open_items()] == ["a", "b", "d", "c"]


# --- the feedback loop: answers ----------------------------------------------

EGYPT_7 = OrderKey("shopify", "shemsi-egypt", "7")
FORM = "Xq7LmN2p"


def answer(
    response_id: str,
    minute: int = 0,
    *,
    order_key: OrderKey | None = EGYPT_7,
    form_id: str = FORM,
    **changes: Any,
) -> NpsResponse:
    """A promoter's answer about *order_key*, *minute* minutes after T0."""
    return NpsResponse(
        response_id=response_id,
        form_id=form_id,
        score=changes.pop("score", 9),
        submitted_at=T0 + minute * MINUTE,
        order_key=order_key,
        **changes,
    )


def response_ids(found: list[NpsResponse]) -> list[str]:
    return [r.response_id for r in found]


def test_an_answer_is_kept_once(storage: Storage) -> None:
    first = answer("r1", comment="first")

    created = storage.nps.add_response(first)
    again = storage.nps.add_response(attrs.evolve(first, score=2, comment="later"))

    assert (created, again) == (True, False)
    assert storage.nps.get_response(FORM, "r1") == first
    assert storage.nps.responses() == [first]


def test_one_response_id_in_two_forms_is_two_answers(storage: Storage) -> None:
    storage.nps.add_response(answer("r1"))

    other_form = storage.nps.add_response(answer("r1", form_id="Zz9OtHeR", score=3))

    assert other_form
    assert storage.nps.get_response("Zz9OtHeR", "r1").score == 3  # type: ignore[union-attr]
    assert storage.nps.get_response(FORM, "r1").score == 9  # type: ignore[union-attr]
    assert storage.nps.get_response(FORM, "r404") is None


def test_every_field_of_an_answer_survives_the_store(storage: Storage) -> None:
    arabic = answer(
        "r1",
        score=6,
        comment="التوصيل تأخر يومين، لكن المنتج ممتاز 👍",
        hidden={"order": str(EGYPT_7), "first_name": "فاطمة", "empty": ""},
    )
    unmatched = answer("r2", order_key=None, comment=None, hidden={})

    storage.nps.add_response(arabic)
    storage.nps.add_response(unmatched)

    read = storage.nps.get_response(FORM, "r1")
    assert read == arabic
    assert read is not None
    assert (read.comment, dict(read.hidden)) == (arabic.comment, arabic.hidden)
    assert read.submitted_at.utcoffset() == timedelta(0)
    assert (read.category, read.store) == (NpsCategory.DETRACTOR, "shemsi-egypt")
    assert storage.nps.get_response(FORM, "r2") == unmatched


SERIAL = itertools.count()


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=nps_responses())
def test_any_answer_survives_the_store(storage: Storage, drawn: NpsResponse) -> None:
    # One store serves every example: each gets a response id of its own.
    kept = attrs.evolve(drawn, response_id=f"{drawn.response_id}-{next(SERIAL)}")

    assert storage.nps.add_response(kept)

    assert storage.nps.get_response(kept.form_id, kept.response_id) == kept


def test_answers_come_oldest_first_then_by_response_id(storage: Storage) -> None:
    for response in (
        answer("c", 2),
        answer("b", 1),
        answer("a", 1, form_id="Zz9OtHeR"),
        answer("a", 1),
        answer("d", 0),
    ):
        storage.nps.add_response(response)

    found = storage.nps.responses()

    assert [(r.response_id, r.form_id) for r in found] == [
        ("d", FORM),
        ("a", FORM),
        ("a", "Zz9OtHeR"),
        ("b", FORM),
        ("c", FORM),
    ]


def test_answers_are_found_by_store_and_submission_time(storage: Storage) -> None:
    morocco = OrderKey("shopify", "shemsiworld", "1")
    for response in (
        answer("eg-early", 0),
        answer("eg-at", 5),
        answer("eg-late", 9),
        answer("ma-late", 9, order_key=morocco),
        answer("nowhere", 9, order_key=None),
    ):
        storage.nps.add_response(response)
    since = T0 + 5 * MINUTE

    egypt = storage.nps.responses(store="shemsi-egypt", since=since)

    assert response_ids(egypt) == ["eg-at", "eg-late"]
    assert response_ids(storage.nps.responses(store="shemsiworld")) == ["ma-late"]
    assert response_ids(storage.nps.responses(since=since)) == [
        "eg-at",
        "eg-late",
        "ma-late",
        "nowhere",
    ]
    assert storage.nps.responses(store="shemsi-lebanon") == []


def test_unmatched_answers_are_those_naming_no_order(storage: Storage) -> None:
    for response in (
        answer("matched", 0),
        answer("lost-1", 1, order_key=None),
        answer("lost-2", 3, order_key=None),
        answer("lost-old", -5, order_key=None),
    ):
        storage.nps.add_response(response)

    unmatched = storage.nps.responses(unmatched=True)

    assert response_ids(unmatched) == ["lost-old", "lost-1", "lost-2"]
    assert response_ids(storage.nps.responses(unmatched=True, since=T0)) == [
        "lost-1",
        "lost-2",
    ]
    assert storage.nps.responses(unmatched=True, store="shemsi-egypt") == []


# --- the feedback loop: discount codes ---------------------------------------


def discount(code: str, day: int = 0, **changes: Any) -> DiscountCode:
    """A 15 % code for an Egyptian order's answer, starting *day* days
    after T0 and valid for thirty."""
    starts = T0 + timedelta(days=day)
    return DiscountCode(
        code=code,
        order_key=changes.pop("order_key", EGYPT_7),
        response_id=changes.pop("response_id", f"r-{code}"),
        category=NpsCategory.PROMOTER,
        kind=DiscountKind.PERCENTAGE,
        value=Decimal("15"),
        worth=Decimal("68.85"),
        currency="EGP",
        starts_at=starts,
        ends_at=starts + timedelta(days=30),
        **changes,
    )


def test_a_discount_code_is_kept_once(storage: Storage) -> None:
    first = discount("MERCI-ABCDEFGHJK", store_id="gid://shopify/DiscountCodeNode/1")

    created = storage.nps.add_discount(first)
    again = storage.nps.add_discount(attrs.evolve(first, value=Decimal("50")))

    assert (created, again) == (True, False)
    assert storage.nps.discounts() == [first]


def test_every_field_of_a_discount_code_survives_the_store(storage: Storage) -> None:
    amount = attrs.evolve(
        discount("MERCI-2345678923"),
        kind=DiscountKind.AMOUNT,
        value=Decimal("50.00"),
        worth=Decimal("50.00"),
        currency="MAD",
        order_key=OrderKey("shopify", "shemsiworld", "5551234567890"),
        category=NpsCategory.DETRACTOR,
    )

    storage.nps.add_discount(amount)

    (read,) = storage.nps.discounts()
    assert read == amount
    assert (str(read.value), str(read.worth)) == ("50.00", "50.00")
    assert isinstance(read.value, Decimal)
    assert (read.store, read.store_id) == ("shemsiworld", None)
    assert read.ends_at.utcoffset() == timedelta(0)


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=discount_codes())
def test_any_discount_code_survives_the_store(
    storage: Storage, drawn: DiscountCode
) -> None:
    kept = attrs.evolve(drawn, code=f"{drawn.code}-{next(SERIAL)}")

    assert storage.nps.add_discount(kept)

    assert kept in storage.nps.discounts(store=kept.store, since=kept.starts_at)


def test_discount_codes_are_found_by_store_and_start_oldest_first(
    storage: Storage,
) -> None:
    morocco = OrderKey("shopify", "shemsiworld", "1")
    for code in (
        discount("EG-LATE", 3),
        discount("EG-B", 1),
        discount("EG-A", 1),
        discount("EG-OLD", -2),
        discount("MA-1", 2, order_key=morocco),
    ):
        storage.nps.add_discount(code)
    since = T0 + timedelta(days=1)

    egypt = storage.nps.discounts(store="shemsi-egypt", since=since)

    assert [d.code for d in egypt] == ["EG-A", "EG-B", "EG-LATE"]
    assert [d.code for d in storage.nps.discounts(store="shemsiworld")] == ["MA-1"]
    assert [d.code for d in storage.nps.discounts(since=since)] == [
        "EG-A",
        "EG-B",
        "MA-1",
        "EG-LATE",
    ]
    assert storage.nps.discounts(store="shemsi-lebanon") == []


# --- the feedback loop: who was asked when -----------------------------------


def test_a_contact_never_surveyed_has_no_time(storage: Storage) -> None:
    assert storage.nps.last_surveyed("+201001234567") is None


def test_mark_surveyed_keeps_the_latest_time_per_contact(storage: Storage) -> None:
    phone, email = "+201001234567", "fatima@example.com"
    storage.nps.mark_surveyed([phone, email], T0)
    storage.nps.mark_surveyed([phone], T0 + timedelta(days=100))
    storage.nps.mark_surveyed([phone, email], T0 - timedelta(days=3))

    assert storage.nps.last_surveyed(phone) == T0 + timedelta(days=100)
    assert storage.nps.last_surveyed(email) == T0
    assert storage.nps.last_surveyed("other@example.com") is None


def test_mark_surveyed_is_seen_by_another_handle_in_utc(backend: Backend) -> None:
    one, other = backend.open(), backend.open()
    cairo = timezone(timedelta(hours=2))

    one.nps.mark_surveyed(["+201001234567"], datetime(2026, 11, 2, 12, tzinfo=cairo))
    one.nps.mark_surveyed([], T0)

    seen = other.nps.last_surveyed("+201001234567")
    assert seen == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert seen is not None
    assert seen.utcoffset() == timedelta(0)


# --- reference rates ---------------------------------------------------------

DAY = date(2026, 11, 2)
FETCHED = datetime(2026, 11, 2, 16, 5, tzinfo=UTC)


def rate(
    day: int | date = 0,
    quote: str = "MAD",
    value: str = "10.0125",
    *,
    source: str = "openexchangerates",
    base: str = "USD",
    **changes: Any,
) -> FxRate:
    """*source*'s rate of one *base* in *quote*, *day* days after DAY."""
    on = day if isinstance(day, date) else DAY + timedelta(days=day)
    fetched = changes.pop("fetched_at", FETCHED)
    return FxRate(on, base, quote, Decimal(value), source, fetched, **changes)


def test_each_rate_is_kept_once_and_add_counts_the_new_ones(
    storage: Storage,
) -> None:
    month = [rate(d, q) for d in range(3) for q in ("MAD", "EGP")]

    first = storage.rates.add(month)
    again = storage.rates.add([*month, rate(3, "MAD")])

    assert (first, again) == (6, 1)
    assert storage.rates.history() == sorted(
        [*month, rate(3, "MAD")], key=lambda r: (r.day, r.quote)
    )


def test_the_first_rate_of_a_key_is_kept(storage: Storage) -> None:
    original = rate(0, value="10.0125")
    storage.rates.add([original])
    revised = rate(0, value="10.5", fetched_at=FETCHED + timedelta(days=1))
    twins = [rate(1, value="10.1"), rate(1, value="10.2"), rate(1, value="10.3")]

    added = [storage.rates.add([revised]), storage.rates.add(twins)]

    assert added == [0, 1]
    assert storage.rates.history() == [original, twins[0]]


def test_adding_nothing_adds_nothing(storage: Storage) -> None:
    assert storage.rates.add([]) == 0
    assert storage.rates.add(rate(d) for d in range(2)) == 2
    assert storage.rates.history() == [rate(0), rate(1)]


def test_latest_is_the_newest_rate_on_or_before_the_day(storage: Storage) -> None:
    storage.rates.add(
        [
            rate(0, value="10.01"),
            rate(2, value="10.02"),
            rate(5, value="10.05"),
            rate(3, "EGP", value="48.5"),
            rate(3, source="ecb", base="EUR", value="10.9"),
            rate(3, base="EUR", value="11.0"),
            rate(3, value="10.3", rate_type=RateType.MARKET),
        ]
    )

    def latest(day: int) -> FxRate | None:
        on = DAY + timedelta(days=day)
        return storage.rates.latest(
            "openexchangerates", "USD", "MAD", RateType.OFFICIAL, on
        )

    assert latest(3) == rate(2, value="10.02")
    assert latest(2) == rate(2, value="10.02")
    assert latest(30) == rate(5, value="10.05")
    assert latest(0) == rate(0, value="10.01")
    assert latest(-1) is None
    assert storage.rates.latest("ecb", "USD", "MAD", RateType.OFFICIAL, DAY) is None


def test_market_and_official_rates_are_kept_apart(storage: Storage) -> None:
    official = rate(0, "LBP", "89500", source="bdl")
    market = rate(0, "LBP", "89700", source="bdl", rate_type=RateType.MARKET)

    added = storage.rates.add([official, market])

    assert added == 2
    assert storage.rates.latest("bdl", "USD", "LBP", RateType.OFFICIAL, DAY) == official
    assert storage.rates.latest("bdl", "USD", "LBP", RateType.MARKET, DAY) == market
    assert storage.rates.history(rate_type=RateType.MARKET) == [market]
    assert storage.rates.history(rate_type=RateType.OFFICIAL) == [official]


def test_a_carried_rate_keeps_the_day_it_repeats(storage: Storage) -> None:
    friday = rate(date(2026, 11, 6), "EGP", "48.6532")
    monday = rate(date(2026, 11, 9), "EGP", "48.7101")
    weekend = carry_forward(
        [friday, monday], friday.day, monday.day, None, FETCHED + timedelta(days=3)
    )

    storage.rates.add([friday, *weekend, monday])

    saturday, sunday = storage.rates.history(
        start=date(2026, 11, 7), end=date(2026, 11, 8)
    )
    assert [saturday, sunday] == weekend
    assert (saturday.published_on, sunday.published_on) == (friday.day, friday.day)
    assert saturday.carried
    assert saturday.fetched_at == FETCHED + timedelta(days=3)
    sunday_rate = storage.rates.latest(
        "openexchangerates", "USD", "EGP", RateType.OFFICIAL, date(2026, 11, 8)
    )
    assert sunday_rate == sunday
    assert not storage.rates.history(start=monday.day)[0].carried


def test_every_field_of_a_rate_survives_the_store(backend: Backend) -> None:
    one, other = backend.open(), backend.open()
    kept = FxRate(
        day=date(2026, 12, 4),
        base="USD",
        quote="XAU",
        rate=Decimal("0.000384500"),
        source="metalpriceapi",
        fetched_at=datetime(2026, 12, 4, 23, 59, 59, 999000, tzinfo=UTC),
        rate_type=RateType.MARKET,
        published_on=date(2026, 12, 3),
    )

    one.rates.add([kept])

    (read,) = other.rates.history()
    assert read == kept
    assert str(read.rate) == "0.000384500"
    assert read.fetched_at.utcoffset() == timedelta(0)
    assert (read.day, read.published_on) == (kept.day, kept.published_on)


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=fx_rates())
def test_any_rate_survives_the_store(storage: Storage, drawn: FxRate) -> None:
    # One store serves every example: each gets a source of its own.
    kept = attrs.evolve(drawn, source=f"{drawn.source}-{next(SERIAL)}")

    assert storage.rates.add([kept]) == 1

    assert storage.rates.history(source=kept.source) == [kept]
    assert (
        storage.rates.latest(
            kept.source, kept.base, kept.quote, kept.rate_type, kept.day
        )
        == kept
    )


def test_history_comes_by_day_then_source_base_quote_and_type(
    storage: Storage,
) -> None:
    market = RateType.MARKET
    rates = [
        rate(1, "MAD"),
        rate(0, "MAD", source="ecb", base="EUR"),
        rate(0, "EGP"),
        rate(0, "MAD", rate_type=market),
        rate(0, "MAD"),
        rate(0, "AED", base="EUR"),
    ]
    storage.rates.add(rates)

    found = storage.rates.history()

    assert [(r.day - DAY, r.source, r.base, r.quote, r.rate_type) for r in found] == [
        (timedelta(0), "ecb", "EUR", "MAD", RateType.OFFICIAL),
        (timedelta(0), "openexchangerates", "EUR", "AED", RateType.OFFICIAL),
        (timedelta(0), "openexchangerates", "USD", "EGP", RateType.OFFICIAL),
        (timedelta(0), "openexchangerates", "USD", "MAD", market),
        (timedelta(0), "openexchangerates", "USD", "MAD", RateType.OFFICIAL),
        (timedelta(1), "openexchangerates", "USD", "MAD", RateType.OFFICIAL),
    ]


def test_history_filters_by_currency_source_type_and_days(storage: Storage) -> None:
    market = RateType.MARKET
    storage.rates.add(
        [rate(d, q) for d in range(-2, 5) for q in ("MAD", "EGP")]
        + [rate(d, "MAD", source="ecb", base="EUR") for d in range(3)]
        + [rate(d, "MAD", rate_type=market) for d in range(2)]
    )

    def days(found: list[FxRate]) -> list[tuple[int, str, str]]:
        return [((r.day - DAY).days, r.source, r.rate_type.value) for r in found]

    mad = storage.rates.history(quote="MAD", start=DAY, end=DAY + timedelta(days=1))
    assert days(mad) == [
        (0, "ecb", "official"),
        (0, "openexchangerates", "market"),
        (0, "openexchangerates", "official"),
        (1, "ecb", "official"),
        (1, "openexchangerates", "market"),
        (1, "openexchangerates", "official"),
    ]
    ecb = storage.rates.history(source="ecb", end=DAY + timedelta(days=1))
    assert days(ecb) == [(0, "ecb", "official"), (1, "ecb", "official")]
    one_series = storage.rates.history(
        quote="MAD", source="openexchangerates", rate_type=RateType.OFFICIAL
    )
    assert [(r.day - DAY).days for r in one_series] == [-2, -1, 0, 1, 2, 3, 4]
    assert len(storage.rates.history(start=DAY + timedelta(days=3))) == 4
    assert len(storage.rates.history(end=DAY - timedelta(days=2))) == 2
    assert storage.rates.history(quote="AED") == []
    assert storage.rates.history(start=DAY + timedelta(days=5)) == []
