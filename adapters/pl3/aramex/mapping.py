"""Pure translation between the domain and Aramex ShippingAPI.V2 JSON.

Requests follow the WCF contract member for member (``AccountingInstrcutions``
keeps Aramex's spelling: the serializer drops an unknown member silently).
Responses are read defensively: extra keys are ignored, errors are looked
for at both levels (the envelope and each processed shipment), and WCF dates
(``/Date(ms±hhmm)/``, slashes possibly escaped) are read from their
milliseconds, which are UTC; the offset only names the server's zone.

Tracking reads TrackShipments answers: ``TrackingResults`` is WCF's
rendering of a dictionary, a list of ``{"Key": AWB, "Value": [TrackingResult,
...]}`` (the events are at ``TrackingResults[i].Value[j]``, not at
``TrackingResults[i]``), and ``NonExistingWaybills`` lists the AWBs Aramex
does not know.  Update codes map to statuses through ``statuses.toml``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fulfilment.adapters.pl3._cities import CITY_ALIASES, canonical_city
from fulfilment.adapters.pl3._statuses import StatusTable, load_status_tables
from fulfilment.adapters.pl3._tracking import oldest_first
from fulfilment.core.domain import (
    Address,
    Booking,
    LineItem,
    Money,
    Order,
    TrackingEvent,
)
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
)
from fulfilment.core.ports import BookingRequest, TrackingBatch

from .settings import AramexSettings, ShipperSettings

__all__ = [
    "CITY_ALIASES",
    "PARTNER",
    "booking_from_response",
    "canonical_city",
    "client_info",
    "format_wcf_date",
    "notifications",
    "parcel_weight_kg",
    "parse_wcf_date",
    "shipment_request",
    "status_table",
    "tracking_batch",
    "tracking_event",
    "tracking_request",
]

PARTNER = "aramex"

# Sent when an address has no post code: Aramex rejects an empty PostCode on
# some lanes ("Invalid zip code ()") and Morocco's addresses often have none.
POST_CODE_PLACEHOLDER = "00000"
# Used when no line carries a weight; Aramex refuses a weight of zero.
DEFAULT_WEIGHT_KG = Decimal("0.5")
# The promised delivery date sent as DueDate, counted from the shipping time.
DUE_AFTER = timedelta(days=2)
# Envelope codes that mean the account setup is wrong, not the parcel.
SETUP_ERROR_CODES = frozenset({"ERR01"})

_WCF_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- dates --------------------------------------------------------------------


def parse_wcf_date(text: str) -> datetime:
    """``/Date(1717505220000+0300)/`` (or with ``\\/``) -> aware UTC datetime.

    The milliseconds are UTC whatever the offset says.  Raises ValueError
    for anything else.
    """
    match = _WCF_DATE.match(text.strip().replace("\\/", "/"))
    if match is None:
        raise ValueError(f"{text!r} is not a WCF /Date(ms)/ value")
    return _EPOCH + timedelta(milliseconds=int(match.group(1)))


def format_wcf_date(moment: datetime) -> str:
    """An aware datetime as ``/Date(ms)/`` (UTC milliseconds, no offset)."""
    elapsed = moment.astimezone(UTC) - _EPOCH
    return f"/Date({elapsed // timedelta(milliseconds=1)})/"


# --- request ------------------------------------------------------------------


def shipment_request(
    request: BookingRequest, settings: AramexSettings, shipped_at: datetime
) -> dict[str, Any]:
    """The CreateShipments body booking *request* as one shipment."""
    order = request.order
    return {
        "ClientInfo": client_info(settings),
        "Transaction": _transaction(order.name),
        "Shipments": [_shipment(request, settings, shipped_at)],
        "LabelInfo": {"ReportID": settings.label_report_id, "ReportType": "URL"},
    }


def client_info(settings: AramexSettings) -> dict[str, Any]:
    """The credentials block every Aramex request starts with."""
    return {
        "UserName": settings.username,
        "Password": settings.password,
        "Version": settings.version,
        "AccountNumber": settings.account_number,
        "AccountPin": settings.account_pin,
        "AccountEntity": settings.account_entity,
        "AccountCountryCode": settings.account_country_code,
        "Source": settings.source,
    }


def _transaction(reference1: str) -> dict[str, str]:
    return {
        "Reference1": reference1,
        "Reference2": "",
        "Reference3": "",
        "Reference4": "",
        "Reference5": "",
    }


def _shipment(
    request: BookingRequest, settings: AramexSettings, shipped_at: datetime
) -> dict[str, Any]:
    order = request.order
    return {
        "Reference1": order.name,
        "Reference2": request.reference,
        "Reference3": "",
        "Shipper": _shipper(settings),
        "Consignee": _consignee(order),
        "ThirdParty": None,
        "ShippingDateTime": format_wcf_date(shipped_at),
        "DueDate": format_wcf_date(shipped_at + DUE_AFTER),
        "Comments": order.note or "",
        "PickupLocation": "",
        "OperationsInstructions": "",
        "AccountingInstrcutions": "",
        "Details": _details(order, settings),
        "Attachments": [],
        "ForeignHAWB": "",
        "TransportType": 0,
        "PickupGUID": "",
        "Number": None,
    }


def _shipper(settings: AramexSettings) -> dict[str, Any]:
    shipper = settings.shipper
    return {
        "Reference1": shipper.warehouse,
        "Reference2": "",
        "AccountNumber": settings.account_number,
        "PartyAddress": _address(
            shipper.line1,
            shipper.line2,
            shipper.city,
            shipper.post_code,
            shipper.country_code,
        ),
        "Contact": _shipper_contact(shipper),
    }


def _shipper_contact(shipper: ShipperSettings) -> dict[str, str]:
    return _contact(
        person=shipper.contact_name or shipper.company,
        company=shipper.company,
        phone=shipper.phone,
        cell=shipper.cell_phone,
        email=shipper.email,
        department=shipper.department,
    )


def _consignee(order: Order) -> dict[str, Any]:
    address = order.shipping_address or Address()
    customer = order.customer
    name = address.full_name or (customer.full_name if customer else "")
    phone = order.phone.e164 if order.phone and order.phone.e164 else ""
    return {
        "Reference1": (customer.external_id if customer else None) or "",
        "Reference2": "",
        "AccountNumber": "",
        "PartyAddress": _address(
            address.line1 or "",
            address.line2 or "",
            address.city,
            address.zip,
            address.country_code or "",
            province=address.province_code or "",
        ),
        "Contact": _contact(
            person=name,
            company=name,
            phone=phone,
            cell=phone,
            email=(customer.email if customer else None) or "",
        ),
    }


def _address(
    line1: str,
    line2: str,
    city: str | None,
    post_code: str | None,
    country_code: str,
    *,
    province: str = "",
) -> dict[str, str]:
    return {
        "Line1": line1,
        "Line2": line2,
        "Line3": "",
        "City": canonical_city(city),
        "StateOrProvinceCode": province,
        "PostCode": (post_code or "").strip() or POST_CODE_PLACEHOLDER,
        "CountryCode": country_code,
    }


def _contact(
    *,
    person: str,
    company: str,
    phone: str,
    cell: str,
    email: str,
    department: str = "",
) -> dict[str, str]:
    return {
        "Department": department,
        "PersonName": person,
        "Title": "",
        "CompanyName": company,
        "PhoneNumber1": phone,
        "PhoneNumber1Ext": "",
        "PhoneNumber2": "",
        "PhoneNumber2Ext": "",
        "FaxNumber": "",
        "CellPhone": cell,
        "EmailAddress": email,
        "Type": "",
    }


def _details(order: Order, settings: AramexSettings) -> dict[str, Any]:
    cod = _cash_to_collect(order)
    return {
        "Dimensions": None,
        "ActualWeight": _weight(parcel_weight_kg(order.lines)),
        "ChargeableWeight": None,
        "DescriptionOfGoods": _description(order.lines),
        "GoodsOriginCountry": settings.shipper.country_code,
        "NumberOfPieces": 1,
        "ProductGroup": settings.product_group,
        "ProductType": settings.product_type,
        "PaymentType": "P",
        "PaymentOptions": "",
        "CustomsValueAmount": None,
        "CashOnDeliveryAmount": _money(cod) if cod else None,
        "InsuranceAmount": None,
        "CashAdditionalAmount": None,
        "CashAdditionalAmountDescription": "",
        "CollectAmount": None,
        "Services": "CODS" if cod else "",
        "Items": [_item(line) for line in order.lines],
    }


def _cash_to_collect(order: Order) -> Money | None:
    if not order.payment.is_cod:
        return None
    return order.payment.collect or order.total


def parcel_weight_kg(lines: Sequence[LineItem]) -> Decimal:
    """The parcel's weight from its lines' grams; lines without a weight add
    nothing, and a parcel with no known weight counts as 0.5 kg."""
    grams = sum((line.grams or 0) * line.quantity for line in lines)
    return Decimal(grams) / 1000 if grams else DEFAULT_WEIGHT_KG


def _item(line: LineItem) -> dict[str, Any]:
    weight = _weight(Decimal(line.grams) / 1000) if line.grams else None
    return {
        "PackageType": "Box",
        "Quantity": line.quantity,
        "Weight": weight,
        "Comments": "",
        "Reference": line.product.sku or "",
        "GoodsDescription": line.product.title,
        "CustomsValue": None,
    }


def _description(lines: Sequence[LineItem]) -> str:
    return ", ".join(f"{line.product.title} x{line.quantity}" for line in lines)


def _weight(kg: Decimal) -> dict[str, Any]:
    # The contract types weights and amounts as xsd:double; the Decimal is
    # only turned into a float here, at the wire.
    return {"Unit": "KG", "Value": float(kg)}


def _money(money: Money) -> dict[str, Any]:
    return {"CurrencyCode": money.currency, "Value": float(money.amount)}


# --- response -----------------------------------------------------------------


def booking_from_response(
    data: Mapping[str, Any], tracking_url_template: str | None = None
) -> Booking:
    """The booking in a CreateShipments response for one shipment.

    Raises ``PermanentPartnerError`` for an account error at the envelope
    (ERR01, bad credentials), ``PartnerRejected`` with every ``(Code,
    Message)`` of both levels when the shipment was refused, and
    ``OutcomeUnknown`` for a reply that says neither (no AWB, no error).
    """
    envelope = notifications(data)
    _raise_for_setup_errors(envelope)
    shipment = _first_shipment(data)
    awb = shipment.get("ID")
    # A shipment with an AWB and no error of its own exists at Aramex, even
    # if the envelope complains about something else: never drop it.
    if awb and not shipment.get("HasErrors"):
        return Booking(
            PARTNER,
            str(awb),
            label_url=_label_url(shipment),
            tracking_url=_tracking_url(tracking_url_template, str(awb)),
        )
    if data.get("HasErrors") or shipment.get("HasErrors"):
        raise _rejection(envelope + notifications(shipment))
    raise OutcomeUnknown("answer carries no AWB and no error", partner=PARTNER)


def notifications(node: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """``(Code, Message)`` pairs of a node's ``Notifications``, if any."""
    found = (node or {}).get("Notifications") or []
    return tuple(
        (str(n.get("Code") or "").strip(), str(n.get("Message") or "").strip())
        for n in found
        if isinstance(n, Mapping)
    )


