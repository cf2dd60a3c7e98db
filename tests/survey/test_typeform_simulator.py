"""The loopback Typeform answers like Typeform: its error bodies, its
paging by tokens, its filters; its customers answer in a way the sandbox can
count on; and its world survives a restart."""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import cattrs
import httpx
import pytest

from fulfilment.adapters.survey.typeform import TypeformSettings
from fulfilment.core.nps import NpsCategory
from fulfilment.runners.sandbox.typeform import (
    SANDBOX_FORM_ID,
    SANDBOX_TOKEN,
    TypeformSimulator,
    rate_limited,
)
from fulfilment.runners.toml_writer import dumps
from fulfilment.testing.builders import T0
from fulfilment.testing.surveys import link_fields
from tests.notify.loopback import loopback_client

from .test_typeform_contract import Served, served, simulator

__all__ = ["served", "simulator"]

RESPONSES = f"/forms/{SANDBOX_FORM_ID}/responses"
BEARER = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
ARABIC_LETTERS = re.compile(r"[\u0600-\u06FF]")


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with loopback_client(served[1], 5.0) as client:
        yield client


def get(http: httpx.Client, headers: Any = None, path: str = RESPONSES, **query: Any):
    return http.get(path, params=query, headers=BEARER if headers is None else headers)


def plant(sim: TypeformSimulator, count: int, start: int = 0) -> list[str]:
    """*count* answers a minute apart; their tokens, oldest first."""
    return [
        sim.submit(
            link_fields(f"shopify:shemsiworld:{n}"),
            score=n % 11,
            at=T0 + timedelta(minutes=n),
        )["token"]
        for n in range(start, start + count)
    ]


def tokens_of(answer: httpx.Response) -> list[str]:
    return [item["token"] for item in answer.json()["items"]]


# --- refusals ------------------------------------------------------------------


def test_no_token_is_401_as_typeform_words_it(
    http: httpx.Client, simulator: TypeformSimulator
) -> None:
    answer = get(http, headers={})

    assert answer.status_code == 401
    assert answer.json() == {
        "code": "AUTHENTICATION_FAILED",
        "description": "Authentication credentials not found on the Request Headers",
    }


def test_a_wrong_token_is_403_as_typeform_words_it(
    http: httpx.Client, simulator: TypeformSimulator
) -> None:
    answer = get(http, headers={"Authorization": "Bearer tfp_guess"})

    assert answer.status_code == 403
    assert answer.json() == {
        "code": "AUTHENTICATION_FAILED",
        "description": "Authentication failed",
    }


def test_another_form_is_not_found(
    http: httpx.Client, simulator: TypeformSimulator
) -> None:
    answer = get(http, path="/forms/Nope42/responses")

    assert answer.status_code == 404
    assert answer.json() == {
        "code": "FORM_NOT_FOUND",
        "description": "Non existing form with uid Nope42",
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 1001}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"since": "last tuesday"}, "since"),
        ({"until": "2024-13-01"}, "until"),
        ({"response_type": "finished"}, "response_type"),
        ({"completed": "yes"}, "response_type"),
        ({"before": "nope"}, "before"),
        ({"after": "nope"}, "after"),
    ],
)
def test_a_bad_query_value_is_a_validation_error_naming_it(
    http: httpx.Client, simulator: TypeformSimulator, query: dict[str, Any], field: str
) -> None:
    plant(simulator, 1)

    answer = get(http, **query)

    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in body["details"]] == [field]
    assert body["details"][0]["in"] == "query"


def test_sort_cannot_be_combined_with_a_token(
    http: httpx.Client, simulator: TypeformSimulator
) -> None:
    (token,) = plant(simulator, 1)

    answer = get(http, before=token, sort="submitted_at,desc")

    assert answer.status_code == 400
    assert answer.json()["details"][0]["field"] == "sort"


def test_a_rate_limit_fault_answers_429_with_retry_after(
    http: httpx.Client, simulator: TypeformSimulator
) -> None:
    simulator.faults.add("responses", rate_limited(3))

    answer = get(http)

    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "3"
    assert get(http).status_code == 200


# --- listing -------------------------------------------------------------------


