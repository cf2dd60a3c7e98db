"""The loopback Aramex speaks the wire format of reference A and I.1-I.4.

Requests are dispatched straight into the simulator (no socket) except where
the transport itself is the point.
"""

from __future__ import annotations

import copy
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import cattrs
import httpx
import pytest

from fulfilment.adapters.pl3.aramex.mapping import parse_wcf_date, shipment_request
from fulfilment.adapters.pl3.aramex.settings import AramexSettings
from fulfilment.core.booking import booking_reference
from fulfilment.core.clock import ManualClock
from fulfilment.core.ports import BookingRequest
from fulfilment.runners.sandbox.aramex import (
    DEFAULT_ACCOUNT,
    TRACKING_TEMPLATE,
    AramexSimulator,
    adapter_settings,
)
from fulfilment.runners.sandbox.server import SimRequest, SimResponse, SimServer
from fulfilment.testing.builders import T0, make_order

CREATE = "/ShippingAPI.V2/Shipping/Service_1_0.svc/json/CreateShipments"
TRACK = "/ShippingAPI.V2/Tracking/Service_1_0.svc/json/TrackShipments"
HOST = "127.0.0.1:8417"


def client_info(**changes: Any) -> dict[str, Any]:
    info = {
        "UserName": DEFAULT_ACCOUNT.username,
        "Password": DEFAULT_ACCOUNT.password,
        "Version": "v1.0",
        "AccountNumber": DEFAULT_ACCOUNT.account_number,
        "AccountPin": DEFAULT_ACCOUNT.account_pin,
        "AccountEntity": DEFAULT_ACCOUNT.entity,
        "AccountCountryCode": DEFAULT_ACCOUNT.country_code,
        "Source": 24,
    }
    return info | changes


def create_body(external_id: str = "8001", **order: Any) -> dict[str, Any]:
    """A CreateShipments body as the adapter builds it (the simulator's
    settings helper supplies the account)."""
    placed = make_order(external_id, **order)
    request = BookingRequest(booking_reference(placed), placed)
    return shipment_request(request, adapter_settings("http://sim"), T0)


def post(
    sim: AramexSimulator, path: str, body: Any, *, raw: bytes | None = None
) -> SimResponse:
    data = raw if raw is not None else json.dumps(body).encode()
    request = SimRequest("POST", path, {}, {"host": HOST}, data)
    response, _ = sim.dispatch(request)
    return response


def answer(response: SimResponse) -> dict[str, Any]:
    return json.loads(response.encode())


def notifications_of(response: SimResponse) -> list[dict[str, str]]:
    return answer(response)["Shipments"][0]["Notifications"]


@pytest.fixture
def sim() -> AramexSimulator:
    return AramexSimulator(clock=ManualClock(T0))


# --- CreateShipments ----------------------------------------------------------


def test_creates_a_shipment_with_an_eleven_digit_awb_and_a_loopback_label(
    sim: AramexSimulator,
) -> None:
    response = post(sim, CREATE, create_body())

    shipment = answer(response)["Shipments"][0]
    assert response.status == 200
    assert answer(response)["HasErrors"] is False
    assert shipment["HasErrors"] is False
    assert len(shipment["ID"]) == 11
    assert shipment["ID"].isdigit()
    assert shipment["ShipmentLabel"]["LabelURL"].startswith(f"http://{HOST}/")


def test_every_slash_on_the_wire_is_escaped(sim: AramexSimulator) -> None:
    response = post(sim, CREATE, create_body())

    raw = response.encode().decode()
    assert '"LabelURL": "http:\\/\\/127.0.0.1' in raw
    assert "/" not in raw.replace("\\/", "")


def test_the_path_is_matched_whatever_its_case(sim: AramexSimulator) -> None:
    response = post(sim, CREATE.lower(), create_body())

    assert answer(response)["Shipments"][0]["ID"]


def test_awbs_are_unique(sim: AramexSimulator) -> None:
    first = answer(post(sim, CREATE, create_body("8001")))
    second = answer(post(sim, CREATE, create_body("8002")))

    assert first["Shipments"][0]["ID"] != second["Shipments"][0]["ID"]


def test_booking_the_same_reference_twice_makes_two_shipments(
    sim: AramexSimulator,
) -> None:
    post(sim, CREATE, create_body("8001"))

    post(sim, CREATE, create_body("8001"))

    assert len(sim.shipments_with_reference("shemsiworld-8001")) == 2


