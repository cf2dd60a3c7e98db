"""Bad input from the shops and the partners: none crashes a run, none is
lost, and each ends as written down beside it.

``orders/*.json`` are Shopify ``Order`` nodes that real shops produce
(given as changes to the complete node of ``tests/oms/nodes.py``): missing
addresses, phones in every format people type, Arabic and French text,
emoji, removed lines, refunds, odd times, currencies and sizes.  Each goes
through the real mapping, intake and booking (with the partner twin, which
refuses what Aramex refuses) and must end in the state, with the problems,
hold reason and attention items its ``expect`` names.

``partner_replies/*.json`` are answers Flextock's API gives when things go
wrong (validation errors, an HTML error page from a proxy, a body cut off
mid-way, an empty 200).  Each is served by respx to the real Flextock
adapter inside a real booking run, and must end as its ``expect`` says: the
order with a person and the partner's own words, or a retry scheduled.
"""

from __future__ import annotations

import json
import ssl
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.oms.memory import MemoryOrderSource
from fulfilment.adapters.oms.shopify.mapping import Rejected, map_order
from fulfilment.adapters.pl3.flextock.client import FlextockClient
from fulfilment.adapters.pl3.flextock.partner import FlextockDeliveryPartner
from fulfilment.adapters.pl3.flextock.settings import FlextockSettings
from fulfilment.adapters.pl3.memory import MemoryDeliveryPartner
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order
from fulfilment.core.ports import DeliveryPartner
from fulfilment.core.routing import RoutingPolicy
from fulfilment.core.workers.create_fulfilment_requests import (
    create_fulfilment_requests,
)
from fulfilment.core.workers.fetch_new_orders import fetch_new_orders
from fulfilment.testing.builders import make_order
from tests.oms.nodes import order_node

HERE = Path(__file__).parent
NOW = datetime(2025, 3, 15, 10, 0, tzinfo=UTC)
ROUTES = RoutingPolicy.one_partner_per_store(
    {"shemsiworld": "aramex", "shemsi-egypt": "flextock"}
)
COUNTRY = {"shemsiworld": "MA", "shemsi-egypt": "EG"}


def cases(folder: str) -> list[Any]:
    return [
        pytest.param(json.loads(path.read_text("utf-8")), id=path.stem)
        for path in sorted((HERE / folder).glob("*.json"))
    ]


def patched(node: Any, patch: Any) -> Any:
    """*node* with *patch* laid over it: objects merge, anything else
    (a list, a string, null) replaces."""
    if not isinstance(node, dict) or not isinstance(patch, dict):
        return patch
    merged = dict(node)
    for name, value in patch.items():
        merged[name] = patched(node.get(name), value)
    return merged


def booking_run(
    orders: list[Order], partner: DeliveryPartner, name: str
) -> tuple[MemoryStorage, ManualClock]:
    """Intake of *orders* from their shop, then one booking run."""
    clock = ManualClock(NOW)
    storage = MemoryStorage()
    source = MemoryOrderSource(orders[0].key.store)
    for order in orders:
        source.put(order)
    fetch_new_orders(
        source=source,
        orders=storage.orders,
        cursors=storage.cursors,
        attention=storage.attention,
        clock=clock,
    )
    create_fulfilment_requests(
        orders=storage.orders,
        partners={name: partner},
        routing=ROUTES,
        ledger=storage.ledger,
        attention=storage.attention,
        clock=clock,
        owner="corpus",
    )
    return storage, clock


