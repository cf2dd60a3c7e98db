"""Settings of one Amazon store, structured from the runner's TOML (a
store's ``[stores.<handle>.source]`` table with ``adapter = "amazon"``).

One seller account sells in several marketplaces (amazon.ae, amazon.sa,
amazon.eg); each marketplace is a store of its own in the connector, so
``marketplaces`` maps a marketplace id to the store handle its orders
belong to, and a source reads the marketplaces of its own ``store``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .limits import DEFAULT_PLANS, UsagePlan
from .wire import MARKETPLACES

__all__ = ["API_VERSIONS", "MAX_PAGE_SIZE", "AmazonSettings"]

# The Orders API versions the adapter speaks: searchOrders of 2026-01-01,
# and getOrders/getOrderItems of v0 for accounts that have not moved yet.
API_VERSIONS = ("2026-01-01", "v0")
MAX_PAGE_SIZE = 100  # maxResultsPerPage / MaxResultsPerPage accept 1..100


def _http_url(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.startswith(("https://", "http://")):
        raise ValueError(f"{attribute.name} {value!r} is not an http(s) URL")


def _marketplaces(
    _: object, attribute: attrs.Attribute[Mapping[str, str]], value: Mapping[str, str]
) -> None:
    if not value:
        raise ValueError(f"{attribute.name} names no marketplace")
    for marketplace, store in value.items():
        if marketplace not in MARKETPLACES:
            known = ", ".join(f"{m} ({p.domain})" for m, p in MARKETPLACES.items())
            raise ValueError(
                f"{attribute.name}.{marketplace}: not a marketplace the connector "
                f"knows; use one of {known}"
            )
        if not marketplace or not store or ":" in store:
            raise ValueError(
                f"{attribute.name}.{marketplace or '?'}: store handle {store!r} "
                "must be non-empty, without ':'"
            )


def _store_default(settings: AmazonSettings) -> str:
    stores = sorted(set(settings.marketplaces.values()))
    if len(stores) != 1:
        raise ValueError(
            f"store: marketplaces name several stores ({', '.join(stores)}); "
            "set store to the one this source reads"
        )
    return stores[0]


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be above 0, not {value!r}")


def _usage_plans(
    _: object, attribute: attrs.Attribute[Mapping[str, UsagePlan]], value: Any
) -> None:
    for operation in value:
        if operation not in DEFAULT_PLANS:
            raise ValueError(
                f"{attribute.name}.{operation}: not an operation the connector "
                f"calls ({', '.join(sorted(DEFAULT_PLANS))})"
            )


@attrs.frozen
class AmazonSettings:
    """One store of a seller account on the Selling Partner API.

    ``base_url`` is the regional SP-API host (amazon.ae, .sa and .eg are
    served by the EU host, ``https://sellingpartnerapi-eu.amazon.com``);
    ``lwa_url`` is the Login with Amazon token endpoint
    (``https://api.amazon.com/auth/o2/token``).  Neither has a default, so
    no configuration talks to Amazon by accident.  ``client_id``,
    ``client_secret`` and ``refresh_token`` are the app's LWA credentials
    and the seller's authorisation (``${ENV_VAR}`` references in
    configuration, never literals).  ``marketplaces`` maps marketplace ids
    to store handles; ``store`` is the handle of this source and defaults to
    the only handle ``marketplaces`` names.  ``api_version`` is
    ``"2026-01-01"`` (searchOrders) or ``"v0"`` (getOrders with a
    restricted data token for addresses and buyers).  ``usage_plans``
    replaces Amazon's default plan of an operation (``getOrders``,
    ``getOrderItems``, ``searchOrders``, ``createRestrictedDataToken``)
    with the rate and burst Amazon granted the account.
    """

    base_url: str = attrs.field(validator=_http_url)
    lwa_url: str = attrs.field(validator=_http_url)
    client_id: str = attrs.field(repr=False, validator=attrs.validators.min_len(1))
    client_secret: str = attrs.field(repr=False, validator=attrs.validators.min_len(1))
    refresh_token: str = attrs.field(repr=False, validator=attrs.validators.min_len(1))
    marketplaces: Mapping[str, str] = attrs.field(
        converter=dict, validator=_marketplaces
    )
    store: str = attrs.field(
        default=attrs.Factory(_store_default, takes_self=True),
        validator=attrs.validators.min_len(1),
    )
    api_version: str = attrs.field(
        default="2026-01-01", validator=attrs.validators.in_(API_VERSIONS)
    )
    page_size: int = attrs.field(
        default=MAX_PAGE_SIZE,
        validator=[attrs.validators.ge(1), attrs.validators.le(MAX_PAGE_SIZE)],
    )
    timeout: float = attrs.field(default=30.0, validator=_positive)
    usage_plans: Mapping[str, UsagePlan] = attrs.field(
        factory=dict, converter=dict, validator=_usage_plans
    )

    @store.validator
    def _check_store(self, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in self.marketplaces.values():
            raise ValueError(
                f"{attribute.name} {value!r} is not a store of marketplaces "
                f"({', '.join(sorted(set(self.marketplaces.values())))})"
            )

    def plans(self) -> dict[str, UsagePlan]:
        """Amazon's default usage plans with this account's overrides."""
        return {**DEFAULT_PLANS, **self.usage_plans}

    def marketplace_ids(self) -> tuple[str, ...]:
        """The marketplaces whose orders belong to this source's store."""
        return tuple(
            sorted(m for m, store in self.marketplaces.items() if store == self.store)
        )
