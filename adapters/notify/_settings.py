"""Validators the notification settings classes share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["country_senders", "not_blank", "optional_not_blank"]


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
    """Keys are ISO 3166 alpha-2 country codes in capitals (``MA``)."""
    bad = [key for key in value if len(key) != 2 or not key.isupper()]
    if bad:
        raise ValueError(
            f"{attribute.name} keys must be ISO country codes like 'MA': {bad}"
        )
