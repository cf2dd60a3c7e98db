"""The Amazon sandbox speaks the SP-API of reference B and C.6-C.7: LWA,
restricted data tokens, Orders v0 and v2026-01-01, and the usage plans."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox.amazon import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
    AmazonSimulator,
)
from fulfilment.runners.sandbox.amazon_orders import (
    AmazonAddress,
    AmazonItem,
    AmazonOrder,
    seed_amazon_orders,
)
from fulfilment.runners.sandbox.server import Fault, SimServer

NOW = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)
AE, EG, SA = "A2VIGQ35RCS4UG", "ARBP9OOSHTCHU", "A17E79C6D8DWNP"
SEARCH = "/orders/2026-01-01/orders"
GET_ORDERS = "/orders/v0/orders"
RDT = "/tokens/2021-03-01/restrictedDataToken"
SINCE = "2025-03-19T00:00:00Z"
INVALID_INPUT = (
    "The input you have submitted is not valid. Please check your input and try again."
)


def order(
    order_id: str,
    hours_ago: float,
    *,
    city: str | None = "Dubai",
    phone: str | None = "050 123 4567",
    **options: Any,
) -> AmazonOrder:
    return AmazonOrder(
        order_id,
        NOW - timedelta(hours=hours_ago),
        [AmazonItem("OUD-50", "Oud Perfume 50ml", 2, Decimal("145.00"))],
        AmazonAddress("Mariam Al Hashimi", "Villa 14", city, "AE", phone=phone),
        "Mariam Al Hashimi",
        f"fake{order_id[-4:]}buyer@marketplace.amazon.ae",
        **options,
    )


@pytest.fixture(scope="module")
def _server() -> Iterator[SimServer]:
    with SimServer(AmazonSimulator()) as server:
        yield server


@pytest.fixture
def sim(_server: SimServer) -> AmazonSimulator:
    simulator = _server.simulator
    assert isinstance(simulator, AmazonSimulator)
    simulator.clock = ManualClock(NOW)
    simulator.reset()
    return simulator


@pytest.fixture
def http(_server: SimServer, sim: AmazonSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=_server.url, timeout=5) as client:
        yield client


def refresh(http: httpx.Client, **changes: str) -> httpx.Response:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": SANDBOX_REFRESH_TOKEN,
        "client_id": SANDBOX_CLIENT_ID,
        "client_secret": SANDBOX_CLIENT_SECRET,
    } | changes
    return http.post("/auth/o2/token", data=form)


def access_token(http: httpx.Client) -> str:
    token: str = refresh(http).json()["access_token"]
    return token


def get(
    http: httpx.Client, path: str, params: Any, token: str | None = None
) -> httpx.Response:
    headers = {"x-amz-access-token": token or access_token(http)}
    return http.get(path, params=params, headers=headers)


def search(
    http: httpx.Client, token: str | None = None, **params: Any
) -> httpx.Response:
    return get(http, SEARCH, {"lastUpdatedAfter": SINCE} | params, token)


def rdt(http: httpx.Client, path: str, elements: list[str]) -> httpx.Response:
    resource = {"method": "GET", "path": path, "dataElements": elements}
    return http.post(
        RDT,
        json={"restrictedResources": [resource]},
        headers={"x-amz-access-token": access_token(http)},
    )


def errors(code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "details": details}]}


# --- Login with Amazon ---------------------------------------------------------


def test_a_refresh_grant_returns_an_hour_long_bearer_token(http: httpx.Client) -> None:
    response = refresh(http)

    body = response.json()
    assert response.status_code == 200
    assert body["access_token"].startswith("Atza|")
    assert body | {"access_token": "x"} == {
        "access_token": "x",
        "refresh_token": SANDBOX_REFRESH_TOKEN,
        "token_type": "bearer",
        "expires_in": 3600,
    }


def test_a_wrong_client_secret_is_an_invalid_client(http: httpx.Client) -> None:
    response = refresh(http, client_secret="not-it")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_revoked_refresh_token_is_an_invalid_grant_and_ends_its_tokens(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    issued = access_token(http)

    sim.revoke_refresh_token()

    assert refresh(http).status_code == 400
    assert refresh(http).json() == {
        "error": "invalid_grant",
        "error_description": (
            "The request has an invalid grant parameter : refresh_token"
        ),
    }
    assert search(http, issued).status_code == 403


def test_an_unknown_refresh_token_is_an_invalid_grant(http: httpx.Client) -> None:
    assert refresh(http, refresh_token="Atzr|other").json()["error"] == "invalid_grant"


def test_a_missing_form_field_is_named(http: httpx.Client) -> None:
    response = http.post("/auth/o2/token", data={"grant_type": "refresh_token"})

    assert response.status_code == 400
    assert response.json()["error_description"].endswith(": client_id")


def test_only_the_refresh_token_grant_is_served(http: httpx.Client) -> None:
    response = refresh(http, grant_type="client_credentials")

    assert response.json()["error"] == "unsupported_grant_type"


# --- access tokens -------------------------------------------------------------


def test_a_call_without_a_token_is_unauthorized(http: httpx.Client) -> None:
    response = http.get(SEARCH, params={"lastUpdatedAfter": SINCE})

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "Unauthorized"
    assert response.headers["x-amzn-RequestId"]


def test_an_expired_access_token_is_refused_with_amazons_words(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    token = access_token(http)
    assert isinstance(sim.clock, ManualClock)

    sim.clock.advance(timedelta(hours=1))

    response = search(http, token)
    assert response.status_code == 403
    assert response.json() == errors(
        "Unauthorized",
        "Access to requested resource is denied.",
        "The access token you provided has expired.",
    )


# --- searchOrders (v2026-01-01) --------------------------------------------------


def test_search_orders_answers_in_camel_case_with_the_two_l_cancelled(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.load_orders({AE: [order("407-0000001-0000001", 5, status="CANCELLED")]})

    body = search(http, includedData="FULFILLMENT,PROCEEDS").json()

    found = body["orders"][0]
    assert found["orderId"] == "407-0000001-0000001"
    assert found["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
    assert found["fulfillment"]["fulfilledBy"] == "MERCHANT"
    assert found["salesChannel"]["marketplaceId"] == AE
    assert found["proceeds"]["grandTotal"] == {
        "amount": "290.00",
        "currencyCode": "AED",
    }
    assert found["orderItems"][0]["product"]["sellerSku"] == "OUD-50"
    assert body["lastUpdatedBefore"] == "2025-03-20T11:58:00Z"
    assert "pagination" not in body


def test_buyer_and_recipient_come_only_when_included(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.load_orders({AE: [order("407-0000001-0000001", 5)]})

    bare = search(http).json()["orders"][0]
    full = search(http, includedData=["BUYER", "RECIPIENT"]).json()["orders"][0]

    assert "buyer" not in bare
    assert "recipient" not in bare
    assert bare["orderItems"][0]["quantityOrdered"] == 2
    assert full["buyer"]["buyerEmail"] == "fake0001buyer@marketplace.amazon.ae"
    assert full["recipient"]["deliveryAddress"]["phone"] == "050 123 4567"
    assert full["recipient"]["deliveryAddress"]["city"] == "Dubai"


def test_amazon_fulfilled_orders_hide_the_phone_and_the_relay_address(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.load_orders({AE: [order("407-0000001-0000001", 5, fulfilled_by="AFN")]})

    found = search(http, includedData="BUYER,RECIPIENT,FULFILLMENT").json()["orders"][0]

    assert found["fulfillment"]["fulfilledBy"] == "AMAZON"
    assert "phone" not in found["recipient"]["deliveryAddress"]
    assert "buyerEmail" not in found["buyer"]


def test_cash_on_delivery_shows_in_the_payment_executions(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.load_orders({AE: [order("407-0000001-0000001", 5, cod=True)]})

    found = search(http, includedData="PAYMENT").json()["orders"][0]

    assert found["payment"]["paymentExecutions"] == [
        {
            "paymentMethod": "CashOnDelivery",
            "paymentAmount": {"amount": "290.00", "currencyCode": "AED"},
        }
    ]


def test_search_orders_pages_with_a_pagination_token(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    ids = [f"407-000000{n}-0000001" for n in range(1, 6)]
    sim.load_orders({AE: [order(i, 10 - n) for n, i in enumerate(ids)]})
    token = access_token(http)
    seen: list[str] = []
    pages = 0
    params: dict[str, Any] = {"maxResultsPerPage": 2, "includedData": "BUYER"}

    while True:
        body = search(http, token, **params).json()
        pages += 1
        seen += [o["orderId"] for o in body["orders"]]
        assert all("buyer" in o for o in body["orders"])
        if "pagination" not in body:
            break
        params = {"paginationToken": body["pagination"]["nextToken"]}

    assert seen == ids
    assert pages == 3


def test_an_order_changed_mid_walk_does_not_shift_the_rest_out(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    ids = [f"407-000000{n}-0000001" for n in range(1, 5)]
    sim.load_orders({AE: [order(i, 10 - n) for n, i in enumerate(ids)]})
    token = access_token(http)
    first = search(http, token, maxResultsPerPage=2).json()

    sim.cancel_order(ids[0])
    rest = search(http, token, paginationToken=first["pagination"]["nextToken"])

    assert [o["orderId"] for o in rest.json()["orders"]] == ids[2:]


def test_a_page_token_can_be_read_again_but_not_after_a_day(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.load_orders({AE: [order(f"407-000000{n}-0000001", n) for n in (1, 2)]})
    token = access_token(http)
    next_token = search(http, token, maxResultsPerPage=1).json()["pagination"][
        "nextToken"
    ]
    again = search(http, token, paginationToken=next_token)
    assert isinstance(sim.clock, ManualClock)

    sim.clock.advance(timedelta(hours=24))

    late = search(http, access_token(http), paginationToken=next_token)
    assert again.status_code == 200
    assert late.status_code == 400
    assert late.json()["errors"][0]["code"] == "InvalidInput"


@pytest.mark.parametrize("minutes", [0, 1, 1.9])
def test_an_upper_bound_within_two_minutes_of_now_is_invalid_input(
    http: httpx.Client, minutes: float
) -> None:
    before = (NOW - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")

    response = search(http, lastUpdatedBefore=before)

    assert response.status_code == 400
    assert response.json() == errors("InvalidInput", INVALID_INPUT)


def test_an_upper_bound_two_minutes_back_is_served_and_echoed(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.load_orders({AE: [order("407-0000001-0000001", 0.5)]})

    body = search(http, lastUpdatedBefore="2025-03-20T11:58:00Z").json()

    assert body["lastUpdatedBefore"] == "2025-03-20T11:58:00Z"
    assert body["orders"][0]["orderId"] == "407-0000001-0000001"


def test_an_order_changed_in_the_last_two_minutes_waits_for_the_next_read(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.load_orders({AE: [order("407-0000001-0000001", 1 / 60)]})

    assert search(http).json()["orders"] == []


def test_an_unencoded_plus_in_an_offset_is_an_invalid_date(
    http: httpx.Client,
) -> None:
    token = access_token(http)
    raw = f"{SEARCH}?lastUpdatedAfter=2025-03-19T00:00:00+04:00"
    encoded = {"lastUpdatedAfter": "2025-03-19T00:00:00+04:00"}

    response = http.get(raw, headers={"x-amz-access-token": token})

    assert response.status_code == 400
    assert response.json() == errors(
        "InvalidInput", INVALID_INPUT, "Invalid date-time field(s) [lastUpdatedAfter]."
    )
    assert get(http, SEARCH, encoded, token).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"createdAfter": SINCE, "lastUpdatedAfter": SINCE},
        {"lastUpdatedBefore": "2025-03-19T12:00:00Z"},
        {"lastUpdatedAfter": SINCE, "lastUpdatedBefore": "2025-03-18T00:00:00Z"},
        {"lastUpdatedAfter": SINCE, "maxResultsPerPage": 101},
        {"lastUpdatedAfter": SINCE, "fulfillmentStatuses": "Canceled"},
        {"lastUpdatedAfter": SINCE, "includedData": "EVERYTHING"},
    ],
)
def test_searches_amazon_refuses_are_invalid_input(
    http: httpx.Client, params: dict[str, Any]
) -> None:
    response = get(http, SEARCH, params)

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidInput"


def test_search_filters_by_marketplace_status_and_fulfiller(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.load_orders(
        {
            AE: [order("407-0000001-0000001", 5, fulfilled_by="AFN")],
            EG: [
                order("171-0000002-0000002", 5),
                order("171-0000003-0000003", 4, status="CANCELLED"),
            ],
        }
    )

    def ids(**params: Any) -> list[str]:
        window = params if "createdAfter" in params else {"lastUpdatedAfter": SINCE}
        found = get(http, SEARCH, window | params).json()["orders"]
        return [o["orderId"] for o in found]

    assert ids(marketplaceIds=EG) == ["171-0000002-0000002", "171-0000003-0000003"]
    assert ids(fulfilledBy="AMAZON") == ["407-0000001-0000001"]
    assert ids(fulfillmentStatuses="CANCELLED") == ["171-0000003-0000003"]
    assert ids(createdAfter="2025-03-20T07:30:00Z") == ["171-0000003-0000003"]


# --- getOrders / getOrderItems (v0) ----------------------------------------------


def test_get_orders_answers_in_v0_spelling_with_one_l_canceled(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.load_orders({EG: [order("171-0000002-0000002", 5, status="CANCELLED")]})

    response = get(http, GET_ORDERS, {"MarketplaceIds": EG, "LastUpdatedAfter": SINCE})

    payload = response.json()["payload"]
    found = payload["Orders"][0]
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.0167"
    assert found["OrderStatus"] == "Canceled"
    assert found["FulfillmentChannel"] == "MFN"
    assert found["SalesChannel"] == "Amazon.eg"
    assert found["OrderTotal"] == {"CurrencyCode": "EGP", "Amount": "290.00"}
    assert "ShippingAddress" not in found
    assert payload["LastUpdatedBefore"] == "2025-03-20T11:58:00Z"


def test_get_orders_needs_marketplace_ids_and_v0_status_names(
    http: httpx.Client,
) -> None:
    token = access_token(http)
    base = {"LastUpdatedAfter": SINCE}

    missing = get(http, GET_ORDERS, base, token)
    two_ls = get(
        http,
        GET_ORDERS,
        base | {"MarketplaceIds": AE, "OrderStatuses": "CANCELLED"},
        token,
    )
    one_l = get(
        http,
        GET_ORDERS,
        base | {"MarketplaceIds": AE, "OrderStatuses": "Canceled"},
        token,
    )

    assert missing.status_code == 400
    assert two_ls.status_code == 400
    assert one_l.status_code == 200


def test_get_orders_pages_with_next_token(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    ids = [f"407-000000{n}-0000001" for n in range(1, 4)]
    sim.load_orders({AE: [order(i, 10 - n) for n, i in enumerate(ids)]})
    token = access_token(http)
    params = {"MarketplaceIds": AE, "LastUpdatedAfter": SINCE, "MaxResultsPerPage": 2}

    first = get(http, GET_ORDERS, params, token).json()["payload"]
    second = get(http, GET_ORDERS, {"NextToken": first["NextToken"]}, token).json()

    assert [o["AmazonOrderId"] for o in first["Orders"]] == ids[:2]
    assert [o["AmazonOrderId"] for o in second["payload"]["Orders"]] == ids[2:]
    assert "NextToken" not in second["payload"]


def test_without_a_restricted_data_token_v0_hides_the_pii(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.load_orders({SA: [seed_amazon_orders(NOW)[SA][0]]})

    found = get(http, GET_ORDERS, {"MarketplaceIds": SA, "LastUpdatedAfter": SINCE})

    shown = found.json()["payload"]["Orders"][0]
    assert shown["ShippingAddress"] == {
        "City": "الرياض",
        "StateOrRegion": "منطقة الرياض",
        "PostalCode": "12211",
        "CountryCode": "SA",
    }
    assert shown["BuyerInfo"] == {"BuyerEmail": "fake3001buyer@marketplace.amazon.sa"}


def test_a_restricted_data_token_shows_what_it_grants(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.load_orders({SA: [seed_amazon_orders(NOW)[SA][0]]})
    issued = rdt(http, GET_ORDERS, ["buyerInfo", "shippingAddress"])
    address_only = rdt(http, GET_ORDERS, ["shippingAddress"]).json()
    params = {"MarketplaceIds": SA, "LastUpdatedAfter": SINCE}

    full = get(http, GET_ORDERS, params, issued.json()["restrictedDataToken"])
    partial = get(http, GET_ORDERS, params, address_only["restrictedDataToken"])

    shown = full.json()["payload"]["Orders"][0]
    assert issued.json()["restrictedDataToken"].startswith("Atz.sprdt|")
    assert issued.json()["expiresIn"] == 3600
    assert shown["ShippingAddress"]["Phone"] == "0500000303"
    assert shown["ShippingAddress"]["Name"] == "عبدالله القحطاني"
    assert shown["BuyerInfo"]["BuyerName"] == "عبدالله القحطاني"
    assert "BuyerName" not in partial.json()["payload"]["Orders"][0]["BuyerInfo"]


def test_a_restricted_data_token_only_opens_the_paths_it_names(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    items_only = rdt(http, "/orders/v0/orders/{orderId}/orderItems", ["buyerInfo"])
    token = items_only.json()["restrictedDataToken"]
    sim.load_orders({AE: [order("407-0000001-0000001", 5)]})

    orders = get(
        http, GET_ORDERS, {"MarketplaceIds": AE, "LastUpdatedAfter": SINCE}, token
    )
    items = get(http, "/orders/v0/orders/407-0000001-0000001/orderItems", {}, token)
    v2026 = search(http, token)

    assert orders.status_code == 403
    assert items.status_code == 200
    assert v2026.status_code == 403


def test_a_restricted_data_token_is_only_issued_for_restricted_operations(
    http: httpx.Client,
) -> None:
    response = rdt(http, SEARCH, ["buyerInfo"])

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidInput"


def test_get_order_items_lists_skus_quantities_and_prices(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.load_orders({SA: [seed_amazon_orders(NOW)[SA][0]]})

    response = get(http, "/orders/v0/orders/405-3000001-0000001/orderItems", {})

    payload = response.json()["payload"]
    first, second = payload["OrderItems"]
    assert payload["AmazonOrderId"] == "405-3000001-0000001"
    assert (first["SellerSKU"], first["QuantityOrdered"]) == ("OUD-50", 1)
    assert first["ItemPrice"] == {"CurrencyCode": "SAR", "Amount": "149.00"}
    assert first["ShippingPrice"] == {"CurrencyCode": "SAR", "Amount": "15.00"}
    assert second["SellerSKU"] == "BKH-01"
    assert "ShippingPrice" not in second
    assert first["IsGift"] == "false"


def test_items_of_an_unknown_order_are_not_found(http: httpx.Client) -> None:
    response = get(http, "/orders/v0/orders/405-9999999-9999999/orderItems", {})

    assert response.status_code == 404


def test_v0_names_a_cash_on_delivery_order_cod(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.load_orders({AE: [order("407-0000001-0000001", 5, cod=True)]})

    response = get(http, GET_ORDERS, {"MarketplaceIds": AE, "LastUpdatedAfter": SINCE})

    found = response.json()["payload"]["Orders"][0]
    assert found["PaymentMethod"] == "COD"
    assert found["PaymentExecutionDetail"][0]["PaymentMethod"] == "COD"


# --- usage plans -----------------------------------------------------------------


def test_get_orders_allows_a_burst_of_twenty_then_one_a_minute(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    token = access_token(http)
    params = {"MarketplaceIds": AE, "LastUpdatedAfter": SINCE}
    burst = [get(http, GET_ORDERS, params, token).status_code for _ in range(20)]
    throttled = get(http, GET_ORDERS, params, token)
    assert isinstance(sim.clock, ManualClock)

    sim.clock.advance(timedelta(seconds=60))

    assert burst == [200] * 20
    assert throttled.status_code == 429
    assert throttled.json() == errors(
        "QuotaExceeded", "You exceeded your quota for the requested resource."
    )
    assert throttled.headers["x-amzn-RateLimit-Limit"] == "0.0167"
    assert "Retry-After" not in throttled.headers
    assert get(http, GET_ORDERS, params, token).status_code == 200
    assert get(http, GET_ORDERS, params, token).status_code == 429


def test_search_orders_refills_at_its_own_slower_rate(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    token = access_token(http)
    for _ in range(20):
        search(http, token)
    assert isinstance(sim.clock, ManualClock)

    sim.clock.advance(timedelta(seconds=170))
    early = search(http, token)
    sim.clock.advance(timedelta(seconds=10))
    later = search(http, token)

    assert early.status_code == 429
    assert early.headers["x-amzn-RateLimit-Limit"] == "0.0056"
    assert later.status_code == 200


def test_each_operation_has_its_own_bucket(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.load_orders({AE: [order("407-0000001-0000001", 5)]})
    token = access_token(http)
    for _ in range(21):
        search(http, token)

    items = get(http, "/orders/v0/orders/407-0000001-0000001/orderItems", {}, token)

    assert search(http, token).status_code == 429
    assert items.status_code == 200


# --- faults, state, seeds, settings ----------------------------------------------


def test_an_injected_fault_answers_once_then_the_api_serves(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    token = access_token(http)
    sim.faults.add("searchOrders", Fault(status=503))

    assert search(http, token).status_code == 503
    assert search(http, token).status_code == 200


def test_state_is_kept_in_the_data_folder(tmp_path: Path) -> None:
    first = AmazonSimulator(data_dir=tmp_path, clock=ManualClock(NOW))
    first.load_orders({AE: [order("407-0000001-0000001", 5)]})

    second = AmazonSimulator(data_dir=tmp_path, clock=ManualClock(NOW))

    assert (tmp_path / "amazon.json").exists()
    assert second.orders() == first.orders()
    assert second.orders()[0].items[0].unit_price == Decimal("145.00")


def test_loading_refuses_an_unknown_marketplace_and_a_repeated_id(
    sim: AmazonSimulator,
) -> None:
    one = order("407-0000001-0000001", 5)

    with pytest.raises(ValueError, match="ATVPDKIKX0DER"):
        sim.load_orders({"ATVPDKIKX0DER": [one]})
    with pytest.raises(ValueError, match="given twice"):
        sim.load_orders({AE: [one], EG: [one]})
    assert not sim.has_orders()


def test_an_order_description_names_a_bad_status() -> None:
    with pytest.raises(ValueError, match="Canceled"):
        order("407-0000001-0000001", 5, status="Canceled")


def test_the_seed_is_a_small_realistic_mix() -> None:
    seeded = seed_amazon_orders(NOW)

    every = [o for orders in seeded.values() for o in orders]
    mfn = {m for m, orders in seeded.items() for o in orders if o.fulfilled_by == "MFN"}
    assert {AE, EG} <= mfn
    assert sum(o.fulfilled_by == "AFN" for o in every) == 2
    assert sum(o.cod for o in every) == 1
    assert sum(o.status == "CANCELLED" for o in every) == 1
    assert [o.order_id for o in every if o.address and o.address.city is None] == [
        "171-2000002-0000002"
    ]
    assert seed_amazon_orders(NOW) == seeded


def test_a_seeded_world_is_served_through_the_sandbox_settings(
    sim: AmazonSimulator, http: httpx.Client
) -> None:
    sim.reset(seed=True)
    settings = sim.sandbox_settings(str(http.base_url))
    form = {
        "grant_type": "refresh_token",
        "refresh_token": settings["refresh_token"],
        "client_id": settings["client_id"],
        "client_secret": settings["client_secret"],
    }

    token = httpx.post(settings["lwa_url"], data=form).json()["access_token"]
    body = httpx.get(
        f"{settings['base_url']}{SEARCH}",
        params={
            "lastUpdatedAfter": "2025-03-18T00:00:00Z",
            "includedData": "FULFILLMENT",
        },
        headers={"x-amz-access-token": token},
    ).json()

    assert set(settings) == {
        "base_url",
        "lwa_url",
        "client_id",
        "client_secret",
        "refresh_token",
        "marketplaces",
        "api_version",
    }
    assert settings["marketplaces"] == {
        AE: "amazon-ae",
        EG: "amazon-eg",
        SA: "amazon-sa",
    }
    assert settings["api_version"] == "2026-01-01"
    assert len(body["orders"]) == 8
    assert {o["fulfillment"]["fulfilledBy"] for o in body["orders"]} == {
        "MERCHANT",
        "AMAZON",
    }
