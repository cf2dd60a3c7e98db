"""The ECB source and its simulator register through the plugin hooks, and
the runner's registry offers them by name."""

from __future__ import annotations

import cattrs
import pytest

from fulfilment.adapters import builtin
from fulfilment.adapters.rates.ecb import EcbRateSource, EcbSettings
from fulfilment.runners.plugins import Registry
from fulfilment.runners.sandbox.ecb import EcbSimulator
from tests.notify.loopback import context

CONVERTER = cattrs.Converter(forbid_extra_keys=True)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.discover(entry_points=False)


def test_the_ecb_registers_as_a_rate_source(registry: Registry) -> None:
    sources = registry.rate_sources()

    assert {"ecb", "memory"} <= set(sources)
    assert sources["ecb"].settings_type is EcbSettings
    assert "ECB" in sources["ecb"].description


def test_the_ecb_factory_builds_the_adapter_from_a_table(registry: Registry) -> None:
    factory = registry.rate_sources()["ecb"]
    table = EcbSimulator().sandbox_settings("http://127.0.0.1:9")

    source = factory.build(CONVERTER.structure(table, factory.settings_type), context())

    assert isinstance(source, EcbRateSource)
    assert (source.name, source.base) == ("ecb", "EUR")


def test_a_table_with_a_credential_is_refused(registry: Registry) -> None:
    factory = registry.rate_sources()["ecb"]
    table = {"base_url": "http://127.0.0.1:9/stats/eurofxref/", "api_key": "x"}

    with pytest.raises(cattrs.ClassValidationError):
        CONVERTER.structure(table, factory.settings_type)


def test_the_ecb_simulator_registers_with_the_sandbox(registry: Registry) -> None:
    assert registry.simulators()["ecb"] is EcbSimulator


def test_the_built_in_plugin_list_carries_the_ecb_plugin() -> None:
    names = {plugin.__name__ for plugin in builtin.PLUGINS}

    assert "fulfilment.adapters.rates.ecb.plugin" in names
