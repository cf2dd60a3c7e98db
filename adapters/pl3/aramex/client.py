"""The HTTP side of the Aramex adapter: one method per ShippingAPI.V2
operation, JSON in and decoded JSON out, nothing mapped.

Every call goes through :func:`fulfilment.adapters.http.send`, which turns
transport failures and 5xx/429 into the library's errors.  What is left to
this module is the WCF way of failing: a body WCF cannot read comes back as
an HTML "Request Error" page with status 400, which means our contract is
wrong, not the parcel, so it is a ``PermanentPartnerError`` quoting the page.
Business errors come back with status 200 and are read by ``mapping``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

import httpx

from fulfilment.adapters.http import send
from fulfilment.core.errors import OutcomeUnknown, PermanentPartnerError

from .mapping import PARTNER
from .settings import AramexSettings

__all__ = ["AramexClient", "operation_path"]

_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_EXCERPT = 300


def operation_path(service: str, operation: str) -> str:
    """``/ShippingAPI.V2/<service>/Service_1_0.svc/json/<operation>``."""
    return f"/ShippingAPI.V2/{service}/Service_1_0.svc/json/{operation}"


class AramexClient:
    """Talks to one Aramex host (``settings.base_url``) through *http*."""

    def __init__(self, http: httpx.Client, settings: AramexSettings) -> None:
        self._http = http
        self._base_url = settings.base_url.rstrip("/")

    def create_shipments(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST a ShipmentCreationRequest; return the decoded response,
        errors in it included (Aramex reports them with status 200)."""
        return self._post("Shipping", "CreateShipments", payload)

    def track_shipments(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST a ShipmentTrackingRequest; return the decoded response,
        errors in it included."""
        return self._post("Tracking", "TrackShipments", payload)

    def _post(
        self, service: str, operation: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        url = self._base_url + operation_path(service, operation)
        response = send(
            self._http, PARTNER, "POST", url, json=payload, headers=_JSON_HEADERS
        )
        return _decode(response, operation)


def _decode(response: httpx.Response, operation: str) -> dict[str, Any]:
    status = response.status_code
    if not response.is_success:
        raise PermanentPartnerError(
            f"{operation} refused the request: {_excerpt(response.text)}",
            partner=PARTNER,
            status=status,
        )
    try:
        data = response.json()
    except ValueError as error:
        # A 200 may mean the shipment was created; the body is just lost.
        raise OutcomeUnknown(
            f"{operation} answered {status} with unreadable JSON: "
            f"{_excerpt(response.text)}",
            partner=PARTNER,
            status=status,
        ) from error
    if not isinstance(data, dict):
        raise OutcomeUnknown(
            f"{operation} answered {status} with a JSON {type(data).__name__}",
            partner=PARTNER,
            status=status,
        )
    return data


def _excerpt(body: str) -> str:
    """The readable text of an HTML (or plain) body, shortened."""
    text = " ".join(html.unescape(_TAG.sub(" ", body)).split())
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."
