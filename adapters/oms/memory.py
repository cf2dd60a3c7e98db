"""An in-memory order source: the twin of the Shopify adapter.

It behaves like a live shop read through a cursor: orders sorted by update
time, a page token that remembers the position ``(updated_at, id)`` of the
last order handed out, so an order changed while pages are being read moves
behind the position and is seen again on a later page, as with the real
API.  Tests drive it with ``put`` (create or edit) and can make the next
page fail.

It is also the twin of the Shopify store's fulfilments
(:class:`~fulfilment.core.ports.StoreFulfilments`): a report is kept per
order and refused like Shopify refuses it (an order the shop does not
have, a cancelled one, one already fulfilled under another tracking
number), and a report of a tracking number the order already carries
hands back the record it has.  ``fail_next_reports`` and
``fail_next_lookups`` make the next calls fail; :data:`LOST_REPLY` records
the report, then raises ``OutcomeUnknown``, the worst case for a caller.

And it is the twin of the store's discount codes
(:class:`~fulfilment.core.ports.StoreDiscounts`): codes are unique in the
shop without regard to case, and a request is refused like Shopify refuses
it (no code, a share outside 0 to 100 %, an amount of nothing, an end not
after the start, a customer no order of the shop names), a code the shop
holds already raising ``DiscountCodeTaken``.  ``plant_discount`` puts in a
code as someone in the shop's admin would; ``fail_next_discounts`` and
``fail_next_discount_lookups`` make the next calls fail, with
:data:`LOST_REPLY` creating the code before ``OutcomeUnknown`` is raised.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import Iterable
from datetime import datetime

import attrs

from fulfilment.core.domain import Order
from fulfilment.core.errors import (
    DiscountCodeTaken,
    OutcomeUnknown,
    PartnerError,
    PartnerRejected,
)
from fulfilment.core.nps import DiscountKind
from fulfilment.core.ports import (
    DiscountRequest,
    ExistingDiscount,
    OrderPage,
    ShipmentReport,
    SourceWindow,
)

__all__ = ["LOST_REPLY", "MemoryOrderSource", "StoreDiscount", "StoreFulfilment"]

LOST_REPLY = "lost_reply"
"""A queued report failure that records the report, then raises
``OutcomeUnknown``."""

Failure = PartnerError | str
# A discount failure may also be any error at all: an answer no adapter
# could read, for the caller's last line of defence.
DiscountFailure = Exception | str


@attrs.frozen
class StoreFulfilment:
    """One shipment report as the twin's store keeps it."""

    id: str
    report: ShipmentReport


@attrs.frozen
class StoreDiscount:
    """One discount code as the twin's store keeps it."""

    id: str
    request: DiscountRequest


