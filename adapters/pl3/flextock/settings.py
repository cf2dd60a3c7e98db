"""Settings of the Flextock adapter (the ``[partners.flextock]`` table).

``base_url`` has no default: the production host is only known from merchant
code and the sandbox points at a loopback simulator, so the configuration
always says which one it means.  Secrets arrive from ``${ENV_VAR}``
references resolved by the runner and are kept out of ``repr``.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from fulfilment.adapters.validators import http_url, positive_seconds

__all__ = ["FlextockSettings"]


def _not_blank(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.strip():
        raise ValueError(f"{attribute.name} must not be blank")


def _known_zone(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"{attribute.name} {value!r} is not a known time zone"
        ) from error


@attrs.frozen
class FlextockSettings:
    """How to reach one Flextock merchant account.

    ``api_key`` is the optional ``key`` of the login body; merchant code sends
    it only when one was issued.  ``vendor_name`` and ``integration_source``
    are copied onto every order.  ``time_zone`` decides the calendar day sent
    as ``order_date``.  ``max_tracking_batch`` is how many order codes one
    order-status call asks about (Flextock publishes no limit).
    """

    base_url: str = attrs.field(validator=http_url)
    username: str = attrs.field(validator=_not_blank)
    password: str = attrs.field(repr=False, validator=_not_blank)
    vendor_name: str = attrs.field(validator=_not_blank)
    api_key: str | None = attrs.field(default=None, repr=False)
    integration_source: str = "custom"
    cod_currencies: frozenset[str] = attrs.field(
        default=frozenset({"EGP"}), converter=frozenset
    )
    time_zone: str = attrs.field(default="Africa/Cairo", validator=_known_zone)
    max_tracking_batch: int = attrs.field(
        default=50, validator=[attrs.validators.ge(1), attrs.validators.le(500)]
    )
    timeout: float = attrs.field(default=30.0, validator=positive_seconds)
