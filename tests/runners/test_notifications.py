"""Customer notices as an operator configures and runs them: senders named
per store, quiet hours, opt-outs from the command line, and the
notify-customers worker wired to the sandbox's SMS and mail servers."""

from __future__ import annotations

import json
from datetime import time
from pathlib import Path

import pytest

from fulfilment.core.errors import ConfigurationError
from fulfilment.core.messages import QuietHours
from fulfilment.core.notices import has_opted_out
from fulfilment.runners.cli import main
from fulfilment.runners.config import Adapters, load_config
from fulfilment.runners.plugins import Registry
from fulfilment.runners.wiring import WORKERS, build_app

BASE = """
environment = "staging"
[storage]
backend = "sqlite"
path = "db.sqlite3"
[stores.shemsi-egypt]
channel = "shopify"
country = "EG"
currency = "EGP"
timezone = "Africa/Cairo"
locale = "ar"
{store}
[stores.shemsi-egypt.source]
base_url = "http://127.0.0.1:9/shops/shemsi-egypt"
access_token = "${{TOKEN}}"
{tables}
"""

SMS = """
[sms.infobip-eg]
adapter = "infobip"
base_url = "http://127.0.0.1:9"
api_key = "${INFOBIP_KEY}"
sender = "SHEMSI"
"""
MAIL = """
[mail.smtp]
host = "127.0.0.1"
port = 2525
security = "plain"
sender = "Shemsi <orders@shemsi.example>"
"""
ENV = {"TOKEN": "t", "INFOBIP_KEY": "k"}


@pytest.fixture(scope="module")
def adapters() -> Adapters:
    return Registry.discover().adapters()


def write(tmp_path: Path, store: str = "", tables: str = "") -> Path:
    path = tmp_path / "fulfilment.toml"
    path.write_text(BASE.format(store=store, tables=tables), encoding="utf-8")
    return path


def problems(tmp_path: Path, adapters: Adapters, store: str, tables: str) -> str:
    path = write(tmp_path, store, tables)
    with pytest.raises(ConfigurationError) as error:
        load_config(path, adapters, ENV)
    return str(error.value).replace(f"{path}: ", "")


def test_a_store_speaks_through_the_senders_it_names(
    tmp_path: Path, adapters: Adapters
) -> None:
    path = write(
        tmp_path,
        'sms = "infobip-eg"\nmail = "smtp"\nname = "Shemsi Misr"\n'
        'quiet_hours = "22:30-08:15"',
        SMS + MAIL,
    )
    config = load_config(path, adapters, ENV)
    app = build_app(config, Registry.discover())
    try:
        voice = app.voices["shemsi-egypt"]
    finally:
        app.close()

    assert voice.name == "Shemsi Misr"
    assert voice.locale == "ar"
    assert voice.time_zone == "Africa/Cairo"
    assert voice.quiet.start.hour == 22
    assert voice.quiet.end.minute == 15
    assert voice.sms is not None
    assert voice.sms.name == "infobip"
    assert voice.mail is not None
    assert voice.mail.name == "smtp"
    assert voice.links is None
    assert "notify-customers" in WORKERS


def test_quiet_hours_default_to_the_notifications_table(
    tmp_path: Path, adapters: Adapters
) -> None:
    path = write(tmp_path, "", '[notifications]\nquiet_hours = "20:00-10:00"')

    config = load_config(path, adapters, ENV)

    assert config.quiet_hours("shemsi-egypt") == QuietHours(time(20), time(10))


