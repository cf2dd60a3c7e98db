"""Aramex as a :class:`~fulfilment.core.ports.DeliveryPartner`."""

from __future__ import annotations

import logging

from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.domain import Booking
from fulfilment.core.ports import BookingRequest, Capabilities, Clock

from . import mapping
from .client import AramexClient
from .settings import AramexSettings

__all__ = ["AramexDeliveryPartner"]

log = logging.getLogger(__name__)


class AramexDeliveryPartner:
    """Books parcels with Aramex's CreateShipments, one shipment per order.

    Cash on delivery is collected in ``settings.cod_currencies`` and only
    inside the account's country.  Aramex cannot be asked about a merchant
    reference (see :meth:`find_booking`), so a booking is never repeated
    after an answer was lost: only failures that Aramex did not act on
    (connect errors, 429, 503) are retried.
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
        self.capabilities = Capabilities(
            cash_on_delivery=True,
            cod_currencies=frozenset(settings.cod_currencies),
            countries=frozenset({settings.account_country_code}),
            lookup_by_reference=False,
            cancel=False,
            # TrackShipments takes AWBs in batches; this adapter does not
            # track yet, so it does not claim the capability.
            batch_tracking=False,
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
