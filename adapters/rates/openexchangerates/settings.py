"""Settings of the Open Exchange Rates source (a
``[rates.sources.<name>]`` table).

The app id arrives from a ``${ENV_VAR}`` reference resolved by the runner
and is kept out of ``repr``.  It travels in the query string, as the API
asks, so the adapter masks it in every address it puts into a message; a
validator here never quotes it either.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import attrs

from fulfilment.adapters.validators import http_url, positive_seconds

from .wire import DEFAULT_BASE

__all__ = ["OpenExchangeRatesSettings"]

_CODE = re.compile(r"[A-Z]{3}")
_BLANK_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def _host_only(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    parts = urlsplit(value)
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError(
            f"{attribute.name} {value!r} must be the API's address alone "
            "(like https://openexchangerates.org): the adapter adds /api/..."
        )


def _app_id(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    # The value is a credential: no message quotes it.
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{attribute.name} must not be blank")
    if _BLANK_OR_CONTROL.search(value):
        raise ValueError(
            f"{attribute.name} holds a space, line break or control character "
            "(an app id is letters and digits)"
        )


def _currency(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise ValueError(
            f"{attribute.name} {value!r} must be a three-letter currency code "
            "in capitals, like 'USD'"
        )


@attrs.frozen
class OpenExchangeRatesSettings:
    """One Open Exchange Rates account.

    ``base`` is the currency the rates are per one of: USD, unless the
    account's plan allows another (a free plan is refused with
    ``not_allowed``, which the adapter reports in the API's words).
    """

    # No default address: a configuration names the API host it means
    # (https://openexchangerates.org, or the loopback simulator in the
    # sandbox), so nothing reaches Open Exchange Rates by accident.
    base_url: str = attrs.field(validator=[http_url, _host_only])
    app_id: str = attrs.field(repr=False, validator=_app_id)
    base: str = attrs.field(default=DEFAULT_BASE, validator=_currency)
    timeout: float = attrs.field(default=30.0, validator=positive_seconds)
