"""Infobip's SMS wire shapes, as pure functions.

From Infobip's "Send SMS message" and "Response status and error codes"
pages and its public client libraries:

- ``POST /sms/2/text/advanced`` with ``Authorization: App <api key>`` and
  ``{"messages": [{"from", "destinations": [{"to", "messageId"}], "text"}]}``;
  ``to`` in international form without ``+`` (whether ``+`` is tolerated is
  not documented, so it is stripped);
- answered 200 with ``{"bulkId", "messages": [{"to", "messageId", "status":
  {"groupId", "groupName", "id", "name", "description"}}]}``; status groups
  0 OK, 1 PENDING, 2 UNDELIVERABLE, 3 DELIVERED, 4 EXPIRED, 5 REJECTED;
- request errors as ``{"requestError": {"serviceException": {"messageId",
  "text", "validationErrors"}}}``;
- ``messageId`` is ours to choose and must be unique: a second message with
  the same id is answered ``REJECTED_DUPLICATE_MESSAGE_ID``.  We send the
  effect reference, so a duplicate is refused by Infobip itself;
- ``GET /sms/1/logs?messageId=...`` answers ``{"results": [{"messageId",
  "to", "sentAt", "smsCount", "status"}]}`` for messages of the last 48
  hours (Infobip's "Logs and Status Reports" page; public client docs
  such as ``lykmapipo/bipsms`` ``docs/LOGS.md``).  Logs may trail the send
  by a moment, so "not in the logs" right after a send is not proof that
  nothing went out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fulfilment.adapters.pl3._reply import Reply
from fulfilment.core.errors import (
    PartnerError,
    PartnerRejected,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.ports import Receipt, SmsMessage

from ..common import BODY_REFUSED, INVALID_RECIPIENT, OPTED_OUT, hide_contact

__all__ = [
    "LOGS_PATH",
    "PARTNER",
    "SEND_PATH",
    "destination",
    "is_duplicate",
    "log_entry",
    "logs_params",
    "message_entry",
    "receipt_of",
    "request_error",
    "send_body",
    "status_error",
]

PARTNER = "infobip"
SEND_PATH = "/sms/2/text/advanced"
LOGS_PATH = "/sms/1/logs"

_ACCEPTED_GROUPS = {"OK", "ACCEPTED", "PENDING", "DELIVERED"}
_DUPLICATE = "REJECTED_DUPLICATE_MESSAGE_ID"
_NEUTRAL: Mapping[str, str] = {
    "REJECTED_DND": OPTED_OUT,
    "REJECTED_PREFIX_MISSING": INVALID_RECIPIENT,
    "REJECTED_DESTINATION": INVALID_RECIPIENT,
    "REJECTED_DESTINATION_BLOCK": INVALID_RECIPIENT,
    "REJECTED_INVALID_DESTINATION": INVALID_RECIPIENT,
    "REJECTED_DESTINATION_NOT_REGISTERED": INVALID_RECIPIENT,
    "MISSING_TO": INVALID_RECIPIENT,
    "REJECTED_MESSAGE_TOO_LONG": BODY_REFUSED,
    "REJECTED_INVALID_UDH": BODY_REFUSED,
}
# Nothing was sent and trying later may work ("please retry submission";
# per-number flooding limits reset within the hour).
_TRY_LATER = {"REJECTED_SYSTEM_ERROR", "REJECTED_FLOODING_FILTER"}
# The account, its credit or its sender registration: fix the set-up.
_SETUP = {
    "REJECTED_NOT_ENOUGH_CREDITS",
    "REJECTED_PREPAID_PACKAGE_EXPIRED",
    "REJECTED_SOURCE",
    "REJECTED_SENDER",
    "REJECTED_ROUTE_NOT_AVAILABLE",
    "REJECTED_NETWORK",
}


# --- requests ----------------------------------------------------------------


def destination(number: str) -> str:
    """``+201001234567`` → ``201001234567``, Infobip's form."""
    return number.removeprefix("+")


