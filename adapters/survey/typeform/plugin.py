"""Registers the Typeform survey under the name ``typeform``."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import SurveySource

from .adapter import TypeformSurveySource
from .client import TypeformClient
from .settings import TypeformSettings

__all__ = ["build", "fulfilment_register_survey_sources"]


def build(settings: TypeformSettings, context: AdapterContext) -> TypeformSurveySource:
    """A Typeform survey talking to ``settings.base_url``."""
    http = context.http_client(settings.base_url, settings.timeout)
    client = TypeformClient(http, settings.token, settings.form_id)
    return TypeformSurveySource(settings, client, context.retry)


@hookimpl
def fulfilment_register_survey_sources() -> Mapping[str, Factory[SurveySource]]:
    return {
        "typeform": Factory(
            TypeformSettings,
            build,
            "Typeform Responses API (completed answers, hidden fields in links)",
        )
    }