class MemoryOrderSource:
    def __init__(self, store: str, *, channel: str = "shopify", page_size: int = 50):
        self.channel = channel
        self.store = store
        self.page_size = page_size
        self.orders: dict[str, Order] = {}
        self.history: dict[str, list[Order]] = {}
        self.pages_served = 0
        self._failures: deque[PartnerError] = deque()
        self._duplicates: deque[int] = deque()
        self._replays = 0
        self.fulfilments: dict[str, list[StoreFulfilment]] = {}
        self.report_calls = 0
        self.lookup_calls = 0
        self._report_failures: deque[Failure] = deque()
        self._lookup_failures: deque[PartnerError] = deque()
        self._fulfilment_ids = itertools.count(1)
        self.discounts: dict[str, StoreDiscount] = {}  # by case-folded code
        self.discount_calls = 0
        self.discount_lookups = 0
        self._discount_failures: deque[DiscountFailure] = deque()
        self._discount_lookup_failures: deque[PartnerError] = deque()
        self._discount_ids = itertools.count(1)

    def put(self, order: Order) -> None:
        """Create or replace an order, as the shop would after an edit."""
        self.orders[order.key.external_id] = order
        self.history.setdefault(order.key.external_id, []).append(order)

    def fail_next(self, *errors: PartnerError) -> None:
        self._failures.extend(errors)

    def repeat_last_of_next_pages(self, *counts: int) -> None:
        """Make the next pages also carry again the last *count* orders of
        the page before: the at-least-once delivery a real API can show."""
        self._duplicates.extend(counts)

    def replay_old_versions(self, count: int) -> None:
        """Make the next read start with a page of the first versions of up
        to *count* orders that changed since: a late retry of an old
        delivery."""
        self._replays += count

    def fetch_changed_orders(
        self, window: SourceWindow, page: str | None = None
    ) -> OrderPage:
        if self._failures:
            raise self._failures.popleft()
        self.pages_served += 1
        if self._replays and page is None:
            # The stale copies come on a page of their own, ahead of the
            # real first page, so no fresher copy sits beside them.
            return OrderPage(tuple(self._old_versions()), _encode(_START))
        after = _decode(page) if page else None
        matching = sorted(
            (o for o in self.orders.values() if _inside(o, window)), key=_position
        )
        if after is not None:
            matching = [o for o in matching if _position(o) > after]
        chunk = matching[: self.page_size]
        repeat = self._duplicates.popleft() if self._duplicates else 0
        if repeat and after is not None:
            chunk = self._repeated(after, repeat) + chunk
        more = len(matching) > self.page_size
        last = matching[: self.page_size][-1:] if more else []
        token = _encode(_position(last[0])) if last else None
        return OrderPage(tuple(chunk), token)

    # --- shipment reports (StoreFulfilments) ------------------------------------

    def fail_next_reports(self, *failures: Failure) -> None:
        """Queue failures for the next reports: an exception is raised before
        anything is recorded; :data:`LOST_REPLY` records, then raises
        ``OutcomeUnknown``."""
        self._report_failures.extend(failures)

    def fail_next_lookups(self, *errors: PartnerError) -> None:
        self._lookup_failures.extend(errors)

    def report_shipment(self, order: Order, report: ShipmentReport) -> str:
        self.report_calls += 1
        failure = self._report_failures.popleft() if self._report_failures else None
        if isinstance(failure, PartnerError):
            raise failure
        record = self._record(order, report)
        if failure == LOST_REPLY:
            raise OutcomeUnknown("reply lost after recording", partner=self.channel)
        return record.id

    def find_shipment_report(self, order: Order, tracking_number: str) -> str | None:
        self.lookup_calls += 1
        if self._lookup_failures:
            raise self._lookup_failures.popleft()
        found = _carrying(
            self.fulfilments.get(order.key.external_id, ()), tracking_number
        )
        return found.id if found else None

    def _record(self, order: Order, report: ShipmentReport) -> StoreFulfilment:
        shop_copy = self.orders.get(order.key.external_id)
        if shop_copy is None:
            raise PartnerRejected(
                f"the store has no order {order.key.external_id}", partner=self.channel
            )
        records = self.fulfilments.setdefault(order.key.external_id, [])
        earlier = _carrying(records, report.tracking_number)
        if earlier is not None:
            return earlier
        if shop_copy.is_cancelled or records:
            state = "cancelled" if shop_copy.is_cancelled else "already fulfilled"
            raise PartnerRejected(
                f"order {shop_copy.name} is {state}: nothing left to fulfil",
                partner=self.channel,
            )
        record = StoreFulfilment(f"F{next(self._fulfilment_ids):06d}", report)
        records.append(record)
        return record

    # --- discount codes (StoreDiscounts) ---------------------------------------

    def fail_next_discounts(self, *failures: DiscountFailure) -> None:
        """Queue failures for the next creations: an exception (any, not
        only a partner's) is raised before anything is created;
        :data:`LOST_REPLY` creates the code, then raises ``OutcomeUnknown``."""
        self._discount_failures.extend(failures)

    def pending_discount_failures(self) -> tuple[DiscountFailure, ...]:
        """The queued creation failures no call has met yet."""
        return tuple(self._discount_failures)

    def fail_next_discount_lookups(self, *errors: PartnerError) -> None:
        self._discount_lookup_failures.extend(errors)

    def plant_discount(self, request: DiscountRequest) -> StoreDiscount:
        """Put a code in the shop as its staff would, bypassing failures
        and checks (someone else's code, for a clash)."""
        made = StoreDiscount(f"D{next(self._discount_ids):06d}", request)
        self.discounts[request.code.casefold()] = made
        return made

    def create_discount(self, request: DiscountRequest) -> str:
        self.discount_calls += 1
        failure = self._discount_failures.popleft() if self._discount_failures else None
        if isinstance(failure, Exception):
            raise failure
        self._check_discount(request)
        made = self.plant_discount(request)
        if failure == LOST_REPLY:
            raise OutcomeUnknown("reply lost after creating", partner=self.channel)
        return made.id

    def find_discount(self, code: str) -> ExistingDiscount | None:
        self.discount_lookups += 1
        if self._discount_lookup_failures:
            raise self._discount_lookup_failures.popleft()
        found = self.discounts.get(code.casefold())
        if found is None:
            return None
        made = found.request
        return ExistingDiscount(found.id, made.title, made.starts_at, made.ends_at)

    def _check_discount(self, request: DiscountRequest) -> None:
        problems = _discount_problems(request, self._customers())
        taken = bool(request.code.strip()) and request.code.casefold() in self.discounts
        if taken:
            problems = (*problems, (TAKEN_FIELD, TAKEN_WORDS))
        if not problems:
            return
        kind = DiscountCodeTaken if taken else PartnerRejected
        raise kind(
            "; ".join(f"{field}: {words}" for field, words in problems),
            partner=self.channel,
            problems=problems,
            code="TAKEN" if taken else None,
        )

    def _customers(self) -> set[str]:
        return {
            _tail(order.customer.external_id)
            for order in self.orders.values()
            if order.customer and order.customer.external_id
        }

    def _old_versions(self) -> list[Order]:
        changed = [v[0] for v in self.history.values() if len(v) > 1]
        replayed, self._replays = changed[: self._replays], 0
        return replayed

    def _repeated(self, after: tuple[float, str], count: int) -> list[Order]:
        earlier = sorted(
            (o for o in self.orders.values() if _position(o) <= after), key=_position
        )
        return earlier[-count:]


