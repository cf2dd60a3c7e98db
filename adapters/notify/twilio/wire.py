"""Twilio's Messages API wire shapes, as pure functions.

From Twilio's Message resource and error dictionary pages (and how
twilio-python parses errors):

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded
  ``To`` (E.164), ``From`` and/or ``MessagingServiceSid``, ``Body`` (at most
  1600 characters);
- 201 with a Message resource: ``sid`` (``SM...``), ``status`` (``queued``
  or ``accepted``), ``num_segments`` as a string;
- errors as ``{"code", "message", "more_info", "status"}``.

Twilio has no idempotency key: a send that got no answer may have gone out,
and nothing can be asked about it by our reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fulfilment.adapters.pl3._reply import Reply
from fulfilment.core.errors import PartnerError, PartnerRejected, PermanentPartnerError
from fulfilment.core.ports import Receipt, SmsMessage

from ..common import BODY_REFUSED, INVALID_RECIPIENT, OPTED_OUT, hide_contact

__all__ = [
    "MAX_BODY",
    "PARTNER",
    "error_of",
    "message_form",
    "messages_path",
    "receipt_of",
]

PARTNER = "twilio"
MAX_BODY = 1600

# Twilio error codes by what the caller does next.
_OPTED_OUT = {21610}  # the recipient replied STOP
_INVALID_RECIPIENT = {21211, 21612, 21614, 21635}  # bad, unreachable, landline
_BODY_REFUSED = {21602, 21617}  # empty body, longer than 1600 characters
# Account set-up: geo permissions, a From the account does not own, a trial
# account's unverified recipient, a missing From.  Fixing the account helps,
# fixing the order does not.
_SETUP = {20003, 20404, 21408, 21603, 21606, 21608, 21660}
_NEUTRAL = (
    [(c, OPTED_OUT) for c in _OPTED_OUT]
    + [(c, INVALID_RECIPIENT) for c in _INVALID_RECIPIENT]
    + [(c, BODY_REFUSED) for c in _BODY_REFUSED]
)
_NEUTRAL_CODES: Mapping[int, str] = dict(_NEUTRAL)


def messages_path(account_sid: str) -> str:
    return f"/2010-04-01/Accounts/{account_sid}/Messages.json"


def message_form(
    message: SmsMessage, sender: str | None, messaging_service_sid: str | None
) -> dict[str, str]:
    """The form fields of one message.  ``From`` when a sender is chosen,
    ``MessagingServiceSid`` when configured (Twilio then checks that the
    sender belongs to the service)."""
    form = {"To": message.to, "Body": message.body}
    if sender:
        form["From"] = sender
    if messaging_service_sid:
        form["MessagingServiceSid"] = messaging_service_sid
    return form


def receipt_of(body: Any) -> Receipt:
    """The receipt in a Message resource; ValueError when it has no sid."""
    if not isinstance(body, Mapping) or not body.get("sid"):
        raise ValueError("answer has no message sid")
    return Receipt(
        provider=PARTNER,
        message_id=str(body["sid"]),
        status=str(body.get("status") or "queued"),
        segments=_int_or_none(body.get("num_segments")),
    )


def error_of(reply: Reply, to: str) -> PartnerError:
    """The error an answer other than 2xx stands for, the recipient *to*
    masked in Twilio's words.  429, 5xx, 401 and 403 never reach here:
    ``send`` has already turned them into errors."""
    body = reply.body if isinstance(reply.body, Mapping) else {}
    code = _int_or_none(body.get("code"))
    message = hide_contact(str(body.get("message") or reply.text or "-"), to)
    neutral = _NEUTRAL_CODES.get(code) if code is not None else None
    if neutral is not None:
        return PartnerRejected(
            message,
            partner=PARTNER,
            problems=((str(code), message),),
            status=reply.status,
            code=neutral,
        )
    if reply.status == 400 and code not in _SETUP:
        return PartnerRejected(
            message, partner=PARTNER, status=reply.status, code=_str_or_none(code)
        )
    return PermanentPartnerError(
        message, partner=PARTNER, status=reply.status, code=_str_or_none(code)
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _str_or_none(value: int | None) -> str | None:
    return None if value is None else str(value)
