"""Settings of the Farfill adapter (the ``[partners.farfill]`` table).

Farfill publishes no API, so ``base_url`` has no default: the configuration
names the host Farfill's account team issued, or the loopback simulator.
The OAuth2 client secret arrives from an ``${ENV_VAR}`` reference resolved by
the runner and is kept out of ``repr``.
"""

from __future__ import annotations

import attrs

from fulfilment.adapters.validators import http_url, positive_seconds

__all__ = ["FarfillSettings"]


def _not_blank(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.strip():
        raise ValueError(f"{attribute.name} must not be blank")


@attrs.frozen
class FarfillSettings:
    """How to reach one Farfill merchant account.

    ``service_kind`` is sent on every order (next-day delivery unless the
    contract says otherwise; not checked here, as Farfill's list is not
    public); ``cod_currencies`` are the currencies its couriers collect.
    """

    base_url: str = attrs.field(validator=http_url)
    client_id: str = attrs.field(validator=_not_blank)
    client_secret: str = attrs.field(repr=False, validator=_not_blank)
    service_kind: str = "partner_next_day"
    cod_currencies: frozenset[str] = attrs.field(
        default=frozenset({"AED"}), converter=frozenset
    )
    timeout: float = attrs.field(default=30.0, validator=positive_seconds)
