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
    ],
)
def test_a_bad_notifier_setting_is_named(
    tmp_path: Path, adapters: Adapters, store: str, tables: str, expected: str
) -> None:
    assert expected in problems(tmp_path, adapters, store, tables)


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


@pytest.mark.parametrize("address", ["0612345678", "not an address", "a@b@c"])
def test_an_address_that_is_neither_a_phone_nor_an_email_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    address: str,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = str(write(tmp_path, "", ""))

    code = main(["--config", config, "customers", "opt-out", address])

    assert code == 2
    assert repr(address) in capsys.readouterr().err


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
