"""Aramex mapping: orders to CreateShipments JSON and answers to bookings,
checked against the reference fixtures (I.1-I.4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.adapters.pl3.aramex.mapping import (
    booking_from_response,
    canonical_city,
    format_wcf_date,
    parse_wcf_date,
    shipment_request,
)
from fulfilment.adapters.pl3.aramex.settings import AramexSettings, ShipperSettings
from fulfilment.core.domain import Address, Order
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
)
from fulfilment.core.ports import BookingRequest
from fulfilment.runners.sandbox.aramex import DEFAULT_ACCOUNT, adapter_settings
from fulfilment.testing.builders import make_order

SHIPPED_AT = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)

# The request of reference fixture I.1, trimmed to one of each list item:
# the payload must carry exactly these members at every level.
I1_REQUEST = json.loads(
    """
{
  "ClientInfo": {"UserName": "", "Password": "", "Version": "v1.0",
    "AccountNumber": "", "AccountPin": "", "AccountEntity": "",
    "AccountCountryCode": "", "Source": 24},
  "Transaction": {"Reference1": "", "Reference2": "", "Reference3": "",
    "Reference4": "", "Reference5": ""},
  "Shipments": [{
    "Reference1": "", "Reference2": "", "Reference3": "",
    "Shipper": {"Reference1": "", "Reference2": "", "AccountNumber": "",
      "PartyAddress": {"Line1": "", "Line2": "", "Line3": "", "City": "",
        "StateOrProvinceCode": "", "PostCode": "", "CountryCode": ""},
      "Contact": {"Department": "", "PersonName": "", "Title": "",
        "CompanyName": "", "PhoneNumber1": "", "PhoneNumber1Ext": "",
        "PhoneNumber2": "", "PhoneNumber2Ext": "", "FaxNumber": "",
        "CellPhone": "", "EmailAddress": "", "Type": ""}},
    "Consignee": {"Reference1": "", "Reference2": "", "AccountNumber": "",
      "PartyAddress": {"Line1": "", "Line2": "", "Line3": "", "City": "",
        "StateOrProvinceCode": "", "PostCode": "", "CountryCode": ""},
      "Contact": {"Department": "", "PersonName": "", "Title": "",
        "CompanyName": "", "PhoneNumber1": "", "PhoneNumber1Ext": "",
        "PhoneNumber2": "", "PhoneNumber2Ext": "", "FaxNumber": "",
        "CellPhone": "", "EmailAddress": "", "Type": ""}},
    "ThirdParty": null,
    "ShippingDateTime": "", "DueDate": "", "Comments": "",
    "PickupLocation": "", "OperationsInstructions": "",
    "AccountingInstrcutions": "",
    "Details": {"Dimensions": null, "ActualWeight": {"Unit": "KG", "Value": 1},
      "ChargeableWeight": null, "DescriptionOfGoods": "",
      "GoodsOriginCountry": "", "NumberOfPieces": 1, "ProductGroup": "",
      "ProductType": "", "PaymentType": "", "PaymentOptions": "",
      "CustomsValueAmount": null,
      "CashOnDeliveryAmount": {"CurrencyCode": "MAD", "Value": 1},
      "InsuranceAmount": null, "CashAdditionalAmount": null,
      "CashAdditionalAmountDescription": "", "CollectAmount": null,
      "Services": "",
      "Items": [{"PackageType": "", "Quantity": 1,
        "Weight": {"Unit": "KG", "Value": 1}, "Comments": "", "Reference": "",
        "GoodsDescription": "", "CustomsValue": null}]},
    "Attachments": [], "ForeignHAWB": "", "TransportType": 0,
    "PickupGUID": "", "Number": null}],
  "LabelInfo": {"ReportID": 9729, "ReportType": "URL"}
}
"""
)

# Reference fixture I.2 as raw text: WCF escapes every slash.
I2_LABEL_URL = (
    r"https:\/\/ws.sbx.aramex.net\/content\/rpt_cache\/"
    r"5f0c2a9e7b3d4e1fa6c8d2b4e9f01a37.pdf"
)
I2_SUCCESS = (
    r"""
{"Transaction": {"Reference1": "MA-10482", "Reference2": "", "Reference3": "",
  "Reference4": "", "Reference5": ""},
 "Notifications": [], "HasErrors": false,
 "Shipments": [{"ID": "50123456781", "Reference1": "MA-10482",
   "Reference2": "store:zellige-ma", "Reference3": "", "ForeignHAWB": "",
   "HasErrors": false, "Notifications": [],
   "ShipmentLabel": {"LabelURL": "LABEL", "LabelFileContents": null},
   "ShipmentDetails": {"Origin": "CAS", "Destination": "CAS",
     "ChargeableWeight": {"Unit": "KG", "Value": 1.5},
     "CashOnDeliveryAmount": {"CurrencyCode": "MAD", "Value": 459.0},
     "Services": "CODS"},
   "ShipmentAttachments": [], "ShipmentThirdPartyProcessedObject": null}]}
