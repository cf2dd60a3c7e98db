"""The in-memory survey keeps the survey contract, and fails when told."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pytest

from fulfilment.adapters.survey.memory import FORMS_BASE, MemorySurveySource
from fulfilment.core.errors import PermanentPartnerError, TransientPartnerError
from fulfilment.core.nps import NpsResponse
from fulfilment.testing.builders import T0
from fulfilment.testing.surveys import ORDER, Plant, SurveySourceContract, link_fields


class TestMemorySurveySource(SurveySourceContract):
    @pytest.fixture
    def survey(self) -> MemorySurveySource:
        return MemorySurveySource("nps-test")

    @pytest.fixture
    def plant(self, survey: MemorySurveySource) -> Plant:
        def plant(
            hidden: Mapping[str, str], score: int, at: datetime, comment: str | None
        ) -> str:
            return survey.submit(
                hidden, score=score, at=at, comment=comment
            ).response_id

        return plant


def test_links_go_to_the_reserved_forms_host() -> None:
    link = MemorySurveySource("nps").form_link(link_fields(ORDER, "Léa"))

    assert link == (
        f"{FORMS_BASE}nps#order=shopify%3Ashemsiworld%3A1001&first_name=L%C3%A9a"
    )


def test_queued_failures_are_raised_one_read_each() -> None:
    survey = MemorySurveySource()
    survey.fail_next(TransientPartnerError("busy", partner="memory"))

    with pytest.raises(TransientPartnerError):
        survey.responses(since=None, after=None, page_size=5)
    page = survey.responses(since=None, after=None, page_size=5)

    assert page.responses == ()
    assert survey.reads == 2


def test_an_answer_to_another_form_is_refused() -> None:
    survey = MemorySurveySource("nps")
    other = NpsResponse("r1", "other", 9, T0)

    with pytest.raises(ValueError, match="to form other, not nps"):
        survey.add(other)


def test_a_token_it_never_gave_is_a_permanent_error() -> None:
    survey = MemorySurveySource()

    with pytest.raises(PermanentPartnerError, match="no answer 'nope'"):
        survey.responses(since=None, after="nope", page_size=5)
