"""Flextock, the Egyptian fulfilment partner, as a ``DeliveryPartner``.

Booking an order is three steps: log in (once, token kept), make sure every
SKU of the order exists at Flextock (``create-products``, idempotent, known
SKUs remembered), then ``create-order`` keyed on the merchant reference as
``order_code``.  Because Flextock keys on that code, two safety nets keep an
order from becoming two parcels:

- an order Flextock already has is answered as a duplicate; the adapter
  turns that answer into the existing booking by asking ``order-status``;
- create-order is never repeated blind after a lost answer (it is sent as a
  non-idempotent call), but one ``order-status`` lookup settles the usual
  case where Flextock did create it.  When the lookup finds nothing or fails,
  the original ``OutcomeUnknown`` is raised and the booking worker asks
  again before its next attempt.

Tracking asks order-status for many order codes at once; Flextock reports
only each order's current status, so every call gives one event per order,
stamped with the poll time when Flextock gives none.  A status that has not
changed therefore comes back on every poll with the same code and a later
time: the tracking worker must read such a repeat as no news.

Cancelling is safe to repeat: asking twice cannot cancel two parcels and a
repeat is answered "already cancelled", so a cancel whose answer was lost is
retried like a read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from fulfilment.adapters.pl3._bearer import AccessToken, BearerSession
from fulfilment.adapters.pl3._booking import (
    authorised,
    existing_booking,
    rejected,
    settle_unknown,
)
from fulfilment.adapters.pl3._reply import Reply
from fulfilment.adapters.pl3._tracking import chunked, distinct, merge
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.domain import Booking, LineItem
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerError,
    PermanentPartnerError,
)
from fulfilment.core.ports import BookingRequest, Capabilities, Clock, TrackingBatch

from . import wire
from .client import FlextockClient
from .settings import FlextockSettings

__all__ = ["CAPABILITIES", "FlextockDeliveryPartner"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_VALIDATION = frozenset({400, 422})
_NOT_FOUND = 404
# A cancel of an order Flextock does not know is refused like a late one.
_CANCEL_REFUSED = _VALIDATION | {_NOT_FOUND}


# What Flextock can do; an account narrows the currencies (orders go in the
# account's currency, ``order_currency``) and the tracking batch.
CAPABILITIES = Capabilities(
    cash_on_delivery=True,
    cod_currencies=frozenset({"EGP"}),
    countries=frozenset({"EG"}),
    lookup_by_reference=True,
    cancel=True,
    batch_tracking=True,
    max_tracking_batch=50,
    currencies=frozenset({"EGP"}),
)


class FlextockDeliveryPartner:
    """Books Egyptian orders with Flextock, finds them by merchant reference,
    tracks them in batches and cancels them.  Cash on delivery in the
    configured currencies (EGP)."""

    name = wire.PARTNER

    def __init__(
        self,
        settings: FlextockSettings,
        client: FlextockClient,
        retry: RetryPolicy,
        clock: Clock,
    ) -> None:
        self.capabilities = attrs.evolve(
            CAPABILITIES,
            cod_currencies=settings.cod_currencies,
            currencies=settings.cod_currencies,
            max_tracking_batch=settings.max_tracking_batch,
        )
        self._settings = settings
        self._client = client
        self._retry = retry
        self._clock = clock
        self._session = BearerSession(self._login, clock, partner=self.name)
        self._known_skus: set[str] = set()

    def book(self, request: BookingRequest) -> Booking:
        self._ensure_products(request.order.lines)
        body = wire.order_body(request.reference, request.order, self._settings)
        try:
            reply = self._call(
                lambda token: self._client.create_order(token, body),
                idempotent=False,
                what="flextock.create_order",
            )
        except OutcomeUnknown as unknown:
            return settle_unknown(
                self.name, self.find_booking, request.reference, unknown
            )
        if reply.ok and isinstance(reply.body, Mapping):
            log.info("flextock.booked reference=%s", request.reference)
            return wire.booking_for(request.reference)
        if reply.ok:
            # Flextock answers a created order with a JSON message.  A 200
            # without one (a proxy's login page, a body cut off, nothing)
            # may not come from Flextock at all: ask for the order instead
            # of taking it as booked.
            unknown = OutcomeUnknown(
                f"create-order answered {reply.status} without Flextock's JSON "
                f"({reply.text[:80]!r})",
                partner=self.name,
                status=reply.status,
            )
            return settle_unknown(
                self.name, self.find_booking, request.reference, unknown
            )
        return self._existing_or_refuse(request.reference, reply)

    def find_booking(self, reference: str) -> Booking | None:
        reply = self._call(
            lambda token: self._client.order_status(token, wire.status_body(reference)),
            idempotent=True,
            what="flextock.order_status",
        )
        if reply.status == _NOT_FOUND:
            return None
        if not reply.ok:
            raise _refusal(reply, "order-status")
        return wire.booking_from_status(reply.body, reference)

    def track(self, references: Sequence[str]) -> TrackingBatch:
        """The current status of each order code in *references* as one
        event, ``max_tracking_batch`` codes a call; codes Flextock does not
        know come back in ``missing``.  Raises ``PermanentPartnerError`` for
        an answer outside the contract."""
        codes = distinct(references)
        chunks = chunked(codes, self._settings.max_tracking_batch)
        return merge(self._track_chunk(chunk) for chunk in chunks)

    def cancel(self, reference: str) -> bool:
        """Ask Flextock to cancel the outbound order *reference*.  True when
        it is cancelled, being cancelled, or already was; False for a
        success answer that says none of these.  Raises ``PartnerRejected``
        with Flextock's words when it refuses (a driver has the parcel, or
        the code is unknown)."""
        body = wire.cancel_body(reference)
        reply = self._call(
            lambda token: self._client.cancel_order(token, body),
            idempotent=True,
            what="flextock.cancel_order",
        )
        if wire.cancel_accepted(reply.body, ok=reply.ok):
            log.info("flextock.cancelled reference=%s", reference)
            return True
        if reply.ok:
            log.warning("flextock.cancel_unclear reference=%s", reference)
            return False
        raise _refusal(reply, "cancel-order", rejected_statuses=_CANCEL_REFUSED)

    # --- steps -----------------------------------------------------------

    def _ensure_products(self, lines: Iterable[LineItem]) -> None:
        missing = [
            product
            for product in wire.products_for(lines)
            if product["sku_code"] not in self._known_skus
        ]
        for start in range(0, len(missing), wire.PRODUCTS_PER_CALL):
            self._create_products(missing[start : start + wire.PRODUCTS_PER_CALL])

    def _create_products(self, products: list[dict[str, Any]]) -> None:
        reply = self._call(
            lambda token: self._client.create_products(token, {"products": products}),
            idempotent=True,
            what="flextock.create_products",
        )
        if not reply.ok:
            raise _refusal(reply, "create-products")
        known, problems = wire.product_problems(reply.body)
        self._known_skus.update(known)
        if problems:
            raise rejected(wire.PARTNER, problems, reply.status)

    def _track_chunk(self, codes: Sequence[str]) -> TrackingBatch:
        polled_at = self._clock.now()
        body = wire.status_array_body(codes)
        reply = self._call(
            lambda token: self._client.order_status(token, body),
            idempotent=True,
            what="flextock.order_status",
        )
        if reply.status == _NOT_FOUND:
            return TrackingBatch({}, frozenset(codes))
        if not reply.ok:
            raise _refusal(reply, "order-status", rejected_statuses=frozenset())
        return wire.tracking_batch(reply.body, codes, polled_at)

    def _existing_or_refuse(self, reference: str, reply: Reply) -> Booking:
        problems = wire.problems_of(reply.body)
        if reply.status not in _VALIDATION or not wire.is_duplicate_order(problems):
            raise _refusal(reply, "create-order")
        return existing_booking(
            self.name, self.find_booking, reference, problems, reply.status
        )

    # --- plumbing --------------------------------------------------------

    def _call(self, operation: Callable[[str], T], *, idempotent: bool, what: str) -> T:
        return authorised(
            self._retry, self._session, operation, idempotent=idempotent, what=what
        )

    def _login(self) -> AccessToken:
        body = self._client.login(wire.auth_body(self._settings))
        try:
            return wire.token_of(body)
        except ValueError as error:
            raise PermanentPartnerError(str(error), partner=self.name) from error


def _refusal(
    reply: Reply, operation: str, rejected_statuses: frozenset[int] = _VALIDATION
) -> PartnerError:
    """An answer with one of *rejected_statuses* (validation, by default)
    becomes PartnerRejected; any other status means the adapter and Flextock
    disagree on the contract."""
    if reply.status in rejected_statuses:
        problems = wire.problems_of(reply.body) or (("message", reply.text),)
        return rejected(wire.PARTNER, problems, reply.status)
    return PermanentPartnerError(
        f"unexpected answer to {operation}: {reply.text}",
        partner=wire.PARTNER,
        status=reply.status,
    )
