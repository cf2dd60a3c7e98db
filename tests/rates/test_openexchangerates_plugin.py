"""The Open Exchange Rates source and its simulator register through the
plugin hooks, the runner's registry builds the source from a table, and
its settings refuse what would fail later, without quoting the app id."""

from __future__ import annotations

from typing import Any

import cattrs
import pytest

from fulfilment.adapters import builtin
from fulfilment.adapters.rates.openexchangerates import (
    OpenExchangeRatesSettings,
    OpenExchangeRatesSource,
)
from fulfilment.runners.plugins import Registry
from fulfilment.runners.sandbox.openexchangerates import OpenExchangeRatesSimulator
from tests.notify.loopback import context

CONVERTER = cattrs.Converter(forbid_extra_keys=True)
APP_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.discover(entry_points=False)


def settings(**changes: Any) -> OpenExchangeRatesSettings:
    table = {"base_url": "https://oxr.example", "app_id": APP_ID}
    return OpenExchangeRatesSettings(**(table | changes))


def test_open_exchange_rates_registers_as_a_rate_source(registry: Registry) -> None:
    factory = registry.rate_sources()["openexchangerates"]

    assert factory.settings_type is OpenExchangeRatesSettings
    assert "Open Exchange Rates" in factory.description


def test_the_factory_builds_the_source_from_the_simulators_table(
    registry: Registry,
) -> None:
    factory = registry.rate_sources()["openexchangerates"]
    table = OpenExchangeRatesSimulator().sandbox_settings("http://127.0.0.1:9")

    source = factory.build(CONVERTER.structure(table, factory.settings_type), context())

    assert isinstance(source, OpenExchangeRatesSource)
    assert (source.name, source.base) == ("openexchangerates", "USD")


def test_the_simulator_registers_with_the_sandbox(registry: Registry) -> None:
    assert registry.simulators()["openexchangerates"] is OpenExchangeRatesSimulator


def test_the_built_in_plugin_list_carries_the_plugin() -> None:
    names = {plugin.__name__ for plugin in builtin.PLUGINS}

    assert "fulfilment.adapters.rates.openexchangerates.plugin" in names


def test_the_app_id_stays_out_of_the_settings_repr() -> None:
    assert APP_ID not in repr(settings())
    assert "base='USD'" in repr(settings())


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"base_url": "oxr.example"}, "not an http"),
        ({"base_url": "https://oxr.example/api"}, "address alone"),
        ({"base_url": "https://oxr.example/?x=1"}, "address alone"),
        ({"app_id": "  "}, "app_id must not be blank"),
        ({"app_id": APP_ID + "\n"}, "app_id holds a space, line break"),
        ({"app_id": "abc def"}, "app_id holds a space"),
        ({"base": "usd"}, "base 'usd' must be a three-letter currency code"),
        ({"base": "EURO"}, "base 'EURO'"),
        ({"timeout": 0.0}, "timeout must be above 0"),
    ],
)
def test_settings_refuse_what_would_fail_later_and_say_which_field(
    changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem) as refused:
        settings(**changes)

    assert APP_ID not in str(refused.value)


def test_a_table_missing_the_app_id_is_refused_by_the_converter() -> None:
    with pytest.raises(cattrs.ClassValidationError):
        CONVERTER.structure(
            {"base_url": "https://oxr.example"}, OpenExchangeRatesSettings
        )
