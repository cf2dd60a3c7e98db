"""Registers the in-memory survey under the name ``memory``, for dry runs:
links to a reserved host, and only the answers a test puts there."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import SurveySource

from .memory import MemorySurveySettings, MemorySurveySource

__all__ = ["fulfilment_register_survey_sources"]


def _build(settings: MemorySurveySettings, _: AdapterContext) -> MemorySurveySource:
    return MemorySurveySource(settings.form_id)


@hookimpl
def fulfilment_register_survey_sources() -> Mapping[str, Factory[SurveySource]]:
    return {
        "memory": Factory(
            MemorySurveySettings,
            _build,
            "in memory: links to forms.example, answers only a test gives",
        )
    }
