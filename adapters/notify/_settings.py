"""Validators the notification settings classes share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

__all__ = ["country_senders", "not_blank", "optional_not_blank", "table"]


def table(name: str) -> Callable[[Any], dict[str, Any]]:
    """A converter that copies a table into a dict and refuses anything
    else by *name* (``dict()`` alone would read a list of pairs, or fail
    on a string with a message about sequences)."""

    def convert(value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise TypeError(f"{name}: expected a table, not {value!r}")
        return dict(value)

    return convert


def not_blank(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.strip():
        raise ValueError(f"{attribute.name} must not be blank")


def optional_not_blank(
    instance: object, attribute: attrs.Attribute[Any], value: str | None
) -> None:
    if value is not None:
        not_blank(instance, attribute, value)


def country_senders(
    _: object, attribute: attrs.Attribute[Any], value: Mapping[str, str]
) -> None:
    """Keys are ISO 3166 alpha-2 country codes in capitals (``MA``), values
    sender IDs."""
    bad = [key for key in value if len(key) != 2 or not key.isupper()]
    if bad:
        raise ValueError(
            f"{attribute.name} keys must be ISO country codes like 'MA': {bad}"
        )
    blank = [k for k, v in value.items() if not isinstance(v, str) or not v.strip()]
    if blank:
        raise ValueError(f"{attribute.name} must name a sender for {blank}")
