"""The in-memory survey: Typeform-like links, answers in pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fulfilment.adapters.survey.memory import MemorySurveySource, hidden_fields
from fulfilment.core.domain import OrderKey
from fulfilment.core.errors import TransientPartnerError
from fulfilment.core.ports import SurveySource
from tests.builders import T0

MINUTE = timedelta(minutes=1)


def test_it_is_a_survey_source() -> None:
    assert isinstance(MemorySurveySource("Xq7LmN2p"), SurveySource)


def test_a_link_carries_its_hidden_fields_url_encoded_in_the_fragment() -> None:
    survey = MemorySurveySource("Xq7LmN2p")

    link = survey.form_link(
        {"order": "shopify:shemsi-egypt:5551234567890", "first_name": "فاطمة Zahra"}
    )

    assert link == (
        "https://forms.example/to/Xq7LmN2p"
        "#order=shopify%3Ashemsi-egypt%3A5551234567890"
        "&first_name=%D9%81%D8%A7%D8%B7%D9%85%D8%A9%20Zahra"
    )
    assert hidden_fields(link) == {
        "order": "shopify:shemsi-egypt:5551234567890",
        "first_name": "فاطمة Zahra",
    }


def test_an_empty_hidden_value_stays_in_the_link() -> None:
    link = MemorySurveySource("f").form_link({"order": "shopify:s:1", "first_name": ""})

    assert link.endswith("#order=shopify%3As%3A1&first_name=")
    assert hidden_fields(link)["first_name"] == ""


def test_an_answer_names_the_order_its_hidden_field_parses_as() -> None:
    survey = MemorySurveySource("Xq7LmN2p")

    matched = survey.answer("r1", 9, T0, {"order": "shopify:shemsi-egypt:7"})
    stray = survey.answer("r2", 3, T0, {"order": "MA-10482"}, comment="بطيء")
    bare = survey.answer("r3", 7, T0, {})

    assert matched.order_key == OrderKey("shopify", "shemsi-egypt", "7")
    assert (stray.order_key, stray.hidden, stray.comment) == (
        None,
        {"order": "MA-10482"},
        "بطيء",
    )
    assert bare.order_key is None
    assert {r.form_id for r in survey.answers} == {"Xq7LmN2p"}


def test_answers_come_in_pages_oldest_first_to_the_end() -> None:
    survey = MemorySurveySource("f")
    for n in (3, 1, 4, 0, 2):
        survey.answer(f"r{n}", 9, T0 + n * MINUTE, {})

    first = survey.responses(since=None, after=None, page_size=2)
    second = survey.responses(since=None, after=first.after, page_size=2)
    third = survey.responses(since=None, after=second.after, page_size=2)
    done = survey.responses(since=None, after=third.after, page_size=2)

    pages = [first, second, third]
    assert [[r.response_id for r in p.responses] for p in pages] == [
        ["r0", "r1"],
        ["r2", "r3"],
        ["r4"],
    ]
    assert [p.more for p in pages] == [True, True, False]
    assert (done.responses, done.more, done.after) == ((), False, "r4")


def test_answers_since_a_moment_include_that_moment() -> None:
    survey = MemorySurveySource("f")
    for n in range(4):
        survey.answer(f"r{n}", 9, T0 + n * MINUTE, {})

    page = survey.responses(since=T0 + 2 * MINUTE, after=None, page_size=10)

    assert [r.response_id for r in page.responses] == ["r2", "r3"]
    assert survey.calls == 1


def test_a_failure_is_raised_once_then_answers_come_again() -> None:
    survey = MemorySurveySource("f")
    survey.answer("r1", 10, T0, {})
    survey.fail_next(TransientPartnerError("rate limited", partner="memory"))

    with pytest.raises(TransientPartnerError):
        survey.responses(since=None, after=None, page_size=10)
    page = survey.responses(since=None, after=None, page_size=10)

    assert [r.response_id for r in page.responses] == ["r1"]


def test_a_page_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="page_size"):
        MemorySurveySource("f").responses(since=None, after=None, page_size=0)
