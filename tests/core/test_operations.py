"""An operator sends an order back to booking."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from fulfilment.adapters.pl3.memory import MemoryDeliveryPartner
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import OrderState
from fulfilment.core.errors import OutcomeUnknown
from fulfilment.core.operations import (
    InvalidRecord,
    NotRetryable,
    record_booking,
    retry_order,
)
from fulfilment.core.ports import Capabilities, EffectStatus
from fulfilment.core.routing import RoutingPolicy
from fulfilment.core.workers.create_fulfilment_requests import (
    create_fulfilment_requests,
)
from fulfilment.testing.builders import T0, make_order

ROUTES = RoutingPolicy.one_partner_per_store({"shemsiworld": "aramex"})


def book(storage: MemoryStorage, partner: MemoryDeliveryPartner, clock: ManualClock):  # type: ignore[no-untyped-def]
    return create_fulfilment_requests(
        orders=storage.orders,
        partners={"aramex": partner},
        routing=ROUTES,
        ledger=storage.ledger,
        attention=storage.attention,
        clock=clock,
        owner="runner",
    )


def test_retrying_an_unsettled_booking_books_it_after_the_operator_checked() -> None:
    clock, storage = ManualClock(T0), MemoryStorage()
    aramex = MemoryDeliveryPartner(
        "aramex", Capabilities(frozenset({"MAD"}), lookup_by_reference=False)
    )
    order = make_order("1")
    storage.orders.save(order)
    aramex.fail_next(OutcomeUnknown("timeout", partner="aramex"))
    book(storage, aramex, clock)
    clock.advance(timedelta(minutes=5))
    book(storage, aramex, clock)
    assert storage.orders.get(order.key).state is OrderState.NEEDS_ATTENTION  # type: ignore[union-attr]

    retried = retry_order(
        key=order.key,
        orders=storage.orders,
        ledger=storage.ledger,
        attention=storage.attention,
        now=clock.now(),
    )
    report = book(storage, aramex, clock)

    assert retried.state is OrderState.NEW
    assert report.counts == {"booked": 1}
    assert len(aramex.parcels) == 1
    assert storage.attention.open_items() == []
    effect = storage.ledger.get(f"book:{order.key}")
    assert effect is not None
    assert effect.status is EffectStatus.DONE


def test_a_booked_order_cannot_be_retried() -> None:
    storage = MemoryStorage()
    order = make_order("2")
    storage.orders.save(order)
    book(storage, MemoryDeliveryPartner("aramex"), ManualClock(T0))

    with pytest.raises(NotRetryable, match="is booked"):
        retry_order(
            key=order.key,
            orders=storage.orders,
            ledger=storage.ledger,
            attention=storage.attention,
            now=T0,
        )


def test_an_operator_records_a_parcel_found_at_the_partner() -> None:
    clock, storage = ManualClock(T0), MemoryStorage()
    aramex = MemoryDeliveryPartner(
        "aramex", Capabilities(frozenset({"MAD"}), lookup_by_reference=False)
    )
    order = make_order("3")
    storage.orders.save(order)
    aramex.fail_next("lost_reply")
    book(storage, aramex, clock)
    clock.advance(timedelta(minutes=5))
    book(storage, aramex, clock)
    awb = aramex.parcels["shemsiworld-3"].reference

    recorded = record_booking(
        key=order.key,
        partner="aramex",
        reference=awb,
        orders=storage.orders,
        ledger=storage.ledger,
        attention=storage.attention,
        now=clock.now(),
    )
    clock.advance(timedelta(hours=2))
    later = book(storage, aramex, clock)

    assert recorded.state is OrderState.BOOKED
    assert recorded.shipment is not None
    assert recorded.shipment.reference == awb
    assert later.outcomes == ()
    assert aramex.book_calls == 1
    assert storage.attention.open_items() == []
    effect = storage.ledger.get(f"book:{order.key}")
    assert effect is not None
    assert effect.status is EffectStatus.DONE
    # The order's history finds the booking under the order's key.
    assert storage.ledger.for_subject(str(order.key)) == [effect]


def test_retrying_after_a_fix_never_books_a_partner_that_cannot_be_asked_blind() -> (
    None
):
    clock, storage = ManualClock(T0), MemoryStorage()
    aramex = MemoryDeliveryPartner(
        "aramex", Capabilities(frozenset({"MAD"}), lookup_by_reference=False)
    )
    order = make_order("4")
    storage.orders.save(order)
    aramex.fail_next("lost_reply")
    book(storage, aramex, clock)  # the parcel exists; the reply was lost
    stored = storage.orders.get(order.key)
    assert stored is not None
    storage.orders.save(attrs.evolve(stored, state=OrderState.NEEDS_ATTENTION))

    retry_order(
        key=order.key,
        orders=storage.orders,
        ledger=storage.ledger,
        attention=storage.attention,
        now=clock.now(),
    )
    clock.advance(timedelta(hours=1))
    book(storage, aramex, clock)

    assert aramex.book_calls == 1
    final = storage.orders.get(order.key)
    assert final is not None
    assert final.problems[0].code == "booking_outcome_unknown"


def record(storage: MemoryStorage, order_id: str, **changes: str | None):  # type: ignore[no-untyped-def]
    values: dict[str, Any] = {
        "key": make_order(order_id).key,
        "partner": "aramex",
        "reference": "AWB1",
        "orders": storage.orders,
        "ledger": storage.ledger,
        "attention": storage.attention,
        "now": T0,
    }
    return record_booking(**(values | changes))


@pytest.mark.parametrize(
    "state", [OrderState.ON_HOLD, OrderState.NEW, OrderState.BOOKING]
)
def test_only_an_order_waiting_for_attention_has_a_parcel_recorded(
    state: OrderState,
) -> None:
    storage = MemoryStorage()
    order = make_order("5")
    storage.orders.save(attrs.evolve(order, state=state))

    with pytest.raises(NotRetryable, match=f"is {state}; only an order waiting"):
        record(storage, "5")

    assert storage.orders.get(order.key).state is state  # type: ignore[union-attr]
    assert storage.ledger.get(f"book:{order.key}") is None


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"reference": ""}, "the partner's reference must not be blank"),
        ({"reference": "  "}, "the partner's reference must not be blank"),
        ({"reference": "AWB\r\n1"}, "the partner's reference 'AWB\\r\\n1' holds"),
        ({"label_url": "javascript:alert(1)"}, "is not an http(s) URL with a host"),
        ({"label_url": "https:///x.pdf"}, "is not an http(s) URL with a host"),
        ({"label_url": "http://[::1/x.pdf"}, "is not an http(s) URL with a host"),
    ],
)
def test_a_record_without_a_usable_reference_or_label_is_refused(
    changes: dict[str, str], problem: str
) -> None:
    storage = MemoryStorage()
    order = make_order("6")
    storage.orders.save(attrs.evolve(order, state=OrderState.NEEDS_ATTENTION))

    with pytest.raises(InvalidRecord) as refused:
        record(storage, "6", **changes)

    assert problem in str(refused.value)
    assert storage.orders.get(order.key).state is OrderState.NEEDS_ATTENTION  # type: ignore[union-attr]
    assert storage.ledger.get(f"book:{order.key}") is None


@pytest.mark.parametrize(
    "url",
    [
        "https://labels.aramex.test/AWB1.pdf",
        "http://127.0.0.1:8702/labels/AWB1?format=pdf#page=1",
        "HTTPS://Labels.Example/x",
    ],
)
def test_a_label_at_a_web_address_is_recorded_with_the_parcel(url: str) -> None:
    storage = MemoryStorage()
    order = make_order("7")
    storage.orders.save(attrs.evolve(order, state=OrderState.NEEDS_ATTENTION))

    recorded = record(storage, "7", label_url=url, reference=" AWB7 ")

    assert recorded.shipment is not None
    assert recorded.shipment.label_url == url
    assert recorded.shipment.reference == "AWB7"
