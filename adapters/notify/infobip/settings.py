"""Settings of the Infobip SMS adapter.

``base_url`` has no default: every Infobip account has its own API host
(``https://<subdomain>.api.infobip.com``).  The API key arrives from a
``${ENV_VAR}`` reference and is kept out of ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from fulfilment.adapters.validators import http_url, positive_seconds

from .._settings import country_senders, not_blank, optional_not_blank, table

__all__ = ["InfobipSettings"]


@attrs.frozen
class InfobipSettings:
    """One Infobip account.

    ``sender`` is the default ``from`` (a registered alphanumeric sender ID
    or a number); ``senders`` overrides it per destination country
    (``{"EG": "SHEMSI"}``).  Without either, Infobip uses the account's
    default sender.
    """

    base_url: str = attrs.field(validator=http_url)
    api_key: str = attrs.field(repr=False, validator=not_blank)
    sender: str | None = attrs.field(default=None, validator=optional_not_blank)
    senders: Mapping[str, str] = attrs.field(
        factory=dict, converter=table("senders"), validator=country_senders
    )
    timeout: float = attrs.field(default=30.0, validator=positive_seconds)
