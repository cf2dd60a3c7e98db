"""The StoreFulfilments contract, kept alike by the in-memory twin and the
Shopify adapter talking to the Shopify sandbox.  If they disagree, this
suite says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import attrs
import pytest

from fulfilment.adapters.oms.memory import MemoryOrderSource
from fulfilment.adapters.oms.shopify.mapping import map_order
from fulfilment.core.domain import Order
from fulfilment.core.errors import PartnerRejected
from fulfilment.core.ports import ShipmentReport, StoreFulfilments

from .conftest import NOW, Sandbox
from .nodes import order_node

STORE = "shemsiworld"
REPORT = ShipmentReport("ARX0000000001", "Aramex", "https://t.example/ARX0000000001")


class Shop(Protocol):
    port: StoreFulfilments

    def add(self, number: int) -> Order: ...

    def cancel(self, order: Order) -> None: ...

    def recorded(self, order: Order) -> int: ...


def domain(node: dict[str, Any]) -> Order:
    order = map_order(node, STORE, country="MA")
    assert isinstance(order, Order)
    return order


class MemoryShop:
    def __init__(self) -> None:
        self.port = self._source = MemoryOrderSource(STORE)

    def add(self, number: int) -> Order:
        order = domain(order_node(number))
        self._source.put(order)
        return order

    def cancel(self, order: Order) -> None:
        self._source.put(attrs.evolve(order, cancelled_at=NOW))

    def recorded(self, order: Order) -> int:
        return len(self._source.fulfilments.get(order.key.external_id, []))


class ShopifyShop:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sim = sandbox.sim
        self.port = sandbox.source(STORE)

    def add(self, number: int) -> Order:
        node = self._sim.add_order(STORE, order_node(number))
        return domain(node)

    def cancel(self, order: Order) -> None:
        self._sim.cancel_order(STORE, order.key.external_id)

    def recorded(self, order: Order) -> int:
        return len(self._sim.fulfillments(STORE, order.key.external_id))


@pytest.fixture(params=["memory", "shopify"])
def shop(request: pytest.FixtureRequest) -> Shop:
    if request.param == "memory":
        return MemoryShop()
    start: Callable[..., Sandbox] = request.getfixturevalue("start_sandbox")
    return ShopifyShop(start())


def test_the_store_takes_shipment_reports(shop: Shop) -> None:
    assert isinstance(shop.port, StoreFulfilments)
    assert shop.port.store == STORE


def test_a_report_is_recorded_once_and_found_by_its_tracking_number(
    shop: Shop,
) -> None:
    order = shop.add(1)

    before = shop.port.find_shipment_report(order, REPORT.tracking_number)
    made = shop.port.report_shipment(order, REPORT)
    found = shop.port.find_shipment_report(order, REPORT.tracking_number)
    other = shop.port.find_shipment_report(order, "ARX0000000002")

    assert before is None
    assert made
    assert found == made
    assert other is None
    assert shop.recorded(order) == 1


def test_reporting_the_same_tracking_number_again_hands_back_the_first_record(
    shop: Shop,
) -> None:
    order = shop.add(1)
    made = shop.port.report_shipment(order, REPORT)

    again = shop.port.report_shipment(order, REPORT)

    assert again == made
    assert shop.recorded(order) == 1


def test_an_order_already_shipped_under_another_number_is_refused(
    shop: Shop,
) -> None:
    order = shop.add(1)
    shop.port.report_shipment(order, REPORT)

    with pytest.raises(PartnerRejected):
        shop.port.report_shipment(order, ShipmentReport("ARX0000000002", "Aramex"))

    assert shop.recorded(order) == 1


def test_a_cancelled_order_is_refused(shop: Shop) -> None:
    order = shop.add(1)
    shop.cancel(order)

    with pytest.raises(PartnerRejected):
        shop.port.report_shipment(order, REPORT)

    assert shop.recorded(order) == 0


def test_an_order_the_store_does_not_have_is_refused_and_never_found(
    shop: Shop,
) -> None:
    stranger = domain(order_node(99))

    with pytest.raises(PartnerRejected):
        shop.port.report_shipment(stranger, REPORT)

    assert shop.port.find_shipment_report(stranger, REPORT.tracking_number) is None


def test_reports_of_two_orders_are_kept_apart(shop: Shop) -> None:
    first, second = shop.add(1), shop.add(2)

    one = shop.port.report_shipment(first, REPORT)
    two = shop.port.report_shipment(second, ShipmentReport("ARX0000000002", "Aramex"))

    assert one != two
    assert shop.port.find_shipment_report(second, REPORT.tracking_number) is None
    assert (shop.recorded(first), shop.recorded(second)) == (1, 1)
