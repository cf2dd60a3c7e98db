"""The Typeform adapter over HTTP, routed by respx: the query it sends, the
answers it reads from Typeform's items, and what each refusal and failure
means."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.retry import RetryPolicy
from fulfilment.adapters.survey.links import hidden_of_link
from fulfilment.adapters.survey.typeform import (
    TypeformClient,
    TypeformSettings,
    TypeformSurveySource,
)
from fulfilment.core.domain import OrderKey
from fulfilment.core.errors import (
    OutcomeUnknown,
    PermanentPartnerError,
    TransientPartnerError,
)

HOST = "https://api.typeform.test"
FORM = "Xq7LmN2p"
RESPONSES = f"/forms/{FORM}/responses"
TOKEN = "tfp_FAKE_3hT9wq"
TLS = ssl.create_default_context()
SINCE = datetime(2024, 6, 4, 0, 0, tzinfo=UTC)
ORDER = "shopify:shemsiworld:10482"
ARABIC = "التوصيل كان سريع والمنتج مطابق للصور"


def settings(**changes: Any) -> TypeformSettings:
    values: dict[str, Any] = {
        "base_url": HOST,
        "token": TOKEN,
        "form_id": FORM,
        "form_url": f"https://zellige.typeform.test/to/{FORM}",
        **changes,
    }
    return TypeformSettings(**values)


def survey_for(
    config: TypeformSettings | None = None, retry: RetryPolicy | None = None
) -> TypeformSurveySource:
    config = config or settings()
    http = httpx.Client(base_url=HOST, verify=TLS)
    client = TypeformClient(http, config.token, config.form_id)
    return TypeformSurveySource(config, client, retry or RetryPolicy.for_tests())


def score(number: Any, field_type: str = "opinion_scale", ref: str = "nps_score"):
    field = {"id": "Fq1nPs0aZ9", "type": field_type, "ref": ref}
    return {"field": field, "type": "number", "number": number}


def text(words: str, field_type: str = "long_text", ref: str = "nps_reason"):
    field = {"id": "Lk4bVw8rT2", "type": field_type, "ref": ref}
    return {"field": field, "type": "text", "text": words}


def item(
    token: str,
    submitted_at: str,
    answers: list[dict[str, Any]],
    hidden: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "landing_id": token,
        "token": token,
        "response_id": token,
        "landed_at": submitted_at,
        "submitted_at": submitted_at,
        "metadata": {"platform": "mobile", "browser": "default"},
        "hidden": {"order": ORDER, "first_name": "Layla"} if hidden is None else hidden,
        "calculated": {"score": 0},
        "answers": answers,
        **extra,
    }


def page(*items: dict[str, Any], total: int | None = None) -> dict[str, Any]:
    count = len(items) if total is None else total
    return {"total_items": count, "page_count": 1, "items": list(items)}


NEWEST = item("k2w9d5m1", "2024-06-05T18:21:37Z", [score(10), text(ARABIC)])
OLDER = item(
    "a8s3d6f1",
    "2024-06-05T09:03:02Z",
    [score(6), text("Le livreur était en retard")],
    hidden={"order": "shopify:shemsi-egypt:55017", "first_name": "Ahmed"},
)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(
        base_url=HOST, assert_all_called=True, assert_all_mocked=True
    ) as mock:
        yield mock


def test_asks_for_completed_answers_with_snake_case_names_and_a_bearer_token(
    router: respx.MockRouter,
) -> None:
    route = router.get(RESPONSES).respond(200, json=page())

    survey_for().responses(since=SINCE, after=None, page_size=25)

    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert dict(request.url.params) == {
        "page_size": "25",
        "response_type": "completed",
        "since": "2024-06-04T00:00:00Z",
    }


def test_the_next_page_is_asked_before_the_last_items_token(
    router: respx.MockRouter,
) -> None:
    route = router.get(RESPONSES)
    route.side_effect = [
        httpx.Response(200, json=page(NEWEST, OLDER, total=3)),
        httpx.Response(200, json=page(total=3)),
    ]
    survey = survey_for()

    first = survey.responses(since=SINCE, after=None, page_size=2)
    last = survey.responses(since=SINCE, after=first.after, page_size=2)

    assert (first.after, first.more) == ("a8s3d6f1", True)
    assert (last.responses, last.more) == ((), False)
    params = route.calls[1].request.url.params
    assert params["before"] == "a8s3d6f1"
    assert "after" not in params
    assert "sort" not in params


def test_reads_each_item_into_an_answer_oldest_first(
    router: respx.MockRouter,
) -> None:
    router.get(RESPONSES).respond(200, json=page(NEWEST, OLDER))

    answers = survey_for().responses(since=SINCE, after=None, page_size=25).responses

    assert [a.response_id for a in answers] == ["a8s3d6f1", "k2w9d5m1"]
    older, newest = answers
    assert (older.score, older.comment) == (6, "Le livreur était en retard")
    assert older.order_key == OrderKey("shopify", "shemsi-egypt", "55017")
    assert newest.score == 10
    assert newest.comment == ARABIC
    assert newest.submitted_at == datetime(2024, 6, 5, 18, 21, 37, tzinfo=UTC)
    assert newest.hidden == {"order": ORDER, "first_name": "Layla"}
    assert newest.form_id == FORM


@pytest.mark.parametrize("field_type", ["nps", "opinion_scale"])
def test_an_nps_or_opinion_scale_question_holds_the_score(
    router: respx.MockRouter, field_type: str
) -> None:
    answers = [text("ok", "short_text"), score(8, field_type, ref="q1")]
    router.get(RESPONSES).respond(
        200, json=page(item("t1", "2024-06-05T10:00:00Z", answers))
    )

    (answer,) = survey_for().responses(since=None, after=None, page_size=5).responses

    assert answer.score == 8
    assert answer.comment == "ok"


def test_the_configured_refs_pick_the_score_and_comment_questions(
    router: respx.MockRouter,
) -> None:
    answers = [
        score(2, "opinion_scale", ref="delivery_speed"),
        text("Emballage abîmé", ref="delivery_notes"),
        score(9, "nps", ref="recommend"),
        text("Je recommande", ref="why"),
    ]
    router.get(RESPONSES).respond(
        200, json=page(item("t1", "2024-06-05T10:00:00Z", answers))
    )
    config = settings(score_field_ref="recommend", comment_field_ref="why")

    (answer,) = (
        survey_for(config).responses(since=None, after=None, page_size=5).responses
    )

    assert (answer.score, answer.comment) == (9, "Je recommande")


def test_without_refs_the_first_answers_of_each_kind_are_read(
    router: respx.MockRouter,
) -> None:
    answers = [
        {
            "field": {"id": "b", "type": "yes_no", "ref": "again"},
            "type": "boolean",
            "boolean": True,
        },
        score(7, "nps", ref="first"),
        score(1, "opinion_scale", ref="second"),
        text("  premier  ", ref="a"),
        text("second", ref="b"),
    ]
    router.get(RESPONSES).respond(
        200, json=page(item("t1", "2024-06-05T10:00:00Z", answers))
    )

    (answer,) = survey_for().responses(since=None, after=None, page_size=5).responses

    assert (answer.score, answer.comment) == (7, "premier")


def test_a_blank_comment_is_no_comment(router: respx.MockRouter) -> None:
    answers = [score(9), text("   ")]
    router.get(RESPONSES).respond(
        200, json=page(item("t1", "2024-06-05T10:00:00Z", answers))
    )

    (answer,) = survey_for().responses(since=None, after=None, page_size=5).responses

    assert answer.comment is None


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        ([], "no_score"),
        ([score(11)], "no_score"),
        ([score(-1)], "no_score"),
        ([score(7.5)], "no_score"),
        ([score("9")], "no_score"),
        ([score(True)], "no_score"),
        ([text("Aucune note")], "no_score"),
    ],
    ids=["none", "eleven", "negative", "fraction", "string", "boolean", "text-only"],
)
def test_an_item_without_a_usable_score_is_left_out_and_logged_by_id_alone(
    router: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    answers: list[dict[str, Any]],
    reason: str,
) -> None:
    bad = item("bad1", "2024-06-05T10:00:00Z", answers)
    router.get(RESPONSES).respond(200, json=page(bad, NEWEST))
    caplog.set_level(logging.WARNING)

    result = survey_for().responses(since=None, after=None, page_size=2)

    assert [a.response_id for a in result.responses] == ["k2w9d5m1"]
    assert result.more is True  # two items came, whatever became of them
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "response=bad1" in message
    assert f"reason={reason}" in message
    assert "Layla" not in message
    assert ORDER not in message


def test_a_fractionless_float_score_is_read_as_a_whole_number(
    router: respx.MockRouter,
) -> None:
    router.get(RESPONSES).respond(
        200, json=page(item("t1", "2024-06-05T10:00:00Z", [score(9.0)]))
    )

    (answer,) = survey_for().responses(since=None, after=None, page_size=5).responses

    assert answer.score == 9
    assert isinstance(answer.score, int)


@pytest.mark.parametrize(
    "broken",
    [
        item("p1", "2024-06-05T10:00:00Z", [score(9)], response_type="partial"),
        {**item("p2", "2024-06-05T10:00:00Z", [score(9)]), "submitted_at": None},
        {**item("p3", "2024-06-05T10:00:00Z", [score(9)]), "submitted_at": "yesterday"},
        {**item("", "2024-06-05T10:00:00Z", [score(9)]), "response_id": None},
        "not an item",
    ],
    ids=["partial", "no-time", "bad-time", "no-id", "not-an-object"],
)
def test_items_that_are_not_completed_answers_are_left_out(
    router: respx.MockRouter, broken: Any
) -> None:
    router.get(RESPONSES).respond(200, json=page(broken, NEWEST))

    result = survey_for().responses(since=None, after=None, page_size=25)

    assert [a.response_id for a in result.responses] == ["k2w9d5m1"]


def test_a_link_value_that_is_no_order_key_is_kept_in_hidden(
    router: respx.MockRouter,
) -> None:
    hidden = {"order": "MA-10482", "first_name": "Layla", "store": "ma"}
    router.get(RESPONSES).respond(
        200, json=page(item("t1", "2024-06-05T10:00:00Z", [score(5)], hidden))
    )

    (answer,) = survey_for().responses(since=None, after=None, page_size=5).responses

    assert answer.order_key is None
    assert answer.hidden == hidden


def test_the_order_is_read_from_the_forms_own_hidden_field(
    router: respx.MockRouter,
) -> None:
    hidden = {"order_id": ORDER, "name": "Layla"}
    router.get(RESPONSES).respond(
        200, json=page(item("t1", "2024-06-05T10:00:00Z", [score(5)], hidden))
    )
    config = settings(order_field="order_id", first_name_field="name")

    (answer,) = (
        survey_for(config).responses(since=None, after=None, page_size=5).responses
    )

    assert answer.order_key == OrderKey.parse(ORDER)


def test_since_is_sent_to_the_second_and_earlier_answers_are_dropped(
    router: respx.MockRouter,
) -> None:
    edge = item("edge", "2024-06-04T00:00:00Z", [score(9)])
    route = router.get(RESPONSES).respond(200, json=page(NEWEST, edge))
    since = datetime(2024, 6, 4, 0, 0, 0, 700_000, tzinfo=UTC)

    result = survey_for().responses(since=since, after=None, page_size=25)

    assert route.calls.last.request.url.params["since"] == "2024-06-04T00:00:00Z"
    assert [a.response_id for a in result.responses] == ["k2w9d5m1"]


def test_the_page_size_asked_is_capped_by_the_settings(
    router: respx.MockRouter,
) -> None:
    route = router.get(RESPONSES).respond(200, json=page(NEWEST, OLDER))

    result = survey_for(settings(page_size=2)).responses(
        since=None, after=None, page_size=500
    )

    assert route.calls.last.request.url.params["page_size"] == "2"
    assert result.more is True


def test_a_full_page_whose_last_item_has_no_token_cannot_be_followed(
    router: respx.MockRouter,
) -> None:
    tokenless = {**OLDER, "token": None, "response_id": None}
    router.get(RESPONSES).respond(200, json=page(NEWEST, tokenless))

    with pytest.raises(PermanentPartnerError, match="no token"):
        survey_for().responses(since=None, after=None, page_size=2)


@pytest.mark.parametrize(
    ("status", "body", "code", "words"),
    [
        (
            401,
            {
                "code": "AUTHENTICATION_FAILED",
                "description": "Authentication credentials not found on the "
                "Request Headers",
            },
            "AUTHENTICATION_FAILED",
            "credentials not found",
        ),
        (
            403,
            {"code": "AUTHENTICATION_FAILED", "description": "Authentication failed"},
            "AUTHENTICATION_FAILED",
            "Authentication failed",
        ),
        (
            404,
            {
                "code": "FORM_NOT_FOUND",
                "description": f"Non existing form with uid {FORM}",
            },
            "FORM_NOT_FOUND",
            "Non existing form",
        ),
        (
            400,
            {
                "code": "VALIDATION_ERROR",
                "description": "The payload is invalid.",
                "details": [
                    {
                        "code": "INVALID_VALUE",
                        "description": "must be 1 to 1000",
                        "field": "page_size",
                        "in": "query",
                    }
                ],
            },
            "VALIDATION_ERROR",
            "page_size: must be 1 to 1000",
        ),
    ],
    ids=["401", "403", "404", "400"],
)
def test_refusals_are_permanent_errors_in_typeforms_words(
    router: respx.MockRouter, status: int, body: dict[str, Any], code: str, words: str
) -> None:
    route = router.get(RESPONSES).respond(status, json=body)

    with pytest.raises(PermanentPartnerError) as refused:
        survey_for().responses(since=None, after=None, page_size=25)

    assert refused.value.status == status
    assert refused.value.code == code
    assert words in str(refused.value)
    assert route.call_count == 1
    assert TOKEN not in str(refused.value)


def test_a_429_is_retried_after_the_wait_typeform_asks_for(
    router: respx.MockRouter,
) -> None:
    waits: list[float] = []
    route = router.get(RESPONSES)
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "2"}, json={"code": "x"}),
        httpx.Response(200, json=page(NEWEST)),
    ]

    result = survey_for(retry=RetryPolicy(sleep=waits.append)).responses(
        since=None, after=None, page_size=25
    )

    assert [a.response_id for a in result.responses] == ["k2w9d5m1"]
    assert waits == [2.0]
    assert route.call_count == 2


def test_a_429_that_never_ends_is_a_transient_error(router: respx.MockRouter) -> None:
    route = router.get(RESPONSES).respond(429)

    with pytest.raises(TransientPartnerError) as busy:
        survey_for(retry=RetryPolicy.for_tests(attempts=3)).responses(
            since=None, after=None, page_size=25
        )

    assert not isinstance(busy.value, OutcomeUnknown)
    assert route.call_count == 3


@pytest.mark.parametrize("failure", [500, 502, 503, 504, httpx.ReadTimeout("slow")])
def test_a_failed_read_is_read_again_because_reading_changes_nothing(
    router: respx.MockRouter, failure: Any
) -> None:
    route = router.get(RESPONSES)
    first = (
        httpx.Response(failure, text="upstream")
        if isinstance(failure, int)
        else failure
    )
    route.side_effect = [first, httpx.Response(200, json=page(NEWEST))]

    result = survey_for().responses(since=None, after=None, page_size=25)

    assert len(result.responses) == 1
    assert route.call_count == 2


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>captive portal</html>"),
        httpx.Response(200, json={"total_items": 0}),
        httpx.Response(200, json=["not", "a", "page"]),
        httpx.Response(200, json={"items": "none"}),
    ],
    ids=["html", "no-items", "a-list", "items-not-a-list"],
)
def test_a_garbled_page_is_retried_then_reported_as_transient(
    router: respx.MockRouter, answer: httpx.Response
) -> None:
    route = router.get(RESPONSES).mock(return_value=answer)

    with pytest.raises(TransientPartnerError, match="unreadable page"):
        survey_for(retry=RetryPolicy.for_tests(attempts=2)).responses(
            since=None, after=None, page_size=25
        )

    assert route.call_count == 2


def test_a_link_writes_the_hidden_fields_into_the_fragment() -> None:
    link = survey_for().form_link({"order": ORDER, "first_name": "Layla Ben"})

    assert link == (
        f"https://zellige.typeform.test/to/{FORM}"
        "#order=shopify%3Ashemsiworld%3A10482&first_name=Layla%20Ben"
    )


def test_a_link_uses_the_forms_hidden_field_names_and_keeps_others() -> None:
    config = settings(order_field="order_id", first_name_field="name")

    link = survey_for(config).form_link(
        {"order": ORDER, "first_name": "ليلى", "lang": "ar"}
    )

    assert hidden_of_link(link) == {"order_id": ORDER, "name": "ليلى", "lang": "ar"}
    assert link.isascii()


def test_an_empty_first_name_is_left_out_of_the_link() -> None:
    link = survey_for().form_link({"order": ORDER, "first_name": ""})

    assert hidden_of_link(link) == {"order": ORDER}


# --- settings ----------------------------------------------------------------


def test_settings_have_no_default_api_host() -> None:
    with pytest.raises(TypeError):
        TypeformSettings(token=TOKEN, form_id=FORM, form_url="https://a.test/to/x")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"base_url": "api.typeform.com"}, "base_url"),
        ({"form_url": "zellige.typeform.test/to/Xq7LmN2p"}, "form_url"),
        (
            {"form_url": "https://zellige.typeform.test/to/Other1"},
            "does not lead to form",
        ),
        ({"form_url": f"https://z.typeform.test/to/{FORM}#order=1"}, "address alone"),
        ({"token": "  "}, "token must not be blank"),
        ({"form_id": "a/b"}, "form id"),
        ({"page_size": 1001}, "1 to 1000"),
        ({"page_size": 0}, "1 to 1000"),
        ({"order_field": "Order"}, "hidden field name"),
        ({"first_name_field": "order"}, "must differ"),
        ({"score_field_ref": " "}, "score_field_ref"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        settings(**changes)


def test_a_form_url_with_a_trailing_slash_or_own_domain_is_accepted() -> None:
    config = settings(form_url=f"https://survey.shemsi.test/to/{FORM}/")

    assert config.form_url.endswith("/")


def test_the_token_stays_out_of_repr() -> None:
    assert TOKEN not in repr(settings())
