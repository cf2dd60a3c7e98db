"""Notification adapters: SMS, e-mail and short links.

One sub-package per provider, each split the same way (``settings``,
``wire``, ``client``, ``adapter``, ``plugin``):

- ``twilio``: Twilio Programmable Messaging (``SmsSender``);
- ``infobip``: Infobip SMS (``SmsSender`` with ``find_sent``);
- ``smtp``: e-mail over SMTP submission (``MailSender``);
- ``rebrandly``: Rebrandly short links (``LinkShortener``).

``memory`` holds the in-memory twins of the three ports, ``common`` the
provider-neutral rejection codes and the SMS capabilities flag, and
``plugin`` registers the twins as ``memory`` adapters for dry runs.
"""

from .common import (
    BODY_REFUSED,
    INVALID_RECIPIENT,
    OPTED_OUT,
    SLASHTAG_TAKEN,
    SentSmsLookup,
    SmsCapabilities,
)

__all__ = [
    "BODY_REFUSED",
    "INVALID_RECIPIENT",
    "OPTED_OUT",
    "SLASHTAG_TAKEN",
    "SentSmsLookup",
    "SmsCapabilities",
]
