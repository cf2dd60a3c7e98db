"""The document converters round-trip every domain value, in the shapes the
stores keep: JSON text for SQLite, BSON for MongoDB."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import bson
import cattrs
import pytest
from bson.codec_options import CodecOptions
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.adapters.storage.documents import bson_converter, json_converter
from fulfilment.core.domain import Claim, Order, OrderState
from fulfilment.core.ports import AttentionItem, Effect, EffectStatus
from fulfilment.testing.builders import T0, make_order
from tests.strategies import attention_items, effects, orders, utc_datetimes

NAIVE_UTC = CodecOptions(tz_aware=False)
PENDING = EffectStatus.PENDING


def through_json(value: Any) -> Any:
    text = json.dumps(json_converter().unstructure(value))
    return json_converter().structure(json.loads(text), type(value))


def through_bson(value: Any, codec: CodecOptions[Any] = NAIVE_UTC) -> Any:
    raw = bson.encode(bson_converter().unstructure(value))
    return bson_converter().structure(
        bson.decode(raw, codec_options=codec), type(value)
    )


@given(order=orders())
def test_an_order_round_trips_through_json(order: Order) -> None:
    back = through_json(order)

    assert back == order
    assert back.raw == order.raw


@given(order=orders())
def test_an_order_round_trips_through_bson(order: Order) -> None:
    back = through_bson(order)

    assert back == order
    assert back.raw == order.raw


@given(value=st.one_of(effects(), attention_items()))
def test_ledger_entries_and_attention_items_round_trip(
    value: Effect | AttentionItem,
) -> None:
    assert through_json(value) == value
    assert through_bson(value) == value


@given(
    effect=effects(),
    status=st.sampled_from(EffectStatus),
    not_before=st.none() | utc_datetimes(),
)
def test_an_outbox_entry_round_trips_with_its_earliest_time(
    effect: Effect, status: EffectStatus, not_before: datetime | None
) -> None:
    planned = attrs.evolve(effect, status=status, not_before=not_before)

    assert through_json(planned) == planned
    assert through_bson(planned) == planned


def test_an_entry_stored_without_an_earliest_time_reads_as_none() -> None:
    document = json_converter().unstructure(Effect("k", "sms", "s", PENDING, T0, T0))
    del document["not_before"]  # as a ledger entry written before the outbox

    assert json_converter().structure(document, Effect).not_before is None


@given(moment=utc_datetimes(micros=True))
def test_json_keeps_microseconds(moment: datetime) -> None:
    claimed = attrs.evolve(make_order(), claim=Claim("runner-1", moment))

    assert through_json(claimed).claim.expires_at == moment


def test_an_order_document_is_plain_json_values() -> None:
    order = attrs.evolve(
        make_order("1001"), tags=("vip",), state=OrderState.ON_HOLD, raw={"a": [1]}
    )

    document = json_converter().unstructure(order)

    assert document["key"] == "shopify:shemsiworld:1001"
    assert document["total"] == {"amount": "459.00", "currency": "MAD"}
    assert document["placed_at"] == "2026-11-02T09:00:00+00:00"
    assert document["tags"] == ["vip"]
    assert document["raw"] == {"a": [1]}
    assert type(document["state"]) is str
    assert document["state"] == "on_hold"
    assert type(document["payment"]["method"]) is str


def test_an_order_bson_document_keeps_native_utc_datetimes() -> None:
    document = bson_converter().unstructure(make_order())

    assert document["placed_at"] == T0
    assert document["placed_at"].tzinfo is UTC
    assert document["total"]["amount"] == "459.00"


def test_a_time_in_another_zone_is_stored_in_utc() -> None:
    cairo = timezone(timedelta(hours=2))
    effect = Effect("k", "sms", "s", PENDING, T0.astimezone(cairo), T0)

    assert json_converter().unstructure(effect)["created_at"] == (
        "2026-11-02T09:00:00+00:00"
    )


def test_a_naive_time_read_back_is_utc() -> None:
    document = bson_converter().unstructure(make_order())
    document["placed_at"] = datetime(2026, 11, 2, 9, 0)  # as pymongo hands it back

    assert bson_converter().structure(document, Order).placed_at == T0


def test_a_naive_time_is_refused_when_written() -> None:
    effect = Effect("k", "sms", "s", PENDING, datetime(2026, 1, 1), T0)

    with pytest.raises(ValueError, match="naive"):
        json_converter().unstructure(effect)


def test_an_unreadable_document_names_the_failing_path() -> None:
    document = json_converter().unstructure(make_order())
    document["lines"][0]["unit_price"]["amount"] = 229.5  # a float, not a string

    with pytest.raises(cattrs.BaseValidationError) as failure:
        json_converter().structure(document, Order)

    messages = cattrs.transform_error(failure.value)
    assert any("$.lines[0].unit_price.amount" in m for m in messages), messages


def test_a_decimal_keeps_its_exponent() -> None:
    order = make_order(amount="10.500")

    document = json_converter().unstructure(order)

    assert document["total"]["amount"] == "10.500"
    assert through_json(order).total.amount.as_tuple() == Decimal("10.500").as_tuple()
