"""Notification settings refuse a bad value when they are built, the way a
configuration file builds them, so nothing fails on the first message."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.adapters.notify.infobip import InfobipSettings
from fulfilment.adapters.notify.smtp.settings import SmtpSettings
from fulfilment.adapters.notify.twilio import TwilioSettings
from fulfilment.adapters.validators import mail_address_problem

ACCOUNT = "AC" + "a" * 32


@pytest.mark.parametrize(
    "text",
    [
        "orders@shemsi.example",
        "Shemsi <orders@shemsi.example>",
        '"Shemsi, Casablanca" <orders@shemsi.example>',
        "Shemsi Misr <o.k+eg@mail.shemsi.example>",
        "شمسي <orders@shemsi.example>",
    ],
)
def test_a_sender_may_carry_a_display_name(text: str) -> None:
    assert mail_address_problem(text) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not an address", "is not an e-mail address"),
        ("orders@shemsi", "is not an e-mail address"),
        ("@shemsi.example", "is not an e-mail address"),
        ("a@b.example, c@d.example", "is not an e-mail address"),
        ("Shemsi, Casablanca <orders@shemsi.example>", "is not an e-mail address"),
        ("mailto:orders@shemsi.example", "is not an e-mail address"),
        ("a@b.example\r\nBcc: x@y.example", "holds a line break or control"),
        ("Shemsi\n <a@b.example>", "holds a line break or control"),
        ("a@b.example\x00", "holds a line break or control"),
    ],
)
def test_an_address_a_header_cannot_carry_is_refused(text: str, problem: str) -> None:
    assert problem in (mail_address_problem(text) or "")


def test_a_bare_address_is_required_where_no_display_name_is_allowed() -> None:
    found = mail_address_problem("Shemsi <a@b.example>", display_name=False)

    assert found is not None
    assert mail_address_problem("a@b.example", display_name=False) is None


@given(st.text(max_size=40))
def test_whatever_is_accepted_has_one_at_sign_and_no_line_break(text: str) -> None:
    if mail_address_problem(text, display_name=False) is None:
        assert text.count("@") == 1
        assert not any(c in text for c in "\r\n\t\x00 ")


@pytest.mark.parametrize("senders", [[], "SHEMSI", ["EG", "SHEMSI"]])
@pytest.mark.parametrize("cls", [TwilioSettings, InfobipSettings])
def test_senders_by_country_must_be_a_table(cls: type[Any], senders: Any) -> None:
    values = {
        "base_url": "https://sms.test",
        "account_sid": ACCOUNT,
        "auth_token": "token",
        "api_key": "key",
        "sender": "SHEMSI",
        "senders": senders,
    }
    wanted = {k: v for k, v in values.items() if k in attrs.fields_dict(cls)}

    with pytest.raises(TypeError, match=r"^senders: expected a table, not [\['\"]"):
        cls(**wanted)


def test_infobip_needs_an_http_url_and_a_sane_timeout() -> None:
    with pytest.raises(ValueError, match="not an http"):
        InfobipSettings(base_url="127.0.0.1:8706", api_key="key")
    with pytest.raises(ValueError, match="timeout must be above 0"):
        InfobipSettings(base_url="http://127.0.0.1:8706", api_key="key", timeout=0)


def test_a_twilio_messaging_service_is_named_by_its_sid() -> None:
    with pytest.raises(ValueError, match=r"messaging service SID \(MG"):
        TwilioSettings(
            base_url="https://sms.test",
            account_sid=ACCOUNT,
            auth_token="token",
            messaging_service_sid="SHEMSI",
        )


def smtp(**changes: Any) -> SmtpSettings:
    values = {"host": "127.0.0.1", "sender": "a@b.example", "security": "plain"}
    return SmtpSettings(**(values | changes))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"port": 0}, "port must be 1 to 65535, not 0"),
        ({"port": 65536}, "port must be 1 to 65535, not 65536"),
        ({"timeout": 0.0}, "timeout must be above 0"),
        ({"timeout": float("inf")}, "timeout must be above 0"),
        ({"reply_to": "help desk"}, "reply_to 'help desk' is not an e-mail"),
        ({"sender": "Shemsi"}, "sender 'Shemsi' is not an e-mail address"),
        ({"helo_name": "relay\r\nQUIT"}, "helo_name 'relay\\r\\nQUIT' is not a host"),
        ({"message_id_domain": "a b"}, "message_id_domain 'a b' is not a host"),
    ],
)
def test_smtp_settings_refuse_values_out_of_shape(
    changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(problem)):
        smtp(**changes)


def test_a_ca_file_must_be_a_readable_file(tmp_path: Path) -> None:
    authority = tmp_path / "ca.pem"
    authority.write_text("certificates\n", encoding="utf-8")

    assert smtp(ca_file=str(authority)).ca_file == str(authority)
    with pytest.raises(ValueError, match="is not a file that can be read"):
        smtp(ca_file=str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="is not a file that can be read"):
        smtp(ca_file=str(tmp_path))


def test_a_reply_to_address_with_a_name_is_accepted() -> None:
    assert smtp(reply_to="Help <help@shemsi.example>").reply_to == (
        "Help <help@shemsi.example>"
    )


@pytest.mark.parametrize(
    "url", ["127.0.0.1:8706", "http://[::1", "https://", "http://a.test/\nx"]
)
def test_a_base_url_that_is_not_a_web_address_names_the_field(url: str) -> None:
    with pytest.raises(ValueError, match=r"^base_url .* is not an http\(s\) URL"):
        InfobipSettings(base_url=url, api_key="key")
