"""The notification adapters and simulators register through the plugin
hooks, and each simulator's sandbox table is a valid configuration."""

from __future__ import annotations

import tomllib
from typing import Any

import cattrs
import pytest

from fulfilment.adapters import builtin
from fulfilment.adapters.notify.infobip.settings import InfobipSettings
from fulfilment.adapters.notify.memory import (
    MemoryLinkShortener,
    MemoryMailSender,
    MemorySmsSender,
)
from fulfilment.adapters.notify.rebrandly.settings import RebrandlySettings
from fulfilment.adapters.notify.smtp.settings import SmtpSettings
from fulfilment.adapters.notify.twilio.settings import TwilioSettings
from fulfilment.runners.plugins import Registry
from fulfilment.runners.sandbox.infobip import InfobipSimulator
from fulfilment.runners.sandbox.mail import MailSink
from fulfilment.runners.sandbox.rebrandly import RebrandlySimulator
from fulfilment.runners.sandbox.twilio import TwilioSimulator
from fulfilment.runners.toml_writer import dumps

from .loopback import context

# The configuration loader's converter rules: unknown keys are errors.
CONVERTER = cattrs.Converter(forbid_extra_keys=True)


def merged(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {name: factory for result in results for name, factory in result.items()}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.discover(entry_points=False)


def test_built_in_sms_mail_and_link_adapters_register_through_the_hooks(
    registry: Registry,
) -> None:
    hook = registry.manager.hook

    assert set(merged(hook.fulfilment_register_sms_senders())) == {
        "twilio",
        "infobip",
        "memory",
    }
    assert set(merged(hook.fulfilment_register_mail_senders())) == {"smtp", "memory"}
    assert set(merged(hook.fulfilment_register_link_shorteners())) == {
        "rebrandly",
        "memory",
    }


def test_the_notification_simulators_register_with_the_sandbox(
    registry: Registry,
) -> None:
    simulators = registry.simulators()

    assert simulators["twilio"] is TwilioSimulator
    assert simulators["infobip"] is InfobipSimulator
    assert simulators["rebrandly"] is RebrandlySimulator


def test_the_memory_factories_build_the_twins_from_an_empty_table(
    registry: Registry,
) -> None:
    hook = registry.manager.hook
    factories = [
        merged(results)["memory"]
        for results in (
            hook.fulfilment_register_sms_senders(),
            hook.fulfilment_register_mail_senders(),
            hook.fulfilment_register_link_shorteners(),
        )
    ]

    built = [
        f.build(CONVERTER.structure({}, f.settings_type), context()) for f in factories
    ]

    assert [type(b) for b in built] == [
        MemorySmsSender,
        MemoryMailSender,
        MemoryLinkShortener,
    ]


@pytest.mark.parametrize(
    ("table", "settings_type"),
    [
        (TwilioSimulator().sandbox_settings("http://127.0.0.1:1"), TwilioSettings),
        (InfobipSimulator().sandbox_settings("http://127.0.0.1:2"), InfobipSettings),
        (
            RebrandlySimulator().sandbox_settings("http://127.0.0.1:3"),
            RebrandlySettings,
        ),
        (MailSink().sandbox_settings("127.0.0.1", 2525), SmtpSettings),
    ],
    ids=["twilio", "infobip", "rebrandly", "mail"],
)
def test_a_sandbox_table_survives_toml_and_structures_into_the_settings(
    table: dict[str, Any], settings_type: type[Any]
) -> None:
    document = tomllib.loads(dumps({"adapter": table}))

    settings = CONVERTER.structure(document["adapter"], settings_type)

    assert isinstance(settings, settings_type)


def test_per_country_senders_structure_from_a_toml_table() -> None:
    table = {
        "base_url": "http://127.0.0.1:9",
        "account_sid": "AC" + "1" * 32,
        "auth_token": "t",
        "senders": {"AE": "SHEMSI", "EG": "SHEMSI EG"},
    }

    settings = CONVERTER.structure(table, TwilioSettings)

    assert settings.senders == {"AE": "SHEMSI", "EG": "SHEMSI EG"}


def test_the_built_in_plugin_list_carries_the_notification_plugins() -> None:
    names = {plugin.__name__ for plugin in builtin.PLUGINS}

    assert {
        "fulfilment.adapters.notify.twilio.plugin",
        "fulfilment.adapters.notify.infobip.plugin",
        "fulfilment.adapters.notify.smtp.plugin",
        "fulfilment.adapters.notify.rebrandly.plugin",
        "fulfilment.adapters.notify.plugin",
    } <= names
