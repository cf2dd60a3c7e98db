"""Settings of the Bosta adapter (a ``[partners.<name>]`` table with
``adapter = "bosta"``).

``base_url`` has no default on purpose: production, Bosta's staging host and
the loopback simulator are all equally plausible, so the configuration says
which one it means (``base_url = "${BOSTA_BASE_URL}"`` reads it from the
environment).  The API key arrives the same way and stays out of ``repr``.
"""

from __future__ import annotations

from typing import Any

import attrs

from fulfilment.adapters.validators import http_url, positive_seconds

__all__ = ["BostaSettings"]

# One search call answers at most this many deliveries.
SEARCH_PAGE_LIMIT = 50


def _not_blank(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.strip():
        raise ValueError(f"{attribute.name} must not be blank")


@attrs.frozen
class BostaSettings:
    """How to reach one Bosta business account.

    ``max_tracking_batch`` is how many tracking numbers one search call asks
    about; ``timeout`` is per request, in seconds.
    """

    base_url: str = attrs.field(validator=http_url)
    api_key: str = attrs.field(repr=False, validator=_not_blank)
    max_tracking_batch: int = attrs.field(
        default=SEARCH_PAGE_LIMIT,
        validator=[attrs.validators.ge(1), attrs.validators.le(SEARCH_PAGE_LIMIT)],
    )
    timeout: float = attrs.field(default=20.0, validator=positive_seconds)
