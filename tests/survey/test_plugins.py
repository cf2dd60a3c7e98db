"""The survey adapters and the Typeform simulator register through the
plugin hooks, and the runner's registry offers them by name."""

from __future__ import annotations

import cattrs
import pytest

from fulfilment.adapters import builtin, hookspecs
from fulfilment.adapters.survey.memory import MemorySurveySource
from fulfilment.adapters.survey.typeform import (
    TypeformSettings,
    TypeformSurveySource,
)
from fulfilment.core.errors import ConfigurationError
from fulfilment.runners.plugins import Registry
from fulfilment.runners.sandbox.typeform import TypeformSimulator
from tests.notify.loopback import context

CONVERTER = cattrs.Converter(forbid_extra_keys=True)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.discover(entry_points=False)


def test_typeform_and_the_memory_twin_register_as_surveys(
    registry: Registry,
) -> None:
    surveys = registry.surveys()

    assert set(surveys) == {"typeform", "memory"}
    assert surveys["typeform"].settings_type is TypeformSettings
    assert surveys["typeform"].description


def test_the_typeform_factory_builds_the_adapter_from_a_table(
    registry: Registry,
) -> None:
    factory = registry.surveys()["typeform"]
    table = TypeformSimulator().sandbox_settings("http://127.0.0.1:9")

    survey = factory.build(CONVERTER.structure(table, factory.settings_type), context())

    assert isinstance(survey, TypeformSurveySource)
    assert (survey.name, survey.form_id) == ("typeform", table["form_id"])


def test_the_memory_survey_builds_from_an_empty_table(registry: Registry) -> None:
    factory = registry.surveys()["memory"]

    survey = factory.build(CONVERTER.structure({}, factory.settings_type), context())

    assert isinstance(survey, MemorySurveySource)
    assert survey.form_id == "nps"


def test_the_typeform_simulator_registers_with_the_sandbox(
    registry: Registry,
) -> None:
    assert registry.simulators()["typeform"] is TypeformSimulator


def test_the_built_in_plugin_list_carries_the_survey_plugins() -> None:
    names = {plugin.__name__ for plugin in builtin.PLUGINS}

    assert {
        "fulfilment.adapters.survey.plugin",
        "fulfilment.adapters.survey.typeform.plugin",
    } <= names


def test_two_plugins_claiming_one_survey_name_is_a_configuration_error() -> None:
    class Impostor:
        @hookspecs.hookimpl
        def fulfilment_register_survey_sources(self):  # type: ignore[no-untyped-def]
            return {"typeform": object()}

    registry = Registry.discover(entry_points=False)
    registry.manager.register(Impostor())

    with pytest.raises(ConfigurationError, match="two plugins register a survey"):
        registry.surveys()
