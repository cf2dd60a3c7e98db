"""The update-store-fulfilments worker through the real Shopify adapter and
the Shopify sandbox: an order taken in, booked, picked up, reported once;
and, with the reply lost or the runner killed after Shopify acted, still
exactly one fulfilment on the simulated order."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import attrs
import httpx
import pytest

from fulfilment.adapters.oms.shopify.client import ShopifyGraphQLClient
from fulfilment.adapters.oms.shopify.source import ShopifyOrderSource
from fulfilment.adapters.pl3.memory import DELIVERED_IN_TWO_DAYS, MemoryDeliveryPartner
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order, OrderKey, OrderState
from fulfilment.core.ports import EffectStatus
from fulfilment.core.routing import RoutingPolicy
from fulfilment.core.store_reports import store_fulfilment_key
from fulfilment.core.workers.create_fulfilment_requests import (
    create_fulfilment_requests,
)
from fulfilment.core.workers.fetch_fulfilment_status import fetch_fulfilment_status
from fulfilment.core.workers.fetch_new_orders import fetch_new_orders
from fulfilment.core.workers.update_store_fulfilments import (
    StoreFulfilmentReport,
    StoreFulfilmentSettings,
    update_store_fulfilments,
)
from fulfilment.runners.sandbox.seed import sandbox_token
from fulfilment.runners.sandbox.server import Fault

from .conftest import NOW, VERSION, Sandbox
from .nodes import line_node, order_node

STORE = "shemsiworld"
ORDER_ID = "6200000000001"
KEY = OrderKey("shopify", STORE, ORDER_ID)


class Crash(BaseException):
    """The runner dies."""


class Pipeline:
    """Intake, booking, tracking and store reports of one store, on the
    sandbox shop and an in-memory partner and storage."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.clock = ManualClock(NOW)
        self.storage = MemoryStorage()
        self.partner = MemoryDeliveryPartner(
            "aramex", clock=self.clock, script=DELIVERED_IN_TWO_DAYS
        )
        self.crash_after_create = False
        self.http = httpx.Client(
            base_url=f"{sandbox.url}/shops/{STORE}",
            timeout=5,
            event_hooks={"response": [self._maybe_crash]},
        )
        client = ShopifyGraphQLClient(
            self.http,
            STORE,
            sandbox_token(STORE),
            VERSION,
            RetryPolicy.for_tests(),
            sleep=sandbox.time.sleep,
            monotonic=sandbox.time.monotonic,
        )
        self.source = ShopifyOrderSource(client, STORE, country="MA")

    def _maybe_crash(self, response: httpx.Response) -> None:
        # The answer to the mutation arrived; the runner dies before using it.
        sent = response.request.content
        if self.crash_after_create and b"mutation FulfillmentCreate" in sent:
            self.crash_after_create = False
            raise Crash

    def take_in_and_book(self) -> None:
        fetch_new_orders(
            source=self.source,
            orders=self.storage.orders,
            cursors=self.storage.cursors,
            attention=self.storage.attention,
            clock=self.clock,
        )
        create_fulfilment_requests(
            orders=self.storage.orders,
            partners={"aramex": self.partner},
            routing=RoutingPolicy.one_partner_per_store({STORE: "aramex"}),
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            clock=self.clock,
            owner="runner",
        )
        order = self.order()
        assert order.shipment is not None
        link = f"https://t.example/{order.shipment.reference}"
        shipment = attrs.evolve(order.shipment, tracking_url=link)
        self.storage.orders.save(attrs.evolve(order, shipment=shipment))

    def track(self, hours: int = 5) -> None:
        self.clock.advance(timedelta(hours=hours))
        fetch_fulfilment_status(
            orders=self.storage.orders,
            partners={"aramex": self.partner},
            attention=self.storage.attention,
            clock=self.clock,
            ledger=self.storage.ledger,
        )

    def report(self) -> StoreFulfilmentReport:
        return update_store_fulfilments(
            orders=self.storage.orders,
            stores={STORE: self.source},
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            clock=self.clock,
            settings=StoreFulfilmentSettings(companies={"aramex": "Aramex"}),
        )

    def order(self) -> Order:
        order = self.storage.orders.get(KEY)
        assert order is not None
        return order

    def fulfilments(self) -> list[dict[str, Any]]:
        return self.sandbox.sim.fulfillments(STORE, ORDER_ID)

    def entry_status(self) -> EffectStatus:
        entry = self.storage.ledger.get(store_fulfilment_key(str(KEY)))
        assert entry is not None
        return entry.status


@pytest.fixture
def pipeline(start_sandbox: Callable[..., Sandbox]) -> Iterator[Pipeline]:
    sandbox = start_sandbox()
    lines = [line_node(1, quantity=2), line_node(2, sku="BKH-01")]
    sandbox.sim.load_orders({STORE: [order_node(1, lineItems={"nodes": lines})]})
    pipeline = Pipeline(sandbox)
    pipeline.take_in_and_book()
    yield pipeline
    pipeline.http.close()


