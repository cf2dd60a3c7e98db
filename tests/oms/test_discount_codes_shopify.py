"""The discount-codes worker through the real Shopify adapter and the
Shopify sandbox: an order taken in, its customer's answer rewarded with
one code for that customer alone; with the reply lost after Shopify acted,
still exactly one code; and a code someone else holds left to a person."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import OrderKey
from fulfilment.core.notices import NOTICE
from fulfilment.core.nps import (
    DiscountKind,
    DiscountPolicy,
    DiscountTier,
    NpsCategory,
    NpsResponse,
    discount_code_for,
)
from fulfilment.core.ports import EffectStatus
from fulfilment.core.workers.discount_codes import (
    DISCOUNT,
    DiscountReport,
    create_discount_codes,
    discount_key,
)
from fulfilment.core.workers.fetch_new_orders import fetch_new_orders
from fulfilment.runners.sandbox.server import Fault

from .conftest import NOW, Sandbox
from .nodes import order_node

STORE = "shemsiworld"
KEY = OrderKey("shopify", STORE, "6200000000001")
CUSTOMER = "gid://shopify/Customer/7200000000001"
POLICY = DiscountPolicy(
    tiers={NpsCategory.PROMOTER: DiscountTier(DiscountKind.PERCENTAGE, Decimal(15), 30)}
)
ANSWER = NpsResponse("resp-1", "nps-form", 10, NOW, order_key=KEY)
CODE = discount_code_for(ANSWER, "MERCI")


class Pipeline:
    """Intake and discount codes of one store, on the sandbox shop and an
    in-memory storage."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.clock = ManualClock(NOW + timedelta(days=15))
        self.storage = MemoryStorage()
        self.source = sandbox.source(STORE, country="MA")
        fetch_new_orders(
            source=self.source,
            orders=self.storage.orders,
            cursors=self.storage.cursors,
            attention=self.storage.attention,
            clock=self.clock,
        )
        self.storage.nps.add_response(ANSWER)
        self.storage.ledger.queue(
            discount_key(ANSWER.form_id, ANSWER.response_id),
            DISCOUNT,
            str(KEY),
            self.clock.now(),
            payload={"form": ANSWER.form_id, "response": ANSWER.response_id},
        )

    def reward(self) -> DiscountReport:
        return create_discount_codes(
            orders=self.storage.orders,
            nps=self.storage.nps,
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            stores={STORE: self.source},
            policy=POLICY,
            time_zones={STORE: "Africa/Casablanca"},
            clock=self.clock,
        )

    def entry_status(self) -> EffectStatus:
        entry = self.storage.ledger.get(discount_key("nps-form", "resp-1"))
        assert entry is not None
        return entry.status


@pytest.fixture
def pipeline(start_sandbox: Callable[..., Sandbox]) -> Pipeline:
    sandbox = start_sandbox()
    sandbox.sim.load_orders({STORE: [order_node(1)]})
    return Pipeline(sandbox)


def test_an_answer_becomes_one_code_for_that_customer_in_the_shop(
    pipeline: Pipeline,
) -> None:
    report = pipeline.reward()
    again = pipeline.reward()

    assert report.outcomes == {"created": 1}
    assert report.worth == {STORE: Decimal("63.00")}  # 15 % of 420.00 MAD
    assert again.outcomes == {}
    (node,) = pipeline.sandbox.sim.discounts(STORE)
    discount = node["codeDiscount"]
    assert discount["title"] == "NPS nps-form/resp-1"
    assert [c["code"] for c in discount["codes"]] == [CODE]
    assert discount["customerGets"]["value"] == {
        "__typename": "DiscountPercentage",
        "percentage": 0.15,
    }
    assert [c["id"] for c in discount["customerSelection"]["customers"]] == [CUSTOMER]
    assert (discount["usageLimit"], discount["appliesOncePerCustomer"]) == (1, True)
    # 4 April 2025, 13:00 in Casablanca; thirty days on, to the end of 4 May.
    assert discount["startsAt"] == "2025-04-04T12:00:00Z"
    assert discount["endsAt"] == "2025-05-04T22:59:59Z"
    (kept,) = pipeline.storage.nps.discounts(store=STORE)
    assert kept.store_id == node["id"]
    notices = pipeline.storage.ledger.queued(NOTICE, pipeline.clock.now(), 10)
    assert sorted(n.result["channel"] for n in notices) == ["email", "sms"]
    assert all(
        n.result["values"] == {"code": CODE, "discount": "15%", "expires": "2025-05-04"}
        for n in notices
    )


def test_a_reply_dropped_after_shopify_made_the_code_never_makes_a_second(
    pipeline: Pipeline,
) -> None:
    pipeline.sandbox.sim.faults.add("graphql", Fault(drop_after=True))

    first = pipeline.reward()
    second = pipeline.reward()

    assert first.outcomes == {"uncertain": 1}
    assert second.outcomes == {"found": 1}
    assert len(pipeline.sandbox.sim.discounts(STORE)) == 1
    assert pipeline.entry_status() is EffectStatus.DONE


def test_a_code_someone_else_made_in_the_admin_is_left_to_a_person(
    pipeline: Pipeline,
) -> None:
    pipeline.sandbox.sim.add_discount(STORE, code=CODE.lower(), title="Staff gift")

    report = pipeline.reward()

    assert report.outcomes == {"clash": 1}
    assert pipeline.entry_status() is EffectStatus.FAILED
    (item,) = pipeline.storage.attention.open_items()
    assert item.reason == "discount_code_clash"
    assert "'Staff gift'" in item.message
    assert len(pipeline.sandbox.sim.discounts(STORE)) == 1


def test_a_busy_shop_is_tried_again_at_the_edge_and_makes_one_code(
    pipeline: Pipeline,
) -> None:
    sim = pipeline.sandbox.sim
    sim.requests.clear()
    sim.faults.add("graphql", Fault(status=429, retry_after=0), Fault(status=503))

    report = pipeline.reward()

    assert report.outcomes == {"created": 1}
    assert len(sim.requests) == 3  # refused twice without acting, then made
    assert len(sim.discounts(STORE)) == 1
