"""The ACME Parcels delivery partner.

ACME keys parcels on the merchant reference, so a booking can be looked up
and a duplicate is answered with 409 and the existing parcel.
"""

from __future__ import annotations

import attrs
import httpx

from fulfilment.adapters.http import send
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.adapters.validators import http_url
from fulfilment.core.domain import Booking
from fulfilment.core.errors import PartnerRejected
from fulfilment.core.ports import BookingRequest, Capabilities


@attrs.frozen
class AcmeSettings:
    base_url: str = attrs.field(validator=http_url)
    api_key: str = attrs.field(repr=False)
    countries: tuple[str, ...] = ("MA", "EG", "AE", "LB")
    timeout: float = 10.0


class AcmeDeliveryPartner:
    name = "acme"

    def __init__(self, http: httpx.Client, settings: AcmeSettings, retry: RetryPolicy):
        self._http = http
        self._settings = settings
        self._retry = retry
        self.capabilities = Capabilities(
            cash_on_delivery=True,
            countries=frozenset(settings.countries),
            lookup_by_reference=True,
        )

    def book(self, request: BookingRequest) -> Booking:
        body = parcel_body(request)
        response = self._retry.call(
            lambda: self._call("POST", "/v1/parcels", json=body),
            idempotent=True,  # the reference is ACME's natural key
            what="acme.book",
        )
        if response.status_code == 409:
            return _booking(response.json()["parcel"])
        if response.status_code == 422:
            error = response.json()["error"]
            raise PartnerRejected(error, partner=self.name, status=422)
        response.raise_for_status()
        return _booking(response.json()["parcel"])

    def find_booking(self, reference: str) -> Booking | None:
        response = self._retry.call(
            lambda: self._call("GET", "/v1/parcels", params={"reference": reference}),
            idempotent=True,
            what="acme.find",
        )
        parcels = response.json()["parcels"]
        return _booking(parcels[0]) if parcels else None

    def _call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"ApiKey {self._settings.api_key}"}
        return send(self._http, self.name, method, path, headers=headers, **kwargs)  # type: ignore[arg-type]


def parcel_body(request: BookingRequest) -> dict[str, object]:
    order = request.order
    address = order.shipping_address
    phone = order.phone
    collect = order.payment.collect
    return {
        "reference": request.reference,
        "name": address.full_name if address else "",
        "phone": phone.e164 if phone else None,
        "city": address.city if address else None,
        "country": address.country_code if address else None,
        "cod": {"amount": str(collect.amount), "currency": collect.currency}
        if collect
        else None,
    }


def _booking(parcel: dict[str, str]) -> Booking:
    return Booking("acme", parcel["parcel_id"], label_url=parcel.get("label_url"))
