"""Documents: the stored shape of orders, ledger entries and attention items.

One converter configuration, two instances, one per wire format:

- :func:`json_converter` for SQLite (and anything else that stores JSON):
  datetimes as ISO 8601 strings in UTC;
- :func:`bson_converter` for MongoDB: datetimes stay native, so the server
  can index and compare them.

Both write ``Decimal`` as its string (``"459.00"``, never a float), a calendar day as
``"2026-12-04"``, enums as
their values, tuples as lists, an :class:`~fulfilment.core.domain.OrderKey`
as its string form ``channel:store:id``, and keep ``Order.raw`` and
``Effect.result`` as the mappings they are.  Writing refuses a naive
datetime (``ValueError``: a time without a zone is a bug, not a guess to
make).  Reading accepts what a driver hands back: a naive datetime is read
as UTC (BSON and pymongo's default keep no zone), an aware one is converted
to UTC.

A document that cannot be read raises cattrs' detailed validation error,
which names the failing path (``$.lines[0].unit_price.amount``); the stores
translate it into ``StorageError``.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum, StrEnum
from typing import Any, TypeVar, Union, get_args, get_origin

from cattrs import BaseValidationError, transform_error
from cattrs.fns import identity
from cattrs.preconf.bson import BsonConverter
from cattrs.preconf.bson import make_converter as make_bson_converter
from cattrs.preconf.json import JsonConverter
from cattrs.preconf.json import make_converter as make_json_converter

from fulfilment.core.domain import OrderKey, ensure_utc

__all__ = [
    "Document",
    "as_utc",
    "bson_converter",
    "describe_error",
    "json_converter",
]

Document = dict[str, Any]
C = TypeVar("C", JsonConverter, BsonConverter)

# The annotation of ``Order.raw`` and ``Effect.result``: kept as given.
_FREE_MAPPING = Mapping[str, Any]


def as_utc(value: datetime) -> datetime:
    """*value*, read back from a store, in UTC; a naive datetime is taken
    to be UTC already.

    Storage formats keep no zone: BSON dates are UTC milliseconds and
    pymongo hands them back naive unless the client is ``tz_aware``.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def describe_error(error: BaseValidationError) -> str:
    """One line naming each failing path of a document, for messages."""
    return "; ".join(transform_error(error))


@functools.cache
def json_converter() -> JsonConverter:
    """The converter for JSON documents (SQLite): ISO 8601 datetimes."""
    converter = make_json_converter(unstruct_collection_overrides={Sequence: list})
    _configure(converter)
    converter.register_unstructure_hook(datetime, _iso)
    converter.register_structure_hook(datetime, _from_iso)
    return converter


@functools.cache
def bson_converter() -> BsonConverter:
    """The converter for BSON documents (MongoDB): native UTC datetimes.

    MongoDB keeps datetimes to the millisecond, so a time read back from the
    server has its microseconds truncated.
    """
    converter = make_bson_converter(unstruct_collection_overrides={Sequence: list})
    _configure(converter)
    converter.register_unstructure_hook(datetime, ensure_utc)
    converter.register_structure_hook(datetime, _from_native)
    return converter


def _configure(converter: C) -> C:
    """The hooks both formats share."""
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(Decimal, _decimal)
    converter.register_unstructure_hook(OrderKey, str)
    converter.register_structure_hook(OrderKey, _order_key)
    # A calendar day (a rate's day) is its ISO string in both formats: BSON
    # has no date without a time, and a string sorts as the day does.
    converter.register_unstructure_hook(date, date.isoformat)
    converter.register_structure_hook(date, _day)
    # StrEnum before Enum: a StrEnum is also a str, which passes through as is.
    for enum_type in (StrEnum, Enum):
        converter.register_unstructure_hook(enum_type, _enum_value)
    converter.register_unstructure_hook_func(_is_free_mapping, dict)
    converter.register_structure_hook_func(_is_free_mapping, _free_mapping)
    converter.register_unstructure_hook_factory(
        _is_optional, functools.partial(_optional_hook, converter)
    )
    return converter


def _is_optional(cls: Any) -> bool:
    """``X | None`` (or ``Optional[X]``) for one type X."""
    if get_origin(cls) not in (Union, types.UnionType):
        return False
    args = get_args(cls)
    return len(args) == 2 and type(None) in args


def _optional_hook(converter: C, cls: Any) -> Callable[[Any], Any]:
    """Writing an ``X | None`` field: when X is written as it is (text,
    numbers, flags), so is the field, None included, and the generated
    function for the class reads the attribute straight into the
    document; otherwise None stays None and anything else goes through
    X's hook.  An order has a score of optional fields, so this is most of
    the cost of turning it into a document."""
    (inner,) = (arg for arg in get_args(cls) if arg is not type(None))
    handler = converter.get_unstructure_hook(inner)
    if handler == identity:
        return identity

    def unstructure_optional(value: Any) -> Any:
        return None if value is None else handler(value)

    return unstructure_optional


def _enum_value(member: Enum) -> Any:
    return member.value


def _is_free_mapping(cls: Any) -> bool:
    return bool(cls == _FREE_MAPPING)


def _free_mapping(value: Any, _: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    return dict(value)


def _decimal(value: Any, _: Any) -> Decimal:
    # A float would bring its binary rounding with it: refuse it.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"expected a decimal string, got {type(value).__name__}")
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a decimal number") from exc


def _day(value: Any, _: Any) -> date:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 day, got {type(value).__name__}")
    return date.fromisoformat(value)


def _order_key(value: Any, _: Any) -> OrderKey:
    if not isinstance(value, str):
        raise TypeError(f"expected an order key string, got {type(value).__name__}")
    return OrderKey.parse(value)


def _iso(value: datetime) -> str:
    return ensure_utc(value).isoformat()


def _from_iso(value: Any, _: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 string, got {type(value).__name__}")
    return as_utc(datetime.fromisoformat(value))


def _from_native(value: Any, _: Any) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return as_utc(value)
