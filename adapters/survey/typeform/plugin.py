"""Registers the Typeform survey under the name ``typeform``."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.adapters.pacing import SharedPace
from fulfilment.core.ports import SurveySource
from fulfilment.core.rate_budgets import budget_key

from .adapter import TypeformSurveySource
from .client import TypeformClient
from .settings import TypeformSettings

__all__ = ["build", "fulfilment_register_survey_sources"]


def build(settings: TypeformSettings, context: AdapterContext) -> TypeformSurveySource:
    """A Typeform survey talking to ``settings.base_url``, within the
    context's rate budget when there is one.  Typeform limits an account,
    and nothing but the token names it, so the key is the host alone: forms
    on one host share a budget, which is slower, never over the limit."""
    http = context.http_client(settings.base_url, settings.timeout)
    pace = None
    if context.rate_budget is not None:
        pace = SharedPace(
            context.rate_budget,
            budget_key("typeform", settings.base_url),
            settings.requests_per_second,
        )
    client = TypeformClient(http, settings.token, settings.form_id, pace=pace)
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
