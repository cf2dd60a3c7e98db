"""Discount codes in Shopify against respx routes: the request bodies
(a percentage or an amount, one customer or all), what comes back, and how
failures translate (reference A.7, A.10)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import httpx
import pytest
import respx

from fulfilment.adapters.oms.shopify.client import ShopifyGraphQLClient
from fulfilment.adapters.oms.shopify.discount_wire import basic_code_discount
from fulfilment.adapters.oms.shopify.discounts import ShopifyDiscounts
from fulfilment.adapters.oms.shopify.source import ShopifyOrderSource
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import (
    DiscountCodeTaken,
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
)
from fulfilment.core.nps import DiscountKind
from fulfilment.core.ports import DiscountRequest, ExistingDiscount, StoreDiscounts

from .conftest import FakeTime

SHOP = "https://sandbox-shop.example"
ENDPOINT = f"{SHOP}/admin/api/2025-07/graphql.json"
NODE = "gid://shopify/DiscountCodeNode/1200000000001"
CUSTOMER = "gid://shopify/Customer/7200000000001"
REQUEST = DiscountRequest(
    code="MERCI-ABCDEFGHJK",
    title="NPS form1/resp1",
    kind=DiscountKind.PERCENTAGE,
    value=Decimal(15),
    currency="MAD",
    starts_at=datetime(2026, 11, 16, 9, 30, 15, 123456, tzinfo=UTC),
    ends_at=datetime(2026, 12, 16, 23, 59, 59, tzinfo=UTC),
    customer_id=CUSTOMER,
)
COST = {
    "requestedQueryCost": 12,
    "actualQueryCost": 12,
    "throttleStatus": {
        "maximumAvailable": 1000.0,
        "currentlyAvailable": 900,
        "restoreRate": 50.0,
    },
}
THROTTLED = {
    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
    "extensions": {
        "cost": {
            "requestedQueryCost": 12,
            "actualQueryCost": None,
            "throttleStatus": {
                "maximumAvailable": 1000.0,
                "currentlyAvailable": 2,
                "restoreRate": 50.0,
            },
        }
    },
}


def data(body: Any) -> dict[str, Any]:
    return {"data": body, "extensions": {"cost": COST}}


def created(node_id: str = NODE) -> dict[str, Any]:
    return data(
        {
            "discountCodeBasicCreate": {
                "codeDiscountNode": {"id": node_id},
                "userErrors": [],
            }
        }
    )


def refused(*errors: dict[str, Any]) -> dict[str, Any]:
    return data(
        {
            "discountCodeBasicCreate": {
                "codeDiscountNode": None,
                "userErrors": list(errors),
            }
        }
    )


TAKEN = {
    "field": ["basicCodeDiscount", "code"],
    "message": "Code must be unique. Please try a different code.",
    "code": "TAKEN",
}


class Shop:
    """Answers in order, and the bodies received."""

    def __init__(self) -> None:
        self.answers: list[httpx.Response] = []
        self.bodies: list[dict[str, Any]] = []

    def on(self, *answers: dict[str, Any] | httpx.Response) -> None:
        self.answers += [
            a if isinstance(a, httpx.Response) else httpx.Response(200, json=a)
            for a in answers
        ]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return self.answers.pop(0)

    @property
    def created(self) -> list[dict[str, Any]]:
        """The ``basicCodeDiscount`` of each creation received."""
        return [b["variables"]["basicCodeDiscount"] for b in self.bodies]


@pytest.fixture
def shop() -> Iterator[Shop]:
    answers = Shop()
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as router:
        router.post(ENDPOINT).mock(side_effect=answers)
        yield answers


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=SHOP) as client:
        yield client


def make_client(
    http: httpx.Client, fake_time: FakeTime, attempts: int = 5
) -> ShopifyGraphQLClient:
    return ShopifyGraphQLClient(
        http,
        "sandbox-shop",
        "shpat_test_not_a_real_token",
        "2025-07",
        RetryPolicy.for_tests(attempts=attempts),
        sleep=fake_time.sleep,
        monotonic=fake_time.monotonic,
    )


@pytest.fixture
def store(http: httpx.Client, fake_time: FakeTime) -> ShopifyDiscounts:
    return ShopifyDiscounts(make_client(http, fake_time), "sandbox-shop")


def test_a_percentage_code_for_one_customer_is_sent_as_shopify_documents_it(
    shop: Shop, store: ShopifyDiscounts
) -> None:
    shop.on(created())

    discount_id = store.create_discount(REQUEST)

    assert discount_id == NODE
    (body,) = shop.bodies
    assert (
        "discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount)"
        in (body["query"])
    )
    assert body["variables"] == {
        "basicCodeDiscount": {
            "title": "NPS form1/resp1",
            "code": "MERCI-ABCDEFGHJK",
            "startsAt": "2026-11-16T09:30:15Z",
            "endsAt": "2026-12-16T23:59:59Z",
            "customerSelection": {"customers": {"add": [CUSTOMER]}},
            "customerGets": {"value": {"percentage": 0.15}, "items": {"all": True}},
            "appliesOncePerCustomer": True,
            "usageLimit": 1,
        }
    }


def test_an_amount_code_takes_the_sum_once_from_the_order_not_from_each_item(
    shop: Shop, store: ShopifyDiscounts
) -> None:
    shop.on(created())

    store.create_discount(
        attrs.evolve(REQUEST, kind=DiscountKind.AMOUNT, value=Decimal("50.00"))
    )

    (sent,) = shop.created
    assert sent["customerGets"] == {
        "value": {"discountAmount": {"amount": "50.00", "appliesOnEachItem": False}},
        "items": {"all": True},
    }


@pytest.mark.parametrize(
    ("value", "fraction"),
    [(Decimal("12.5"), 0.125), (Decimal(100), 1.0), (Decimal("0.5"), 0.005)],
)
def test_a_percentage_travels_as_a_fraction(value: Decimal, fraction: float) -> None:
    sent = basic_code_discount(attrs.evolve(REQUEST, value=value))

    assert sent["customerGets"]["value"] == {"percentage": fraction}


@pytest.mark.parametrize(
    ("customer", "selection"),
    [
        (None, {"all": True}),
        (
            "7200000000009",
            {"customers": {"add": ["gid://shopify/Customer/7200000000009"]}},
        ),
        (CUSTOMER, {"customers": {"add": [CUSTOMER]}}),
    ],
    ids=["anyone", "numeric-id", "gid"],
)
def test_the_code_is_for_the_one_customer_given_else_for_anyone(
    customer: str | None, selection: dict[str, Any]
) -> None:
    sent = basic_code_discount(attrs.evolve(REQUEST, customer_id=customer))

    assert sent["customerSelection"] == selection


@pytest.mark.parametrize("customer", ["c1", "gid://shopify/Order/1", ""])
def test_a_customer_id_shopify_cannot_read_is_refused_before_sending(
    customer: str,
) -> None:
    with pytest.raises(PartnerRejected) as caught:
        basic_code_discount(attrs.evolve(REQUEST, customer_id=customer))

    assert caught.value.code == "invalid_customer"
    assert repr(customer) in caught.value.message


def test_a_taken_code_is_told_apart_so_the_caller_looks_it_up(
    shop: Shop, store: ShopifyDiscounts
) -> None:
    shop.on(refused(TAKEN))

    with pytest.raises(DiscountCodeTaken) as caught:
        store.create_discount(REQUEST)

    assert isinstance(caught.value, PartnerRejected)
    assert caught.value.code == "TAKEN"
    assert caught.value.problems == (
        ("basicCodeDiscount.code", "Code must be unique. Please try a different code."),
    )
    assert len(shop.bodies) == 1


def test_other_user_errors_are_a_rejection_in_shopifys_words(
    shop: Shop, store: ShopifyDiscounts
) -> None:
    shop.on(
        refused(
            {
                "field": ["basicCodeDiscount", "endsAt"],
                "message": "Ends at needs to be after starts_at",
                "code": "END_DATE_BEFORE_START_DATE",
            },
            {
                "field": ["basicCodeDiscount", "customerGets", "value", "percentage"],
                "message": "Value must be between 0.0 and 1.0",
                "code": "VALUE_OUTSIDE_RANGE",
            },
        )
    )

    with pytest.raises(PartnerRejected) as caught:
        store.create_discount(REQUEST)

    assert not isinstance(caught.value, DiscountCodeTaken)
    assert caught.value.code == "END_DATE_BEFORE_START_DATE"
    assert caught.value.problems == (
        ("basicCodeDiscount.endsAt", "Ends at needs to be after starts_at"),
        (
            "basicCodeDiscount.customerGets.value.percentage",
            "Value must be between 0.0 and 1.0",
        ),
    )
    assert "Ends at needs to be after starts_at" in str(caught.value)


def test_taken_on_another_field_is_not_a_taken_code(
    shop: Shop, store: ShopifyDiscounts
) -> None:
    shop.on(refused({**TAKEN, "field": ["basicCodeDiscount", "title"]}))

    with pytest.raises(PartnerRejected) as caught:
        store.create_discount(REQUEST)

    assert not isinstance(caught.value, DiscountCodeTaken)


def test_a_throttled_creation_did_nothing_and_is_sent_again_after_the_wait(
    shop: Shop, store: ShopifyDiscounts, fake_time: FakeTime
) -> None:
    shop.on(THROTTLED, created())

    assert store.create_discount(REQUEST) == NODE

    assert len(shop.bodies) == 2
    assert shop.created[0] == shop.created[1]
    assert fake_time.sleeps == [pytest.approx(10 / 50)]


def test_a_503_creation_did_nothing_and_is_sent_again(
    shop: Shop, store: ShopifyDiscounts
) -> None:
    shop.on(httpx.Response(503, text="busy"), created())

    assert store.create_discount(REQUEST) == NODE
    assert len(shop.bodies) == 2


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_permanent_and_never_retried(
    shop: Shop, store: ShopifyDiscounts, status: int
) -> None:
    shop.on(httpx.Response(status, json={"errors": "[API] Invalid API key"}))

    with pytest.raises(PermanentPartnerError) as caught:
        store.create_discount(REQUEST)

    assert caught.value.status == status
    assert len(shop.bodies) == 1


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(502, text="Bad Gateway"),
        httpx.Response(
            200,
            json={
                "errors": [
                    {
                        "message": "Internal error",
                        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                    }
                ]
            },
        ),
        httpx.Response(200, json=data({"discountCodeBasicCreate": {"userErrors": []}})),
        httpx.Response(200, text="<html>upstream reset</html>"),
    ],
    ids=["502", "internal-error", "neither-discount-nor-errors", "not-json"],
)
def test_a_creation_that_may_have_run_is_never_sent_twice(
    shop: Shop, store: ShopifyDiscounts, answer: httpx.Response
) -> None:
    shop.on(answer)

    with pytest.raises(OutcomeUnknown):
        store.create_discount(REQUEST)

    assert len(shop.bodies) == 1


def test_a_dropped_connection_after_sending_is_an_unknown_outcome() -> None:
    calls: list[httpx.Request] = []

    def drop(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadError("connection reset", request=request)

    with (
        respx.mock(assert_all_called=True) as router,
        httpx.Client(base_url=SHOP) as http,
    ):
        router.post(ENDPOINT).mock(side_effect=drop)
        store = ShopifyDiscounts(make_client(http, FakeTime()), "sandbox-shop")
        with pytest.raises(OutcomeUnknown):
            store.create_discount(REQUEST)

    assert len(calls) == 1


def test_finds_a_code_with_its_title_and_dates_whatever_kind_it_is(
    shop: Shop, store: ShopifyDiscounts
) -> None:
    shop.on(
        data(
            {
                "codeDiscountNodeByCode": {
                    "id": NODE,
                    "codeDiscount": {
                        "__typename": "DiscountCodeFreeShipping",
                        "title": "Summer shipping",
                        "startsAt": "2026-11-16T09:30:15Z",
                        "endsAt": None,
                    },
                }
            }
        ),
        data({"codeDiscountNodeByCode": None}),
    )

    found = store.find_discount("merci-abcdefghjk")
    missing = store.find_discount("MERCI-NOTHERE00")

    assert found == ExistingDiscount(
        NODE, "Summer shipping", datetime(2026, 11, 16, 9, 30, 15, tzinfo=UTC), None
    )
    assert missing is None
    assert [b["variables"] for b in shop.bodies] == [
        {"code": "merci-abcdefghjk"},
        {"code": "MERCI-NOTHERE00"},
    ]
    assert "... on DiscountCodeBasic" in shop.bodies[0]["query"]


def test_a_lookup_that_fails_midway_is_simply_asked_again(
    shop: Shop, store: ShopifyDiscounts
) -> None:
    shop.on(
        httpx.Response(502, text="x"),
        data({"codeDiscountNodeByCode": None}),
    )

    assert store.find_discount(REQUEST.code) is None
    assert len(shop.bodies) == 2


def test_the_order_source_is_the_stores_discount_port(
    shop: Shop, http: httpx.Client, fake_time: FakeTime
) -> None:
    shop.on(created())
    source = ShopifyOrderSource(make_client(http, fake_time), "sandbox-shop")

    assert isinstance(source, StoreDiscounts)
    assert source.create_discount(REQUEST) == NODE
    assert source.store == "sandbox-shop"
