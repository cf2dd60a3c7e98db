"""Settings of the Twilio SMS adapter (an ``[sms.twilio]``-style table).

Twilio authenticates with HTTP Basic: the account SID and auth token, or an
API key SID and secret (the messages still go to the account's URL).
Secrets arrive from ``${ENV_VAR}`` references resolved by the runner and are
kept out of ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from fulfilment.adapters.validators import http_url, positive_seconds

from .._settings import country_senders, optional_not_blank, table

__all__ = ["TwilioSettings"]


def _account_sid(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.startswith("AC"):
        raise ValueError(f"{attribute.name} must be an account SID (AC...)")


def _messaging_service_sid(
    _: object, attribute: attrs.Attribute[str], value: str
) -> None:
    if not value.startswith("MG"):
        raise ValueError(f"{attribute.name} must be a messaging service SID (MG...)")


@attrs.frozen
class TwilioSettings:
    """One Twilio account.

    ``sender`` is the default ``From`` (a number or a registered
    alphanumeric sender ID); ``senders`` overrides it per destination
    country (``{"AE": "SHEMSI"}``), because sender IDs are registered
    country by country; ``messaging_service_sid`` (``MG...``) lets Twilio
    pick the sender when neither names one.  At least one of them is needed.
    """

    # No default address: a configuration names the API host it means (the
    # loopback simulator in the sandbox), so nothing reaches Twilio by
    # accident.
    base_url: str = attrs.field(validator=http_url)
    account_sid: str = attrs.field(validator=_account_sid)
    auth_token: str | None = attrs.field(
        default=None, repr=False, validator=optional_not_blank
    )
    api_key_sid: str | None = attrs.field(default=None, validator=optional_not_blank)
    api_key_secret: str | None = attrs.field(
        default=None, repr=False, validator=optional_not_blank
    )
    sender: str | None = attrs.field(default=None, validator=optional_not_blank)
    senders: Mapping[str, str] = attrs.field(
        factory=dict, converter=table("senders"), validator=country_senders
    )
    messaging_service_sid: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(_messaging_service_sid)
    )
    timeout: float = attrs.field(default=30.0, validator=positive_seconds)

    def __attrs_post_init__(self) -> None:
        if not (self.auth_token or (self.api_key_sid and self.api_key_secret)):
            raise ValueError("give auth_token, or api_key_sid with api_key_secret")
        if not (self.sender or self.senders or self.messaging_service_sid):
            raise ValueError(
                "give a sender, senders by country or a messaging_service_sid"
            )

    def basic_auth(self) -> tuple[str, str]:
        """The (user, password) pair for HTTP Basic authentication."""
        if self.api_key_sid and self.api_key_secret:
            return self.api_key_sid, self.api_key_secret
        assert self.auth_token is not None
        return self.account_sid, self.auth_token