def send_body(message: SmsMessage, sender: str | None) -> dict[str, Any]:
    """One message to one destination, keyed on our reference."""
    entry: dict[str, Any] = {
        "destinations": [
            {"to": destination(message.to), "messageId": message.reference}
        ],
        "text": message.body,
    }
    if sender:
        entry["from"] = sender
    return {"messages": [entry]}


def logs_params(reference: str) -> dict[str, str]:
    return {"messageId": reference}


# --- answers -----------------------------------------------------------------


def message_entry(body: Any, reference: str) -> Mapping[str, Any]:
    """Our message's entry in a send answer: the one carrying our id, else
    the only one.  ValueError when there is none (an answer Infobip should
    never give)."""
    messages = body.get("messages") if isinstance(body, Mapping) else None
    entries = [m for m in messages or [] if isinstance(m, Mapping)]
    ours = [e for e in entries if e.get("messageId") == reference]
    if ours or len(entries) == 1:
        return (ours or entries)[0]
    raise ValueError(f"no message {reference!r} in the answer")


def is_duplicate(entry: Mapping[str, Any]) -> bool:
    """Whether Infobip refused the message because its id was used before."""
    return _status(entry).get("name") == _DUPLICATE


def status_error(entry: Mapping[str, Any]) -> PartnerError | None:
    """The error a message status stands for, None when it was accepted."""
    status = _status(entry)
    group = str(status.get("groupName") or "").upper()
    if group in _ACCEPTED_GROUPS:
        return None
    name = str(status.get("name") or group or "UNKNOWN")
    text = str(status.get("description") or name)
    if name in _TRY_LATER:
        return TransientPartnerError(text, partner=PARTNER, code=name)
    if name in _SETUP:
        return PermanentPartnerError(text, partner=PARTNER, code=name)
    return PartnerRejected(
        text, partner=PARTNER, problems=((name, text),), code=_NEUTRAL.get(name, name)
    )


def receipt_of(entry: Mapping[str, Any], reference: str) -> Receipt:
    """The receipt of an accepted message (send answer or log entry)."""
    group = str(_status(entry).get("groupName") or "pending")
    return Receipt(
        provider=PARTNER,
        message_id=str(entry.get("messageId") or reference),
        status=group.lower(),
        segments=_int_or_none(entry.get("smsCount")),
    )


def log_entry(body: Any, reference: str) -> Mapping[str, Any] | None:
    """The entry of *reference* in a logs answer, None when absent."""
    results = body.get("results") if isinstance(body, Mapping) else None
    for entry in results or []:
        if isinstance(entry, Mapping) and entry.get("messageId") == reference:
            return entry
    return None


def request_error(reply: Reply, to: str | None = None) -> PartnerError:
    """The error of a refused request (400 and other statuses ``send`` does
    not map), the recipient *to* masked in Infobip's words: validation
    problems are ours to fix, anything else means the adapter and Infobip
    disagree on the contract."""
    exception = _service_exception(reply.body)
    name = str(exception.get("messageId") or reply.status)
    text = hide_contact(str(exception.get("text") or reply.text or name), to)
    if reply.status == 400:
        problems = tuple(
            (field, hide_contact(problem, to))
            for field, problem in _validation_problems(exception)
        ) or ((name, text),)
        return PartnerRejected(
            text, partner=PARTNER, problems=problems, status=400, code=name
        )
    return PermanentPartnerError(text, partner=PARTNER, status=reply.status, code=name)


def _status(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    status = entry.get("status")
    return status if isinstance(status, Mapping) else {}


def _service_exception(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        return {}
    request_error = body.get("requestError")
    if not isinstance(request_error, Mapping):
        return {}
    exception = request_error.get("serviceException")
    return exception if isinstance(exception, Mapping) else {}


def _validation_problems(exception: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    errors = exception.get("validationErrors")
    if not isinstance(errors, Mapping):
        return ()
    return tuple(
        (str(field), str(text))
        for field, texts in errors.items()
        for text in (texts if isinstance(texts, list) else [texts])
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
