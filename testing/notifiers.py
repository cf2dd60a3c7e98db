"""The contracts of the notification ports, kept by the twins and by every
real adapter wired to its simulator (or, for e-mail, a real SMTP server).

A test class subclasses one contract and provides its fixtures:

- :class:`SmsSenderContract`: ``sender``; ``inbox``, a function
  ``number -> list[str]`` of the texts the provider accepted for a number;
  ``opt_out``, a function that makes a number unsubscribed at the provider.
- :class:`MailSenderContract`: ``mailer``; ``mailbox``, a function
  ``address -> list[Received]``.
- :class:`LinkShortenerContract`: ``shortener``; ``destination_of``, a
  function ``short url -> destination | None``, as following the link would.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from fulfilment.adapters.notify.common import (
    INVALID_RECIPIENT,
    OPTED_OUT,
    SLASHTAG_TAKEN,
    SentSmsLookup,
    SmsCapabilities,
)
from fulfilment.core.errors import PartnerRejected
from fulfilment.core.ports import (
    LinkShortener,
    MailMessage,
    MailSender,
    SmsMessage,
    SmsSender,
)

MOROCCO = "+212661234567"
EGYPT = "+201001234567"
UAE = "+971551234567"
ARABIC = "أحمد، طلبك EG-55017 اتشحن. رقم البوليصة 50123456803"
# Arabic with a right-to-left mark and a Latin order number inside.
ARABIC_SUBJECT = "\u200fطلبك MA-10482 في الطريق"
ARABIC_TEXT = "مرحباً ليلى،\n\u200fطلبك MA-10482 في الطريق إليك.\nشكراً!"
FRENCH_TEXT = "Bonjour Léa, votre commande n° MA-10482 est expédiée. À bientôt !"


def sms(to: str, body: str = "Your order is on its way", ref: str = "r1") -> SmsMessage:
    return SmsMessage(to=to, body=body, reference=f"notify:{ref}")


class SmsSenderContract:
    def test_declares_a_name_and_whether_it_can_look_a_send_up(
        self, sender: SmsSender
    ) -> None:
        capabilities = sender.capabilities  # type: ignore[attr-defined]

        assert sender.name
        assert isinstance(capabilities, SmsCapabilities)
        if capabilities.lookup_by_reference:
            assert isinstance(sender, SentSmsLookup)

    def test_a_text_reaches_the_recipient_and_is_acknowledged(
        self, sender: SmsSender, inbox: Callable[[str], list[str]]
    ) -> None:
        receipt = sender.send_sms(sms(MOROCCO, "Votre commande est expédiée"))

        assert receipt.provider == sender.name
        assert receipt.message_id
        assert receipt.status
        assert inbox(MOROCCO) == ["Votre commande est expédiée"]

    def test_arabic_text_arrives_as_written(
        self, sender: SmsSender, inbox: Callable[[str], list[str]]
    ) -> None:
        sender.send_sms(sms(EGYPT, ARABIC))

        assert inbox(EGYPT) == [ARABIC]

    def test_each_recipient_gets_only_their_own_texts(
        self, sender: SmsSender, inbox: Callable[[str], list[str]]
    ) -> None:
        sender.send_sms(sms(MOROCCO, "one", ref="a"))
        sender.send_sms(sms(UAE, "two", ref="b"))

        assert inbox(MOROCCO) == ["one"]
        assert inbox(UAE) == ["two"]

    def test_a_number_that_cannot_exist_is_rejected_as_an_invalid_recipient(
        self, sender: SmsSender, inbox: Callable[[str], list[str]]
    ) -> None:
        with pytest.raises(PartnerRejected) as rejected:
            sender.send_sms(sms("+2120612"))

        assert rejected.value.code == INVALID_RECIPIENT
        assert rejected.value.partner == sender.name
        assert inbox("+2120612") == []

    def test_an_unsubscribed_recipient_is_rejected_as_opted_out(
        self,
        sender: SmsSender,
        inbox: Callable[[str], list[str]],
        opt_out: Callable[[str], None],
    ) -> None:
        opt_out(UAE)

        with pytest.raises(PartnerRejected) as rejected:
            sender.send_sms(sms(UAE))

        assert rejected.value.code == OPTED_OUT
        assert inbox(UAE) == []

    def test_a_send_can_be_looked_up_by_reference_when_declared(
        self, sender: SmsSender
    ) -> None:
        receipt = sender.send_sms(sms(MOROCCO, ref="lookup"))
        find_sent = getattr(sender, "find_sent", None)

        if sender.capabilities.lookup_by_reference:  # type: ignore[attr-defined]
            assert find_sent is not None
            found = find_sent("notify:lookup")
            assert found is not None
            assert found.message_id == receipt.message_id
            assert find_sent("notify:never-sent") is None
        elif find_sent is not None:
            with pytest.raises(NotImplementedError):
                find_sent("notify:lookup")


@attrs.frozen
class Received:
    """An e-mail as the recipient's mailbox shows it."""

    subject: str
    text: str
    html: str | None
    language: str | None
    message_id: str


