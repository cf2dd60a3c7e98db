"""Settings of the Aramex adapter, structured from the ``[partners.aramex]``
table of the configuration by cattrs.

``base_url`` has no default on purpose: a test or a sandbox must never talk
to a real Aramex host by accident.  The hosts Aramex documents are

- production ``https://ws.aramex.net``,
- sandbox ``https://ws.sbx.aramex.net``,
- legacy test ``https://ws.dev.aramex.net`` (older plugins),

and the loopback simulator's URL in the sandbox.  Credentials come from
``${ENV_VAR}`` references in the configuration, never from literals; the
password and PIN are left out of ``repr`` so they cannot reach a log line.
"""

from __future__ import annotations

from typing import Any

import attrs

from fulfilment.adapters.validators import http_url, positive_seconds

__all__ = ["AramexSettings", "ShipperSettings"]


@attrs.frozen
class ShipperSettings:
    """The warehouse parcels leave from, as Aramex prints it on the label.

    ``warehouse`` is our name for it (sent as the shipper's ``Reference1``);
    ``contact_name`` defaults to the company when empty, because Aramex
    requires a ``PersonName`` on every party.  An empty ``post_code`` is
    sent as the ``"00000"`` placeholder.
    """

    warehouse: str
    company: str
    phone: str
    cell_phone: str
    email: str
    line1: str
    city: str
    country_code: str
    line2: str = ""
    post_code: str = ""
    contact_name: str = ""
    department: str = ""


def _awb_template(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    try:
        value.format(awb="50300000001")
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"{attribute.name} {value!r} may only use the placeholder {{awb}} "
            f"({type(error).__name__}: {error})"
        ) from None


@attrs.frozen
class AramexSettings:
    """One Aramex account (ClientInfo) and how parcels are booked on it.

    ``version``, ``source``, ``product_group``, ``product_type`` and
    ``label_report_id`` default to what most public integrations send for a
    domestic e-commerce account (``v1.0``, 24, ``DOM``, ``ONP``, 9729).
    ``cod_currencies`` are the currencies the account collects cash in
    (domestic COD is collected in the local currency).
    ``tracking_url_template`` builds the customer's tracking link from the
    AWB, e.g. ``"https://track.example/{awb}"``; with None, bookings carry no
    tracking URL.  ``max_tracking_batch`` is how many AWBs one TrackShipments
    call asks about (Aramex publishes no limit; 50 keeps answers small).
    """

    base_url: str = attrs.field(validator=http_url)
    username: str = attrs.field(validator=attrs.validators.min_len(1))
    password: str = attrs.field(repr=False, validator=attrs.validators.min_len(1))
    account_number: str = attrs.field(validator=attrs.validators.min_len(1))
    account_pin: str = attrs.field(repr=False, validator=attrs.validators.min_len(1))
    account_entity: str = attrs.field(validator=attrs.validators.min_len(1))
    account_country_code: str = attrs.field(
        validator=attrs.validators.matches_re(r"^[A-Z]{2}$")
    )
    shipper: ShipperSettings
    version: str = "v1.0"
    source: int = 24
    product_group: str = "DOM"
    product_type: str = "ONP"
    cod_currencies: tuple[str, ...] = attrs.field(
        default=("MAD",),
        validator=attrs.validators.deep_iterable(
            attrs.validators.matches_re(r"^[A-Z]{3}$")
        ),
    )
    label_report_id: int = 9729
    tracking_url_template: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(_awb_template)
    )
    max_tracking_batch: int = attrs.field(
        default=50, validator=[attrs.validators.ge(1), attrs.validators.le(500)]
    )
    timeout: float = attrs.field(default=30.0, validator=positive_seconds)