@pytest.mark.parametrize(
    ("store", "tables", "expected"),
    [
        (
            'sms = "twilio"',
            "",
            "stores.shemsi-egypt.sms: 'twilio' is not configured under [sms] "
            "(add a [sms.twilio] table)",
        ),
        (
            'quiet_hours = "25:00-09:00"',
            "",
            "quiet_hours '25:00-09:00' is not a range of local times like "
            "'21:00-09:00'",
        ),
        (
            "",
            '[notifications]\nquiet_hours = "09:00-09:00"',
            "quiet_hours '09:00-09:00' starts and ends at the same time",
        ),
        (
            "",
            '[sms.carrier-pigeon]\nbase_url = "http://127.0.0.1:9"',
            "sms.carrier-pigeon.adapter: unknown adapter 'carrier-pigeon' "
            "(known: infobip, memory, twilio)",
        ),
        (
            "",
            '[sms.infobip]\nbase_url = "http://127.0.0.1:9"\napi_key = "literal"',
            "sms.infobip.api_key: secrets must come from the environment",
        ),
        (
            "",
            '[mail.smtp]\nhost = "smtp.example.com"\nsecurity = "plain"\n'
            'sender = "a@b.example"',
            "plain SMTP is only allowed to a loopback host",
        ),
        (
            'mail_from = "a@b.example\\r\\nBcc: x@y.example"',
            "",
            "stores.shemsi-egypt: mail_from 'a@b.example\\r\\nBcc: "
            "x@y.example' holds a line break or control character",
        ),
        (
            'mail_from = "not an address"',
            "",
            "stores.shemsi-egypt: mail_from 'not an address' is not an e-mail address",
        ),
        (
            'name = "Shemsi\\nBcc: x@y.example"',
            "",
            "stores.shemsi-egypt: name 'Shemsi\\nBcc: x@y.example' holds a "
            "line break or control character",
        ),
        (
            "",
            '[sms.infobip]\nbase_url = "127.0.0.1:8706"\napi_key = "${INFOBIP_KEY}"',
            "sms.infobip: base_url '127.0.0.1:8706' is not an http(s) URL",
        ),
        (
            "",
            '[sms.infobip]\nbase_url = "http://127.0.0.1:9"\n'
            'api_key = "${INFOBIP_KEY}"\ntimeout = 0',
            "sms.infobip: timeout must be above 0 and at most 600",
        ),
        (
            "",
            '[sms.infobip]\nbase_url = "http://127.0.0.1:9"\n'
            'api_key = "${INFOBIP_KEY}"\nsenders = []',
            "sms.infobip.senders: expected a table, not a list",
        ),
        (
            "",
            '[sms.twilio]\nbase_url = "http://127.0.0.1:9"\n'
            'account_sid = "AC00"\nauth_token = "${TOKEN}"\nsenders = "X"',
            "sms.twilio.senders: expected a table, not a string",
        ),
        (
            "",
            '[sms.twilio]\nbase_url = "http://127.0.0.1:9"\n'
            'account_sid = "AC00"\nauth_token = "${TOKEN}"\nsenders = []',
            "sms.twilio.senders: expected a table, not a list",
        ),
        (
            "",
            '[sms.twilio]\nbase_url = "http://127.0.0.1:9"\n'
            'account_sid = "AC00"\nauth_token = "${TOKEN}"\nsenders = {EG = 1}',
            "sms.twilio.senders[EG]: expected a string, not a whole number",
        ),
        (
            "",
            MAIL.replace("2525", "70000"),
            "mail.smtp: port must be 1 to 65535, not 70000",
        ),
        (
            "",
            MAIL.replace("2525", "0"),
            "mail.smtp: port must be 1 to 65535, not 0",
        ),
        (
            "",
            MAIL + "timeout = -1",
            "mail.smtp: timeout must be above 0 and at most 600",
        ),
        (
            "",
            MAIL + 'reply_to = "nobody"',
            "mail.smtp: reply_to 'nobody' is not an e-mail address",
        ),
        (
            "",
            MAIL.replace("<orders@shemsi.example>", "<o@s.example>\\r\\nBcc: x@y.z"),
            "mail.smtp: sender 'Shemsi <o@s.example>\\r\\nBcc: x@y.z' "
            "holds a line break or control character",
        ),
        (
            "",
            MAIL + 'helo_name = "relay.example\\r\\nMAIL FROM:<x@y.z>"',
            "mail.smtp: helo_name 'relay.example\\r\\nMAIL FROM:<x@y.z>' "
            "is not a host name",
        ),
        (
            "",
            MAIL + 'message_id_domain = "shemsi example"',
            "mail.smtp: message_id_domain 'shemsi example' is not a host name",
        ),
    ],
)
def test_a_bad_notifier_setting_is_named(
    tmp_path: Path, adapters: Adapters, store: str, tables: str, expected: str
) -> None:
    assert expected in problems(tmp_path, adapters, store, tables)