def test_lists_newest_first_with_totals_for_the_whole_query(
    http: httpx.Client, simulator: TypeformSimulator
) -> None:
    tokens = plant(simulator, 5)

    answer = get(http, page_size=2)

    body = answer.json()
    assert tokens_of(answer) == [tokens[4], tokens[3]]
    assert (body["total_items"], body["page_count"]) == (5, 3)


def test_before_tokens_walk_back_through_every_answer_once(
    http: httpx.Client, simulator: TypeformSimulator
) -> None:
    tokens = plant(simulator, 7)
    seen: list[str] = []

    page = tokens_of(get(http, page_size=3))
    while page:
        seen += page
        page = tokens_of(get(http, page_size=3, before=page[-1]))

    assert seen == list(reversed(tokens))


def test_after_tokens_walk_forward_oldest_first(
    http: httpx.Client, simulator: TypeformSimulator
) -> None:
    tokens = plant(simulator, 5)

    answer = get(http, page_size=2, after=tokens[1])

    assert tokens_of(answer) == [tokens[2], tokens[3]]


def test_since_and_until_bound_the_submission_time_inclusively(
    http: httpx.Client, simulator: TypeformSimulator
) -> None:
    tokens = plant(simulator, 5)
    since = (T0 + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = str(int((T0 + timedelta(minutes=3)).timestamp()))

    answer = get(http, since=since, until=until)

    assert tokens_of(answer) == [tokens[3], tokens[2], tokens[1]]


def test_a_camel_case_page_size_is_ignored_as_typeform_ignores_it(
    http: httpx.Client, simulator: TypeformSimulator
) -> None:
    plant(simulator, 30)

    answer = get(http, pageSize=5)

    assert len(answer.json()["items"]) == 25


def test_partial_answers_show_only_when_asked_for(
    http: httpx.Client, simulator: TypeformSimulator
) -> None:
    (done,) = plant(simulator, 1)
    partial = simulator.abandon(link_fields("shopify:shemsiworld:77"), T0)["token"]

    assert tokens_of(get(http)) == [done]
    assert tokens_of(get(http, response_type="completed")) == [done]
    assert tokens_of(get(http, completed="true")) == [done]
    assert tokens_of(get(http, completed="false")) == [partial]
    assert tokens_of(get(http, response_type="partial")) == [partial]
    assert set(tokens_of(get(http, response_type="partial,completed"))) == {
        done,
        partial,
    }


def test_an_item_has_typeforms_shape(
    http: httpx.Client, simulator: TypeformSimulator
) -> None:
    simulator.submit(
        link_fields("shopify:shemsiworld:5"), score=9, at=T0, comment="Top"
    )

    (item,) = get(http).json()["items"]

    assert item["token"] == item["response_id"] == item["landing_id"]
    assert re.fullmatch(r"[a-z2-7]{32}", item["token"])
    assert item["response_type"] == "completed"
    assert item["submitted_at"] == "2026-11-02T09:00:00Z"
    assert item["landed_at"] < item["submitted_at"]
    assert item["hidden"] == {"order": "shopify:shemsiworld:5", "first_name": "Fatima"}
    assert [(a["field"]["type"], a["type"]) for a in item["answers"]] == [
        ("nps", "number"),
        ("long_text", "text"),
        ("yes_no", "boolean"),
    ]
    assert item["answers"][0]["number"] == 9
    assert item["answers"][1]["text"] == "Top"
    assert not any(key.startswith("_") for key in item)


# --- customers answering -------------------------------------------------------


@pytest.fixture
def fresh() -> TypeformSimulator:
    """A simulator with no folder to save to (nothing served)."""
    return TypeformSimulator()


def asked(sim: TypeformSimulator, count: int, language: str | None = None) -> list[Any]:
    return [
        sim.answer(
            link_fields(f"shopify:shemsi-egypt:{n}"),
            T0 + timedelta(minutes=n),
            language=language,
        )
        for n in range(count)
    ]


def test_about_sixty_percent_of_customers_answer(
    fresh: TypeformSimulator,
) -> None:
    answers = [a for a in asked(fresh, 300) if a is not None]

    assert 150 <= len(answers) <= 210
    assert len(fresh.completed()) == len(answers)


def test_answers_spread_over_all_three_categories(
    fresh: TypeformSimulator,
) -> None:
    answers = [a for a in asked(fresh, 200) if a is not None]

    categories = Counter(NpsCategory.of(a["answers"][0]["number"]) for a in answers)
    assert set(categories) == set(NpsCategory)
    assert categories[NpsCategory.PROMOTER] > categories[NpsCategory.DETRACTOR] > 0


@pytest.mark.parametrize(
    ("language", "check"),
    [
        ("ar", lambda text: ARABIC_LETTERS.search(text) is not None),
        ("fr", lambda text: any(w in text for w in ("merci", "livr", "Livr"))),
        ("en", lambda text: text.isascii()),
    ],
)
def test_some_customers_comment_in_the_language_asked(
    fresh: TypeformSimulator, language: str, check: Any
) -> None:
    answers = [a for a in asked(fresh, 60, language) if a is not None]

    comments = [
        a["answers"][1]["text"]
        for a in answers
        if a["answers"][1]["field"]["type"] == "long_text"
    ]
    assert 0 < len(comments) < len(answers)
    assert all(check(c) for c in comments)


def test_the_links_language_is_used_when_none_is_asked(
    fresh: TypeformSimulator,
) -> None:
    commented = [
        fresh.answer(
            {**link_fields(f"shopify:shemsiworld:{n}"), "lang": "ar"},
            T0 + timedelta(minutes=n),
        )
        for n in range(40)
    ]

    texts = [
        answer["answers"][1]["text"]
        for answer in commented
        if answer is not None and answer["answers"][1]["type"] == "text"
    ]
    assert texts
    assert all(ARABIC_LETTERS.search(t) for t in texts)


def test_the_order_key_alone_decides_and_asking_again_changes_nothing(
    fresh: TypeformSimulator,
) -> None:
    first = asked(fresh, 30)
    other = TypeformSimulator()

    again = asked(fresh, 30)
    elsewhere = asked(other, 30)

    assert again == first
    assert [a is None for a in elsewhere] == [a is None for a in first]
    assert [a and a["answers"][0]["number"] for a in elsewhere] == [
        a and a["answers"][0]["number"] for a in first
    ]
    assert len(fresh.completed()) == sum(a is not None for a in first)


def test_some_customers_who_do_not_answer_leave_a_partial_response(
    fresh: TypeformSimulator,
) -> None:
    asked(fresh, 100)

    kinds = Counter(r["response_type"] for r in fresh.state["responses"])
    assert kinds["partial"] > 0
    assert all(
        "submitted_at" not in r
        for r in fresh.state["responses"]
        if r["response_type"] == "partial"
    )


def test_a_link_without_an_order_cannot_be_answered(
    fresh: TypeformSimulator,
) -> None:
    with pytest.raises(ValueError, match="order"):
        fresh.answer({"first_name": "Layla"}, T0)


# --- the world across runs and configuration -----------------------------------


def test_answers_survive_a_restart_over_the_same_folder(tmp_path: Path) -> None:
    first = TypeformSimulator(data_dir=tmp_path)
    kept = first.submit(link_fields("shopify:shemsiworld:1"), score=10, at=T0)

    second = TypeformSimulator(data_dir=tmp_path)

    assert second.completed() == [kept]
    saved = json.loads((tmp_path / "typeform.json").read_text(encoding="utf-8"))
    assert saved["responses"][0]["token"] == kept["token"]


def test_the_sandbox_table_is_a_valid_configuration_on_a_reserved_host() -> None:
    table = TypeformSimulator().sandbox_settings("http://127.0.0.1:9")
    document = tomllib.loads(dumps({"survey": table}))

    settings = cattrs.Converter(forbid_extra_keys=True).structure(
        document["survey"], TypeformSettings
    )

    assert settings.form_url == f"https://shemsi.typeform.test/to/{SANDBOX_FORM_ID}"
    assert settings.base_url == "http://127.0.0.1:9"
    assert settings.score_field_ref == "nps_score"
    assert settings.comment_field_ref == "nps_reason"
