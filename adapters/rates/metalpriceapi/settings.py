"""Settings of the MetalpriceAPI rate source (a ``[rates.sources.NAME]``
table).

The API key arrives from a ``${ENV_VAR}`` reference resolved by the runner
(``api_key = "${METALPRICE_API_KEY}"``) and is kept out of ``repr``.
MetalpriceAPI reads it from the query string, so it is in every request's
URL: the client masks it in every error it raises, and the runner's log
redactor hides it in any line a library writes.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import attrs

from fulfilment.adapters.validators import http_url, positive_seconds

__all__ = ["MetalpriceApiSettings"]

_CODE = re.compile(r"[A-Z]{3}")


def _key(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{attribute.name} must not be blank")
    if value != value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"{attribute.name} must not hold spaces or line breaks")


def _currency(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise ValueError(
            f"{attribute.name} must be a three-letter currency code like 'USD', "
            f"not {value!r}"
        )


@attrs.frozen
class MetalpriceApiSettings:
    """One MetalpriceAPI account.

    ``base`` is the currency every rate is per one of (``USD``; another
    base needs a plan that allows it).  ``base_url`` is the API host alone
    (``https://api.metalpriceapi.com``, or ``https://api-eu.metalpriceapi.com``
    for the European servers); the adapter adds ``/v1/...``.
    """

    # No default address: a configuration names the API host it means (the
    # loopback simulator in the sandbox), so nothing reaches MetalpriceAPI
    # by accident, nor spends the account's monthly requests.
    base_url: str = attrs.field(validator=http_url)
    api_key: str = attrs.field(repr=False, validator=_key)
    base: str = attrs.field(default="USD", validator=_currency)
    timeout: float = attrs.field(default=30.0, validator=positive_seconds)

    def __attrs_post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.query or parts.fragment:
            raise ValueError(
                f"base_url {self.base_url!r} must be the API host alone, "
                "without a query: the key is added to each request"
            )
        if parts.path.rstrip("/").endswith("/v1"):
            raise ValueError(
                f"base_url {self.base_url!r} must not end with /v1: the adapter "
                "adds /v1/latest and /v1/YYYY-MM-DD itself"
            )