def _raise_for_setup_errors(envelope: tuple[tuple[str, str], ...]) -> None:
    for code, message in envelope:
        if code in SETUP_ERROR_CODES:
            raise PermanentPartnerError(message, partner=PARTNER, code=code)


def _first_shipment(data: Mapping[str, Any]) -> Mapping[str, Any]:
    shipments = data.get("Shipments") or []
    # The SOAP flavour renders a single shipment as an object; accept it.
    if isinstance(shipments, Mapping):
        shipments = [shipments]
    first = shipments[0] if shipments else None
    return first if isinstance(first, Mapping) else {}


def _rejection(problems: tuple[tuple[str, str], ...]) -> PartnerRejected:
    problems = problems or (("HasErrors", "refused without a notification"),)
    # The first code shows in str(); every code stays in ``problems``.
    text = "; ".join(message for _, message in problems)
    return PartnerRejected(
        text, partner=PARTNER, problems=problems, code=problems[0][0]
    )


def _label_url(shipment: Mapping[str, Any]) -> str | None:
    label = shipment.get("ShipmentLabel") or {}
    url = label.get("LabelURL") if isinstance(label, Mapping) else None
    # json.loads already turns \/ into /; a doubly escaped value would not.
    return url.replace("\\/", "/") if isinstance(url, str) and url else None


