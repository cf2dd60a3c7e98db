"""Farfill's modelled wire mapping: the order body field by field, tokens,
answers and errors read back, and the state vocabulary kept as data."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.adapters.pl3.farfill import wire
from fulfilment.adapters.pl3.farfill.settings import FarfillSettings
from fulfilment.core.domain import Booking, Order, TrackingStatus
from fulfilment.testing.builders import T0, make_order

SETTINGS = FarfillSettings(
    base_url="https://farfill.test",
    client_id="shemsi-uae",
    client_secret="fake-secret",
)
REFERENCE = "shemsi-uae-9201"


def body_for(order: Order, settings: FarfillSettings = SETTINGS) -> dict[str, Any]:
    return wire.order_body(REFERENCE, order, settings)


def emirati(**changes: Any) -> Order:
    return make_order("9201", store="shemsi-uae", **changes)


def test_the_order_body_has_the_modelled_fields() -> None:
    body = body_for(emirati())

    assert body == {
        "partner_order_id": REFERENCE,
        "service_kind": "partner_next_day",
        "payment_mode": "paid_on_delivery",
        "payment_amount": "459.00",
        "currency": "AED",
        "recipient": {
            "name": "Fatima Benali",
            "phone": "+971551234567",
            "email": "fatima@example.com",
            "address": {
                "address1": "12 Rue Ibn Battouta",
                "address2": "",
                "city": "Dubai",
                "country": "AE",
            },
        },
        "items": [
            {
                "sku": "TAJ-BLUE",
                "name": "Tajine plate",
                "quantity": 2,
                "unit_price": "229.50",
            }
        ],
        "notes": None,
    }


def test_a_prepaid_order_collects_nothing() -> None:
    body = body_for(emirati(cod=False))

    assert body["payment_mode"] == "pre_paid"
    assert body["payment_amount"] == "0.00"
    assert body["currency"] == "AED"


def test_the_service_kind_comes_from_the_settings() -> None:
    same_day = attrs.evolve(SETTINGS, service_kind="partner_same_day")

    assert body_for(emirati(), same_day)["service_kind"] == "partner_same_day"


def test_arabic_names_survive_the_wire() -> None:
    order = emirati()
    assert order.shipping_address is not None
    arabic = attrs.evolve(
        order.shipping_address, first_name="مريم", last_name="الهاشمي", line2="برج ٣"
    )

    sent = json.loads(
        json.dumps(body_for(attrs.evolve(order, shipping_address=arabic)))
    )

    assert sent["recipient"]["name"] == "مريم الهاشمي"
    assert sent["recipient"]["address"]["address2"] == "برج ٣"


def test_a_missing_phone_is_sent_empty_for_farfill_to_refuse() -> None:
    assert body_for(emirati(phone=None))["recipient"]["phone"] is None


@given(st.decimals(min_value=0, max_value=10**7, places=2))
def test_money_goes_as_a_two_place_decimal_string(amount: Decimal) -> None:
    text = wire.money(amount)

    assert Decimal(text) == amount
    assert re.fullmatch(r"\d+\.\d\d", text)


def test_a_token_expires_after_the_lifetime_farfill_gives() -> None:
    token = wire.token_of(
        {"access_token": "tok", "token_type": "bearer", "expires_in": 3600}, T0
    )

    assert token.value == "tok"
    assert token.expires_at == T0 + timedelta(hours=1)


def test_a_token_of_another_type_is_refused() -> None:
    with pytest.raises(ValueError, match="Bearer"):
        wire.token_of({"access_token": "tok", "token_type": "mac"}, T0)


def test_the_booking_is_farfills_order_id_with_its_tracking_link() -> None:
    answer = {
        "order": {
            "id": "FF1",
            "partner_order_id": REFERENCE,
            "tracking_url": "https://t/1",
        }
    }

    assert wire.booking_of(answer) == Booking(
        "farfill", "FF1", tracking_url="https://t/1"
    )


def test_a_lookup_answer_yields_only_the_wanted_reference() -> None:
    answer = {"orders": [{"id": "FF2", "partner_order_id": "someone-else"}]}

    assert wire.booking_from_list(answer, REFERENCE) is None
    assert wire.booking_from_list({"orders": []}, REFERENCE) is None


def test_errors_become_field_and_message_pairs() -> None:
    body = {"errors": [{"field": "recipient.address.city", "message": "not served"}]}

    assert wire.problems_of(body) == (("recipient.address.city", "not served"),)
    assert wire.problems_of({"error": "invalid_token"}) == (("base", "invalid_token"),)
    assert wire.problems_of(None) == ()


def test_a_conflict_or_a_taken_id_is_a_duplicate() -> None:
    taken = (("partner_order_id", "has already been taken"),)

    assert wire.is_duplicate_order(409, ())
    assert wire.is_duplicate_order(422, taken)
    assert not wire.is_duplicate_order(422, (("recipient.phone", "can't be blank"),))


@pytest.mark.parametrize("state", sorted(wire.status_table()))
def test_every_modelled_state_is_read_whatever_its_case(state: str) -> None:
    assert wire.tracking_status(state.upper()) == wire.status_table().get(state)


def test_states_map_onto_the_normalised_ones() -> None:
    assert wire.tracking_status("collected") is TrackingStatus.PICKED_UP
    assert wire.tracking_status("delivery_complete") is TrackingStatus.DELIVERED
    assert wire.tracking_status("return_to_origin") is TrackingStatus.RETURN_TO_SENDER
    assert wire.tracking_status("lost_in_space") is TrackingStatus.UNKNOWN
