"""The Shopify sandbox's discount codes behave like Shopify's (reference
A.10): ``discountCodeBasicCreate`` validates before it makes anything and
refuses with userErrors, a code is unique in a shop without regard to
case (``TAKEN``), ``codeDiscountNodeByCode`` finds it, mutations are paid
for from the bucket, and the shop keeps its codes across a restart."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fulfilment.core.clock import ManualClock
from fulfilment.runners.sandbox.seed import sandbox_token
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.runners.sandbox.shopify import ShopifySimulator

from .conftest import NOW, Sandbox
from .nodes import order_node

STORE = "shemsiworld"
PATH = f"/shops/{STORE}/admin/api/2025-07/graphql.json"
CUSTOMER = "gid://shopify/Customer/7200000000001"
CREATE = """
mutation ($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}
"""
FIND = """
query ($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount {
      __typename
      ... on DiscountCodeBasic {
        title
        summary
        status
        startsAt
        endsAt
        usageLimit
        appliesOncePerCustomer
        codes(first: 5) { nodes { code } }
        customerGets {
          value {
            ... on DiscountPercentage { percentage }
            ... on DiscountAmount { amount { amount currencyCode } appliesOnEachItem }
          }
          items { ... on AllDiscountItems { allItems } }
        }
        customerSelection {
          ... on DiscountCustomerAll { allCustomers }
          ... on DiscountCustomers { customers { id firstName } }
        }
      }
    }
  }
}
"""


def basic(**changes: Any) -> dict[str, Any]:
    """A valid 15 % code for the order's customer, for thirty days."""
    given: dict[str, Any] = {
        "title": "NPS form1/resp1",
        "code": "MERCI-ABCDEFGHJK",
        "startsAt": "2025-03-20T12:00:00Z",
        "endsAt": "2025-04-19T23:59:59Z",
        "customerSelection": {"customers": {"add": [CUSTOMER]}},
        "customerGets": {"value": {"percentage": 0.15}, "items": {"all": True}},
        "appliesOncePerCustomer": True,
        "usageLimit": 1,
    }
    return given | changes


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    sandbox = start_sandbox()
    sandbox.sim.load_orders({STORE: [order_node(1)]})
    return sandbox


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url) as client:
        yield client


def post(http: httpx.Client, query: str, variables: dict[str, Any]) -> Any:
    response = http.post(
        PATH,
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": sandbox_token(STORE)},
    )
    assert response.status_code == 200
    return response.json()


