"""Farfill, the Dubai fulfilment partner, as a ``DeliveryPartner``.

The wire shape is modelled (see :mod:`.wire`); the behaviour is the one the
connector needs from any partner that keys on our merchant reference:

- an OAuth2 token, kept until shortly before it expires and renewed once
  when a call is answered 401;
- create-order sent once (non-idempotent); a ``partner_order_id`` Farfill
  already has comes back as 409 and is turned into the existing booking by
  a lookup, never into a second parcel;
- after a lost answer, one lookup settles whether the order exists; when it
  does not (or the lookup fails) the ``OutcomeUnknown`` is raised for the
  booking worker, which asks again before its next attempt.

Tracking reads each order's history, one order a call (the model has no
batch lookup by Farfill id); cancelling sets the order's state to
``cancelled``, which is safe to repeat and so retried like a read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import attrs

from fulfilment.adapters.pl3._bearer import AccessToken, BearerSession
from fulfilment.adapters.pl3._booking import (
    authorised,
    existing_booking,
    rejected,
    settle_unknown,
)
from fulfilment.adapters.pl3._reply import Reply
from fulfilment.adapters.pl3._tracking import distinct, merge
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.domain import Booking
from fulfilment.core.errors import OutcomeUnknown, PartnerError, PermanentPartnerError
from fulfilment.core.ports import BookingRequest, Capabilities, Clock, TrackingBatch

from . import wire
from .client import FarfillClient
from .settings import FarfillSettings

__all__ = ["CAPABILITIES", "FarfillDeliveryPartner"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_VALIDATION = frozenset({400, 409, 422})
_NOT_FOUND = 404
# A cancel of an order Farfill does not know is refused like a late one.
_CANCEL_REFUSED = _VALIDATION | {_NOT_FOUND}


# What Farfill can do; an account narrows the currencies (Farfill refuses
# an order in any other currency than the account's).
CAPABILITIES = Capabilities(
    cash_on_delivery=True,
    cod_currencies=frozenset({"AED"}),
    countries=frozenset({"AE"}),
    lookup_by_reference=True,
    cancel=True,
    batch_tracking=False,
    max_tracking_batch=1,
    currencies=frozenset({"AED"}),
)


class FarfillDeliveryPartner:
    """Books UAE orders with Farfill, finds them by merchant reference,
    tracks them by Farfill id and cancels them until a courier collects
    them.  Cash on delivery in the configured currencies (AED)."""

    name = wire.PARTNER

    def __init__(
        self,
        settings: FarfillSettings,
        client: FarfillClient,
        retry: RetryPolicy,
        clock: Clock,
    ) -> None:
        self.capabilities = attrs.evolve(
            CAPABILITIES,
            cod_currencies=settings.cod_currencies,
            currencies=settings.cod_currencies,
        )
        self._settings = settings
        self._client = client
        self._retry = retry
        self._clock = clock
        self._session = BearerSession(self._token, clock, partner=self.name)

    def book(self, request: BookingRequest) -> Booking:
        body = wire.order_body(request.reference, request.order, self._settings)
        try:
            reply = self._call(
                lambda token: self._client.create_order(token, body),
                idempotent=False,
                what="farfill.create_order",
            )
        except OutcomeUnknown as unknown:
            return settle_unknown(
                self.name, self.find_booking, request.reference, unknown
            )
        if reply.ok:
            return self._created(request.reference, reply)
        return self._existing_or_refuse(request.reference, reply)

    def find_booking(self, reference: str) -> Booking | None:
        reply = self._call(
            lambda token: self._client.find_orders(token, reference),
            idempotent=True,
            what="farfill.find_orders",
        )
        if not reply.ok:
            raise _refusal(reply, "order lookup")
        return wire.booking_from_list(reply.body, reference)

    def track(self, references: Sequence[str]) -> TrackingBatch:
        """The history of each Farfill order id in *references*, oldest
        first, one call per id; ids Farfill does not know come back in
        ``missing``.  Raises ``PermanentPartnerError`` for an answer outside
        the model."""
        return merge(self._track_one(order_id) for order_id in distinct(references))

    def cancel(self, reference: str) -> bool:
        """Set the Farfill order *reference* to ``cancelled``.  True when
        Farfill shows it cancelled (also when it already was), False for a
        success answer showing another state.  Raises ``PartnerRejected``
        with Farfill's words once a courier has collected it, or for an
        unknown id."""
        reply = self._call(
            lambda token: self._client.update_order(
                token, reference, wire.cancel_body()
            ),
            idempotent=True,
            what="farfill.cancel_order",
        )
        if not reply.ok:
            raise _refusal(reply, "cancel", rejected_statuses=_CANCEL_REFUSED)
        cancelled = wire.is_cancelled(reply.body)
        log.info("farfill.cancel reference=%s cancelled=%s", reference, cancelled)
        return cancelled

    # --- steps -----------------------------------------------------------

    def _track_one(self, order_id: str) -> TrackingBatch:
        polled_at = self._clock.now()
        reply = self._call(
            lambda token: self._client.get_order(token, order_id),
            idempotent=True,
            what="farfill.get_order",
        )
        if reply.status == _NOT_FOUND:
            return TrackingBatch({}, frozenset({order_id}))
        if not reply.ok:
            raise _refusal(reply, "order tracking", rejected_statuses=frozenset())
        try:
            events = wire.tracking_events(reply.body, polled_at)
        except ValueError as unreadable:
            raise PermanentPartnerError(
                f"order {order_id}: {unreadable}", partner=self.name
            ) from unreadable
        return TrackingBatch({order_id: events})

    def _created(self, reference: str, reply: Reply) -> Booking:
        try:
            booking = wire.booking_of(reply.body)
        except ValueError as unreadable:
            # Farfill took the order but we cannot read its id: ask for it.
            unknown = OutcomeUnknown(
                str(unreadable), partner=self.name, status=reply.status
            )
            return settle_unknown(self.name, self.find_booking, reference, unknown)
        log.info("farfill.booked reference=%s order=%s", reference, booking.reference)
        return booking

    def _existing_or_refuse(self, reference: str, reply: Reply) -> Booking:
        problems = wire.problems_of(reply.body)
        if not wire.is_duplicate_order(reply.status, problems):
            raise _refusal(reply, "create-order")
        return existing_booking(
            self.name, self.find_booking, reference, problems, reply.status
        )

    # --- plumbing --------------------------------------------------------

    def _call(self, operation: Callable[[str], T], *, idempotent: bool, what: str) -> T:
        return authorised(
            self._retry, self._session, operation, idempotent=idempotent, what=what
        )

    def _token(self) -> AccessToken:
        body = self._client.request_token(wire.token_form(self._settings))
        try:
            return wire.token_of(body, self._clock.now())
        except (ValueError, TypeError) as error:
            raise PermanentPartnerError(str(error), partner=self.name) from error


def _refusal(
    reply: Reply, operation: str, rejected_statuses: frozenset[int] = _VALIDATION
) -> PartnerError:
    """An answer with one of *rejected_statuses* (validation, by default)
    becomes PartnerRejected; any other status means the adapter and Farfill
    disagree on the contract."""
    if reply.status in rejected_statuses:
        problems = wire.problems_of(reply.body) or (("base", reply.text),)
        return rejected(wire.PARTNER, problems, reply.status)
    return PermanentPartnerError(
        f"unexpected answer to {operation}: {reply.text}",
        partner=wire.PARTNER,
        status=reply.status,
    )