def _tracking_url(template: str | None, awb: str) -> str | None:
    return template.format(awb=awb) if template else None


# --- tracking -----------------------------------------------------------------


def status_table() -> StatusTable:
    """Aramex update codes → normalised statuses (``statuses.toml``)."""
    return load_status_tables(__package__)["update_code"]


def tracking_request(
    settings: AramexSettings, awbs: Sequence[str], reference: str
) -> dict[str, Any]:
    """The TrackShipments body asking for every event of *awbs*."""
    return {
        "ClientInfo": client_info(settings),
        "Transaction": _transaction(reference),
        "Shipments": list(awbs),
        "GetLastTrackingUpdateOnly": False,
    }


def tracking_batch(data: Mapping[str, Any], awbs: Sequence[str]) -> TrackingBatch:
    """The events of a TrackShipments answer by AWB, oldest first.

    Every AWB of *awbs* is in the batch: with its events, in ``missing``
    when Aramex lists it in ``NonExistingWaybills``, or with no events when
    the answer skips it.  Any envelope error (ERR01, bad credentials, being
    the one seen) is a ``PermanentPartnerError``: no person can fix a parcel
    from a tracking error.  A result Aramex wrote wrongly (no readable date)
    is a ``PermanentPartnerError`` naming its path in the answer.
    """
    if data.get("HasErrors"):
        raise _tracking_refused(notifications(data))
    table = status_table()
    missing = frozenset(str(awb) for awb in data.get("NonExistingWaybills") or ())
    events: dict[str, tuple[TrackingEvent, ...]] = {
        str(awb): () for awb in awbs if str(awb) not in missing
    }
    for index, result in enumerate(_tracking_results(data)):
        path = f"TrackingResults[{index}]"
        rows = result.get("Value") or []
        found = (
            tracking_event(row, f"{path}.Value[{j}]", table)
            for j, row in enumerate(rows)
        )
        events[str(result.get("Key"))] = oldest_first(found)
    return TrackingBatch(events, missing)


