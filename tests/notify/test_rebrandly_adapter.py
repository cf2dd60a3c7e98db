"""The Rebrandly adapter over HTTP, routed by respx: the link it asks for,
the short URL it returns, a taken slashtag resolved by lookup, and the
403s that are not about slashtags."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.notify.common import SLASHTAG_TAKEN
from fulfilment.adapters.notify.rebrandly import RebrandlyClient, RebrandlySettings
from fulfilment.adapters.notify.rebrandly.adapter import RebrandlyLinkShortener
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
)
from fulfilment.testing.notifiers import DESTINATION, OTHER

HOST = "https://api.rebrandly.test"
LINKS = "/v1/links"
TLS = ssl.create_default_context()
DOMAIN = "go.zellige-store.example"
TAKEN = {
    "message": "Invalid format",
    "code": "InvalidFormat",
    "source": "link",
    "errors": [
        {"code": "AlreadyExists", "property": "slashtag", "message": "Already exists"}
    ],
}


def link(destination: str = DESTINATION, slashtag: str = "ma10482") -> dict[str, Any]:
    """A Link entity as Rebrandly answers it (fixture I.5, trimmed)."""
    return {
        "id": "e2b7c4a9f1d84b6c9a0e3f5d7b1c2a48",
        "slashtag": slashtag,
        "destination": destination,
        "status": "active",
        "shortUrl": f"{DOMAIN}/{slashtag}",
        "domain": {"id": "9a4c", "ref": "/domains/9a4c", "fullName": DOMAIN},
    }


def shortener_for(
    retry: RetryPolicy | None = None, **changes: Any
) -> RebrandlyLinkShortener:
    values: dict[str, Any] = {
        "api_key": "rb-key",
        "base_url": HOST,
        "domain": DOMAIN,
        **changes,
    }
    config = RebrandlySettings(**values)
    http = httpx.Client(base_url=HOST, verify=TLS)
    client = RebrandlyClient(http, config.api_key, config.workspace)
    return RebrandlyLinkShortener(config, client, retry or RetryPolicy.for_tests())


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(
        base_url=HOST, assert_all_called=True, assert_all_mocked=True
    ) as mock:
        yield mock


def test_asks_for_the_link_with_the_api_key_workspace_and_domain(
    router: respx.MockRouter,
) -> None:
    route = router.post(LINKS).respond(200, json=link())

    shortener_for(workspace="ws-1").shorten(DESTINATION, "ma10482")

    request = route.calls.last.request
    assert request.headers["apikey"] == "rb-key"
    assert request.headers["workspace"] == "ws-1"
    assert "authorization" not in request.headers
    assert json.loads(request.content) == {
        "destination": DESTINATION,
        "slashtag": "ma10482",
        "domain": {"fullName": DOMAIN},
    }


def test_without_slashtag_or_domain_only_the_destination_is_sent(
    router: respx.MockRouter,
) -> None:
    route = router.post(LINKS).respond(201, json=link(slashtag="x1y2"))

    short = shortener_for(domain=None).shorten(DESTINATION)

    assert json.loads(route.calls.last.request.content) == {"destination": DESTINATION}
    assert "workspace" not in route.calls.last.request.headers
    assert short == f"https://{DOMAIN}/x1y2"


def test_returns_the_short_url_with_https_in_front(router: respx.MockRouter) -> None:
    router.post(LINKS).respond(200, json=link())

    assert shortener_for().shorten(DESTINATION, "ma10482") == (
        f"https://{DOMAIN}/ma10482"
    )


def test_a_taken_slashtag_with_the_same_destination_returns_the_existing_link(
    router: respx.MockRouter,
) -> None:
    router.post(LINKS).respond(403, json=TAKEN)
    lookup = router.get(LINKS).respond(200, json=[link(DESTINATION + "/")])

    short = shortener_for().shorten(DESTINATION, "ma10482")

    assert short == f"https://{DOMAIN}/ma10482"
    params = lookup.calls.last.request.url.params
    assert (params["slashtag"], params["domain.fullName"]) == ("ma10482", DOMAIN)


def test_a_taken_slashtag_leading_elsewhere_is_rejected_as_taken(
    router: respx.MockRouter,
) -> None:
    router.post(LINKS).respond(403, json=TAKEN)
    router.get(LINKS).respond(200, json=[link(OTHER)])

    with pytest.raises(PartnerRejected) as rejected:
        shortener_for().shorten(DESTINATION, "ma10482")

    assert rejected.value.code == SLASHTAG_TAKEN


def test_the_lookup_uses_rebrandlys_own_domain_when_none_is_configured(
    router: respx.MockRouter,
) -> None:
    router.post(LINKS).respond(403, json=TAKEN)
    lookup = router.get(LINKS).respond(200, json=[link()])

    shortener_for(domain=None).shorten(DESTINATION, "ma10482")

    assert lookup.calls.last.request.url.params["domain.fullName"] == "rebrand.ly"


def test_an_invalid_field_is_rejected_naming_it(router: respx.MockRouter) -> None:
    invalid = TAKEN | {
        "errors": [{"code": "InvalidFormat", "property": "slashtag", "message": "Bad"}]
    }
    router.post(LINKS).respond(403, json=invalid)

    with pytest.raises(PartnerRejected) as rejected:
        shortener_for().shorten(DESTINATION, "bad tag")

    assert rejected.value.problems == (("slashtag", "Bad"),)


def test_a_used_up_link_quota_is_a_permanent_error_in_rebrandlys_words(
    router: respx.MockRouter,
) -> None:
    router.post(LINKS).respond(
        403,
        json={"message": "Links limit reached for your plan", "code": "LimitReached"},
    )

    with pytest.raises(PermanentPartnerError) as broken:
        shortener_for().shorten(DESTINATION, "ma10482")

    assert broken.value.status == 403
    assert "Links limit reached" in str(broken.value)


def test_a_refused_api_key_is_a_permanent_error(router: respx.MockRouter) -> None:
    router.post(LINKS).respond(401, json={"message": "Unauthorized"})

    with pytest.raises(PermanentPartnerError):
        shortener_for().shorten(DESTINATION, "ma10482")


def test_a_429_is_retried_after_the_wait_rebrandly_asks_for(
    router: respx.MockRouter,
) -> None:
    waits: list[float] = []
    route = router.post(LINKS)
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.Response(200, json=link()),
    ]

    shortener_for(retry=RetryPolicy(sleep=waits.append)).shorten(DESTINATION)

    assert waits == [1.0]
    assert route.call_count == 2


def test_a_5xx_without_slashtag_is_unknown_and_not_repeated(
    router: respx.MockRouter,
) -> None:
    route = router.post(LINKS).respond(500)

    with pytest.raises(OutcomeUnknown):
        shortener_for().shorten(DESTINATION)

    assert route.call_count == 1


def test_a_read_timeout_without_slashtag_is_unknown_and_not_repeated(
    router: respx.MockRouter,
) -> None:
    route = router.post(LINKS).mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(OutcomeUnknown):
        shortener_for().shorten(DESTINATION)

    assert route.call_count == 1


def test_a_lost_answer_with_a_slashtag_is_safe_to_repeat(
    router: respx.MockRouter,
) -> None:
    route = router.post(LINKS)
    route.side_effect = [
        httpx.ReadTimeout("slow"),
        httpx.Response(403, json=TAKEN),
    ]
    router.get(LINKS).respond(200, json=[link()])

    short = shortener_for().shorten(DESTINATION, "ma10482")

    assert short.endswith("/ma10482")
    assert route.call_count == 2


def test_the_api_key_stays_out_of_repr() -> None:
    settings = RebrandlySettings(
        base_url="https://api.rebrandly.test", api_key="rb-key"
    )
    assert "rb-key" not in repr(settings)