_START = (-1.0e18, "")
TAKEN_FIELD = "basicCodeDiscount.code"
TAKEN_WORDS = "Code must be unique. Please try a different code."


def _discount_problems(
    request: DiscountRequest, customers: set[str]
) -> tuple[tuple[str, str], ...]:
    """What Shopify would refuse in *request*, as (field path, words)."""
    value = request.value
    checks = (
        (not request.code.strip(), "code", "Code can't be blank."),
        (not request.title.strip(), "title", "Title can't be blank."),
        (
            request.kind is DiscountKind.PERCENTAGE and not 0 < value <= 100,
            "customerGets.value.percentage",
            "Value must be between 0.0 and 1.0",
        ),
        (
            request.kind is DiscountKind.AMOUNT and value <= 0,
            "customerGets.value.discountAmount.amount",
            "Value must be greater than 0",
        ),
        (
            request.ends_at <= request.starts_at,
            "endsAt",
            "Ends at needs to be after starts_at",
        ),
        (
            request.customer_id is not None
            and _tail(request.customer_id) not in customers,
            "customerSelection.customers.add",
            "Customer does not exist.",
        ),
    )
    return tuple(
        (f"basicCodeDiscount.{field}", words) for bad, field, words in checks if bad
    )


def _tail(identifier: str) -> str:
    """A customer's number, from a GID or the number itself."""
    return identifier.strip().rsplit("/", 1)[-1]


def _carrying(
    records: Iterable[StoreFulfilment], tracking_number: str
) -> StoreFulfilment | None:
    return next(
        (r for r in records if r.report.tracking_number == tracking_number), None
    )


def _inside(order: Order, window: SourceWindow) -> bool:
    updated = order.source_updated_at
    since_ok = window.since is None or updated >= window.since
    return since_ok and updated < window.until


def _position(order: Order) -> tuple[float, str]:
    return (order.source_updated_at.timestamp(), order.key.external_id.zfill(20))


def _encode(position: tuple[float, str]) -> str:
    return json.dumps(list(position))


def _decode(token: str) -> tuple[float, str]:
    first, second = json.loads(token)
    return (float(first), str(second))


def touched(order: Order, at: datetime, **changes: object) -> Order:
    """*order* as the shop would return it after a change at *at*."""
    return attrs.evolve(order, source_updated_at=at, **changes)  # type: ignore[arg-type]
