"""A loopback Twilio: the Messages API for one account.

It speaks the shapes in ``fulfilment.adapters.notify.twilio.wire`` and
refuses what Twilio refuses, with Twilio's error codes:

- HTTP Basic credentials other than the account's → 401, code 20003; an
  account SID in the path that is not the caller's → 404, code 20404;
- no ``To`` → 21604; a ``To`` that is not a possible E.164 number → 21211;
  a recipient who replied STOP (:meth:`TwilioSimulator.unsubscribe`) →
  21610;
- no ``Body`` → 21602; more than 1600 characters → 21617;
- neither ``From`` nor ``MessagingServiceSid`` → 21603; an unknown
  messaging service → 21701 (modelled; Twilio's exact code for it is not
  in our reference).

Accepted messages are kept per recipient in ``state["messages"]`` with
their body, sender, segment count and the simulator clock's time, so the
demo can show what reached each phone.  A message reads as ``delivered``
once :data:`DELIVERY_DELAY` has passed on that clock.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from fulfilment.core.ports import Clock

from ._sms import SegmentCounter, carrier_segments, is_reachable
from .server import SimRequest, SimResponse, Simulator, route

__all__ = [
    "DELIVERY_DELAY",
    "SANDBOX_ACCOUNT_SID",
    "SANDBOX_AUTH_TOKEN",
    "SANDBOX_SENDER",
    "SANDBOX_SERVICE_SID",
    "TwilioSimulator",
]

# The sandbox account: fixed, because the simulator only listens on
# 127.0.0.1 and guards nothing real.
SANDBOX_ACCOUNT_SID = "AC" + "5a" * 16
SANDBOX_AUTH_TOKEN = "sandbox-twilio-token"  # noqa: S105
SANDBOX_SERVICE_SID = "MG" + "5b" * 16
SANDBOX_SENDER = "SHEMSI"
DELIVERY_DELAY = timedelta(seconds=10)

_API = "/2010-04-01/Accounts/(?P<account>[^/]+)"
_MAX_BODY = 1600
_DOCS = "https://www.twilio.com/docs/errors/"


class TwilioSimulator(Simulator):
    """Twilio for one account; the defaults are the sandbox credentials."""

    name = "twilio"

    def __init__(
        self,
        *,
        data_dir: Any = None,
        clock: Clock | None = None,
        account_sid: str = SANDBOX_ACCOUNT_SID,
        auth_token: str = SANDBOX_AUTH_TOKEN,
        service_sid: str = SANDBOX_SERVICE_SID,
        segments: SegmentCounter = carrier_segments,
    ) -> None:
        super().__init__(data_dir=data_dir, clock=clock)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.service_sid = service_sid
        self.segments = segments

    def sandbox_settings(self, base_url: str) -> dict[str, Any]:
        """The Twilio adapter's configuration table (TOML-ready data) for an
        adapter talking to this simulator at *base_url*."""
        return {
            "base_url": base_url,
            "account_sid": self.account_sid,
            "auth_token": self.auth_token,
            "sender": SANDBOX_SENDER,
            "messaging_service_sid": self.service_sid,
        }

    def initial_state(self) -> dict[str, Any]:
        return {"messages": {}, "unsubscribed": []}

    def unsubscribe(self, number: str) -> None:
        """Make *number* a recipient who replied STOP."""
        with self.lock:
            if number not in self.state["unsubscribed"]:
                self.state["unsubscribed"].append(number)
            self.save()

    def sent_to(self, number: str) -> list[dict[str, Any]]:
        """The messages accepted for *number*, oldest first."""
        with self.lock:
            return [dict(m) for m in self.state["messages"].get(number, [])]

    # --- routes ----------------------------------------------------------

    @route("POST", _API + r"/Messages\.json", "create-message")
    def create_message(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        form = _form(request)
        if (refused := self._refusal(form)) is not None:
            return refused
        record = self._record(form)
        self.state["messages"].setdefault(form["To"], []).append(record)
        return SimResponse(201, self._resource(form["To"], record))

    @route("GET", _API + r"/Messages/(?P<sid>SM\w+)\.json", "fetch-message")
    def fetch_message(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        sid = request.params["sid"]
        for to, records in self.state["messages"].items():
            for record in records:
                if record["sid"] == sid:
                    return SimResponse(200, self._resource(to, record))
        return _error(
            404, 20404, f"The requested resource {request.path} was not found"
        )

    # --- checks ----------------------------------------------------------

    def _denied(self, request: SimRequest) -> SimResponse | None:
        if _basic_credentials(request) != (self.account_sid, self.auth_token):
            return _error(401, 20003, "Authenticate")
        if request.params.get("account") != self.account_sid:
            return _error(
                404, 20404, f"The requested resource {request.path} was not found"
            )
        return None

    def _refusal(self, form: Mapping[str, str]) -> SimResponse | None:
        to, body = form.get("To", ""), form.get("Body", "")
        service = form.get("MessagingServiceSid")
        checks = [
            (not to, 21604, "A 'To' phone number is required."),
            (not is_reachable(to), 21211, f"Invalid 'To' Phone Number: {to}"),
            (
                to in self.state["unsubscribed"],
                21610,
                "Attempt to send to unsubscribed recipient",
            ),
            (not body, 21602, "Message body is required."),
            (
                len(body) > _MAX_BODY,
                21617,
                "The concatenated message body exceeds the 1600 character limit.",
            ),
            (
                not (form.get("From") or service),
                21603,
                "A 'From' phone number is required.",
            ),
            (
                bool(service) and service != self.service_sid,
                21701,
                f"The Messaging Service Sid {service} is invalid.",
            ),
        ]
        for failed, code, message in checks:
            if failed:
                return _error(400, code, message)
        return None

    # --- records ---------------------------------------------------------

    def _record(self, form: Mapping[str, str]) -> dict[str, Any]:
        return {
            "sid": "SM" + secrets.token_hex(16),
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form["Body"],
            "segments": self.segments(form["Body"]),
            "status": "queued" if form.get("From") else "accepted",
            "sent_at": self.clock.now().isoformat(),
        }

    def _resource(self, to: str, record: Mapping[str, Any]) -> dict[str, Any]:
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{record['sid']}"
        sent_at = datetime.fromisoformat(record["sent_at"])
        delivered = self.clock.now() >= sent_at + DELIVERY_DELAY
        stamp = email.utils.format_datetime(sent_at)
        return {
            "sid": record["sid"],
            "account_sid": self.account_sid,
            "messaging_service_sid": record["messaging_service_sid"],
            "to": to,
            "from": record["from"],
            "body": record["body"],
            "status": "delivered" if delivered else record["status"],
            "num_segments": str(record["segments"]),
            "num_media": "0",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "date_created": stamp,
            "date_updated": stamp,
            "date_sent": stamp if delivered else None,
            "uri": f"{uri}.json",
            "subresource_uris": {"media": f"{uri}/Media.json"},
        }


def _form(request: SimRequest) -> dict[str, str]:
    fields = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _basic_credentials(request: SimRequest) -> tuple[str, str] | None:
    scheme, _, encoded = (request.header("authorization") or "").partition(" ")
    if scheme != "Basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def _error(status: int, code: int, message: str) -> SimResponse:
    return SimResponse(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"{_DOCS}{code}",
            "status": status,
        },
    )
