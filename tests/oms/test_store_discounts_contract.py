"""The StoreDiscounts contract, kept alike by the in-memory twin and the
Shopify adapter talking to the Shopify sandbox.  If they disagree, this
suite says so."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Protocol

import attrs
import pytest

from fulfilment.adapters.oms.memory import MemoryOrderSource
from fulfilment.adapters.oms.shopify.mapping import map_order
from fulfilment.core.domain import Order
from fulfilment.core.errors import DiscountCodeTaken, PartnerRejected
from fulfilment.core.nps import DiscountKind
from fulfilment.core.ports import DiscountRequest, StoreDiscounts

from .conftest import NOW, Sandbox
from .nodes import order_node

STORE = "shemsiworld"
CUSTOMER = "gid://shopify/Customer/7200000000001"
REQUEST = DiscountRequest(
    code="MERCI-ABCDEFGHJK",
    title="NPS form1/resp1",
    kind=DiscountKind.PERCENTAGE,
    value=Decimal(15),
    currency="MAD",
    starts_at=NOW,
    ends_at=NOW + timedelta(days=30),
    customer_id=CUSTOMER,
)


class Shop(Protocol):
    port: StoreDiscounts

    def codes(self) -> int: ...

    def plant(self, code: str, title: str) -> None: ...


def domain_order() -> Order:
    order = map_order(order_node(1), STORE, country="MA")
    assert isinstance(order, Order)
    return order


class MemoryShop:
    def __init__(self) -> None:
        self.port = self._source = MemoryOrderSource(STORE)
        self._source.put(domain_order())

    def codes(self) -> int:
        return len(self._source.discounts)

    def plant(self, code: str, title: str) -> None:
        self._source.plant_discount(attrs.evolve(REQUEST, code=code, title=title))


class ShopifyShop:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sim = sandbox.sim
        self._sim.load_orders({STORE: [order_node(1)]})
        self.port = sandbox.source(STORE)

    def codes(self) -> int:
        return len(self._sim.discounts(STORE))

    def plant(self, code: str, title: str) -> None:
        self._sim.add_discount(STORE, code=code, title=title)


@pytest.fixture(params=["memory", "shopify"])
def shop(request: pytest.FixtureRequest) -> Shop:
    if request.param == "memory":
        return MemoryShop()
    start: Callable[..., Sandbox] = request.getfixturevalue("start_sandbox")
    return ShopifyShop(start())


def test_the_store_creates_discount_codes(shop: Shop) -> None:
    assert isinstance(shop.port, StoreDiscounts)
    assert shop.port.store == STORE


def test_a_code_is_created_once_and_found_with_its_title_and_dates(
    shop: Shop,
) -> None:
    before = shop.port.find_discount(REQUEST.code)
    made = shop.port.create_discount(REQUEST)
    found = shop.port.find_discount(REQUEST.code.lower())

    assert before is None
    assert made
    assert found is not None
    assert (found.store_id, found.title) == (made, REQUEST.title)
    assert (found.starts_at, found.ends_at) == (REQUEST.starts_at, REQUEST.ends_at)
    assert shop.codes() == 1


def test_the_same_code_again_in_any_case_is_taken(shop: Shop) -> None:
    shop.port.create_discount(REQUEST)

    with pytest.raises(DiscountCodeTaken):
        shop.port.create_discount(attrs.evolve(REQUEST, code=REQUEST.code.lower()))

    assert shop.codes() == 1


def test_someone_elses_code_is_taken_and_found_under_its_own_title(
    shop: Shop,
) -> None:
    shop.plant(REQUEST.code, "Staff gift")

    with pytest.raises(DiscountCodeTaken):
        shop.port.create_discount(REQUEST)

    found = shop.port.find_discount(REQUEST.code)
    assert found is not None
    assert found.title == "Staff gift"


@pytest.mark.parametrize(
    "changes",
    [
        {"code": ""},
        {"value": Decimal(150)},
        {"value": Decimal(0)},
        {"kind": DiscountKind.AMOUNT, "value": Decimal(0)},
        {"ends_at": NOW},
        {"ends_at": NOW - timedelta(days=1)},
        {"customer_id": "gid://shopify/Customer/7200000000099"},
    ],
    ids=[
        "no-code",
        "over-100-percent",
        "zero-percent",
        "zero-amount",
        "ends-at-start",
        "ends-before-start",
        "unknown-customer",
    ],
)
def test_a_request_the_store_cannot_take_is_refused_and_makes_nothing(
    shop: Shop, changes: dict[str, object]
) -> None:
    with pytest.raises(PartnerRejected) as caught:
        shop.port.create_discount(attrs.evolve(REQUEST, **changes))  # type: ignore[arg-type]

    assert not isinstance(caught.value, DiscountCodeTaken)
    assert caught.value.problems
    assert shop.codes() == 0


def test_an_amount_code_for_anyone_is_created(shop: Shop) -> None:
    request = attrs.evolve(
        REQUEST, kind=DiscountKind.AMOUNT, value=Decimal("50.00"), customer_id=None
    )

    made = shop.port.create_discount(request)

    found = shop.port.find_discount(request.code)
    assert found is not None
    assert found.store_id == made


def test_a_numeric_customer_id_names_the_same_customer(shop: Shop) -> None:
    made = shop.port.create_discount(
        attrs.evolve(REQUEST, customer_id=CUSTOMER.rsplit("/", 1)[1])
    )

    assert made
    assert shop.codes() == 1


def test_two_codes_are_kept_apart(shop: Shop) -> None:
    one = shop.port.create_discount(REQUEST)
    two = shop.port.create_discount(
        attrs.evolve(REQUEST, code="MERCI-SECOND2345", title="NPS form1/resp2")
    )

    assert one != two
    second = shop.port.find_discount("MERCI-SECOND2345")
    assert second is not None
    assert second.title == "NPS form1/resp2"
    assert shop.codes() == 2


def test_a_taken_code_is_taken_whatever_else_is_wrong(shop: Shop) -> None:
    shop.port.create_discount(REQUEST)

    with pytest.raises(DiscountCodeTaken) as caught:
        shop.port.create_discount(attrs.evolve(REQUEST, value=Decimal(150)))

    assert len(caught.value.problems) == 2
    assert shop.codes() == 1
