"""The Amazon source against respx routes: LWA tokens, restricted data
tokens, paging in both API versions, the two-minute rule, throttling and
server errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.hookspecs import AdapterContext
from fulfilment.adapters.oms.amazon import plugin
from fulfilment.adapters.oms.amazon.adapter import AmazonOrderSource
from fulfilment.adapters.oms.amazon.auth import LwaTokens
from fulfilment.adapters.oms.amazon.client import SpApiClient
from fulfilment.adapters.oms.amazon.limits import RateLimits
from fulfilment.adapters.oms.amazon.settings import AmazonSettings
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import ManualClock
from fulfilment.core.errors import (
    ConfigurationError,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.ports import OrderSource, SourceWindow

from .amazon_payloads import SA, v0_items, v0_orders, v2026_order
from .conftest import FakeTime

HOST = "https://sp.example.test"
LWA = "https://lwa.example.test/auth/o2/token"
NOW = datetime(2025, 3, 15, 10, 0, tzinfo=UTC)
TOKEN = {
    "access_token": "Atza|FAKE-ACCESS-TOKEN-0001",
    "token_type": "bearer",
    "expires_in": 3600,
}
WINDOW = SourceWindow(NOW - timedelta(hours=1), NOW - timedelta(minutes=2))


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as mock:
        yield mock


def settings(**changes: Any) -> AmazonSettings:
    values: dict[str, Any] = {
        "base_url": HOST,
        "lwa_url": LWA,
        "client_id": "amzn1.application-oa2-client.fake0001",
        "client_secret": "FAKE-SECRET",
        "refresh_token": "Atzr|FAKE-REFRESH",
        "marketplaces": {SA: "amazon-sa"},
    }
    return AmazonSettings(**{**values, **changes})


def source(
    clock: ManualClock, time: FakeTime, **changes: Any
) -> tuple[AmazonOrderSource, LwaTokens]:
    config = settings(**changes)
    retry = RetryPolicy.for_tests(attempts=3)
    tokens = LwaTokens(
        httpx.Client(),
        LWA,
        client_id=config.client_id,
        client_secret=config.client_secret,
        refresh_token=config.refresh_token,
        clock=clock,
        retry=retry,
    )
    client = SpApiClient(
        httpx.Client(base_url=HOST),
        tokens,
        RateLimits(monotonic=time.monotonic, sleep=time.sleep),
        retry,
        clock,
    )
    built = AmazonOrderSource(
        client,
        config.store,
        config.marketplace_ids(),
        clock=clock,
        api_version=config.api_version,
        page_size=config.page_size,
    )
    return built, tokens


def search_page(orders: list[Any], next_token: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"orders": orders}
    if next_token:
        body["pagination"] = {"nextToken": next_token}
    return body


def test_reads_two_v2026_pages_with_the_same_parameters(
    router: respx.MockRouter,
) -> None:
    clock, time = ManualClock(NOW), FakeTime()
    lwa = router.post(LWA).respond(200, json=TOKEN)
    search = router.get(f"{HOST}/orders/2026-01-01/orders").mock(
        side_effect=[
            httpx.Response(200, json=search_page([v2026_order()], "PAGE2")),
            httpx.Response(
                200, json=search_page([v2026_order(orderId="405-0000003-0000003")])
            ),
        ]
    )
    amazon, _ = source(clock, time)

    first = amazon.fetch_changed_orders(WINDOW)
    clock.advance(timedelta(minutes=5))
    second = amazon.fetch_changed_orders(WINDOW, first.next_page)

    assert [o.key.external_id for o in first.orders + second.orders] == [
        "405-0000001-0000001",
        "405-0000003-0000003",
    ]
    assert second.next_page is None
    one, two = (dict(call.request.url.params) for call in search.calls)
    assert two.pop("paginationToken") == "PAGE2"
    assert one == two
    assert one["includedData"] == "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT"
    assert one["marketplaceIds"] == SA
    assert (
        search.calls[0].request.headers["x-amz-access-token"] == TOKEN["access_token"]
    )
    assert lwa.call_count == 1
    form = lwa.calls[0].request.content.decode()
    assert "grant_type=refresh_token" in form
    assert "refresh_token=Atzr%7CFAKE-REFRESH" in form


def test_the_upper_bound_is_at_least_two_minutes_before_now(
    router: respx.MockRouter,
) -> None:
    clock, time = ManualClock(NOW), FakeTime()
    router.post(LWA).respond(200, json=TOKEN)
    search = router.get(f"{HOST}/orders/2026-01-01/orders").respond(
        200, json=search_page([])
    )
    amazon, _ = source(clock, time)

    amazon.fetch_changed_orders(SourceWindow(NOW - timedelta(hours=1), NOW))

    sent = datetime.fromisoformat(
        search.calls[0].request.url.params["lastUpdatedBefore"]
    )
    assert sent <= NOW - timedelta(minutes=2)
    assert (
        search.calls[0].request.url.params["lastUpdatedAfter"] == "2025-03-15T09:00:00Z"
    )


def test_a_window_entirely_inside_the_last_two_minutes_asks_nothing() -> None:
    clock, time = ManualClock(NOW), FakeTime()
    amazon, _ = source(clock, time)

    page = amazon.fetch_changed_orders(SourceWindow(NOW - timedelta(seconds=30), NOW))

    assert page.orders == ()
    assert page.next_page is None


def test_v0_reads_orders_under_an_rdt_and_items_with_the_access_token(
    router: respx.MockRouter,
) -> None:
    clock, time = ManualClock(NOW), FakeTime()
    router.post(LWA).respond(200, json=TOKEN)
    rdt = router.post(f"{HOST}/tokens/2021-03-01/restrictedDataToken").respond(
        200, json={"restrictedDataToken": "Atz.sprdt|FAKE-RDT-0001", "expiresIn": 3600}
    )
    orders = router.get(f"{HOST}/orders/v0/orders").respond(
        200, json=v0_orders(), headers={"x-amzn-RateLimit-Limit": "0.0167"}
    )
    items = router.get(url__regex=rf"{HOST}/orders/v0/orders/[^/]+/orderItems").mock(
        side_effect=[
            httpx.Response(200, json=v0_items()),
            httpx.Response(
                200,
                json={
                    "payload": {
                        "AmazonOrderId": "171-0000002-0000002",
                        "OrderItems": [],
                    }
                },
            ),
        ]
    )
    amazon, _ = source(clock, time, api_version="v0", marketplaces={SA: "amazon-sa"})

    page = amazon.fetch_changed_orders(WINDOW)

    assert [o.key.external_id for o in page.orders] == [
        "405-0000001-0000001",
        "171-0000002-0000002",
    ]
    assert page.orders[0].lines[0].product.sku == "OUD-50"
    assert page.orders[1].is_cancelled
    assert (
        orders.calls[0].request.headers["x-amz-access-token"]
        == "Atz.sprdt|FAKE-RDT-0001"
    )
    assert items.calls[0].request.headers["x-amz-access-token"] == TOKEN["access_token"]
    assert rdt.calls[0].request.headers["x-amz-access-token"] == TOKEN["access_token"]
    requested = rdt.calls[0].request.read().decode()
    assert '"dataElements":["buyerInfo","shippingAddress"]' in requested.replace(
        " ", ""
    )
    params = orders.calls[0].request.url.params
    assert params["MarketplaceIds"] == SA
    assert "LastUpdatedBefore" in params


def test_a_refused_token_is_dropped_with_the_rdt_and_both_asked_anew(
    router: respx.MockRouter,
) -> None:
    lwa = router.post(LWA).mock(
        side_effect=[
            httpx.Response(200, json=TOKEN),
            httpx.Response(200, json={**TOKEN, "access_token": "Atza|SECOND"}),
        ]
    )
    rdt = router.post(f"{HOST}/tokens/2021-03-01/restrictedDataToken").mock(
        side_effect=[
            httpx.Response(
                200, json={"restrictedDataToken": "Atz.sprdt|FIRST", "expiresIn": 3600}
            ),
            httpx.Response(
                200, json={"restrictedDataToken": "Atz.sprdt|SECOND", "expiresIn": 3600}
            ),
        ]
    )
    denied = {
        "errors": [
            {
                "code": "Unauthorized",
                "message": "Access to requested resource is denied.",
                "details": "The access token you provided has expired.",
            }
        ]
    }
    orders = router.get(f"{HOST}/orders/v0/orders").mock(
        side_effect=[
            httpx.Response(403, json=denied),
            httpx.Response(200, json={"payload": {"Orders": []}}),
        ]
    )
    amazon, _ = source(ManualClock(NOW), FakeTime(), api_version="v0")

    with pytest.raises(PermanentPartnerError, match="has expired") as raised:
        amazon.fetch_changed_orders(WINDOW)
    page = amazon.fetch_changed_orders(WINDOW)

    assert raised.value.status == 403
    assert page.orders == ()
    assert lwa.call_count == rdt.call_count == 2
    assert rdt.calls[1].request.headers["x-amz-access-token"] == "Atza|SECOND"
    assert orders.calls[1].request.headers["x-amz-access-token"] == "Atz.sprdt|SECOND"


def test_the_access_token_is_cached_and_refreshed_before_expiry(
    router: respx.MockRouter,
) -> None:
    clock = ManualClock(NOW)
    lwa = router.post(LWA).mock(
        side_effect=[
            httpx.Response(200, json=TOKEN),
            httpx.Response(200, json={**TOKEN, "access_token": "Atza|SECOND"}),
        ]
    )
    _, tokens = source(clock, FakeTime())

    first = tokens.access_token()
    clock.advance(timedelta(minutes=50))
    again = tokens.access_token()
    clock.advance(timedelta(minutes=6))  # within five minutes of the hour
    fresh = tokens.access_token()

    assert first == again == TOKEN["access_token"]
    assert fresh == "Atza|SECOND"
    assert lwa.call_count == 2


def test_invalid_grant_is_a_configuration_error_and_not_retried(
    router: respx.MockRouter,
) -> None:
    lwa = router.post(LWA).respond(
        400,
        json={
            "error": "invalid_grant",
            "error_description": (
                "The request has an invalid grant parameter : refresh_token"
            ),
        },
    )
    _, tokens = source(ManualClock(NOW), FakeTime())

    with pytest.raises(ConfigurationError, match="invalid_grant") as raised:
        tokens.access_token()

    assert lwa.call_count == 1
    assert "Atzr" not in str(raised.value)


def test_quota_exceeded_backs_off_on_the_bucket_then_succeeds(
    router: respx.MockRouter,
) -> None:
    clock, time = ManualClock(NOW), FakeTime()
    router.post(LWA).respond(200, json=TOKEN)
    quota = {
        "errors": [
            {
                "code": "QuotaExceeded",
                "message": "You exceeded your quota for the requested resource.",
                "details": "",
            }
        ]
    }
    search = router.get(f"{HOST}/orders/2026-01-01/orders").mock(
        side_effect=[
            httpx.Response(429, json=quota),
            httpx.Response(200, json=search_page([v2026_order()])),
        ]
    )
    amazon, _ = source(clock, time)

    page = amazon.fetch_changed_orders(WINDOW)

    assert len(page.orders) == 1
    assert search.call_count == 2
    # The bucket was emptied: the second call waited a whole refill.
    assert sum(time.sleeps) == pytest.approx(1 / 0.0056)


def test_server_errors_are_retried_then_surface_as_transient(
    router: respx.MockRouter,
) -> None:
    router.post(LWA).respond(200, json=TOKEN)
    search = router.get(f"{HOST}/orders/2026-01-01/orders").respond(503, text="busy")
    amazon, _ = source(ManualClock(NOW), FakeTime())

    with pytest.raises(TransientPartnerError):
        amazon.fetch_changed_orders(WINDOW)

    assert search.call_count == 3


def test_invalid_input_is_permanent_with_amazons_words(
    router: respx.MockRouter,
) -> None:
    router.post(LWA).respond(200, json=TOKEN)
    router.get(f"{HOST}/orders/2026-01-01/orders").respond(
        400,
        json={
            "errors": [
                {
                    "code": "InvalidInput",
                    "message": "The input you have submitted is not valid.",
                    "details": "Invalid date-time field(s) [lastUpdatedAfter].",
                }
            ]
        },
    )
    amazon, _ = source(ManualClock(NOW), FakeTime())

    with pytest.raises(PermanentPartnerError, match="lastUpdatedAfter") as raised:
        amazon.fetch_changed_orders(WINDOW)

    assert raised.value.code == "InvalidInput"
    assert raised.value.status == 400


def test_settings_refuse_an_unknown_version_and_several_stores_without_store() -> None:
    with pytest.raises(ValueError, match="api_version"):
        settings(api_version="2024-01-01")
    with pytest.raises(ValueError, match="several stores"):
        settings(marketplaces={SA: "amazon-sa", "ARBP9OOSHTCHU": "amazon-eg"})
    both = settings(
        marketplaces={SA: "amazon-sa", "ARBP9OOSHTCHU": "amazon-eg"}, store="amazon-eg"
    )
    assert both.marketplace_ids() == ("ARBP9OOSHTCHU",)
    assert "FAKE-SECRET" not in repr(both)


def test_the_plugin_builds_an_order_source() -> None:
    context = AdapterContext(
        clock=ManualClock(NOW),
        retry=RetryPolicy.for_tests(),
        http_client=lambda base, timeout: httpx.Client(base_url=base, timeout=timeout),
    )

    built = plugin.build(settings(), context)

    assert isinstance(built, OrderSource)
    assert built.channel == "amazon"
    assert built.store == "amazon-sa"


def test_settings_refuse_a_marketplace_id_amazon_does_not_have() -> None:
    # A typo would be sent to Amazon on every run, and any order it brought
    # would carry unknown_marketplace.
    with pytest.raises(ValueError, match=r"marketplaces\.A2VIGQ35RCS4UX.*amazon\.ae"):
        settings(marketplaces={"A2VIGQ35RCS4UX": "amazon-sa"})