"""
).replace("LABEL", I2_LABEL_URL)

ERR52_ANSWER = {
    "Transaction": {"Reference1": "AE-2231"},
    "Notifications": [],
    "HasErrors": True,
    "Shipments": [
        {
            "ID": None,
            "Reference1": "AE-2231",
            "HasErrors": True,
            "Notifications": [
                {
                    "Code": "ERR52",
                    "Message": "DestinationAddress - City name is invalid (Dubaii)",
                }
            ],
            "ShipmentLabel": None,
        }
    ],
}

ERR01_ANSWER = {
    "Transaction": None,
    "Notifications": [
        {"Code": "ERR01", "Message": "ClientInfo - Invalid username or password"}
    ],
    "HasErrors": True,
    "Shipments": [],
}


def i1_settings(**changes: Any) -> AramexSettings:
    shipper = ShipperSettings(
        warehouse="WH-CASA-01",
        company="Zellige Store SARL",
        phone="+212522987654",
        cell_phone="+212661000111",
        email="ops@zellige-store.example",
        line1="Lot 27, Zone Industrielle Sidi Maarouf",
        line2="Entrepot B",
        city="Casablanca",
        post_code="20270",
        country_code="MA",
        contact_name="Youssef El Amrani",
    )
    settings = AramexSettings(
        base_url="https://aramex.test",
        username="api.integration@zellige-store.example",
        password="S4ndbox!Pass",
        account_number="60012345",
        account_pin="482913",
        account_entity="CAS",
        account_country_code="MA",
        shipper=shipper,
    )
    return attrs.evolve(settings, **changes)


def build(order: Order, **settings: Any) -> dict[str, Any]:
    request = BookingRequest(f"{order.store}-{order.key.external_id}", order)
    return shipment_request(request, i1_settings(**settings), SHIPPED_AT)


def shape(value: Any) -> Any:
    """The members of a JSON value, recursively, without the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


def with_address(order: Order, **changes: Any) -> Order:
    address = order.shipping_address or Address()
    return attrs.evolve(order, shipping_address=attrs.evolve(address, **changes))


# --- request ----------------------------------------------------------------


def test_request_has_exactly_the_members_of_the_reference_request() -> None:
    order = make_order("10482", cod=True)

    payload = build(order)

    assert shape(payload) == shape(I1_REQUEST)
    assert "AccountingInstructions" not in payload["Shipments"][0]


def test_client_info_carries_the_account_from_settings() -> None:
    order = make_order("10482")

    info = build(order)["ClientInfo"]

    assert info == {
        "UserName": "api.integration@zellige-store.example",
        "Password": "S4ndbox!Pass",
        "Version": "v1.0",
        "AccountNumber": "60012345",
        "AccountPin": "482913",
        "AccountEntity": "CAS",
        "AccountCountryCode": "MA",
        "Source": 24,
    }


def test_shipment_carries_order_name_and_merchant_reference() -> None:
    order = make_order("10482", name="MA-10482")

    payload = build(order)

    shipment = payload["Shipments"][0]
    assert payload["Transaction"]["Reference1"] == "MA-10482"
    assert shipment["Reference1"] == "MA-10482"
    assert shipment["Reference2"] == "shemsiworld-10482"
    assert shipment["Shipper"]["AccountNumber"] == "60012345"
    assert shipment["Shipper"]["Reference1"] == "WH-CASA-01"
    assert shipment["Shipper"]["Contact"]["PersonName"] == "Youssef El Amrani"


def test_consignee_is_the_customer_with_an_e164_phone_in_both_fields() -> None:
    order = make_order("10482", phone="+212661234567")

    consignee = build(order)["Shipments"][0]["Consignee"]

    assert consignee["Contact"]["PersonName"] == "Fatima Benali"
    assert consignee["Contact"]["CompanyName"] == "Fatima Benali"
    assert consignee["Contact"]["PhoneNumber1"] == "+212661234567"
    assert consignee["Contact"]["CellPhone"] == "+212661234567"
    assert consignee["Contact"]["EmailAddress"] == "fatima@example.com"
    assert consignee["PartyAddress"]["Line1"] == "12 Rue Ibn Battouta"
    assert consignee["PartyAddress"]["City"] == "Casablanca"
    assert consignee["PartyAddress"]["CountryCode"] == "MA"


