"""What every notification adapter shares.

- Provider-neutral codes on :class:`~fulfilment.core.errors.PartnerRejected`,
  so a worker can tell an opted-out recipient (never send again) from a bad
  number (fix the customer record) without knowing Twilio's 21610 or
  Infobip's ``REJECTED_DND``.  The provider's own code stays in ``problems``.
- :class:`SmsCapabilities`: whether a sender can be asked about a message it
  may have sent (``find_sent``), so an uncertain send is checked instead of
  resent blindly.
- :func:`sender_for`: the sender ID for a destination.  Alphanumeric sender
  IDs are not accepted everywhere and must be registered per country, so
  each country may have its own, with a default for the rest.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import attrs
import phonenumbers

from fulfilment.core.masking import mask_email, mask_phone
from fulfilment.core.ports import OPTED_OUT, Receipt

__all__ = [
    "BODY_REFUSED",
    "INVALID_RECIPIENT",
    "OPTED_OUT",
    "SLASHTAG_TAKEN",
    "SentSmsLookup",
    "SmsCapabilities",
    "hide_contact",
    "is_e164",
    "is_possible_e164",
    "mail_message_id",
    "sender_for",
]

INVALID_RECIPIENT = "invalid_recipient"
"""The number or address cannot receive messages: fix the customer record."""
BODY_REFUSED = "body_refused"
"""The text itself was refused (too long, empty, filtered)."""
SLASHTAG_TAKEN = "slashtag_taken"
"""A short-link slashtag already points at another destination."""

_E164 = re.compile(r"\+[1-9]\d{6,14}")


@attrs.frozen
class SmsCapabilities:
    """What an SMS sender can do beyond sending.

    ``lookup_by_reference``: the sender has ``find_sent(reference)``, which
    answers whether a message sent under our reference reached the provider.
    """

    lookup_by_reference: bool = False


@runtime_checkable
class SentSmsLookup(Protocol):
    """An SMS sender that can be asked about an earlier send."""

    def find_sent(self, reference: str) -> Receipt | None:
        """The receipt of the message sent under *reference*, or None when
        the provider has no record of it (within its retention window)."""
        ...


def hide_contact(text: str, contact: str | None) -> str:
    """*text* with *contact* (a phone number or an e-mail address) masked.
    Providers echo the recipient in their error messages ("Invalid 'To'
    Phone Number: +212..."), and those messages end up in logs."""
    if not contact:
        return text
    if "@" in contact:
        return text.replace(contact, mask_email(contact))
    masked = mask_phone(contact)
    text = text.replace(contact, masked)
    # Infobip writes numbers without the plus.
    return text.replace(contact.removeprefix("+"), masked.removeprefix("+"))


def is_e164(number: str) -> bool:
    """Whether *number* is written in E.164 (``+`` and 7 to 15 digits)."""
    return _E164.fullmatch(number) is not None


def is_possible_e164(number: str) -> bool:
    """Whether *number* is E.164 and a possible number of its country
    (length and prefix; not whether it is allocated, which phone metadata
    learns late in these markets)."""
    if not is_e164(number):
        return False
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(parsed)


def mail_message_id(reference: str, domain: str) -> str:
    """The ``Message-ID`` of the e-mail sent under *reference*: the same
    reference always gives the same id, so a resent duplicate is recognisable
    in any mailbox or mail log.  The reference is hashed because its
    characters (``:``) are not allowed in a Message-ID."""
    digest = hashlib.sha256(reference.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def sender_for(
    to: str,
    explicit: str | None,
    by_country: Mapping[str, str],
    default: str | None,
) -> str | None:
    """The sender ID to use for *to*: the message's own when it names one,
    else the one configured for the destination's country (ISO code), else
    *default* (None lets the provider choose, e.g. a messaging service)."""
    if explicit:
        return explicit
    country = _country_of(to)
    return by_country.get(country, default) if country else default


def _country_of(number: str) -> str | None:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(parsed)