def test_stores_references_consignee_and_cash_to_collect(
    sim: AramexSimulator,
) -> None:
    post(sim, CREATE, create_body("8001", cod=True, amount="459.00"))

    [record] = sim.shipments_with_reference("shemsiworld-8001")

    assert record["reference1"] == "#8001"
    assert record["phone"] == "+212661234567"
    assert record["city"] == "Casablanca"
    assert record["cod_amount"] == "459.0"
    assert record["cod_currency"] == "MAD"
    assert record["created_at"] == T0.isoformat()


def test_wrong_credentials_are_an_envelope_error_with_status_200(
    sim: AramexSimulator,
) -> None:
    body = create_body() | {"ClientInfo": client_info(Password="guess")}

    response = post(sim, CREATE, body)

    assert response.status == 200
    assert answer(response) == {
        "Transaction": None,
        "Notifications": [
            {"Code": "ERR01", "Message": "ClientInfo - Invalid username or password"}
        ],
        "HasErrors": True,
        "Shipments": [],
    }
    assert sim.state["shipments"] == {}


def test_an_unknown_city_is_err52_naming_it(sim: AramexSimulator) -> None:
    response = post(sim, CREATE, create_body(city="Atlantis"))

    assert answer(response)["HasErrors"] is True
    assert notifications_of(response) == [
        {
            "Code": "ERR52",
            "Message": "DestinationAddress - City name is invalid (Atlantis)",
        }
    ]
    assert answer(response)["Shipments"][0]["ID"] is None


def test_cities_are_compared_without_case(sim: AramexSimulator) -> None:
    response = post(sim, CREATE, create_body(city="cASABLANCA"))

    assert answer(response)["HasErrors"] is False


def test_a_missing_phone_is_refused_naming_phone_number1(
    sim: AramexSimulator,
) -> None:
    response = post(sim, CREATE, create_body(phone=None))

    messages = [n["Message"] for n in notifications_of(response)]
    assert any("PhoneNumber1" in message for message in messages)


def test_an_empty_post_code_passes_unless_told_to_insist() -> None:
    body = create_body()
    body["Shipments"][0]["Consignee"]["PartyAddress"]["PostCode"] = ""
    lenient, strict = AramexSimulator(), AramexSimulator(require_post_code=True)

    accepted, refused = post(lenient, CREATE, body), post(strict, CREATE, body)

    assert answer(accepted)["HasErrors"] is False
    assert notifications_of(refused) == [
        {"Code": "ERR52", "Message": "DestinationAddress - Invalid zip code ()"}
    ]


def test_cods_without_an_amount_is_refused_naming_the_currency(
    sim: AramexSimulator,
) -> None:
    body = create_body(cod=True)
    body["Shipments"][0]["Details"]["CashOnDeliveryAmount"] = None

    response = post(sim, CREATE, body)

    [problem] = notifications_of(response)
    assert problem["Code"].startswith("ERR")
    assert "MAD" in problem["Message"]


def test_cash_in_another_currency_is_refused_naming_it(
    sim: AramexSimulator,
) -> None:
    response = post(sim, CREATE, create_body(cod=True, currency="EUR"))

    [problem] = notifications_of(response)
    assert "EUR" in problem["Message"]
    assert "MAD" in problem["Message"]


def test_a_prepaid_parcel_records_nothing_to_collect(sim: AramexSimulator) -> None:
    post(sim, CREATE, create_body("8001", cod=False))

    [record] = sim.shipments_with_reference("shemsiworld-8001")

    assert record["cod_amount"] is None


def test_a_shipping_time_that_is_not_a_wcf_date_is_refused(
    sim: AramexSimulator,
) -> None:
    body = create_body()
    body["Shipments"][0]["ShippingDateTime"] = 1717405200

    response = post(sim, CREATE, body)

    [problem] = notifications_of(response)
    assert "ShippingDateTime" in problem["Message"]


def test_each_shipment_of_a_batch_is_judged_on_its_own(
    sim: AramexSimulator,
) -> None:
    body = create_body("8001")
    refused = copy.deepcopy(body["Shipments"][0])
    refused["Consignee"]["PartyAddress"]["City"] = "Atlantis"
    body["Shipments"].append(refused)

    response = post(sim, CREATE, body)

    first, second = answer(response)["Shipments"]
    assert answer(response)["HasErrors"] is True
    assert first["ID"]
    assert not first["HasErrors"]
    assert second["HasErrors"]
    assert second["ID"] is None


