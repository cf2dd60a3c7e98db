"""Settings of one Shopify store, structured from the runner's TOML
(a store's ``[stores.<handle>.source]`` table)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import attrs

__all__ = ["DEFAULT_API_VERSION", "ShopifySettings", "store_from_url"]

DEFAULT_API_VERSION = "2025-07"
# Stable versions are released quarterly (YYYY-01/04/07/10); "unstable" is
# Shopify's preview.  Anything else is silently served by another version
# ("fall forward"), so it is refused here instead.
_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
MAX_LINES_PER_ORDER = 100
_MYSHOPIFY = ".myshopify.com"


def store_from_url(base_url: str) -> str:
    """The store handle a shop URL names: ``shemsiworld`` for
    ``https://shemsiworld.myshopify.com`` and for the sandbox's
    ``http://127.0.0.1:PORT/shops/shemsiworld``.  Raises ``ValueError``
    when the URL names none (a custom domain)."""
    parts = urlsplit(base_url)
    segments = [s for s in parts.path.split("/") if s]
    if segments:
        return segments[-1]
    host = parts.hostname or ""
    if host.endswith(_MYSHOPIFY) and len(host) > len(_MYSHOPIFY):
        return host.removesuffix(_MYSHOPIFY)
    raise ValueError(
        f"store: cannot tell the store handle from base_url {base_url!r}; "
        "set store explicitly"
    )


def _store_default(settings: ShopifySettings) -> str:
    return store_from_url(settings.base_url)


def _http_url(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.startswith(("https://", "http://")):
        raise ValueError(f"{attribute.name} {value!r} is not an http(s) URL")


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be above 0, not {value!r}")


@attrs.frozen
class ShopifySettings:
    """One store of the GraphQL Admin API.

    ``base_url`` is the shop's address, e.g.
    ``https://shemsiworld.myshopify.com``; the sandbox serves
    ``http://127.0.0.1:PORT/shops/shemsiworld``.  ``access_token`` is the
    Admin API token (``shpat_…``; a ``${ENV_VAR}`` in configuration, never a
    literal).  ``store`` is the store handle used in order keys and must
    equal the store's handle in the configuration; it defaults to the handle
    the URL names (see :func:`store_from_url`), so it only needs setting for
    a shop behind a custom domain.  ``line_items_per_order`` is the first
    page of line items read with each order (orders with more are completed
    by follow-up queries); it also decides how many orders fit in one page
    under the cost limit.  ``country`` (ISO alpha-2) reads phone numbers of
    orders that have no shipping country.  ``assumed_bucket_size`` and
    ``assumed_restore_rate`` are the cost bucket a shared rate budget
    assumes until Shopify reports the shop's own (the smallest plan's by
    default; a Plus shop may say more).
    """

    base_url: str = attrs.field(validator=_http_url)
    access_token: str = attrs.field(repr=False, validator=attrs.validators.min_len(1))
    store: str = attrs.field(
        default=attrs.Factory(_store_default, takes_self=True),
        validator=attrs.validators.min_len(1),
    )
    api_version: str = attrs.field(
        default=DEFAULT_API_VERSION, validator=attrs.validators.matches_re(_VERSION)
    )
    line_items_per_order: int = attrs.field(
        default=10,
        validator=[attrs.validators.ge(1), attrs.validators.le(MAX_LINES_PER_ORDER)],
    )
    timeout: float = attrs.field(default=30.0, validator=_positive)
    country: str | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.matches_re(r"^[A-Z]{2}$")),
    )
    assumed_bucket_size: float = attrs.field(default=1000.0, validator=_positive)
    assumed_restore_rate: float = attrs.field(default=50.0, validator=_positive)
