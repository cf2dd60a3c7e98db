"""Reading the JSON a partner sends: small helpers the wire modules share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["dig"]


def dig(value: Any, *path: str) -> Any:
    """The value at *path* in nested mappings, or None as soon as a step
    is missing or is not a mapping (a partner's answer may hold a string or
    a list where an object was expected)."""
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value