def outcome(storage: MemoryStorage, order: Order) -> dict[str, Any]:
    stored = storage.orders.get(order.key)
    assert stored is not None, f"{order.key} was lost"
    items = [i for i in storage.attention.open_items() if i.subject == str(order.key)]
    phone = stored.phone
    collect = stored.payment.collect
    booking = storage.ledger.get(f"book:{order.key}")
    return {
        "state": stored.state.value,
        "booking_entry": booking.status.value if booking else None,
        "source_problems": sorted(
            f"{p.code}@{p.field}" for p in stored.source_problems
        ),
        "problems": sorted(p.code for p in stored.problems),
        "hold_reason": stored.hold_reason,
        "attention": sorted(i.reason for i in items),
        "attention_says": " | ".join(i.message for i in items),
        "phone": phone.e164 if phone else None,
        "collect": f"{collect.amount} {collect.currency}" if collect else None,
        "placed_at": stored.placed_at.isoformat(),
        "lines": len(stored.lines),
    }


def matches(expected: dict[str, Any], found: dict[str, Any]) -> None:
    for name, value in expected.items():
        if name == "attention_says":
            assert all(words in found[name] for words in value), found[name]
        else:
            assert found[name] == value, f"{name}: {found[name]!r} != {value!r}"


@pytest.mark.parametrize("case", cases("orders"))
def test_a_bad_order_ends_as_written_down(case: dict[str, Any]) -> None:
    store = case["store"]
    node = patched(order_node(1), case["patch"])

    mapped = map_order(node, store, country=COUNTRY[store])
    assert not isinstance(mapped, Rejected), mapped
    partner = MemoryDeliveryPartner(
        "aramex", cod_currencies=frozenset({"MAD"}), clock=ManualClock(NOW)
    )
    storage, _ = booking_run([mapped], partner, "aramex")

    found = outcome(storage, mapped)
    print(json.dumps(found, ensure_ascii=False))
    matches(case["expect"], found)
    booked = found["state"] == "booked"
    assert len(partner.parcels) == int(booked)
    assert (
        booked
        or found["attention"]
        or found["hold_reason"]
        or (found["state"] == "cancelled")
    ), "an order that cannot move on must say why"


FLEXTOCK = "https://flextock.test"
# One TLS context for the module: building one per client costs more than a
# whole routed run.
TLS = ssl.create_default_context()


def flextock() -> FlextockDeliveryPartner:
    settings = FlextockSettings(
        base_url=FLEXTOCK,
        username="merchant",
        password="s3cret",
        vendor_name="Shemsi Egypt",
    )
    client = FlextockClient(httpx.Client(base_url=FLEXTOCK, verify=TLS))
    return FlextockDeliveryPartner(
        settings, client, RetryPolicy.for_tests(), ManualClock(NOW)
    )


def serve_flextock(router: respx.MockRouter, case: dict[str, Any]) -> None:
    """Login and SKUs work; creating the order answers *case*; asking for
    it afterwards finds nothing, as when the order was never made."""
    router.post("/base/auth/").respond(200, json={"access": "t", "refresh": "r"})
    router.post("/external-integration/create-products/").mock(
        side_effect=lambda request: httpx.Response(
            200,
            json={
                "response": [
                    {"sku_code": p["sku_code"], "message": "SKU created successfully."}
                    for p in json.loads(request.content)["products"]
                ]
            },
        )
    )
    router.post("/external-integration/create-order/").respond(
        case["status"],
        content=case["body"].encode("utf-8"),
        headers={"Content-Type": case["content_type"], "Retry-After": "1"},
    )
    router.post("/external-integration/order-status/").respond(
        404, json={"detail": "Not found."}
    )


@pytest.mark.parametrize("case", cases("partner_replies"))
def test_a_bad_partner_reply_ends_as_written_down(case: dict[str, Any]) -> None:
    order = make_order("8001", store="shemsi-egypt", updated_at=NOW.replace(hour=9))

    with respx.mock(
        base_url=FLEXTOCK, assert_all_mocked=True, assert_all_called=False
    ) as router:
        serve_flextock(router, case)
        storage, _ = booking_run([order], flextock(), "flextock")

    found = outcome(storage, order)
    print(json.dumps(found, ensure_ascii=False))
    matches(case["expect"], found)
    assert found["state"] != "booked"
    assert found["attention"] or found["state"] == "new", (
        "a refused booking must reach a person; a failed one is retried"
    )