def test_an_address_without_post_code_gets_the_placeholder() -> None:
    order = with_address(make_order("10482"), zip=None)

    address = build(order)["Shipments"][0]["Consignee"]["PartyAddress"]

    assert address["PostCode"] == "00000"


def test_an_address_post_code_is_sent_as_given() -> None:
    order = with_address(make_order("10482"), zip="20330")

    address = build(order)["Shipments"][0]["Consignee"]["PartyAddress"]

    assert address["PostCode"] == "20330"


def test_dates_are_wcf_strings_with_due_date_two_days_later() -> None:
    order = make_order("10482")

    shipment = build(order)["Shipments"][0]

    assert shipment["ShippingDateTime"] == "/Date(1717405200000)/"
    assert parse_wcf_date(shipment["DueDate"]) == SHIPPED_AT + timedelta(days=2)


def test_cash_on_delivery_asks_for_cods_and_the_amount_in_local_currency() -> None:
    order = make_order("10482", cod=True, amount="459.00")

    details = build(order)["Shipments"][0]["Details"]

    assert details["Services"] == "CODS"
    assert details["CashOnDeliveryAmount"] == {"CurrencyCode": "MAD", "Value": 459.0}
    assert details["PaymentType"] == "P"
    assert details["ProductGroup"] == "DOM"
    assert details["ProductType"] == "ONP"


def test_a_prepaid_order_has_no_cods_and_nothing_to_collect() -> None:
    order = make_order("10482", cod=False)

    details = build(order)["Shipments"][0]["Details"]

    assert details["Services"] == ""
    assert details["CashOnDeliveryAmount"] is None


def test_weight_and_items_come_from_the_lines() -> None:
    order = make_order("10482", quantity=2)

    details = build(order)["Shipments"][0]["Details"]

    assert details["ActualWeight"] == {"Unit": "KG", "Value": 1.4}
    assert details["NumberOfPieces"] == 1
    assert details["Items"] == [
        {
            "PackageType": "Box",
            "Quantity": 2,
            "Weight": {"Unit": "KG", "Value": 0.7},
            "Comments": "",
            "Reference": "TAJ-BLUE",
            "GoodsDescription": "Tajine plate",
            "CustomsValue": None,
        }
    ]


def test_a_parcel_of_unknown_weight_counts_as_half_a_kilo() -> None:
    order = make_order("10482")
    order = attrs.evolve(
        order, lines=tuple(attrs.evolve(line, grams=None) for line in order.lines)
    )

    details = build(order)["Shipments"][0]["Details"]

    assert details["ActualWeight"] == {"Unit": "KG", "Value": 0.5}
    assert details["Items"][0]["Weight"] is None


def test_label_is_asked_for_as_a_url_with_the_configured_report() -> None:
    order = make_order("10482")

    payload = build(order, label_report_id=9201)

    assert payload["LabelInfo"] == {"ReportID": 9201, "ReportType": "URL"}


def test_the_payload_is_plain_json() -> None:
    order = make_order("10482")

    text = json.dumps(build(order))

    assert json.loads(text)["Shipments"][0]["TransportType"] == 0


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("Fès", "Fes"),
        ("الدار البيضاء", "Casablanca"),
        ("Tanger", "Tangier"),
        ("Marrakesh", "Marrakech"),
        ("  MARRAKESH ", "Marrakech"),
        ("Rabat", "Rabat"),
        ("Atlantis", "Atlantis"),
    ],
)
def test_city_aliases_are_mapped_to_aramex_names(typed: str, sent: str) -> None:
    order = make_order("10482", city=typed)

    address = build(order)["Shipments"][0]["Consignee"]["PartyAddress"]

    assert address["City"] == sent
    assert canonical_city(typed) == sent


# --- dates ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "\\/Date(1717505220000+0300)\\/",
        "/Date(1717505220000+0300)/",
        "/Date(1717505220000-0500)/",
        "/Date(1717505220000)/",
    ],
)
def test_wcf_dates_are_read_as_utc_milliseconds_whatever_the_offset(
    text: str,
) -> None:
    moment = parse_wcf_date(text)

    assert moment == datetime(2024, 6, 4, 12, 47, tzinfo=UTC)


