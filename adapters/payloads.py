"""Reading the JSON a partner sends: small helpers the wire modules share."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["aware_time", "decimal_of", "dig", "scalar_text", "stripped_text"]


def dig(value: Any, *path: str) -> Any:
    """The value at *path* in nested mappings, or None as soon as a step
    is missing or is not a mapping (a partner's answer may hold a string or
    a list where an object was expected)."""
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def stripped_text(value: Any) -> str | None:
    """A string with its surrounding blanks removed; None for anything
    else, or for a blank string."""
    return value.strip() or None if isinstance(value, str) else None


def scalar_text(value: Any) -> str | None:
    """A scalar (string or number) as stripped text; None for nothing, an
    object, a list, or a blank."""
    if value is None or isinstance(value, Mapping | list):
        return None
    return str(value).strip() or None


def decimal_of(value: Any) -> Decimal | None:
    """A decimal number given as text or a whole number, exactly; None for
    anything else (a float, a boolean, NaN or an infinity, unreadable
    text)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def aware_time(value: Any) -> datetime | None:
    """An ISO 8601 time with its offset, in UTC; None for anything else,
    a time without an offset included."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    return parsed.astimezone(UTC)