def test_a_picked_up_parcel_becomes_one_fulfilment_with_its_tracking(
    pipeline: Pipeline,
) -> None:
    pipeline.track()
    report = pipeline.report()
    pipeline.track(hours=48)
    again = pipeline.report()

    reference = pipeline.order().shipment.reference  # type: ignore[union-attr]
    (fulfilment,) = pipeline.fulfilments()
    assert report.outcomes == {"reported": 1}
    assert again.outcomes == {}
    assert fulfilment["trackingInfo"] == [
        {
            "company": "Aramex",
            "number": reference,
            "url": f"https://t.example/{reference}",
        }
    ]
    assert fulfilment["notifyCustomer"] is False
    fos = pipeline.sandbox.sim.fulfillment_orders(STORE, ORDER_ID)
    fo_line_ids = [item["id"] for fo in fos for item in fo["lineItems"]]
    assert [line["id"] for line in fulfilment["lines"]] == fo_line_ids
    assert [line["quantity"] for line in fulfilment["lines"]] == [2, 1]
    (node,) = pipeline.sandbox.sim.orders(STORE)
    assert node["displayFulfillmentStatus"] == "FULFILLED"
    entry = pipeline.storage.ledger.get(store_fulfilment_key(str(KEY)))
    assert entry is not None
    assert entry.result["fulfilment_id"] == fulfilment["id"]


def test_reading_the_fulfilled_order_again_changes_nothing_of_ours(
    pipeline: Pipeline,
) -> None:
    pipeline.track()
    pipeline.report()
    before = pipeline.order()

    pipeline.clock.advance(timedelta(hours=1))
    pipeline.take_in_and_book()
    pipeline.report()

    after = pipeline.order()
    assert after.state is before.state is OrderState.IN_TRANSIT
    assert after.shipment == before.shipment
    assert len(pipeline.fulfilments()) == 1


def test_a_reply_dropped_after_shopify_acted_never_makes_a_second_fulfilment(
    pipeline: Pipeline,
) -> None:
    pipeline.track()
    # The read of the fulfillment orders goes through; the mutation is
    # applied, then the connection is closed without an answer.
    pipeline.sandbox.sim.faults.add("graphql", Fault(), Fault(drop_after=True))

    first = pipeline.report()
    second = pipeline.report()
    third = pipeline.report()

    assert first.outcomes == {"uncertain": 1}
    assert second.outcomes == {"found": 1}
    assert third.outcomes == {}
    (fulfilment,) = pipeline.fulfilments()
    entry = pipeline.storage.ledger.get(store_fulfilment_key(str(KEY)))
    assert entry is not None
    assert entry.status is EffectStatus.DONE
    assert entry.result["fulfilment_id"] == fulfilment["id"]


def test_a_runner_killed_after_shopify_answered_never_makes_a_second_fulfilment(
    pipeline: Pipeline,
) -> None:
    pipeline.track()
    pipeline.crash_after_create = True
    with pytest.raises(Crash):
        pipeline.report()

    during_grace = pipeline.report()
    pipeline.clock.advance(timedelta(minutes=20))
    after_grace = pipeline.report()

    assert during_grace.outcomes == {}
    assert after_grace.outcomes == {"abandoned": 1, "found": 1}
    assert len(pipeline.fulfilments()) == 1
    assert pipeline.entry_status() is EffectStatus.DONE


def test_an_order_cancelled_in_the_shop_is_refused_with_shopifys_words(
    pipeline: Pipeline,
) -> None:
    pipeline.track()
    pipeline.sandbox.sim.cancel_order(STORE, ORDER_ID)

    report = pipeline.report()

    assert report.outcomes == {"refused": 1}
    assert pipeline.entry_status() is EffectStatus.FAILED
    (item,) = pipeline.storage.attention.open_items()
    assert item.reason == "store_fulfilment_refused"
    assert "has nothing left to fulfil (fulfillment orders: CLOSED)" in item.message
    assert pipeline.fulfilments() == []


def test_a_throttled_shop_is_waited_out_at_the_edge(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(bucket_size=130.0, restore_rate=5.0)
    sandbox.sim.load_orders({STORE: [order_node(1)]})
    pipeline = Pipeline(sandbox)
    pipeline.take_in_and_book()  # leaves less than reading the FOs asks (125)
    pipeline.track()
    waited = len(sandbox.time.sleeps)

    report = pipeline.report()
    pipeline.http.close()

    assert report.outcomes == {"reported": 1}
    assert len(pipeline.fulfilments()) == 1
    assert len(sandbox.time.sleeps) > waited  # it waited for the bucket to refill
