"""The loopback Bosta speaks Bosta's wire format: the envelope, the raw
key, validation messages that name the field, and 429 with a retry hint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fulfilment_bosta.simulator import API_KEY, BostaSimulator

from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.testing.builders import T0

CAIRO = "FceDyHXwpSYYF9zGW"


def delivery(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": 10,
        "businessReference": "shemsi-egypt-1",
        "cod": 459,
        "receiver": {"firstName": "Mona", "lastName": "Adel", "phone": "01001234567"},
        "dropOffAddress": {"cityId": CAIRO, "firstLine": "12 Tahrir Street"},
    }
    return body | changes


@pytest.fixture
def bosta(tmp_path: Any) -> Iterator[tuple[BostaSimulator, httpx.Client]]:
    sim = BostaSimulator(clock=ManualClock(T0), requests_per_minute=6)
    with (
        SimServer(sim) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": API_KEY}) as client,
    ):
        assert server.url.startswith("http://127.0.0.1:")
        yield sim, client


def test_answers_in_the_success_message_data_envelope(bosta: Any) -> None:
    _, client = bosta

    answer = client.get("/api/v2/cities").json()

    assert answer["success"] is True
    assert {"Cairo", "Giza", "Alexandria"} <= {c["name"] for c in answer["data"]}


def test_a_bearer_prefix_is_not_bostas_key(bosta: Any) -> None:
    _, client = bosta

    answer = client.get(
        "/api/v2/cities", headers={"Authorization": f"Bearer {API_KEY}"}
    )

    assert answer.status_code == 401
    assert answer.json()["success"] is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"receiver": {"firstName": "Mona"}}, "receiver.phone"),
        (
            {"receiver": {"firstName": "Mona", "phone": "+33612345678"}},
            "receiver.phone",
        ),
        ({"dropOffAddress": {"cityId": "nowhere", "firstLine": "x"}}, "city"),
        (
            {
                "dropOffAddress": {
                    "cityId": CAIRO,
                    "districtId": "giz-dokki",
                    "firstLine": "x",
                }
            },
            "districtId",
        ),
        ({"cod": 40000}, "cod"),
        ({"type": 25}, "type"),
    ],
)
def test_refuses_a_bad_delivery_naming_the_field(
    bosta: Any, changes: dict[str, Any], field: str
) -> None:
    sim, client = bosta

    answer = client.post("/api/v2/deliveries", json=delivery(**changes))

    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert field in answer.json()["message"]
    assert sim.state["deliveries"] == {}


def test_a_created_delivery_is_found_and_moves_on_the_clock(bosta: Any) -> None:
    sim, client = bosta
    created = client.post("/api/v2/deliveries", json=delivery()).json()["data"]
    number = created["trackingNumber"]

    sim.clock.advance(timedelta(days=10))
    found = client.post(
        "/api/v2/deliveries/search", json={"businessReference": "shemsi-egypt-1"}
    ).json()["data"]["deliveries"]

    assert created["state"] == {"code": 10, "value": "Pickup requested"}
    assert [d["trackingNumber"] for d in found] == [number]
    assert found[0]["state"]["code"] in (45, 46)


def test_a_busy_caller_gets_429_with_a_retry_hint(bosta: Any) -> None:
    _, client = bosta

    answers = [client.get("/api/v2/cities") for _ in range(7)]

    assert [a.status_code for a in answers[:6]] == [200] * 6
    assert answers[6].status_code == 429
    assert 1 <= int(answers[6].headers["Retry-After"]) <= 60
    assert answers[6].json()["success"] is False
