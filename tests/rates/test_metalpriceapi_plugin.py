"""The MetalpriceAPI rate source and its simulator register through the
plugin hooks, and the runner's registry offers them by name."""

from __future__ import annotations

import cattrs
import pytest

from fulfilment.adapters import builtin
from fulfilment.adapters.rates.metalpriceapi import (
    MetalpriceApiRateSource,
    MetalpriceApiSettings,
)
from fulfilment.runners.plugins import Registry
from fulfilment.runners.sandbox.metalpriceapi import MetalpriceApiSimulator
from tests.notify.loopback import context

CONVERTER = cattrs.Converter(forbid_extra_keys=True)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.discover(entry_points=False)


def test_metalpriceapi_registers_as_a_rate_source(registry: Registry) -> None:
    sources = registry.rate_sources()

    assert {"metalpriceapi", "memory"} <= set(sources)
    assert sources["metalpriceapi"].settings_type is MetalpriceApiSettings
    assert "gold and silver" in sources["metalpriceapi"].description


def test_the_factory_builds_the_source_from_a_configuration_table(
    registry: Registry,
) -> None:
    factory = registry.rate_sources()["metalpriceapi"]
    table = MetalpriceApiSimulator().sandbox_settings("http://127.0.0.1:9")

    source = factory.build(CONVERTER.structure(table, factory.settings_type), context())

    assert isinstance(source, MetalpriceApiRateSource)
    assert (source.name, source.base) == ("metalpriceapi", "USD")


def test_a_table_with_a_misspelt_field_is_refused_naming_it(
    registry: Registry,
) -> None:
    factory = registry.rate_sources()["metalpriceapi"]
    table = {"base_url": "https://metals.example", "apikey": "${KEY}"}

    with pytest.raises(cattrs.ClassValidationError) as refused:
        CONVERTER.structure(table, factory.settings_type)

    assert cattrs.transform_error(refused.value) == [
        "required field missing @ $.api_key",
        "extra fields found (apikey) @ $",
    ]


def test_the_simulator_registers_with_the_sandbox(registry: Registry) -> None:
    assert registry.simulators()["metalpriceapi"] is MetalpriceApiSimulator


def test_the_built_in_plugin_list_carries_the_metalpriceapi_plugin() -> None:
    names = {plugin.__name__ for plugin in builtin.PLUGINS}

    assert "fulfilment.adapters.rates.metalpriceapi.plugin" in names