def mail(
    to: str = "layla@example.com",
    ref: str = "m1",
    *,
    subject: str = "Votre commande est expédiée",
    text: str = FRENCH_TEXT,
    html: str | None = None,
    language: str | None = "fr",
) -> MailMessage:
    return MailMessage(
        to=to,
        subject=subject,
        text=text,
        reference=f"notify:{ref}",
        html=html,
        language=language,
    )


class MailSenderContract:
    def test_delivers_a_french_message_and_acknowledges_it(
        self, mailer: MailSender, mailbox: Callable[[str], list[Received]]
    ) -> None:
        receipt = mailer.send_mail(mail())

        (received,) = mailbox("layla@example.com")
        assert receipt.provider == mailer.name
        assert received.subject == "Votre commande est expédiée"
        assert received.text.strip() == FRENCH_TEXT
        assert received.language == "fr"
        assert received.message_id == receipt.message_id

    def test_arabic_subject_and_body_arrive_as_written_right_to_left_kept(
        self, mailer: MailSender, mailbox: Callable[[str], list[Received]]
    ) -> None:
        mailer.send_mail(
            mail(subject=ARABIC_SUBJECT, text=ARABIC_TEXT, language="ar", ref="ar")
        )

        (received,) = mailbox("layla@example.com")
        assert received.subject == ARABIC_SUBJECT
        assert received.text.rstrip("\n") == ARABIC_TEXT
        assert received.language == "ar"

    def test_an_html_alternative_travels_with_the_text(
        self, mailer: MailSender, mailbox: Callable[[str], list[Received]]
    ) -> None:
        html = '<p dir="rtl">طلبك <b>MA-10482</b> في الطريق</p>'

        mailer.send_mail(mail(text=ARABIC_TEXT, html=html, language="ar"))

        (received,) = mailbox("layla@example.com")
        assert received.html is not None
        assert received.html.strip() == html
        assert received.text.rstrip("\n") == ARABIC_TEXT

    def test_the_same_reference_always_carries_the_same_message_id(
        self, mailer: MailSender
    ) -> None:
        first = mailer.send_mail(mail(ref="same"))
        again = mailer.send_mail(mail(ref="same"))
        other = mailer.send_mail(mail(ref="other"))

        assert first.message_id == again.message_id
        assert other.message_id != first.message_id

    def test_a_recipient_the_server_refuses_is_rejected_as_invalid(
        self, mailer: MailSender, mailbox: Callable[[str], list[Received]]
    ) -> None:
        with pytest.raises(PartnerRejected) as rejected:
            mailer.send_mail(mail(to="nobody@invalid.example"))

        assert rejected.value.code == INVALID_RECIPIENT
        assert mailbox("nobody@invalid.example") == []


DESTINATION = "https://track.shemsi.example/orders/MA-10482?awb=50123456781&lang=ar"
OTHER = "https://track.shemsi.example/orders/MA-99999"


class LinkShortenerContract:
    def test_a_short_link_is_https_and_leads_to_the_destination(
        self,
        shortener: LinkShortener,
        destination_of: Callable[[str], str | None],
    ) -> None:
        short = shortener.shorten(DESTINATION, "ma10482")

        assert short.startswith("https://")
        assert short.endswith("/ma10482")
        assert destination_of(short) == DESTINATION

    def test_the_same_slashtag_gives_the_same_link_again(
        self, shortener: LinkShortener
    ) -> None:
        first = shortener.shorten(DESTINATION, "ma10482")

        again = shortener.shorten(DESTINATION, "ma10482")

        assert again == first

    def test_a_slashtag_leading_elsewhere_is_rejected_as_taken(
        self, shortener: LinkShortener
    ) -> None:
        shortener.shorten(DESTINATION, "ma10482")

        with pytest.raises(PartnerRejected) as rejected:
            shortener.shorten(OTHER, "ma10482")

        assert rejected.value.code == SLASHTAG_TAKEN

    def test_without_a_slashtag_each_link_leads_to_its_destination(
        self,
        shortener: LinkShortener,
        destination_of: Callable[[str], str | None],
    ) -> None:
        first = shortener.shorten(DESTINATION)
        second = shortener.shorten(OTHER)

        assert destination_of(first) == DESTINATION
        assert destination_of(second) == OTHER

    def test_a_slashtag_with_forbidden_characters_is_rejected(
        self, shortener: LinkShortener
    ) -> None:
        with pytest.raises(PartnerRejected):
            shortener.shorten(DESTINATION, "ma 10482/ar")
