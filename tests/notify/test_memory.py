"""The in-memory twins keep the notification contracts, and fail on demand
the way providers do, including after the message went out."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fulfilment.adapters.notify.common import mail_message_id
from fulfilment.adapters.notify.memory import (
    LOST_REPLY,
    MemoryLinkShortener,
    MemoryMailSender,
    MemorySmsSender,
)
from fulfilment.core.errors import (
    OutcomeUnknown,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.testing.notifiers import (
    DESTINATION,
    MOROCCO,
    LinkShortenerContract,
    MailSenderContract,
    Received,
    SmsSenderContract,
    mail,
    sms,
)


class TestMemorySmsSender(SmsSenderContract):
    @pytest.fixture(params=[True, False], ids=["with-lookup", "without-lookup"])
    def sender(self, request: pytest.FixtureRequest) -> MemorySmsSender:
        return MemorySmsSender(lookup_by_reference=request.param)

    @pytest.fixture
    def inbox(self, sender: MemorySmsSender) -> Callable[[str], list[str]]:
        return sender.bodies_to

    @pytest.fixture
    def opt_out(self, sender: MemorySmsSender) -> Callable[[str], None]:
        return sender.opt_out


class TestMemoryMailSender(MailSenderContract):
    @pytest.fixture
    def mailer(self) -> MemoryMailSender:
        return MemoryMailSender(refused_domains=["invalid.example"])

    @pytest.fixture
    def mailbox(self, mailer: MemoryMailSender) -> Callable[[str], list[Received]]:
        def received(address: str) -> list[Received]:
            return [
                Received(
                    m.subject,
                    m.text,
                    m.html,
                    m.language,
                    mail_message_id(m.reference, mailer.domain),
                )
                for m in mailer.sent.get(address, [])
            ]

        return received


class TestMemoryLinkShortener(LinkShortenerContract):
    @pytest.fixture
    def shortener(self) -> MemoryLinkShortener:
        return MemoryLinkShortener()

    @pytest.fixture
    def destination_of(
        self, shortener: MemoryLinkShortener
    ) -> Callable[[str], str | None]:
        return shortener.destination_of


def test_a_lost_reply_leaves_the_text_sent_and_the_outcome_unknown() -> None:
    sender = MemorySmsSender()
    sender.fail_next(LOST_REPLY)

    with pytest.raises(OutcomeUnknown):
        sender.send_sms(sms(MOROCCO, ref="lost"))

    assert sender.bodies_to(MOROCCO) == ["Your order is on its way"]
    assert sender.find_sent("notify:lost") is not None


def test_a_queued_failure_sends_nothing_and_is_used_once() -> None:
    sender = MemorySmsSender()
    sender.fail_next(TransientPartnerError("busy", partner="memory", status=503))

    with pytest.raises(TransientPartnerError):
        sender.send_sms(sms(MOROCCO))
    sender.send_sms(sms(MOROCCO))

    assert sender.bodies_to(MOROCCO) == ["Your order is on its way"]
    assert sender.send_calls == 2


def test_a_mail_whose_reply_was_lost_was_still_delivered() -> None:
    mailer = MemoryMailSender()
    mailer.fail_next(LOST_REPLY)

    with pytest.raises(OutcomeUnknown):
        mailer.send_mail(mail())

    assert len(mailer.sent["layla@example.com"]) == 1


def test_a_used_up_link_quota_is_a_permanent_error_in_plain_words() -> None:
    shortener = MemoryLinkShortener(quota=1)
    shortener.shorten(DESTINATION, "one")

    with pytest.raises(PermanentPartnerError, match="quota"):
        shortener.shorten(DESTINATION, "two")

    assert shortener.shorten(DESTINATION, "one").endswith("/one")