@pytest.mark.parametrize(
    "raw", [b'{"ClientInfo": ', b"[]", b'{"Shipments": {}}', b'{"Shipments": [1]}']
)
def test_a_body_wcf_cannot_read_gets_the_html_error_page(
    sim: AramexSimulator, raw: bytes
) -> None:
    response = post(sim, CREATE, None, raw=raw)

    assert response.status == 400
    assert response.content_type.startswith("text/html")
    assert b"Request Error" in response.encode()
    assert sim.state["shipments"] == {}


# --- TrackShipments -----------------------------------------------------------


def test_tracks_known_awbs_as_a_key_value_list_and_lists_unknown_ones(
    sim: AramexSimulator,
) -> None:
    awb = answer(post(sim, CREATE, create_body()))["Shipments"][0]["ID"]
    body = {"ClientInfo": client_info(), "Shipments": [awb, "50199999999"]}

    response = post(sim, TRACK, body)

    result = answer(response)
    [tracked] = result["TrackingResults"]
    [event] = tracked["Value"]
    assert result["HasErrors"] is False
    assert result["NonExistingWaybills"] == ["50199999999"]
    assert tracked["Key"] == awb
    assert event["WaybillNumber"] == awb
    assert event["UpdateCode"] == "SH014"
    assert event["UpdateDescription"] == "Record created."
    assert event["UpdateLocation"] == "Casablanca, Morocco"
    assert event["UpdateDateTime"].endswith("+0300)/")
    assert parse_wcf_date(event["UpdateDateTime"]) == T0
    assert "\\/Date(" in response.encode().decode()


def test_tracking_with_wrong_credentials_is_err01(sim: AramexSimulator) -> None:
    body = {"ClientInfo": client_info(AccountPin="000000"), "Shipments": ["1"]}

    response = post(sim, TRACK, body)

    assert answer(response)["Notifications"][0]["Code"] == "ERR01"
    assert answer(response)["TrackingResults"] == []


# --- persistence and transport ----------------------------------------------


def test_shipments_survive_a_restart_with_the_same_data_directory(
    tmp_path: Path,
) -> None:
    clock = ManualClock(T0)
    before = AramexSimulator(data_dir=tmp_path, clock=clock)
    awb = answer(post(before, CREATE, create_body("8001")))["Shipments"][0]["ID"]
    clock.advance(timedelta(hours=1))

    after = AramexSimulator(data_dir=tmp_path, clock=clock)
    tracked = answer(
        post(after, TRACK, {"ClientInfo": client_info(), "Shipments": [awb]})
    )
    next_awb = answer(post(after, CREATE, create_body("8002")))["Shipments"][0]["ID"]

    assert tracked["TrackingResults"][0]["Key"] == awb
    assert next_awb != awb
    assert (tmp_path / "aramex.json").exists()


def test_the_label_url_serves_a_pdf_over_http() -> None:
    sim = AramexSimulator(clock=ManualClock(T0))

    with SimServer(sim) as server, httpx.Client() as http:
        created = http.post(server.url + CREATE, json=create_body()).json()
        label = http.get(created["Shipments"][0]["ShipmentLabel"]["LabelURL"])

    assert created["Shipments"][0]["ShipmentLabel"]["LabelURL"].startswith(server.url)
    assert label.status_code == 200
    assert label.headers["content-type"] == "application/pdf"
    assert label.content.startswith(b"%PDF")


def test_its_configuration_table_structures_into_adapter_settings() -> None:
    sim = AramexSimulator(cod_currency="MAD")
    strict = cattrs.Converter(forbid_extra_keys=True)

    table = sim.sandbox_settings("http://127.0.0.1:8417")

    settings = strict.structure(table, AramexSettings)
    assert settings == adapter_settings(
        "http://127.0.0.1:8417", tracking_url_template=TRACKING_TEMPLATE
    )
    assert table["cod_currencies"] == ["MAD"]


def test_with_a_latency_answers_take_that_long_and_wait_side_by_side() -> None:
    sim = AramexSimulator(clock=ManualClock(T0))
    sim.latency = 0.2
    body = {"ClientInfo": client_info(), "Shipments": ["50100000001"]}

    def track(http: httpx.Client, url: str) -> float:
        started = time.perf_counter()
        http.post(url + TRACK, json=body).raise_for_status()
        return time.perf_counter() - started

    with SimServer(sim) as server, httpx.Client() as http:
        alone = track(http, server.url)
        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: track(http, server.url), range(4)))
        together = time.perf_counter() - started

    assert alone >= 0.2
    assert together < 4 * 0.2
