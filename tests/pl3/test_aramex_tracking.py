"""Aramex tracking over HTTP, routed by respx: the TrackShipments request,
the answer of fixture I.4 read back, and how tracking fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import pytest
import respx

from fulfilment.adapters.pl3.aramex import mapping
from fulfilment.adapters.pl3.aramex.client import AramexClient
from fulfilment.adapters.pl3.aramex.partner import AramexDeliveryPartner
from fulfilment.adapters.pl3.aramex.settings import AramexSettings
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import TrackingStatus
from fulfilment.core.errors import PermanentPartnerError
from fulfilment.runners.sandbox.aramex import adapter_settings
from fulfilment.testing.builders import T0

BASE_URL = "https://aramex.test"
TRACK_URL = f"{BASE_URL}/ShippingAPI.V2/Tracking/Service_1_0.svc/json/TrackShipments"
SETTINGS = adapter_settings(BASE_URL)
DELIVERED_AWB, FAILED_AWB, UNKNOWN_AWB = "50123456781", "50123456792", "50199999999"


# Fixture I.4 as Aramex writes it: newest first, slashes escaped, the
# milliseconds UTC and the offset Aramex's own zone.
I4_RESPONSE = r"""{
  "Transaction": {"Reference1": "track-batch-0604", "Reference2": "",
    "Reference3": "", "Reference4": "", "Reference5": ""},
  "Notifications": [],
  "HasErrors": false,
  "TrackingResults": [
    {
      "Key": "50123456781",
      "Value": [
        {"WaybillNumber": "50123456781", "UpdateCode": "SH005",
         "UpdateDescription": "Delivered",
         "UpdateDateTime": "\/Date(1717505220000+0300)\/",
         "UpdateLocation": "Casablanca, Morocco",
         "Comments": "Received by فاطمة الزهراء", "ProblemCode": "",
         "GrossWeight": "1.4", "ChargeableWeight": "1.5", "WeightUnit": "KG"},
        {"WaybillNumber": "50123456781", "UpdateCode": "SH003",
         "UpdateDescription": "Out for Delivery",
         "UpdateDateTime": "\/Date(1717489800000+0300)\/",
         "UpdateLocation": "Casablanca, Morocco",
         "Comments": "", "ProblemCode": "",
         "GrossWeight": "1.4", "ChargeableWeight": "1.5", "WeightUnit": "KG"},
        {"WaybillNumber": "50123456781", "UpdateCode": "SH047",
         "UpdateDescription": "Received at Origin Facility",
         "UpdateDateTime": "\/Date(1717438320000+0300)\/",
         "UpdateLocation": "Casablanca, Morocco",
         "Comments": "", "ProblemCode": "",
         "GrossWeight": "1.4", "ChargeableWeight": "1.5", "WeightUnit": "KG"},
        {"WaybillNumber": "50123456781", "UpdateCode": "SH012",
         "UpdateDescription": "Picked Up From Shipper",
         "UpdateDateTime": "\/Date(1717425600000+0300)\/",
         "UpdateLocation": "Casablanca, Morocco",
         "Comments": "", "ProblemCode": "",
         "GrossWeight": "1.4", "ChargeableWeight": "1.5", "WeightUnit": "KG"},
        {"WaybillNumber": "50123456781", "UpdateCode": "SH014",
         "UpdateDescription": "Record created.",
         "UpdateDateTime": "\/Date(1717405500000+0300)\/",
         "UpdateLocation": "Casablanca, Morocco",
         "Comments": "1.4,1.5,KG", "ProblemCode": "",
         "GrossWeight": "1.4", "ChargeableWeight": "1.5", "WeightUnit": "KG"}
      ]
    },
    {
      "Key": "50123456792",
      "Value": [
        {"WaybillNumber": "50123456792", "UpdateCode": "SH294",
         "UpdateDescription": "On Hold - Consignee mobile unreachable",
         "UpdateDateTime": "\/Date(1717495320000+0300)\/",
         "UpdateLocation": "Rabat, Morocco",
         "Comments": "3 attempts", "ProblemCode": "",
         "GrossWeight": "0.8", "ChargeableWeight": "1", "WeightUnit": "KG"},
        {"WaybillNumber": "50123456792", "UpdateCode": "SH014",
         "UpdateDescription": "Record created.",
         "UpdateDateTime": "\/Date(1717410000000+0300)\/",
         "UpdateLocation": "Casablanca, Morocco",
         "Comments": "", "ProblemCode": "",
         "GrossWeight": "0.8", "ChargeableWeight": "1", "WeightUnit": "KG"}
      ]
    }
  ],
  "NonExistingWaybills": ["50199999999"]
}"""
BAD_CREDENTIALS = {
    "Transaction": None,
    "Notifications": [
        {"Code": "ERR01", "Message": "ClientInfo - Invalid username or password"}
    ],
    "HasErrors": True,
    "TrackingResults": [],
    "NonExistingWaybills": [],
}


def answer_for(awbs: list[str]) -> dict[str, Any]:
    """A minimal TrackShipments answer: each AWB recorded as created."""
    return {
        "HasErrors": False,
        "Notifications": [],
        "TrackingResults": [
            {
                "Key": awb,
                "Value": [
                    {
                        "UpdateCode": "SH014",
                        "UpdateDescription": "Record created.",
                        "UpdateDateTime": "/Date(1717405500000+0300)/",
                    }
                ],
            }
            for awb in awbs
        ],
        "NonExistingWaybills": [],
    }


def batch_answer(request: httpx.Request) -> httpx.Response:
    awbs = json.loads(request.content)["Shipments"]
    return httpx.Response(200, json=answer_for(awbs))


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as router:
        yield router


def partner_for(settings: AramexSettings = SETTINGS) -> AramexDeliveryPartner:
    return AramexDeliveryPartner(
        AramexClient(httpx.Client(), settings),
        settings,
        retry=RetryPolicy.for_tests(),
        clock=ManualClock(T0),
    )


def test_asks_track_shipments_for_every_event_of_the_awbs(
    router: respx.MockRouter,
) -> None:
    track = router.post(TRACK_URL).respond(200, text=I4_RESPONSE)

    partner_for().track([DELIVERED_AWB, FAILED_AWB, UNKNOWN_AWB])

    body = json.loads(track.calls.last.request.content)
    assert body["ClientInfo"] == mapping.client_info(SETTINGS)
    assert body["Shipments"] == [DELIVERED_AWB, FAILED_AWB, UNKNOWN_AWB]
    assert body["GetLastTrackingUpdateOnly"] is False
    assert body["Transaction"]["Reference1"] == "track-20261102T090000"


def test_reads_the_key_value_results_oldest_first_with_utc_times(
    router: respx.MockRouter,
) -> None:
    router.post(TRACK_URL).respond(200, text=I4_RESPONSE)

    batch = partner_for().track([DELIVERED_AWB, FAILED_AWB, UNKNOWN_AWB])

    assert "\\/Date(" in I4_RESPONSE
    events = batch.events[DELIVERED_AWB]
    assert [e.code for e in events] == ["SH014", "SH012", "SH047", "SH003", "SH005"]
    assert [e.status for e in events] == [
        TrackingStatus.CREATED,
        TrackingStatus.PICKED_UP,
        TrackingStatus.IN_TRANSIT,
        TrackingStatus.OUT_FOR_DELIVERY,
        TrackingStatus.DELIVERED,
    ]
    delivered = events[-1]
    assert delivered.occurred_at == datetime(2024, 6, 4, 12, 47, tzinfo=UTC)
    assert delivered.description == "Delivered"
    assert delivered.location == "Casablanca, Morocco"


def test_an_unknown_awb_comes_back_missing(router: respx.MockRouter) -> None:
    router.post(TRACK_URL).respond(200, text=I4_RESPONSE)

    batch = partner_for().track([DELIVERED_AWB, FAILED_AWB, UNKNOWN_AWB])

    assert batch.missing == frozenset({UNKNOWN_AWB})
    assert UNKNOWN_AWB not in batch.events


def test_an_unreachable_consignee_is_a_failed_delivery(
    router: respx.MockRouter,
) -> None:
    router.post(TRACK_URL).respond(200, text=I4_RESPONSE)

    batch = partner_for().track([FAILED_AWB])

    latest = batch.events[FAILED_AWB][-1]
    assert latest.code == "SH294"
    assert latest.status is TrackingStatus.DELIVERY_FAILED
    assert latest.location == "Rabat, Morocco"


def test_the_receivers_name_in_comments_is_not_kept() -> None:
    data = json.loads(I4_RESPONSE)

    batch = mapping.tracking_batch(data, [DELIVERED_AWB])

    assert not any("فاطمة" in repr(event) for event in batch.events[DELIVERED_AWB])


def test_an_unknown_update_code_keeps_its_raw_code_and_description() -> None:
    data = answer_for([DELIVERED_AWB])
    row = data["TrackingResults"][0]["Value"][0]
    row |= {"UpdateCode": "SH999", "UpdateDescription": "Customs inspection"}

    [event] = mapping.tracking_batch(data, [DELIVERED_AWB]).events[DELIVERED_AWB]

    assert event.status is TrackingStatus.UNKNOWN
    assert (event.code, event.description) == ("SH999", "Customs inspection")


def test_an_awb_the_answer_skips_has_no_events_and_is_not_missing() -> None:
    data = answer_for([DELIVERED_AWB])

    batch = mapping.tracking_batch(data, [DELIVERED_AWB, FAILED_AWB])

    assert batch.events[FAILED_AWB] == ()
    assert batch.missing == frozenset()


def test_wrong_credentials_stop_tracking_with_a_permanent_error(
    router: respx.MockRouter,
) -> None:
    router.post(TRACK_URL).respond(200, json=BAD_CREDENTIALS)

    with pytest.raises(PermanentPartnerError) as failed:
        partner_for().track([DELIVERED_AWB])

    assert failed.value.code == "ERR01"
    assert "Invalid username or password" in str(failed.value)


def test_an_unreadable_date_names_its_place_in_the_answer() -> None:
    data = answer_for([DELIVERED_AWB])
    data["TrackingResults"][0]["Value"][0]["UpdateDateTime"] = "2024-06-04"

    with pytest.raises(PermanentPartnerError, match=r"\[0\]\.Value\[0\]"):
        mapping.tracking_batch(data, [DELIVERED_AWB])


def test_awbs_are_asked_in_batches_of_the_configured_size(
    router: respx.MockRouter,
) -> None:
    track = router.post(TRACK_URL).mock(side_effect=batch_answer)
    awbs = [f"5030000000{n}" for n in range(5)]
    partner = partner_for(attrs.evolve(SETTINGS, max_tracking_batch=2))

    batch = partner.track([*awbs, awbs[0]])

    sizes = [len(json.loads(c.request.content)["Shipments"]) for c in track.calls]
    assert sizes == [2, 2, 1]
    assert sorted(batch.events) == awbs
    assert partner.capabilities.max_tracking_batch == 2


def test_tracking_nothing_asks_nothing(router: respx.MockRouter) -> None:
    batch = partner_for().track([])

    assert batch.events == {}
    assert not router.calls


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(503, headers={"Retry-After": "0"}), httpx.ReadTimeout("slow")],
    ids=["busy", "lost-answer"],
)
def test_tracking_is_a_read_and_is_retried(
    router: respx.MockRouter, failure: Any
) -> None:
    track = router.post(TRACK_URL)
    track.side_effect = [failure, httpx.Response(200, text=I4_RESPONSE)]

    batch = partner_for().track([DELIVERED_AWB])

    assert track.call_count == 2
    assert batch.events[DELIVERED_AWB]


def test_declares_batch_tracking_and_no_cancellation() -> None:
    partner = partner_for()

    assert partner.capabilities.batch_tracking
    assert partner.capabilities.max_tracking_batch == 50
    assert not partner.capabilities.cancel
    with pytest.raises(NotImplementedError, match="cancel"):
        partner.cancel(DELIVERED_AWB)
