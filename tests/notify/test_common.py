"""What the notification adapters share: the sender ID per destination
country, deterministic Message-IDs, and reading a number as E.164."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from fulfilment.adapters.notify.common import (
    is_e164,
    is_possible_e164,
    mail_message_id,
    sender_for,
)
from fulfilment.testing.notifiers import EGYPT, MOROCCO, UAE

BY_COUNTRY = {"AE": "SHEMSI AE", "EG": "SHEMSI EG"}
# RFC 5322 msg-id with a dot-atom left side: "<" atext "@" domain ">".
MSG_ID = re.compile(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>")


def test_the_messages_own_sender_wins() -> None:
    assert sender_for(UAE, "OTHER", BY_COUNTRY, "SHEMSI") == "OTHER"


def test_a_country_with_its_own_sender_id_gets_it() -> None:
    assert sender_for(UAE, None, BY_COUNTRY, "SHEMSI") == "SHEMSI AE"
    assert sender_for(EGYPT, None, BY_COUNTRY, "SHEMSI") == "SHEMSI EG"


def test_other_countries_and_unreadable_numbers_fall_back_to_the_default() -> None:
    assert sender_for(MOROCCO, None, BY_COUNTRY, "SHEMSI") == "SHEMSI"
    assert sender_for("not a number", None, BY_COUNTRY, None) is None


def test_e164_means_a_plus_and_the_digits_only() -> None:
    assert is_e164(MOROCCO)
    assert not is_e164("0661234567")
    assert not is_e164("+212 661 234 567")
    assert is_possible_e164("+96181234567")
    assert not is_possible_e164("+2120612")


@given(reference=st.text(min_size=1))
def test_any_reference_gives_one_valid_message_id(reference: str) -> None:
    first = mail_message_id(reference, "shemsi.example")

    assert first == mail_message_id(reference, "shemsi.example")
    assert MSG_ID.fullmatch(first)
    assert first != mail_message_id(reference + "x", "shemsi.example")
