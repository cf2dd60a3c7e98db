"""The Aramex client and partner over HTTP, routed by respx: what goes on
the wire, and how each way of failing reaches the caller."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.hookspecs import AdapterContext
from fulfilment.adapters.pl3.aramex.client import AramexClient
from fulfilment.adapters.pl3.aramex.partner import AramexDeliveryPartner
from fulfilment.adapters.pl3.aramex.plugin import (
    fulfilment_register_delivery_partners,
)
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.booking import booking_reference
from fulfilment.core.clock import ManualClock
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
)
from fulfilment.core.ports import BookingRequest, DeliveryPartner
from fulfilment.runners.sandbox.aramex import adapter_settings
from fulfilment.testing.builders import T0, make_order

BASE_URL = "https://aramex.test"
CREATE_URL = f"{BASE_URL}/ShippingAPI.V2/Shipping/Service_1_0.svc/json/CreateShipments"
SETTINGS = adapter_settings(BASE_URL, tracking_url_template="https://t.example/{awb}")

SUCCESS = (
    r'{"Transaction": null, "Notifications": [], "HasErrors": false,'
    r' "Shipments": [{"ID": "50123456781", "Reference1": "#7001",'
    r' "HasErrors": false, "Notifications": [], "ShipmentLabel":'
    r' {"LabelURL": "https:\/\/labels.example\/rpt_cache\/abc.pdf",'
    r' "LabelFileContents": null}, "ShipmentDetails": {"Origin": "CAS"}}]}'
)
CITY_REFUSED = {
    "Transaction": None,
    "Notifications": [],
    "HasErrors": True,
    "Shipments": [
        {
            "ID": None,
            "HasErrors": True,
            "Notifications": [
                {
                    "Code": "ERR52",
                    "Message": "DestinationAddress - City name is invalid (Atlantis)",
                }
            ],
        }
    ],
}
BAD_CREDENTIALS = {
    "Transaction": None,
    "Notifications": [
        {"Code": "ERR01", "Message": "ClientInfo - Invalid username or password"}
    ],
    "HasErrors": True,
    "Shipments": [],
}
WCF_PAGE = (
    "<html><head><title>Request Error</title><style>BODY {color: #000}</style>"
    '</head><body><div id="content"><p class="heading1">Request Error</p>'
    "<p>The server encountered an error processing the request. The exception "
    "message is &#39;Expecting element &#39;root&#39;.&#39;.</p></div></body></html>"
)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def partner() -> Iterator[AramexDeliveryPartner]:
    with httpx.Client() as http:
        yield AramexDeliveryPartner(
            AramexClient(http, SETTINGS),
            SETTINGS,
            retry=RetryPolicy.for_tests(),
            clock=ManualClock(T0),
        )


def book(partner: DeliveryPartner, **order: Any) -> Any:
    placed = make_order("7001", **order)
    return partner.book(BookingRequest(booking_reference(placed), placed))


def test_books_by_posting_json_to_create_shipments(
    router: respx.MockRouter, partner: AramexDeliveryPartner
) -> None:
    route = router.post(CREATE_URL).respond(200, text=SUCCESS)

    booking = book(partner)

    sent = route.calls.last.request
    body = json.loads(sent.content)
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["accept"] == "application/json"
    assert body["ClientInfo"]["AccountNumber"] == SETTINGS.account_number
    assert body["Shipments"][0]["Reference2"] == "shemsiworld-7001"
    assert body["Shipments"][0]["ShippingDateTime"] == "/Date(1793610000000)/"
    assert booking.reference == "50123456781"
    assert booking.label_url == "https://labels.example/rpt_cache/abc.pdf"
    assert booking.tracking_url == "https://t.example/50123456781"


def test_an_invalid_city_is_rejected_in_aramex_words(
    router: respx.MockRouter, partner: AramexDeliveryPartner
) -> None:
    router.post(CREATE_URL).respond(200, json=CITY_REFUSED)

    with pytest.raises(PartnerRejected) as rejected:
        book(partner, city="Atlantis")

    assert rejected.value.partner == "aramex"
    assert rejected.value.problems == (
        ("ERR52", "DestinationAddress - City name is invalid (Atlantis)"),
    )


def test_bad_credentials_stop_with_a_permanent_error(
    router: respx.MockRouter, partner: AramexDeliveryPartner
) -> None:
    route = router.post(CREATE_URL).respond(200, json=BAD_CREDENTIALS)

    with pytest.raises(PermanentPartnerError) as failed:
        book(partner)

    assert failed.value.code == "ERR01"
    assert route.call_count == 1


def test_a_503_is_retried_and_the_parcel_booked_once(
    router: respx.MockRouter, partner: AramexDeliveryPartner
) -> None:
    route = router.post(CREATE_URL)
    route.side_effect = [
        httpx.Response(503, headers={"Retry-After": "1"}, text="busy"),
        httpx.Response(200, text=SUCCESS),
    ]

    booking = book(partner)

    assert booking.reference == "50123456781"
    assert route.call_count == 2


def test_a_read_timeout_is_never_repeated_and_reported_as_unknown(
    router: respx.MockRouter, partner: AramexDeliveryPartner
) -> None:
    route = router.post(CREATE_URL).mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(OutcomeUnknown):
        book(partner)

    assert route.call_count == 1


def test_a_500_after_sending_is_never_repeated(
    router: respx.MockRouter, partner: AramexDeliveryPartner
) -> None:
    route = router.post(CREATE_URL).respond(500, text="oops")

    with pytest.raises(OutcomeUnknown):
        book(partner)

    assert route.call_count == 1


def test_a_wcf_error_page_is_a_permanent_error_quoting_its_text(
    router: respx.MockRouter, partner: AramexDeliveryPartner
) -> None:
    router.post(CREATE_URL).respond(
        400, text=WCF_PAGE, headers={"Content-Type": "text/html"}
    )

    with pytest.raises(PermanentPartnerError) as failed:
        book(partner)

    message = str(failed.value)
    assert failed.value.status == 400
    assert "Request Error" in message
    assert "Expecting element 'root'" in message
    assert "<" not in message
    assert "color" not in message


def test_an_unreadable_200_may_have_booked_so_is_unknown(
    router: respx.MockRouter, partner: AramexDeliveryPartner
) -> None:
    route = router.post(CREATE_URL).respond(200, text='{"Shipments": [')

    with pytest.raises(OutcomeUnknown):
        book(partner)

    assert route.call_count == 1


def test_the_path_is_joined_to_a_base_url_with_a_trailing_slash(
    router: respx.MockRouter,
) -> None:
    route = router.post(CREATE_URL).respond(200, text=SUCCESS)
    settings = adapter_settings(BASE_URL + "/")

    with httpx.Client() as http:
        AramexClient(http, settings).create_shipments({})

    assert route.called


def test_bookings_are_logged_without_phone_or_credentials(
    router: respx.MockRouter,
    partner: AramexDeliveryPartner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    router.post(CREATE_URL).respond(200, text=SUCCESS)
    caplog.set_level(logging.DEBUG)

    book(partner, phone="+212661234567")

    assert "aramex.booked" in caplog.text
    assert "+212661234567" not in caplog.text
    assert SETTINGS.password not in caplog.text
    assert SETTINGS.password not in repr(SETTINGS)


def test_declares_cod_in_the_account_currency_and_no_lookup(
    partner: AramexDeliveryPartner,
) -> None:
    capabilities = partner.capabilities

    assert capabilities.cash_on_delivery
    assert capabilities.cod_currencies == frozenset({"MAD"})
    assert capabilities.countries == frozenset({"MA"})
    assert not capabilities.lookup_by_reference
    with pytest.raises(NotImplementedError):
        partner.find_booking("shemsiworld-7001")


def test_the_plugin_registers_a_factory_that_builds_on_the_context_client() -> None:
    opened: list[tuple[str, float]] = []

    def http_client(base_url: str, timeout: float) -> httpx.Client:
        opened.append((base_url, timeout))
        return httpx.Client(base_url=base_url, timeout=timeout)

    context = AdapterContext(
        clock=ManualClock(T0), retry=RetryPolicy.for_tests(), http_client=http_client
    )

    factory = fulfilment_register_delivery_partners()["aramex"]
    partner = factory.build(SETTINGS, context)

    assert factory.settings_type is type(SETTINGS)
    assert isinstance(partner, DeliveryPartner)
    assert partner.name == "aramex"
    assert opened == [(BASE_URL, SETTINGS.timeout)]
