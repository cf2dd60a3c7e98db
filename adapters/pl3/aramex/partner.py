"""Aramex as a :class:`~fulfilment.core.ports.DeliveryPartner`."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs

from fulfilment.adapters.pl3._tracking import chunked, distinct, merge
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.domain import Booking
from fulfilment.core.ports import BookingRequest, Capabilities, Clock, TrackingBatch

from . import mapping
from .client import AramexClient
from .settings import AramexSettings

__all__ = ["CAPABILITIES", "AramexDeliveryPartner"]

log = logging.getLogger(__name__)


# What Aramex can do for any account; the account's country, its cash
# currencies and the tracking batch come from the settings.  Aramex takes a
# declared value in any currency, and a booking answer carries a label.
CAPABILITIES = Capabilities(
    cash_on_delivery=True,
    lookup_by_reference=False,
    cancel=False,
    batch_tracking=True,
    max_tracking_batch=50,
    label_documents=True,
)


class AramexDeliveryPartner:
    """Books parcels with Aramex's CreateShipments, one shipment per order,
    and tracks them by AWB with TrackShipments, in batches.

    Cash on delivery is collected in ``settings.cod_currencies`` and only
    inside the account's country.  Aramex cannot be asked about a merchant
    reference (see :meth:`find_booking`), so a booking is never repeated
    after an answer was lost: only failures that Aramex did not act on
    (connect errors, 429, 503) are retried.  Tracking is a read and is
    retried like one.  Aramex offers no shipment cancellation (see
    :meth:`cancel`).
    """

    name = mapping.PARTNER

    def __init__(
        self,
        client: AramexClient,
        settings: AramexSettings,
        *,
        retry: RetryPolicy,
        clock: Clock,
    ) -> None:
        self._client = client
        self._settings = settings
        self._retry = retry
        self._clock = clock
        self.capabilities = attrs.evolve(
            CAPABILITIES,
            cod_currencies=frozenset(settings.cod_currencies),
            countries=frozenset({settings.account_country_code}),
            max_tracking_batch=settings.max_tracking_batch,
        )

    def book(self, request: BookingRequest) -> Booking:
        """Create the shipment and return its AWB and label.  Raises
        ``PartnerRejected`` with Aramex's notifications, ``OutcomeUnknown``
        when the shipment may exist, ``PermanentPartnerError`` for account
        or contract errors."""
        payload = mapping.shipment_request(request, self._settings, self._clock.now())

        answer = self._retry.call(
            lambda: self._client.create_shipments(payload),
            idempotent=False,
            what="aramex.create_shipments",
        )

        booking = mapping.booking_from_response(
            answer, self._settings.tracking_url_template
        )
        log.info(
            "aramex.booked reference=%s awb=%s", request.reference, booking.reference
        )
        return booking

    def find_booking(self, reference: str) -> Booking | None:
        """Not offered: raises ``NotImplementedError``.

        ShippingAPI.V2 has no public operation that finds a shipment by the
        merchant's reference: TrackShipments and PrintLabel take the AWB,
        which is exactly what is missing when a reply was lost.  The booking
        worker therefore sends such an order to a person instead of booking
        it again (``capabilities.lookup_by_reference`` is False).
        """
        raise NotImplementedError(
            f"aramex cannot look a booking up by merchant reference ({reference})"
        )

    def track(self, references: Sequence[str]) -> TrackingBatch:
        """Every event Aramex has for each AWB in *references*, oldest first,
        asking ``settings.max_tracking_batch`` AWBs a call.  AWBs Aramex
        does not know come back in ``missing``.  Raises
        ``PermanentPartnerError`` for account errors (ERR01) and the usual
        transient errors once the retry budget is spent."""
        awbs = distinct(references)
        chunks = chunked(awbs, self._settings.max_tracking_batch)
        return merge(self._track_chunk(chunk) for chunk in chunks)

    def cancel(self, reference: str) -> bool:
        """Not offered: raises ``NotImplementedError``.

        ShippingAPI.V2 publishes no operation that cancels a shipment: the
        Shipping service's only cancellation is ``CancelPickup``, which drops
        a courier pickup and leaves the AWB valid.  A parcel booked by mistake
        is stopped by calling Aramex, so ``capabilities.cancel`` is False and
        the core raises an attention item instead.
        """
        raise NotImplementedError(
            f"aramex offers no shipment cancellation ({reference})"
        )

    def _track_chunk(self, awbs: Sequence[str]) -> TrackingBatch:
        reference = f"track-{self._clock.now():%Y%m%dT%H%M%S}"
        payload = mapping.tracking_request(self._settings, awbs, reference)

        answer = self._retry.call(
            lambda: self._client.track_shipments(payload),
            idempotent=True,
            what="aramex.track_shipments",
        )

        batch = mapping.tracking_batch(answer, awbs)
        log.debug("aramex.tracked awbs=%d missing=%d", len(awbs), len(batch.missing))
        return batch
