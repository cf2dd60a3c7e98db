"""The loopback Rebrandly validates links like Rebrandly, answers a taken
slashtag with its observed 403, and runs out of links when told to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fulfilment.core.errors import PermanentPartnerError
from fulfilment.runners.sandbox.rebrandly import (
    SANDBOX_API_KEY,
    SANDBOX_DOMAIN,
    RebrandlySimulator,
)
from fulfilment.runners.sandbox.server import Fault
from fulfilment.testing.notifiers import DESTINATION

from .loopback import loopback_client
from .test_rebrandly_contract import Served, rebrandly_shortener, served, simulator

__all__ = ["served", "simulator"]

KEY = {"apikey": SANDBOX_API_KEY}


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with loopback_client(served[1], 5.0) as client:
        yield client


def create(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post(
        "/v1/links", json={"destination": DESTINATION, **body}, headers=KEY
    )


def test_refuses_a_wrong_api_key(
    http: httpx.Client, simulator: RebrandlySimulator
) -> None:
    answer = http.post("/v1/links", json={"destination": DESTINATION})

    assert answer.status_code == 401
    assert answer.json()["code"] == "Unauthorized"


def test_answers_a_link_entity_with_a_short_url_without_scheme(
    http: httpx.Client, simulator: RebrandlySimulator
) -> None:
    answer = create(http, slashtag="ma10482", domain={"fullName": SANDBOX_DOMAIN})

    link = answer.json()
    assert answer.status_code == 200
    assert link["shortUrl"] == f"{SANDBOX_DOMAIN}/ma10482"
    assert link["domain"]["fullName"] == SANDBOX_DOMAIN
    assert len(link["id"]) == 32


def test_a_taken_slashtag_is_a_403_wrapping_already_exists(
    http: httpx.Client, simulator: RebrandlySimulator
) -> None:
    create(http, slashtag="ma10482")

    answer = create(http, slashtag="ma10482")

    assert answer.status_code == 403
    assert answer.json()["code"] == "InvalidFormat"
    assert answer.json()["errors"][0]["code"] == "AlreadyExists"


@pytest.mark.parametrize(
    ("body", "prop"),
    [
        ({"destination": "not a url"}, "destination"),
        ({"destination": "https://x.example/" + "a" * 2048}, "destination"),
        ({"slashtag": "has space"}, "slashtag"),
        ({"slashtag": "x" * 41}, "slashtag"),
        ({"domain": {"fullName": "unknown.example"}}, "domain"),
    ],
)
def test_invalid_fields_are_403s_naming_the_property(
    http: httpx.Client,
    simulator: RebrandlySimulator,
    body: dict[str, Any],
    prop: str,
) -> None:
    answer = create(http, **body)

    assert answer.status_code == 403
    assert answer.json()["errors"][0]["property"] == prop


def test_lists_links_by_slashtag_and_domain(
    http: httpx.Client, simulator: RebrandlySimulator
) -> None:
    create(http, slashtag="ma10482")
    create(http, slashtag="ma10482", domain={"fullName": SANDBOX_DOMAIN})

    answer = http.get(
        "/v1/links",
        params={"slashtag": "ma10482", "domain.fullName": SANDBOX_DOMAIN},
        headers=KEY,
    )

    (found,) = answer.json()
    assert found["shortUrl"] == f"{SANDBOX_DOMAIN}/ma10482"


def test_reads_one_link_or_answers_not_found(
    http: httpx.Client, simulator: RebrandlySimulator
) -> None:
    link_id = create(http).json()["id"]

    found = http.get(f"/v1/links/{link_id}", headers=KEY)
    missing = http.get(f"/v1/links/{'0' * 32}", headers=KEY)

    assert found.json()["destination"] == DESTINATION
    assert (missing.status_code, missing.json()["code"]) == (404, "NotFound")


def test_a_used_up_quota_reaches_the_adapter_as_a_permanent_error(
    served: Served, simulator: RebrandlySimulator
) -> None:
    simulator.link_quota = 1
    shortener = rebrandly_shortener(served)
    shortener.shorten(DESTINATION, "one")

    with pytest.raises(PermanentPartnerError, match="limit"):
        shortener.shorten(DESTINATION, "two")


def test_a_dropped_answer_with_a_slashtag_still_gives_the_one_link(
    served: Served, simulator: RebrandlySimulator
) -> None:
    simulator.faults.add("create-link", Fault(drop_after=True))

    short = rebrandly_shortener(served).shorten(DESTINATION, "ma10482")

    assert short == f"https://{SANDBOX_DOMAIN}/ma10482"
    assert len(simulator.state["links"]) == 1


def test_links_survive_a_restart(
    http: httpx.Client, simulator: RebrandlySimulator
) -> None:
    create(http, slashtag="kept")

    again = RebrandlySimulator(data_dir=simulator.data_dir)

    assert again.destination_of("https://rebrand.ly/kept") == DESTINATION
