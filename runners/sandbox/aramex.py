"""A loopback Aramex: ShippingAPI.V2 CreateShipments and TrackShipments,
JSON flavour, with the real shapes and the real ways of saying no.

- Business errors come back with HTTP 200, ``HasErrors`` and
  ``Notifications``: bad credentials at the envelope (ERR01), parcel
  problems on each processed shipment (ERR52 for an unknown city or an
  empty post code when told to insist, and errors naming ``PhoneNumber1``,
  the COD currency or a ``ShippingDateTime`` that is not ``/Date(ms)/``).
- A body that is not JSON gets WCF's HTML "Request Error" page with 400.
- Shipments get 11-digit AWBs and a label URL on the simulator itself;
  every ``/`` in a JSON answer is escaped as ``\\/``, as WCF writes it.
- Like the real service it does not deduplicate merchant references: the
  same order booked twice is two shipments.
- Shipments move on the simulator's clock: each gets its timeline at booking
  (:mod:`.timelines`, from the AWB) and TrackShipments answers the events
  whose time has come, newest first, with real update codes and
  descriptions; one scenario in eight carries ``SH999`` "Customs
  inspection", a code no status table knows.  Aramex offers no shipment
  cancellation, so neither does the simulator.

Shipments are kept in ``state["shipments"]`` by AWB, so a restarted
simulator with the same data directory knows them.  Codes other than ERR01
and ERR52 are not documented publicly; the ones used here only keep the
``ERRnn`` shape.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

from fulfilment.adapters.pl3.aramex.settings import AramexSettings, ShipperSettings
from fulfilment.adapters.pl3.memory import SANDBOX_CITIES
from fulfilment.core.ports import Clock

from . import timelines
from .server import SimRequest, SimResponse, Simulator, route
from .timelines import Step

__all__ = [
    "DEFAULT_ACCOUNT",
    "AramexAccount",
    "AramexSimulator",
    "adapter_settings",
    "tracking_events",
]

_SERVICE = r"/ShippingAPI\.V2/{}/Service_1_0\.svc/json/{}"
_LABEL_DIR = "/content/rpt_cache/"
_FIRST_AWB = 50_300_000_000
# The date pattern of reference A.8, matched after unescaping \\/.
_WCF_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The offset Aramex's servers put on dates (Amman); milliseconds stay UTC.
_SERVER_OFFSET = "+0300"
_COUNTRY_NAMES = {
    "MA": "Morocco",
    "EG": "Egypt",
    "AE": "United Arab Emirates",
    "LB": "Lebanon",
    "JO": "Jordan",
}

Notification = dict[str, str]

_ORIGIN, _DESTINATION = "origin", "destination"
# How each timeline step reads in TrackShipments: update code, description
# (reference A.7 and fixture I.4) and where it happens.  Packing, which
# happens before Aramex is involved, is left out.
_STEPS: Mapping[Step, tuple[str, str, str]] = {
    Step.CREATED: ("SH014", "Record created.", _ORIGIN),
    Step.PICKED_UP: ("SH012", "Picked Up From Shipper", _ORIGIN),
    Step.AT_HUB: ("SH047", "Received at Origin Facility", _ORIGIN),
    Step.DEPARTED: ("SH022", "Departed Facility", _ORIGIN),
    Step.AT_DESTINATION: (
        "SH001",
        "Under processing at operations facility",
        _DESTINATION,
    ),
    Step.ODD: ("SH999", "Customs inspection", _ORIGIN),
    Step.OUT_FOR_DELIVERY: ("SH003", "Out for Delivery", _DESTINATION),
    Step.FAILED_ATTEMPT: (
        "SH294",
        "On Hold - Consignee mobile unreachable",
        _DESTINATION,
    ),
    Step.DELIVERED: ("SH005", "Delivered", _DESTINATION),
    Step.RETURNING: ("SH474", "To be returned to shipper", _DESTINATION),
    Step.RETURNED: ("SH069", "Returned to shipper", _ORIGIN),
}


@attrs.frozen
class AramexAccount:
    """The ClientInfo the simulator accepts."""

    username: str
    password: str = attrs.field(repr=False)
    account_number: str
    account_pin: str = attrs.field(repr=False)
    entity: str
    country_code: str


# Fictional sandbox credentials (reference fixture I.1), never real ones.
DEFAULT_ACCOUNT = AramexAccount(
    username="api.integration@zellige-store.example",
    password="S4ndbox!Pass",  # noqa: S106 - a fictional sandbox password
    account_number="60012345",
    account_pin="482913",
    entity="CAS",
    country_code="MA",
)


# Where the sandbox's customers follow an Aramex parcel (a reserved .test
# name: no real page, and nothing leaves this machine).
TRACKING_TEMPLATE = "https://track.aramex.test/{awb}"


def adapter_settings(
    base_url: str, account: AramexAccount = DEFAULT_ACCOUNT, **changes: Any
) -> AramexSettings:
    """Adapter settings that talk to a simulator at *base_url* holding
    *account*, shipping from a fictional Casablanca warehouse."""
    shipper = ShipperSettings(
        warehouse="WH-CASA-01",
        company="Shemsi World SARL",
        phone="+212522987654",
        cell_phone="+212661000111",
        email="ops@shemsi.example",
        line1="Lot 27, Zone Industrielle Sidi Maarouf",
        city="Casablanca",
        country_code=account.country_code,
        post_code="20270",
    )
    settings = AramexSettings(
        base_url=base_url,
        username=account.username,
        password=account.password,
        account_number=account.account_number,
        account_pin=account.account_pin,
        account_entity=account.entity,
        account_country_code=account.country_code,
        shipper=shipper,
    )
    return attrs.evolve(settings, **changes)


class AramexSimulator(Simulator):
    """Aramex on loopback.  *cities* lists the accepted city names per
    country (default: the sandbox world's), compared case-insensitively;
    *cod_currency* is the only currency cash is collected in;
    *require_post_code* makes an empty PostCode an ERR52."""

    name = "aramex"

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        clock: Clock | None = None,
        account: AramexAccount = DEFAULT_ACCOUNT,
        cities: Mapping[str, Iterable[str]] | None = None,
        cod_currency: str = "MAD",
        require_post_code: bool = False,
    ) -> None:
        self.account = account
        self.cities = {
            country.upper(): {name.casefold() for name in names}
            for country, names in (cities or SANDBOX_CITIES).items()
        }
        self.cod_currency = cod_currency
        self.require_post_code = require_post_code
        super().__init__(data_dir=data_dir, clock=clock)

    def initial_state(self) -> dict[str, Any]:
        return {"next_number": 1, "shipments": {}}

    def sandbox_settings(self, base_url: str) -> dict[str, Any]:
        """The ``[partners.aramex]`` configuration table (TOML-ready data)
        for an adapter talking to this simulator at *base_url*."""
        settings = adapter_settings(
            base_url,
            self.account,
            cod_currencies=(self.cod_currency,),
            tracking_url_template=TRACKING_TEMPLATE,
        )
        table = attrs.asdict(settings, filter=lambda _, value: value is not None)
        # TOML writers know lists, not tuples.
        return table | {"cod_currencies": list(settings.cod_currencies)}

    def shipments_with_reference(self, reference: str) -> list[dict[str, Any]]:
        """Stored shipments whose Reference1 or Reference2 is *reference*
        (for tests and reports: the API itself offers no such lookup)."""
        with self.lock:
            return [
                dict(s)
                for s in self.state["shipments"].values()
                if reference in (s["reference1"], s["reference2"])
            ]

    def add_shipment(self, shipment: Mapping[str, Any]) -> str:
        """Store *shipment* (one of a CreateShipments request's) unchecked,
        as if it had been booked now, and return its AWB: many parcels at
        once for the benchmarks, without a request each."""
        with self.lock:
            awb: str = self._store(shipment)["awb"]
            self.save()
            return awb

    # --- CreateShipments ------------------------------------------------------

    @route("POST", _SERVICE.format("Shipping", "CreateShipments"), "CreateShipments")
    def create_shipments(self, request: SimRequest) -> SimResponse:
        body, error = _read_body(request, "ShipmentCreationRequest", dict)
        if error is not None:
            return error
        if not self._authorised(body.get("ClientInfo")):
            return _envelope_error()

        label_base = f"http://{request.header('host') or '127.0.0.1'}"
        processed = [
            self._process(shipment, label_base) for shipment in body["Shipments"]
        ]

        return _wcf_json(
            {
                "Transaction": body.get("Transaction"),
                "Notifications": [],
                "HasErrors": any(p["HasErrors"] for p in processed),
                "Shipments": processed,
            }
        )

    def _process(self, shipment: dict[str, Any], label_base: str) -> dict[str, Any]:
        problems = self.validate(shipment)
        if problems:
            return _refused(shipment, problems)
        record = self._store(shipment)
        return _processed(shipment, record, label_base)

    def validate(self, shipment: Mapping[str, Any]) -> list[Notification]:
        """Every notification Aramex would raise for *shipment*."""
        checks: tuple[Callable[[Mapping[str, Any]], list[Notification]], ...] = (
            self._check_shipper_account,
            self._check_city,
            self._check_post_code,
            _check_phones,
            self._check_cod,
            _check_shipping_date,
        )
        return [problem for check in checks for problem in check(shipment)]

    def _check_shipper_account(self, shipment: Mapping[str, Any]) -> list[Notification]:
        account = _get(shipment, "Shipper", "AccountNumber")
        if account == self.account.account_number:
            return []
        return [_note("ERR03", f"Shipper - AccountNumber is invalid ({account})")]

    def _check_city(self, shipment: Mapping[str, Any]) -> list[Notification]:
        city = str(_get(shipment, "Consignee", "PartyAddress", "City") or "")
        country = str(_get(shipment, "Consignee", "PartyAddress", "CountryCode") or "")
        if city.strip().casefold() in self.cities.get(country.upper(), set()):
            return []
        return [_note("ERR52", f"DestinationAddress - City name is invalid ({city})")]

    def _check_post_code(self, shipment: Mapping[str, Any]) -> list[Notification]:
        post_code = _get(shipment, "Consignee", "PartyAddress", "PostCode")
        if not self.require_post_code or str(post_code or "").strip():
            return []
        return [_note("ERR52", "DestinationAddress - Invalid zip code ()")]

    def _check_cod(self, shipment: Mapping[str, Any]) -> list[Notification]:
        if "CODS" not in _services(shipment):
            return []
        value, currency = _cod(shipment)
        if value is None or not currency:
            return [
                _note(
                    "ERR42",
                    "CashOnDeliveryAmount - an amount in "
                    f"{self.cod_currency} is required with service CODS",
                )
            ]
        if currency != self.cod_currency:
            return [
                _note(
                    "ERR42",
                    f"CashOnDeliveryAmount - Currency code {currency} is invalid, "
                    f"cash is collected in {self.cod_currency} only",
                )
            ]
        return []

    def _store(self, shipment: Mapping[str, Any]) -> dict[str, Any]:
        number = self.state["next_number"]
        self.state["next_number"] = number + 1
        awb = str(_FIRST_AWB + number)
        record = _record(awb, shipment, self.clock.now())
        self.state["shipments"][awb] = record
        return record

    def _authorised(self, info: Any) -> bool:
        if not isinstance(info, dict):
            return False
        account = self.account
        given = (
            info.get("UserName"),
            info.get("Password"),
            str(info.get("AccountNumber") or ""),
            str(info.get("AccountPin") or ""),
        )
        expected = (
            account.username,
            account.password,
            account.account_number,
            account.account_pin,
        )
        return given == expected

    # --- TrackShipments -------------------------------------------------------

    @route("POST", _SERVICE.format("Tracking", "TrackShipments"), "TrackShipments")
    def track_shipments(self, request: SimRequest) -> SimResponse:
        body, error = _read_body(request, "ShipmentTrackingRequest", str)
        if error is not None:
            return error
        if not self._authorised(body.get("ClientInfo")):
            return _envelope_error(tracking=True)

        known, missing = self._split_known(body["Shipments"])
        last_only = bool(body.get("GetLastTrackingUpdateOnly"))
        now = self.clock.now()

        results = [
            {
                "Key": awb,
                "Value": tracking_events(record, now)[: 1 if last_only else None],
            }
            for awb, record in known
        ]
        return _wcf_json(
            {
                "Transaction": body.get("Transaction"),
                "Notifications": [],
                "HasErrors": False,
                "TrackingResults": results,
                "NonExistingWaybills": missing,
            }
        )

    def _split_known(
        self, awbs: Iterable[Any]
    ) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
        known, missing = [], []
        for awb in map(str, awbs):
            record = self.state["shipments"].get(awb)
            if record is None:
                missing.append(awb)
            else:
                known.append((awb, record))
        return known, missing

    # --- labels ---------------------------------------------------------------

    @route("GET", _LABEL_DIR + r"(?P<name>[0-9a-f]+)\.pdf", "label")
    def label(self, request: SimRequest) -> SimResponse:
        name = request.params["name"]
        awbs = [
            s["awb"] for s in self.state["shipments"].values() if s["label"] == name
        ]
        if not awbs:
            return SimResponse(404, raw=b"Not Found", content_type="text/plain")
        pdf = f"%PDF-1.4\n% sandbox label for AWB {awbs[0]}\n%%EOF\n".encode()
        return SimResponse(raw=pdf, content_type="application/pdf")


def tracking_events(record: Mapping[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The TrackingResult list of a stored shipment by *now*, newest first
    (as Aramex sends them)."""
    happened = [
        m for m in timelines.reached(_timeline(record), now) if m.step in _STEPS
    ]
    return [_step_event(record, milestone) for milestone in reversed(happened)]


def _timeline(record: Mapping[str, Any]) -> list[timelines.Milestone]:
    # Shipments stored before timelines existed get theirs from the AWB.
    if "timeline" in record:
        return timelines.from_json(record["timeline"])
    created = datetime.fromisoformat(record["created_at"])
    return timelines.build(record["awb"], created)


def _step_event(
    record: Mapping[str, Any], milestone: timelines.Milestone
) -> dict[str, Any]:
    code, description, where = _STEPS[milestone.step]
    origin = record["origin"]
    location = origin if where == _ORIGIN else record.get("destination", origin)
    return _event(record, code, description, milestone.at, location)


def _event(
    record: Mapping[str, Any],
    code: str,
    description: str,
    moment: datetime,
    location: str,
) -> dict[str, Any]:
    return {
        "WaybillNumber": record["awb"],
        "UpdateCode": code,
        "UpdateDescription": description,
        "UpdateDateTime": _wcf_date(moment),
        "UpdateLocation": location,
        "Comments": "",
        "ProblemCode": "",
        "GrossWeight": record["weight_kg"],
        "ChargeableWeight": record["weight_kg"],
        "WeightUnit": "KG",
    }


# --- request reading ----------------------------------------------------------


def _read_body(
    request: SimRequest, contract: str, item: type
) -> tuple[dict[str, Any], SimResponse | None]:
    """The JSON body, or WCF's HTML 400 page when it cannot be read as
    *contract*: not JSON, not an object, or ``Shipments`` not a list of
    *item*."""
    try:
        body = json.loads(request.body.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return {}, _request_error(contract, str(error))
    shipments = body.get("Shipments") if isinstance(body, dict) else None
    if not isinstance(shipments, list):
        return {}, _request_error(contract, "Expecting element 'Shipments'.")
    if not all(isinstance(shipment, item) for shipment in shipments):
        return {}, _request_error(contract, "Unexpected 'Shipments' item.")
    return body, None


def _get(node: Mapping[str, Any], *path: str) -> Any:
    """The value at *path*, or None where any step is missing."""
    value: Any = node
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _services(shipment: Mapping[str, Any]) -> set[str]:
    services = str(_get(shipment, "Details", "Services") or "")
    return {s.strip().upper() for s in services.split(",") if s.strip()}


def _cod(shipment: Mapping[str, Any]) -> tuple[Decimal | None, str | None]:
    """The CashOnDeliveryAmount's value and currency, None where absent."""
    amount = _get(shipment, "Details", "CashOnDeliveryAmount")
    if not isinstance(amount, Mapping):
        return None, None
    return _decimal(amount.get("Value")), amount.get("CurrencyCode") or None


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _check_phones(shipment: Mapping[str, Any]) -> list[Notification]:
    contact = _get(shipment, "Consignee", "Contact") or {}
    return [
        _note("ERR05", f"Consignee - {field} is required")
        for field in ("PhoneNumber1", "CellPhone")
        if not str(contact.get(field) or "").strip()
    ]


def _check_shipping_date(shipment: Mapping[str, Any]) -> list[Notification]:
    if _parse_wcf_date(shipment.get("ShippingDateTime")) is not None:
        return []
    return [_note("ERR31", "ShippingDateTime - Invalid date, expected /Date(ms)/")]


def _parse_wcf_date(value: Any) -> datetime | None:
    match = _WCF_DATE.match(str(value or "").replace("\\/", "/"))
    if match is None:
        return None
    return _EPOCH + timedelta(milliseconds=int(match.group(1)))


# --- answers ------------------------------------------------------------------


def _record(awb: str, shipment: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    cod_value, cod_currency = _cod(shipment)
    has_cod = "CODS" in _services(shipment)
    origin_city = _get(shipment, "Shipper", "PartyAddress", "City") or ""
    origin_code = _get(shipment, "Shipper", "PartyAddress", "CountryCode") or ""
    origin_country = _COUNTRY_NAMES.get(origin_code, origin_code)
    weight = _decimal(_get(shipment, "Details", "ActualWeight", "Value"))
    city = _get(shipment, "Consignee", "PartyAddress", "City")
    country = _get(shipment, "Consignee", "PartyAddress", "CountryCode")
    return {
        "awb": awb,
        "reference1": shipment.get("Reference1") or "",
        "reference2": shipment.get("Reference2") or "",
        "reference3": shipment.get("Reference3") or "",
        "phone": _get(shipment, "Consignee", "Contact", "PhoneNumber1"),
        "cell_phone": _get(shipment, "Consignee", "Contact", "CellPhone"),
        "city": city,
        "country": country,
        "origin": f"{origin_city}, {origin_country}",
        "destination": f"{city}, {_COUNTRY_NAMES.get(country, country)}",
        "cod_amount": str(cod_value) if has_cod else None,
        "cod_currency": cod_currency if has_cod else None,
        "services": ",".join(sorted(_services(shipment))),
        "weight_kg": str(weight or Decimal("0.5")),
        "created_at": now.astimezone(UTC).isoformat(),
        "label": hashlib.sha256(awb.encode()).hexdigest()[:32],
        "scenario": timelines.scenario_for(awb).value,
        "timeline": timelines.to_json(timelines.build(awb, now)),
    }


def _processed(
    shipment: Mapping[str, Any], record: Mapping[str, Any], label_base: str
) -> dict[str, Any]:
    return {
        "ID": record["awb"],
        "Reference1": record["reference1"],
        "Reference2": record["reference2"],
        "Reference3": record["reference3"],
        "ForeignHAWB": "",
        "HasErrors": False,
        "Notifications": [],
        "ShipmentLabel": {
            "LabelURL": f"{label_base}{_LABEL_DIR}{record['label']}.pdf",
            "LabelFileContents": None,
        },
        "ShipmentDetails": _details_echo(shipment, record),
        "ShipmentAttachments": [],
        "ShipmentThirdPartyProcessedObject": None,
    }


def _details_echo(
    shipment: Mapping[str, Any], record: Mapping[str, Any]
) -> dict[str, Any]:
    details = shipment.get("Details") or {}
    cod = record["cod_amount"]
    return {
        "Origin": record["origin"][:3].upper(),
        "Destination": str(record["city"])[:3].upper(),
        "ChargeableWeight": {"Unit": "KG", "Value": float(record["weight_kg"])},
        "NumberOfPieces": details.get("NumberOfPieces"),
        "ProductGroup": details.get("ProductGroup"),
        "ProductType": details.get("ProductType"),
        "PaymentType": details.get("PaymentType"),
        "CashOnDeliveryAmount": {
            "CurrencyCode": record["cod_currency"] or "",
            "Value": float(cod) if cod else 0,
        },
        "Services": record["services"],
    }


def _refused(
    shipment: Mapping[str, Any], problems: list[Notification]
) -> dict[str, Any]:
    return {
        "ID": None,
        "Reference1": shipment.get("Reference1") or "",
        "Reference2": shipment.get("Reference2") or "",
        "Reference3": shipment.get("Reference3") or "",
        "ForeignHAWB": "",
        "HasErrors": True,
        "Notifications": problems,
        "ShipmentLabel": None,
        "ShipmentDetails": None,
        "ShipmentAttachments": [],
        "ShipmentThirdPartyProcessedObject": None,
    }


def _envelope_error(*, tracking: bool = False) -> SimResponse:
    answer: dict[str, Any] = {
        "Transaction": None,
        "Notifications": [_note("ERR01", "ClientInfo - Invalid username or password")],
        "HasErrors": True,
    }
    if tracking:
        answer |= {"TrackingResults": [], "NonExistingWaybills": []}
    else:
        answer["Shipments"] = []
    return _wcf_json(answer)


def _note(code: str, message: str) -> Notification:
    return {"Code": code, "Message": message}


def _wcf_date(moment: datetime) -> str:
    millis = round(moment.timestamp() * 1000)
    return f"/Date({millis}{_SERVER_OFFSET})/"


def _wcf_json(body: Mapping[str, Any]) -> SimResponse:
    """JSON text as WCF writes it: every ``/`` inside a string as ``\\/``.

    JSON has no ``/`` outside strings, so replacing them all is exact.
    """
    text = json.dumps(body, ensure_ascii=False, default=_number)
    return SimResponse(raw=text.replace("/", "\\/").encode("utf-8"))


def _number(value: Any) -> float:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _request_error(contract: str, reason: str) -> SimResponse:
    message = html.escape(
        f"There was an error deserializing the object of type {contract}. {reason}"
    )
    page = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        "<title>Request Error</title>"
        "<style>BODY { color: #000000; font-family: Verdana; }</style>"
        '</head><body><div id="content">'
        '<p class="heading1">Request Error</p>'
        "<p>The server encountered an error processing the request. "
        f"The exception message is '{message}'. "
        "See server logs for more details.</p>"
        "</div></body></html>"
    )
    return SimResponse(
        400, raw=page.encode("utf-8"), content_type="text/html; charset=utf-8"
    )