def tracking_event(
    row: Mapping[str, Any], path: str, table: StatusTable
) -> TrackingEvent:
    """One TrackingResult as an event.  The code and description stay as
    Aramex wrote them; ``Comments`` are left out because they carry the
    receiver's name, which the tracking history has no use for."""
    code = str(row.get("UpdateCode") or "").strip()
    return TrackingEvent(
        code=code,
        status=table.status(code),
        description=str(row.get("UpdateDescription") or "").strip(),
        occurred_at=_event_time(row.get("UpdateDateTime"), path),
        location=str(row.get("UpdateLocation") or "").strip() or None,
    )


def _tracking_results(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    results = data.get("TrackingResults") or []
    return [r for r in results if isinstance(r, Mapping) and r.get("Key")]


def _event_time(value: Any, path: str) -> datetime:
    try:
        return parse_wcf_date(str(value or ""))
    except ValueError as error:
        raise PermanentPartnerError(
            f"{path}.UpdateDateTime: {error}", partner=PARTNER
        ) from error


def _tracking_refused(
    envelope: tuple[tuple[str, str], ...],
) -> PermanentPartnerError:
    code, message = envelope[0] if envelope else ("", "refused without a notice")
    text = "; ".join(m for _, m in envelope) or message
    return PermanentPartnerError(
        f"TrackShipments refused: {text}", partner=PARTNER, code=code or None
    )