def test_a_relative_ca_file_is_read_beside_the_configuration(
    tmp_path: Path, adapters: Adapters
) -> None:
    (tmp_path / "relay-ca.pem").write_text("certificates\n", encoding="utf-8")
    path = write(tmp_path, 'mail = "smtp"', MAIL + 'ca_file = "relay-ca.pem"')

    config = load_config(path, adapters, ENV)

    assert config.mail["smtp"].settings.ca_file == str(tmp_path / "relay-ca.pem")


@pytest.mark.parametrize(
    ("ca_file", "expected"),
    [
        ("missing.pem", "is not a file that can be read"),
        (".", "is not a file that can be read"),
    ],
)
def test_a_ca_file_that_cannot_be_read_is_named_with_its_full_path(
    tmp_path: Path, adapters: Adapters, ca_file: str, expected: str
) -> None:
    found = problems(tmp_path, adapters, "", MAIL + f'ca_file = "{ca_file}"')

    full = (tmp_path / ca_file).resolve()
    assert found == f"mail.smtp: ca_file {str(full)!r} {expected}"


def test_an_operator_opts_a_customer_out_and_back_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = str(write(tmp_path, 'sms = "infobip-eg"', SMS))

    def cli(*args: str) -> tuple[int, str]:
        code = main(["--config", config, "customers", *args])
        return code, capsys.readouterr().out

    assert cli("opt-out", "+20 100 123 4567") == (
        0,
        "+201******567: no more sms messages\n",
    )
    assert cli("opt-out", "+201001234567")[1].endswith("(already)\n")
    assert cli("opt-out", "Fatima@Example.com")[0] == 0

    app = build_app(
        load_config(Path(config), Registry.discover().adapters(), ENV),
        Registry.discover(),
    )
    try:
        assert has_opted_out(app.storage.ledger, "sms", "+201001234567")
        assert has_opted_out(app.storage.ledger, "email", "fatima@example.com")
    finally:
        app.close()

    assert cli("opt-in", "+201001234567")[0] == 0
    assert cli("opt-in", "+201001234567") == (
        1,
        "+201******567: sms messages were not stopped\n",
    )


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("0612345678", "'06*****678'"),
        ("not an address", "'no*********ess'"),
        ("a@b@c", "'a***@c'"),
    ],
)
def test_an_address_that_is_neither_a_phone_nor_an_email_is_refused_masked(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    address: str,
    shown: str,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = str(write(tmp_path, "", ""))

    code = main(["--config", config, "customers", "opt-out", address])

    assert code == 2
    assert capsys.readouterr().err.startswith(f"error: {shown} is ")


def test_run_all_includes_notify_customers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = str(write(tmp_path, 'sms = "infobip-eg"', SMS))

    main(["--config", config, "run", "notify-customers", "--json"])
    (report,) = json.loads(capsys.readouterr().out)

    assert report["worker"] == "notify-customers"
    assert report["outcomes"] == {}
    assert report["sent_by_channel"] == {}


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        (
            '[discounts.promoter]\npercent = "1e-999999999"',
            "percent must be 0.01 to 100",
        ),
        ("[discounts.passive]\npercent = 0", "percent must be 0.01 to 100"),
    ],
)
def test_discount_tiers_are_checked(
    tmp_path: Path, adapters: Adapters, tables: str, expected: str
) -> None:
    assert expected in problems(tmp_path, adapters, "", tables)


def test_a_budget_beyond_any_shop_is_refused(
    tmp_path: Path, adapters: Adapters
) -> None:
    found = problems(tmp_path, adapters, 'discount_budget = "1e999999999"', "")

    assert "discount_budget must be a sum from 0 to 10^12" in found


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            'form_url = "https://evil.example@shemsi.typeform.test/to/F1"',
            "carries a user name before its host",
        ),
        ('comment_field_ref = "score"', "score_field_ref and comment_field_ref"),
    ],
)
def test_a_misleading_survey_table_is_refused(
    tmp_path: Path, adapters: Adapters, change: str, expected: str
) -> None:
    table = "\n".join(
        [
            "[nps]",
            'survey = "typeform"',
            "[surveys.typeform]",
            'base_url = "http://127.0.0.1:9"',
            'token = "${TOKEN}"',
            'form_id = "F1"',
            'score_field_ref = "score"',
            change
            if change.startswith("form_url")
            else 'form_url = "https://shemsi.typeform.test/to/F1"',
            change if not change.startswith("form_url") else "",
        ]
    )

    assert expected in problems(tmp_path, adapters, "", table)
