"""attrs validators shared by adapter settings, so a bad value is refused
when the configuration is loaded, not on the first call."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

import attrs

__all__ = ["http_url", "positive_seconds"]


def http_url(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{attribute.name} {value!r} is not an http(s) URL with a host"
        )


def positive_seconds(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (math.isfinite(value) and 0 < value <= 600):
        raise ValueError(
            f"{attribute.name} must be above 0 and at most 600 seconds, not {value}"
        )
