"""The contract of the survey port, kept by the in-memory twin and by the
Typeform adapter talking to its loopback simulator.

A test class subclasses :class:`SurveySourceContract` and provides:

- ``survey``: the :class:`~fulfilment.core.ports.SurveySource`;
- ``plant``: a function ``(hidden, score, at, comment) -> response id``
  that makes a customer who opened a link carrying *hidden* submit an
  answer at *at*, as the provider would record it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import pytest

from fulfilment.adapters.survey.links import hidden_of_link
from fulfilment.core.domain import OrderKey
from fulfilment.core.ports import SurveyPage, SurveySource
from fulfilment.testing.builders import T0

Plant = Callable[[Mapping[str, str], int, datetime, "str | None"], str]

ORDER = "shopify:shemsiworld:1001"
ARABIC_NAME = "ليلى"
ARABIC_COMMENT = "التوصيل كان سريع والمنتج مطابق للصور، شكراً"


def walk(
    survey: SurveySource, since: datetime | None, page_size: int
) -> list[SurveyPage]:
    """Every page from the first to the one that says no more follow."""
    pages: list[SurveyPage] = []
    after: str | None = None
    while True:
        page = survey.responses(since=since, after=after, page_size=page_size)
        pages.append(page)
        if not page.more:
            return pages
        assert page.after is not None, "more pages promised without a token"
        after = page.after
        assert len(pages) < 200, "the walk does not end"


def link_fields(order: str, name: str = "Fatima") -> dict[str, str]:
    return {"order": order, "first_name": name}


class SurveySourceContract:
    def test_declares_its_name_and_form(self, survey: SurveySource) -> None:
        assert survey.name
        assert survey.form_id
        assert isinstance(survey, SurveySource)

    def test_a_link_carries_the_order_and_first_name_in_its_fragment(
        self, survey: SurveySource
    ) -> None:
        link = survey.form_link(link_fields(ORDER, "Layla Ben Ali"))

        assert link.startswith("https://")
        assert "?" not in link
        assert "Layla%20Ben%20Ali" in link
        assert hidden_of_link(link) == {"order": ORDER, "first_name": "Layla Ben Ali"}

    def test_an_arabic_first_name_survives_the_link(self, survey: SurveySource) -> None:
        link = survey.form_link(link_fields(ORDER, ARABIC_NAME))

        assert link.isascii()
        assert hidden_of_link(link)["first_name"] == ARABIC_NAME

    def test_an_answer_comes_back_with_its_score_comment_and_order(
        self, survey: SurveySource, plant: Plant
    ) -> None:
        response_id = plant(link_fields(ORDER), 9, T0, "Rapide et soigné")

        (page,) = walk(survey, T0 - timedelta(hours=1), 10)

        (answer,) = page.responses
        assert answer.response_id == response_id
        assert answer.form_id == survey.form_id
        assert answer.score == 9
        assert answer.comment == "Rapide et soigné"
        assert answer.submitted_at == T0
        assert answer.order_key == OrderKey.parse(ORDER)
        assert answer.hidden["order"] == ORDER
        assert answer.hidden["first_name"] == "Fatima"

    def test_an_arabic_comment_arrives_as_written(
        self, survey: SurveySource, plant: Plant
    ) -> None:
        plant(link_fields(ORDER, ARABIC_NAME), 10, T0, ARABIC_COMMENT)

        (page,) = walk(survey, None, 10)

        assert page.responses[0].comment == ARABIC_COMMENT
        assert page.responses[0].hidden["first_name"] == ARABIC_NAME

    def test_an_answer_without_a_comment_has_none(
        self, survey: SurveySource, plant: Plant
    ) -> None:
        plant(link_fields(ORDER), 4, T0, None)

        (page,) = walk(survey, None, 10)

        assert page.responses[0].comment is None
        assert page.responses[0].score == 4

    @pytest.mark.parametrize("page_size", [1, 2, 3, 7, 50])
    def test_a_walk_returns_every_answer_since_once(
        self, survey: SurveySource, plant: Plant, page_size: int
    ) -> None:
        planted = {
            plant(link_fields(f"shopify:shemsi-egypt:{n}"), n % 11, T0 + minutes, None)
            for n, minutes in enumerate(timedelta(minutes=m) for m in range(7))
        }

        pages = walk(survey, T0, page_size)

        ids = [r.response_id for p in pages for r in p.responses]
        assert sorted(ids) == sorted(planted)
        assert all(len(p.responses) <= page_size for p in pages)

    def test_answers_submitted_before_since_are_left_out(
        self, survey: SurveySource, plant: Plant
    ) -> None:
        plant(link_fields("shopify:shemsiworld:1"), 8, T0 - timedelta(hours=2), None)
        late = plant(link_fields("shopify:shemsiworld:2"), 6, T0, None)
        edge = plant(
            link_fields("shopify:shemsiworld:3"), 9, T0 - timedelta(hours=1), None
        )

        pages = walk(survey, T0 - timedelta(hours=1), 10)

        assert {r.response_id for p in pages for r in p.responses} == {late, edge}

    def test_each_page_lists_its_answers_oldest_first(
        self, survey: SurveySource, plant: Plant
    ) -> None:
        for n in range(5):
            plant(
                link_fields(f"shopify:shemsiworld:{n}"),
                7,
                T0 + timedelta(minutes=5 - n),
                None,
            )

        pages = walk(survey, None, 2)

        for page in pages:
            times = [r.submitted_at for r in page.responses]
            assert times == sorted(times)

    def test_pages_say_more_while_they_come_back_full(
        self, survey: SurveySource, plant: Plant
    ) -> None:
        for n in range(4):
            plant(
                link_fields(f"shopify:shemsiworld:{n}"),
                10,
                T0 + timedelta(minutes=n),
                None,
            )

        pages = walk(survey, None, 2)

        assert [(len(p.responses), p.more) for p in pages] == [
            (2, True),
            (2, True),
            (0, False),
        ]

    def test_an_empty_form_gives_one_last_page(self, survey: SurveySource) -> None:
        pages = walk(survey, T0, 25)

        assert [(p.responses, p.more) for p in pages] == [((), False)]

    def test_a_link_value_that_is_no_order_key_comes_back_without_one(
        self, survey: SurveySource, plant: Plant
    ) -> None:
        plant(link_fields("#1042"), 3, T0, None)

        (page,) = walk(survey, None, 10)

        (answer,) = page.responses
        assert answer.order_key is None
        assert answer.hidden["order"] == "#1042"

    def test_an_order_key_of_an_order_nobody_holds_is_still_read(
        self, survey: SurveySource, plant: Plant
    ) -> None:
        plant(link_fields("shopify:shemsi-uae:999999"), 10, T0, None)

        (page,) = walk(survey, None, 10)

        assert page.responses[0].order_key == OrderKey(
            "shopify", "shemsi-uae", "999999"
        )
