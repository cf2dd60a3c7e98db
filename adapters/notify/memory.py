"""In-memory twins of the notification ports: SMS, e-mail and short links.

They keep what they sent (per recipient), refuse what a real provider
refuses (a number not in E.164, an opted-out recipient, an address with no
domain, a slashtag already pointing elsewhere) and can be told to fail the
next calls, including the worst case: the provider accepted the message and
the answer was lost (``"lost_reply"``), so a test can check that the worker
does not send twice.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict, deque
from collections.abc import Iterable

import attrs

from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
)
from fulfilment.core.ports import MailMessage, Receipt, SmsMessage

from .common import (
    BODY_REFUSED,
    INVALID_RECIPIENT,
    OPTED_OUT,
    SLASHTAG_TAKEN,
    SmsCapabilities,
    is_possible_e164,
    mail_message_id,
)

__all__ = [
    "LOST_REPLY",
    "MemoryLinkShortener",
    "MemoryMailSender",
    "MemorySettings",
    "MemorySmsSender",
]

LOST_REPLY = "lost_reply"
"""A queued failure that lets the send happen, then raises OutcomeUnknown."""

_SLASHTAG = re.compile(r"[A-Za-z0-9_-]{1,40}")

# A partner error, or any other exception to stand for a bug in an adapter.
Failure = Exception | str


@attrs.frozen
class MemorySettings:
    """The ``memory`` adapters take no settings; the empty table is valid."""


class _Failures:
    """Failures queued for the next calls, each used once, in order."""

    def __init__(self) -> None:
        self._queue: deque[Failure] = deque()

    def add(self, failures: Iterable[Failure]) -> None:
        self._queue.extend(failures)

    def before(self) -> bool:
        """Raise a queued exception; True when the reply must be lost."""
        failure = self._queue.popleft() if self._queue else None
        if isinstance(failure, Exception):
            raise failure
        return failure == LOST_REPLY


class MemorySmsSender:
    """Keeps every SMS it accepted, by recipient, and its receipts by
    reference.  ``lookup_by_reference`` decides whether it behaves like
    Infobip (``find_sent`` works) or Twilio (it raises NotImplementedError).
    """

    def __init__(self, name: str = "memory", *, lookup_by_reference: bool = True):
        self.name = name
        self.capabilities = SmsCapabilities(lookup_by_reference=lookup_by_reference)
        self.sent: dict[str, list[SmsMessage]] = defaultdict(list)
        self.receipts: dict[str, Receipt] = {}
        self.opted_out: set[str] = set()
        self.send_calls = 0
        self._ids = itertools.count(1)
        self._failures = _Failures()

    def fail_next(self, *failures: Failure) -> None:
        """Queue failures for the next sends: an exception is raised before
        anything is sent; :data:`LOST_REPLY` sends, then raises
        ``OutcomeUnknown``."""
        self._failures.add(failures)

    def opt_out(self, number: str) -> None:
        """Mark *number* as unsubscribed, as a STOP reply would."""
        self.opted_out.add(number)

    def bodies_to(self, number: str) -> list[str]:
        """The texts *number* received, oldest first."""
        return [message.body for message in self.sent.get(number, [])]

    def send_sms(self, message: SmsMessage) -> Receipt:
        self.send_calls += 1
        lose_reply = self._failures.before()
        self._refuse_if_invalid(message)
        receipt = Receipt(self.name, f"SM{next(self._ids):08d}", "queued")
        self.sent[message.to].append(message)
        self.receipts[message.reference] = receipt
        if lose_reply:
            raise OutcomeUnknown("reply lost after sending", partner=self.name)
        return receipt

    def find_sent(self, reference: str) -> Receipt | None:
        if not self.capabilities.lookup_by_reference:
            raise NotImplementedError(f"{self.name} cannot look messages up")
        return self.receipts.get(reference)

    def _refuse_if_invalid(self, message: SmsMessage) -> None:
        if not is_possible_e164(message.to):
            raise _rejected(self.name, INVALID_RECIPIENT, "not a possible E.164 number")
        if message.to in self.opted_out:
            raise _rejected(self.name, OPTED_OUT, "recipient unsubscribed")
        if not message.body.strip():
            raise _rejected(self.name, BODY_REFUSED, "message body is empty")


class MemoryMailSender:
    """Keeps every e-mail it accepted, by recipient.  Message ids come from
    the reference, as the SMTP adapter's do."""

    def __init__(
        self,
        name: str = "memory",
        *,
        domain: str = "mail.example",
        refused_domains: Iterable[str] = (),
    ) -> None:
        self.name = name
        self.domain = domain
        self.refused_domains = {d.casefold() for d in refused_domains}
        self.sent: dict[str, list[MailMessage]] = defaultdict(list)
        self.send_calls = 0
        self._failures = _Failures()

    def fail_next(self, *failures: Failure) -> None:
        """As :meth:`MemorySmsSender.fail_next`."""
        self._failures.add(failures)

    def send_mail(self, message: MailMessage) -> Receipt:
        self.send_calls += 1
        lose_reply = self._failures.before()
        _, _, domain = message.to.rpartition("@")
        if not domain or domain.casefold() in self.refused_domains:
            raise _rejected(self.name, INVALID_RECIPIENT, "recipient refused")
        self.sent[message.to].append(message)
        receipt = Receipt(
            self.name, mail_message_id(message.reference, self.domain), "accepted"
        )
        if lose_reply:
            raise OutcomeUnknown("connection lost after DATA", partner=self.name)
        return receipt


class MemoryLinkShortener:
    """Short links on one domain, keyed by slashtag, with an optional plan
    quota (links it may create in all) that fails like Rebrandly's."""

    def __init__(
        self,
        name: str = "memory",
        *,
        domain: str = "short.example",
        quota: int | None = None,
    ) -> None:
        self.name = name
        self.domain = domain
        self.quota = quota
        self.links: dict[str, str] = {}
        self._tags = itertools.count(1)
        self._failures = _Failures()

    def fail_next(self, *failures: Failure) -> None:
        """As :meth:`MemorySmsSender.fail_next`."""
        self._failures.add(failures)

    def destination_of(self, short_url: str) -> str | None:
        """Where *short_url* leads, or None when it is not one of ours."""
        prefix = f"https://{self.domain}/"
        if not short_url.startswith(prefix):
            return None
        return self.links.get(short_url.removeprefix(prefix))

    def shorten(self, url: str, slashtag: str | None = None) -> str:
        lose_reply = self._failures.before()
        tag = slashtag or self._free_tag()
        if slashtag is not None and not _SLASHTAG.fullmatch(slashtag):
            raise _rejected(self.name, "InvalidFormat", f"bad slashtag {slashtag!r}")
        existing = self.links.get(tag)
        if existing is not None and existing != url:
            raise _rejected(self.name, SLASHTAG_TAKEN, f"{tag} leads elsewhere")
        if existing is None:
            self._use_quota()
            self.links[tag] = url
        if lose_reply:
            raise OutcomeUnknown("reply lost after creating", partner=self.name)
        return f"https://{self.domain}/{tag}"

    def _free_tag(self) -> str:
        while (tag := f"m{next(self._tags)}") in self.links:
            pass
        return tag

    def _use_quota(self) -> None:
        if self.quota is not None and len(self.links) >= self.quota:
            raise PermanentPartnerError(
                "link quota of the plan is used up", partner=self.name, status=403
            )


def _rejected(partner: str, code: str, message: str) -> PartnerRejected:
    return PartnerRejected(message, partner=partner, code=code)
