"""A loopback Infobip: SMS send (``/sms/2/text/advanced``) and message logs
(``/sms/1/logs``) for one account.

It speaks the shapes in ``fulfilment.adapters.notify.infobip.wire``:

- ``Authorization: App <key>`` other than the account's → 401
  ``UNAUTHORIZED``; a body without messages, destinations or text → 400
  ``BAD_REQUEST`` with ``validationErrors``;
- per destination, a status: ``PENDING_ACCEPTED`` when accepted, else
  ``REJECTED`` with ``MISSING_TO``, ``REJECTED_DESTINATION`` (not a possible
  international number), ``REJECTED_DND`` (the recipient opted out, see
  :meth:`InfobipSimulator.unsubscribe`) or ``REJECTED_DUPLICATE_MESSAGE_ID``
  (a ``messageId`` used before; Infobip requires them unique);
- the logs list every message, accepted or refused, by ``messageId``,
  ``bulkId`` or ``to``; an accepted one reads ``DELIVERED_TO_HANDSET`` once
  :data:`DELIVERY_DELAY` has passed on the simulator clock.

Accepted messages are kept per recipient (E.164, with ``+``) in
``state["messages"]`` with their text, sender, segment count and time.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fulfilment.core.ports import Clock

from ._partner import json_object
from ._sms import SegmentCounter, carrier_segments, is_reachable
from .server import SimRequest, SimResponse, Simulator, route

__all__ = ["DELIVERY_DELAY", "SANDBOX_API_KEY", "SANDBOX_SENDER", "InfobipSimulator"]

SANDBOX_API_KEY = "sandbox-infobip-key"
SANDBOX_SENDER = "SHEMSI"
DELIVERY_DELAY = timedelta(seconds=10)

_PENDING = {
    "groupId": 1,
    "groupName": "PENDING",
    "id": 26,
    "name": "PENDING_ACCEPTED",
    "description": "Message sent to next instance",
}
_DELIVERED = {
    "groupId": 3,
    "groupName": "DELIVERED",
    "id": 5,
    "name": "DELIVERED_TO_HANDSET",
    "description": "Message delivered to handset",
}
_NO_ERROR = {
    "groupId": 0,
    "groupName": "OK",
    "id": 0,
    "name": "NO_ERROR",
    "description": "No Error",
    "permanent": False,
}


def _rejected(status_id: int, name: str, description: str) -> dict[str, Any]:
    return {
        "groupId": 5,
        "groupName": "REJECTED",
        "id": status_id,
        "name": name,
        "description": description,
    }


class InfobipSimulator(Simulator):
    """Infobip for one account; the default key is the sandbox's."""

    name = "infobip"

    def __init__(
        self,
        *,
        data_dir: Any = None,
        clock: Clock | None = None,
        api_key: str = SANDBOX_API_KEY,
        segments: SegmentCounter = carrier_segments,
    ) -> None:
        super().__init__(data_dir=data_dir, clock=clock)
        self.api_key = api_key
        self.segments = segments

    def sandbox_settings(self, base_url: str) -> dict[str, Any]:
        """The Infobip adapter's configuration table (TOML-ready data) for an
        adapter talking to this simulator at *base_url*."""
        return {"base_url": base_url, "api_key": self.api_key, "sender": SANDBOX_SENDER}

    def initial_state(self) -> dict[str, Any]:
        return {"messages": {}, "log": [], "unsubscribed": []}

    def unsubscribe(self, number: str) -> None:
        """Put *number* (E.164) on the do-not-disturb list."""
        with self.lock:
            if number not in self.state["unsubscribed"]:
                self.state["unsubscribed"].append(number)
            self.save()

    def sent_to(self, number: str) -> list[dict[str, Any]]:
        """The messages accepted for *number* (E.164), oldest first."""
        with self.lock:
            return [dict(m) for m in self.state["messages"].get(number, [])]

    # --- routes ----------------------------------------------------------

    @route("POST", r"/sms/2/text/advanced", "send-sms")
    def send_sms(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        body = json_object(request)
        problems = _validation_problems(body)
        if problems:
            return _request_error(400, "BAD_REQUEST", "Bad request", problems)
        assert body is not None
        bulk_id = str(body.get("bulkId") or secrets.token_hex(12))
        answers = [
            self._accept(message, destination, bulk_id)
            for message in body["messages"]
            for destination in message["destinations"]
        ]
        return SimResponse(200, {"bulkId": bulk_id, "messages": answers})

    @route("GET", r"/sms/1/logs", "logs")
    def logs(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        wanted = {k: request.arg(k) for k in ("messageId", "bulkId", "to")}
        limit = int(request.arg("limit") or 50)
        entries = [
            self._log_entry(entry)
            for entry in self.state["log"]
            if all(v is None or entry[k] == v for k, v in wanted.items())
        ]
        return SimResponse(200, {"results": entries[-limit:]})

    # --- sending ---------------------------------------------------------

    def _denied(self, request: SimRequest) -> SimResponse | None:
        if request.header("authorization") == f"App {self.api_key}":
            return None
        return _request_error(401, "UNAUTHORIZED", "Invalid login details")

    def _accept(
        self, message: Mapping[str, Any], destination: Mapping[str, Any], bulk_id: str
    ) -> dict[str, Any]:
        to = str(destination.get("to") or "")
        message_id = str(destination.get("messageId") or secrets.token_hex(12))
        status = self._status_for(to, message_id)
        entry = {
            "bulkId": bulk_id,
            "messageId": message_id,
            "to": to,
            "from": message.get("from"),
            "text": message["text"],
            "smsCount": self.segments(message["text"]),
            "sentAt": self.clock.now().isoformat(),
            "status": status,
        }
        self.state["log"].append(entry)
        if status["groupName"] == "PENDING":
            self.state["messages"].setdefault(f"+{to}", []).append(entry)
        return {"to": to, "messageId": message_id, "status": status}

    def _status_for(self, to: str, message_id: str) -> dict[str, Any]:
        if not to:
            return _rejected(51, "MISSING_TO", "Missing destination")
        if not to.isdigit() or not is_reachable(f"+{to}"):
            return _rejected(52, "REJECTED_DESTINATION", "Invalid destination address")
        if f"+{to}" in self.state["unsubscribed"]:
            return _rejected(10, "REJECTED_DND", "Destination on do-not-disturb list")
        if any(e["messageId"] == message_id for e in self.state["log"]):
            return _rejected(
                23, "REJECTED_DUPLICATE_MESSAGE_ID", "Rejected duplicate message ID"
            )
        return _PENDING

    def _log_entry(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        sent_at = datetime.fromisoformat(entry["sentAt"])
        status = entry["status"]
        done = status["groupName"] == "REJECTED" or (
            self.clock.now() >= sent_at + DELIVERY_DELAY
        )
        if status["groupName"] == "PENDING" and done:
            status = _DELIVERED
        return dict(entry) | {
            "sentAt": _infobip_time(sent_at),
            "doneAt": _infobip_time(sent_at + DELIVERY_DELAY) if done else None,
            "price": {"pricePerMessage": 0.0, "currency": "EUR"},
            "status": status,
            "error": _NO_ERROR,
        }


def _validation_problems(body: Mapping[str, Any] | None) -> dict[str, list[str]]:
    messages = body.get("messages") if body is not None else None
    if not isinstance(messages, list) or not messages:
        return {"messages": ["must not be empty"]}
    problems: dict[str, list[str]] = {}
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, Mapping):
            problems[where] = ["must be an object"]
            continue
        destinations = message.get("destinations")
        if not isinstance(destinations, list) or not destinations:
            problems[f"{where}.destinations"] = ["must not be empty"]
        if not isinstance(message.get("text"), str) or not message["text"].strip():
            problems[f"{where}.text"] = ["must not be blank"]
    return problems


def _request_error(
    status: int, message_id: str, text: str, problems: Mapping[str, Any] | None = None
) -> SimResponse:
    exception: dict[str, Any] = {"messageId": message_id, "text": text}
    if problems:
        exception["validationErrors"] = dict(problems)
    return SimResponse(status, {"requestError": {"serviceException": exception}})


def _infobip_time(moment: datetime) -> str:
    """Infobip's timestamp form, ``2024-06-03T10:15:02.000+0000``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000%z")