def test_a_date_before_1970_is_read() -> None:
    moment = parse_wcf_date("/Date(-86400000)/")

    assert moment == datetime(1969, 12, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["2024-06-04T12:47:00Z", "1717505220000", "/Date(abc)/", "/Date()/"]
)
def test_anything_but_a_wcf_date_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="WCF"):
        parse_wcf_date(text)


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.just(UTC),
    )
)
def test_wcf_dates_round_trip_to_the_millisecond(moment: datetime) -> None:
    expected = moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    assert parse_wcf_date(format_wcf_date(moment)) == expected


# --- response ---------------------------------------------------------------


def test_a_success_answer_becomes_a_booking_with_unescaped_label_url() -> None:
    answer = json.loads(I2_SUCCESS)

    booking = booking_from_response(answer, "https://track.example/{awb}")

    assert "https:\\/\\/ws.sbx" in I2_SUCCESS  # the fixture is really escaped
    assert booking.partner == "aramex"
    assert booking.reference == "50123456781"
    assert booking.label_url == (
        "https://ws.sbx.aramex.net/content/rpt_cache/"
        "5f0c2a9e7b3d4e1fa6c8d2b4e9f01a37.pdf"
    )
    assert booking.tracking_url == "https://track.example/50123456781"


def test_without_a_template_a_booking_has_no_tracking_url() -> None:
    answer = json.loads(I2_SUCCESS)

    booking = booking_from_response(answer)

    assert booking.tracking_url is None


def test_a_shipment_level_error_is_a_rejection_in_the_partners_words() -> None:
    with pytest.raises(PartnerRejected) as rejected:
        booking_from_response(ERR52_ANSWER)

    assert rejected.value.code == "ERR52"
    assert rejected.value.problems == (
        ("ERR52", "DestinationAddress - City name is invalid (Dubaii)"),
    )
    assert "City name is invalid (Dubaii)" in str(rejected.value)


def test_bad_credentials_at_the_envelope_are_a_permanent_error() -> None:
    with pytest.raises(PermanentPartnerError) as failed:
        booking_from_response(ERR01_ANSWER)

    assert failed.value.code == "ERR01"
    assert "Invalid username or password" in str(failed.value)


def test_every_notification_of_both_levels_is_kept() -> None:
    answer = {
        **ERR52_ANSWER,
        "Notifications": [{"Code": "ERR10", "Message": "Transaction - warning"}],
    }
    answer["Shipments"] = [
        {
            **ERR52_ANSWER["Shipments"][0],
            "Notifications": [
                {"Code": "ERR52", "Message": "City name is invalid (X)"},
                {"Code": "ERR05", "Message": "Consignee - PhoneNumber1 is required"},
            ],
        }
    ]

    with pytest.raises(PartnerRejected) as rejected:
        booking_from_response(answer)

    assert [code for code, _ in rejected.value.problems] == [
        "ERR10",
        "ERR52",
        "ERR05",
    ]


def test_an_envelope_error_without_shipments_is_a_rejection() -> None:
    answer = {
        "HasErrors": True,
        "Notifications": [{"Code": "ERR20", "Message": "Shipments - required"}],
        "Shipments": None,
    }

    with pytest.raises(PartnerRejected) as rejected:
        booking_from_response(answer)

    assert rejected.value.problems == (("ERR20", "Shipments - required"),)


def test_a_created_shipment_is_kept_even_when_the_envelope_complains() -> None:
    answer = json.loads(I2_SUCCESS)
    answer["HasErrors"] = True

    booking = booking_from_response(answer)

    assert booking.reference == "50123456781"


def test_a_single_shipment_object_is_read_like_a_list() -> None:
    answer = json.loads(I2_SUCCESS)
    answer["Shipments"] = answer["Shipments"][0]

    booking = booking_from_response(answer)

    assert booking.reference == "50123456781"


def test_an_answer_with_neither_awb_nor_error_is_an_unknown_outcome() -> None:
    answer = {"HasErrors": False, "Notifications": [], "Shipments": []}

    with pytest.raises(OutcomeUnknown):
        booking_from_response(answer)


def test_a_tracking_link_template_with_an_unknown_placeholder_is_refused() -> None:
    settings = adapter_settings("http://127.0.0.1:9", DEFAULT_ACCOUNT)

    with pytest.raises(ValueError, match="may only use the placeholder"):
        attrs.evolve(settings, tracking_url_template="https://t.example/{waybill}")