def create(http: httpx.Client, given: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = post(http, CREATE, {"input": given})["data"][
        "discountCodeBasicCreate"
    ]
    return payload


def find(http: httpx.Client, code: str) -> Any:
    return post(http, FIND, {"code": code})["data"]["codeDiscountNodeByCode"]


def errors(payload: dict[str, Any]) -> list[tuple[str, str]]:
    return [(".".join(e["field"][1:]), e["code"]) for e in payload["userErrors"]]


def test_a_code_for_one_customer_is_made_and_found_by_its_code(
    http: httpx.Client,
) -> None:
    payload = create(http, basic())

    assert payload["userErrors"] == []
    node_id = payload["codeDiscountNode"]["id"]
    assert node_id.startswith("gid://shopify/DiscountCodeNode/")
    found = find(http, "merci-abcdefghjk")
    assert found["id"] == node_id
    assert found["codeDiscount"] == {
        "__typename": "DiscountCodeBasic",
        "title": "NPS form1/resp1",
        "summary": "15% off entire order",
        "status": "ACTIVE",
        "startsAt": "2025-03-20T12:00:00Z",
        "endsAt": "2025-04-19T23:59:59Z",
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
        "codes": {"nodes": [{"code": "MERCI-ABCDEFGHJK"}]},
        "customerGets": {"value": {"percentage": 0.15}, "items": {"allItems": True}},
        "customerSelection": {"customers": [{"id": CUSTOMER, "firstName": "Yasmine"}]},
    }
    assert find(http, "MERCI-OTHER") is None


def test_an_amount_code_for_anyone_is_in_the_shops_currency(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    amount = {"discountAmount": {"amount": "50.00", "appliesOnEachItem": False}}
    given = basic(
        customerSelection={"all": True},
        customerGets={"value": amount, "items": {"all": True}},
    )

    assert create(http, given)["userErrors"] == []

    discount = find(http, given["code"])["codeDiscount"]
    assert discount["customerGets"]["value"] == {
        "amount": {"amount": "50.00", "currencyCode": "MAD"},
        "appliesOnEachItem": False,
    }
    assert discount["customerSelection"] == {"allCustomers": True}
    assert discount["summary"] == "50.00 MAD off entire order"
    (kept,) = sandbox.sim.discounts(STORE)
    assert kept["codeDiscount"]["codes"][0]["code"] == given["code"]


def test_a_code_the_shop_holds_in_any_case_is_taken(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    create(http, basic())

    again = create(http, basic(code="merci-abcdefghjk", title="Another"))

    assert again == {
        "codeDiscountNode": None,
        "userErrors": [
            {
                "field": ["basicCodeDiscount", "code"],
                "code": "TAKEN",
                "message": "Code must be unique. Please try a different code.",
            }
        ],
    }
    assert len(sandbox.sim.discounts(STORE)) == 1


def test_codes_are_unique_per_shop_not_across_shops(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    create(http, basic())
    sandbox.sim.load_orders({"shemsi-egypt": [order_node(2, currencyCode="EGP")]})
    egypt = "/shops/shemsi-egypt/admin/api/2025-07/graphql.json"
    given = basic(customerSelection={"all": True})

    answer = http.post(
        egypt,
        json={"query": CREATE, "variables": {"input": given}},
        headers={"X-Shopify-Access-Token": sandbox_token("shemsi-egypt")},
    ).json()

    assert answer["data"]["discountCodeBasicCreate"]["userErrors"] == []
    assert len(sandbox.sim.discounts("shemsi-egypt")) == 1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"code": "  "}, [("code", "BLANK")]),
        ({"code": "X" * 256}, [("code", "TOO_LONG")]),
        ({"title": ""}, [("title", "BLANK")]),
        ({"startsAt": None}, [("startsAt", "BLANK")]),
        (
            {"endsAt": "2025-03-20T12:00:00Z"},
            [("endsAt", "END_DATE_BEFORE_START_DATE")],
        ),
        (
            {"endsAt": "2025-03-19T00:00:00Z"},
            [("endsAt", "END_DATE_BEFORE_START_DATE")],
        ),
        (
            {"customerGets": {"value": {"percentage": 1.5}, "items": {"all": True}}},
            [("customerGets.value.percentage", "VALUE_OUTSIDE_RANGE")],
        ),
        (
            {"customerGets": {"value": {"percentage": 0.0}, "items": {"all": True}}},
            [("customerGets.value.percentage", "VALUE_OUTSIDE_RANGE")],
        ),
        (
            {
                "customerGets": {
                    "value": {"discountAmount": {"amount": "0"}},
                    "items": {"all": True},
                }
            },
            [("customerGets.value.discountAmount.amount", "GREATER_THAN")],
        ),
        (
            {
                "customerGets": {
                    "value": {
                        "percentage": 0.1,
                        "discountAmount": {"amount": "5"},
                    },
                    "items": {"all": True},
                }
            },
            [("customerGets.value", "INVALID")],
        ),
        ({"customerGets": None}, [("customerGets", "BLANK")]),
        (
            {"customerSelection": {"customers": {"add": [CUSTOMER[:-1] + "9"]}}},
            [("customerSelection.customers.add.0", "INVALID")],
        ),
        ({"customerSelection": None}, [("customerSelection", "BLANK")]),
        ({"usageLimit": 0}, [("usageLimit", "GREATER_THAN")]),
        (
            {"code": "", "endsAt": "2025-03-01T00:00:00Z", "usageLimit": -1},
            [
                ("code", "BLANK"),
                ("endsAt", "END_DATE_BEFORE_START_DATE"),
                ("usageLimit", "GREATER_THAN"),
            ],
        ),
    ],
    ids=[
        "blank-code",
        "long-code",
        "blank-title",
        "no-start",
        "ends-at-start",
        "ends-before-start",
        "percentage-over-one",
        "percentage-zero",
        "amount-zero",
        "both-values",
        "no-value",
        "unknown-customer",
        "no-customers",
        "usage-zero",
        "several-at-once",
    ],
)
def test_an_invalid_request_is_refused_with_each_problem_and_makes_nothing(
    sandbox: Sandbox,
    http: httpx.Client,
    changes: dict[str, Any],
    expected: list[tuple[str, str]],
) -> None:
    payload = create(http, basic(**changes))

    assert payload["codeDiscountNode"] is None
    assert errors(payload) == expected
    assert all(e["message"] for e in payload["userErrors"])
    assert sandbox.sim.discounts(STORE) == []


def test_a_code_is_scheduled_then_active_then_expired_on_the_shared_clock(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    clock = sandbox.sim.clock
    assert isinstance(clock, ManualClock)
    create(http, basic(startsAt="2025-03-21T00:00:00Z", endsAt="2025-03-22T00:00:00Z"))
    statuses = []

    for moment in (NOW, NOW + timedelta(days=1), NOW + timedelta(days=2)):
        clock.set(moment)
        statuses.append(find(http, "MERCI-ABCDEFGHJK")["codeDiscount"]["status"])

    assert statuses == ["SCHEDULED", "ACTIVE", "EXPIRED"]


def test_someone_elses_code_planted_in_the_admin_is_found_and_taken(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.sim.add_discount(STORE, code="MERCI-ABCDEFGHJK", title="Staff gift")

    payload = create(http, basic())

    assert errors(payload) == [("code", "TAKEN")]
    found = find(http, "MERCI-ABCDEFGHJK")["codeDiscount"]
    assert found["title"] == "Staff gift"
    assert found["startsAt"] == "2025-03-20T12:00:00Z"


def test_a_creation_costs_ten_points_and_a_throttled_one_makes_nothing(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(bucket_size=20.0, restore_rate=1.0)
    sandbox.sim.load_orders({STORE: [order_node(1)]})
    with httpx.Client(base_url=sandbox.url) as http:
        first = post(http, CREATE, {"input": basic()})
        second = post(http, CREATE, {"input": basic(code="MERCI-SECOND0000")})

    cost = first["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 10 + 2  # the mutation, then its selection
    assert cost["throttleStatus"]["currentlyAvailable"] == 20 - cost["actualQueryCost"]
    assert second["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "data" not in second
    assert len(sandbox.sim.discounts(STORE)) == 1


def test_codes_survive_a_restart_of_the_sandbox(tmp_path: Path) -> None:
    sim = ShopifySimulator(data_dir=tmp_path, orders={STORE: [order_node(1)]})
    with SimServer(sim) as server, httpx.Client(base_url=server.url) as http:
        made = create(http, basic())["codeDiscountNode"]

    again = ShopifySimulator(data_dir=tmp_path)

    assert [d["id"] for d in again.discounts(STORE)] == [made["id"]]
    with SimServer(again) as server, httpx.Client(base_url=server.url) as http:
        assert errors(create(http, basic())) == [("code", "TAKEN")]
