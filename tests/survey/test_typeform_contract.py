"""The Typeform adapter keeps the survey contract, built by its plugin
factory from the simulator's sandbox settings and talking to it; and what
only a real HTTP conversation shows (partial answers filtered out, a rate
limit waited out, a wrong token refused)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

import pytest

from fulfilment.adapters.survey.typeform.adapter import TypeformSurveySource
from fulfilment.adapters.survey.typeform.plugin import (
    fulfilment_register_survey_sources,
)
from fulfilment.core.clock import ManualClock
from fulfilment.core.errors import PermanentPartnerError
from fulfilment.runners.sandbox.server import SimServer
from fulfilment.runners.sandbox.typeform import TypeformSimulator, rate_limited
from fulfilment.testing.builders import T0
from fulfilment.testing.surveys import (
    ORDER,
    Plant,
    SurveySourceContract,
    link_fields,
    walk,
)
from tests.notify.loopback import build, reset

Served = tuple[TypeformSimulator, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    sim = TypeformSimulator(
        data_dir=tmp_path_factory.mktemp("typeform"), clock=ManualClock(T0)
    )
    with SimServer(sim) as server:
        yield sim, server.url


@pytest.fixture
def simulator(served: Served) -> TypeformSimulator:
    sim = reset(served[0])
    assert isinstance(sim, TypeformSimulator)
    return sim


def typeform_survey(served: Served, **changes: str) -> TypeformSurveySource:
    sim, url = served
    factory = fulfilment_register_survey_sources()["typeform"]
    survey = build(factory, sim.sandbox_settings(url) | changes, sim.clock)
    assert isinstance(survey, TypeformSurveySource)
    return survey


class TestTypeformSurveySource(SurveySourceContract):
    @pytest.fixture
    def survey(
        self, served: Served, simulator: TypeformSimulator
    ) -> TypeformSurveySource:
        return typeform_survey(served)

    @pytest.fixture
    def plant(self, simulator: TypeformSimulator) -> Plant:
        def plant(
            hidden: Mapping[str, str], score: int, at: datetime, comment: str | None
        ) -> str:
            record = simulator.submit(hidden, score=score, at=at, comment=comment)
            return str(record["response_id"])

        return plant


def test_partial_answers_never_reach_the_connector(
    served: Served, simulator: TypeformSimulator
) -> None:
    simulator.abandon(link_fields("shopify:shemsiworld:1"), T0)
    kept = simulator.submit(link_fields(ORDER), score=9, at=T0)

    (page,) = walk(typeform_survey(served), None, 10)

    assert [r.response_id for r in page.responses] == [kept["response_id"]]


def test_customers_answering_in_the_sandbox_arrive_as_they_answered(
    served: Served, simulator: TypeformSimulator
) -> None:
    for n in range(40):
        hidden = link_fields(f"shopify:shemsi-egypt:{n}", "ليلى")
        simulator.answer(hidden, T0 + timedelta(minutes=n), language="ar")

    pages = walk(typeform_survey(served), T0, 7)

    answers = {r.response_id: r for p in pages for r in p.responses}
    expected = {r["response_id"]: r for r in simulator.completed()}
    assert set(answers) == set(expected)
    for response_id, answer in answers.items():
        record = expected[response_id]
        assert answer.hidden["order"] == record["hidden"]["order"]
        assert (
            answer.submitted_at.isoformat().replace("+00:00", "Z")
            == (record["submitted_at"])
        )


def test_a_rate_limit_is_waited_out(
    served: Served, simulator: TypeformSimulator
) -> None:
    simulator.submit(link_fields(ORDER), score=7, at=T0)
    simulator.faults.add("responses", rate_limited(0.5), rate_limited(0.5))

    (page,) = walk(typeform_survey(served), None, 10)

    assert [r.score for r in page.responses] == [7]
    assert [name for name, _ in simulator.requests] == ["responses"] * 3


def test_an_opinion_scale_form_reads_the_same(
    served: Served, simulator: TypeformSimulator
) -> None:
    simulator.score_type = "opinion_scale"
    try:
        simulator.submit(link_fields(ORDER), score=0, at=T0)
        (page,) = walk(typeform_survey(served), None, 10)
    finally:
        simulator.score_type = "nps"

    assert [r.score for r in page.responses] == [0]


def test_a_wrong_token_is_refused_for_good(
    served: Served, simulator: TypeformSimulator
) -> None:
    survey = typeform_survey(served, token="tfp_guessed")

    with pytest.raises(PermanentPartnerError) as refused:
        survey.responses(since=None, after=None, page_size=10)

    assert refused.value.status == 403
    assert refused.value.code == "AUTHENTICATION_FAILED"
    assert len(simulator.requests) == 1


def test_an_unknown_form_is_refused_for_good(
    served: Served, simulator: TypeformSimulator
) -> None:
    survey = typeform_survey(
        served, form_id="Other99", form_url="https://shemsi.typeform.test/to/Other99"
    )

    with pytest.raises(PermanentPartnerError, match="Non existing form") as refused:
        survey.responses(since=None, after=None, page_size=10)

    assert refused.value.code == "FORM_NOT_FOUND"
