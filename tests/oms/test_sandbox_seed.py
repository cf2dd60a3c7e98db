"""The sandbox's seeded Shopify world: the mix the demo and tests rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fulfilment.adapters.oms.shopify.mapping import map_order
from fulfilment.core.domain import Order, PaymentMethod
from fulfilment.runners.sandbox.seed import STORES, seed_orders

NOW = datetime(2025, 3, 20, 12, 0, 30, 123456, tzinfo=UTC)
MOROCCAN_CITIES = {
    "Casablanca",
    "Rabat",
    "Marrakech",
    "Fes",
    "Tangier",
    "Agadir",
    "Meknes",
    "Oujda",
    "Kenitra",
    "Tetouan",
}
CITIES = {
    "shemsi-egypt": {"Cairo", "Giza", "Alexandria"},
    "shemsi-uae": {"Dubai", "Abu Dhabi", "Sharjah"},
    "shemsi-lebanon": {"Beirut", "Jounieh", "Tripoli"},
}


@pytest.fixture(scope="module")
def world() -> dict[str, list[dict[str, Any]]]:
    return seed_orders(NOW)


@pytest.fixture(scope="module")
def orders(world: dict[str, list[dict[str, Any]]]) -> dict[str, list[Order]]:
    mapped: dict[str, list[Order]] = {}
    for store, nodes in world.items():
        results = [map_order(n, store, country=STORES[store].country) for n in nodes]
        mapped[store] = [r for r in results if isinstance(r, Order)]
    return mapped


def everything(orders: dict[str, list[Order]]) -> list[Order]:
    return [o for store in orders.values() for o in store]


def test_four_shops_with_six_to_eight_orders_each(
    world: dict[str, list[dict[str, Any]]],
) -> None:
    assert set(world) == {"shemsiworld", "shemsi-egypt", "shemsi-uae", "shemsi-lebanon"}
    assert all(6 <= len(nodes) <= 8 for nodes in world.values())


def test_the_same_moment_seeds_the_same_world(
    world: dict[str, list[dict[str, Any]]],
) -> None:
    assert seed_orders(NOW) == world


def test_orders_were_placed_and_changed_in_the_days_before_now(
    orders: dict[str, list[Order]],
) -> None:
    for order in everything(orders):
        assert (
            NOW - timedelta(days=4) < order.placed_at <= order.source_updated_at < NOW
        )


def test_each_shop_sells_in_its_currency(orders: dict[str, list[Order]]) -> None:
    currencies = {store: {o.currency for o in found} for store, found in orders.items()}

    assert currencies == {
        "shemsiworld": {"MAD"},
        "shemsi-egypt": {"EGP"},
        "shemsi-uae": {"AED"},
        "shemsi-lebanon": {"USD"},
    }


def test_moroccan_cities_are_spelt_as_aramex_knows_them_but_one(
    orders: dict[str, list[Order]],
) -> None:
    cities = [
        o.shipping_address.city for o in orders["shemsiworld"] if o.shipping_address
    ]

    assert [c for c in cities if c not in MOROCCAN_CITIES] == ["Casablanka"]


def test_other_shops_use_their_own_cities(orders: dict[str, list[Order]]) -> None:
    for store, allowed in CITIES.items():
        cities = {o.shipping_address.city for o in orders[store] if o.shipping_address}
        assert cities - {None} <= allowed


def test_cash_on_delivery_and_prepaid_orders_are_mixed_with_one_unpaid(
    orders: dict[str, list[Order]],
) -> None:
    all_orders = everything(orders)
    cod = [o for o in all_orders if o.payment.is_cod]
    prepaid = [o for o in all_orders if o.payment.method is PaymentMethod.PREPAID]
    unpaid = [o for o in prepaid if not o.payment.paid and not o.is_cancelled]

    assert len(cod) > len(prepaid) > 3
    assert all(o.payment.collect == o.total for o in cod)
    assert [o.store for o in unpaid] == ["shemsi-egypt"]


def test_exactly_one_malformed_order_and_it_is_egyptian(
    orders: dict[str, list[Order]],
) -> None:
    flagged = [o for o in everything(orders) if o.source_problems]

    assert [o.store for o in flagged] == ["shemsi-egypt"]
    assert {p.code for p in flagged[0].source_problems} == {
        "missing_city",
        "invalid_phone",
    }


def test_one_cancelled_and_one_edited_order(
    world: dict[str, list[dict[str, Any]]], orders: dict[str, list[Order]]
) -> None:
    cancelled = [o for o in everything(orders) if o.is_cancelled]
    edited = [
        node
        for nodes in world.values()
        for node in nodes
        if any(
            line["currentQuantity"] < line["quantity"]
            for line in node["lineItems"]["nodes"]
        )
        and node["cancelledAt"] is None
    ]

    assert len(cancelled) == 1
    assert len(edited) == 1
    assert edited[0]["updatedAt"] > edited[0]["createdAt"]
    assert edited[0]["currentTotalPriceSet"] != edited[0]["totalPriceSet"]


def test_every_deliverable_order_has_a_reachable_mobile_but_the_malformed_one(
    orders: dict[str, list[Order]],
) -> None:
    unreachable = [
        o
        for o in everything(orders)
        if not (o.phone and o.phone.e164 and o.phone.is_mobile)
    ]

    assert [o.store for o in unreachable] == ["shemsi-egypt"]


def test_phones_come_in_local_and_international_habits(
    world: dict[str, list[dict[str, Any]]],
) -> None:
    typed = {n["shippingAddress"]["phone"] for nodes in world.values() for n in nodes}

    assert {
        "0661234567",
        "06 12 34 56 78",
        "01001234567",
        "0551234567",
        "03 123 456",
        "70 123 456",
    } <= typed
    assert any(p.startswith("+212") for p in typed)


def test_people_are_fictional_with_example_addresses(
    world: dict[str, list[dict[str, Any]]],
) -> None:
    emails = [n["email"] for nodes in world.values() for n in nodes]

    assert all(e.endswith("@example.com") for e in emails)
    arabic = [
        n
        for nodes in world.values()
        for n in nodes
        if any("\u0600" <= c <= "\u06ff" for c in n["shippingAddress"]["lastName"])
    ]
    assert len(arabic) >= 4


def test_every_shop_has_its_own_token() -> None:
    tokens = {store.access_token for store in STORES.values()}

    assert tokens == {f"shpat_sandbox_{h}" for h in STORES}


def test_every_product_but_the_soap_weighs_something_per_unit(
    orders: dict[str, list[Order]],
) -> None:
    grams = {
        line.product.sku: line.grams
        for order in everything(orders)
        for line in order.lines
    }

    assert grams == {
        "OUD-50": 350,
        "MSK-100": 280,
        "BKH-01": 1200,
        "ARG-OIL": 180,
        "KHL-01": 113,
        "DKH-250": 318,
        "ZTR-01": None,
    }
