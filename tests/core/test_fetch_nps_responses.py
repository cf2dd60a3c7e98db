"""fetch-nps-responses: a survey's answers come into the NPS store once
each, tied to their orders, with one discount entry per answer and one
attention item per answer that names no order we hold."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest

from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.adapters.survey.memory import MemorySurveySource
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import OrderKey
from fulfilment.core.errors import (
    IncompleteRead,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.ports import EffectStatus, SurveyPage, SurveySource
from fulfilment.core.workers.fetch_nps_responses import (
    DISCOUNT,
    NPS_UNMATCHED,
    FetchNpsReport,
    FetchNpsSettings,
    cursor_name,
    discount_key,
    fetch_nps_responses,
)
from fulfilment.testing.builders import T0, make_order

FORM = "nps-form"
KNOWN = [f"shopify:shemsiworld:{n}" for n in range(1, 6)]


@attrs.define
class Shop:
    clock: ManualClock
    storage: MemoryStorage
    survey: MemorySurveySource

    @classmethod
    def open(cls, form: str = FORM) -> Shop:
        storage = MemoryStorage()
        storage.orders.save_many(
            [make_order(OrderKey.parse(k).external_id) for k in KNOWN]
        )
        return cls(ManualClock(T0), storage, MemorySurveySource(form))

    def answer(
        self,
        order: str,
        *,
        score: int = 9,
        ago: timedelta = timedelta(minutes=1),
        name: str = "Fatima",
    ) -> str:
        hidden = {"order": order, "first_name": name}
        at = self.clock.now() - ago
        return self.survey.submit(hidden, score=score, at=at).response_id

    def fetch(
        self, survey: SurveySource | None = None, **settings: Any
    ) -> FetchNpsReport:
        return fetch_nps_responses(
            survey=survey or self.survey,
            orders=self.storage.orders,
            nps=self.storage.nps,
            cursors=self.storage.cursors,
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            clock=self.clock,
            settings=FetchNpsSettings(**settings),
        )

    def discounts(self) -> list[Any]:
        return [
            e
            for e in self.storage.ledger.with_status(EffectStatus.QUEUED, 1000)
            if e.kind == DISCOUNT
        ]


class FailingRead:
    """*inner*, whose read number *at* raises *error* instead."""

    def __init__(self, inner: SurveySource, at: int, error: Exception) -> None:
        self._inner, self._at, self._error = inner, at, error
        self.name, self.form_id = inner.name, inner.form_id
        self.reads = 0

    def form_link(self, hidden: Mapping[str, str]) -> str:
        return self._inner.form_link(hidden)

    def responses(
        self, *, since: datetime | None, after: str | None, page_size: int
    ) -> SurveyPage:
        self.reads += 1
        if self.reads == self._at:
            raise self._error
        return self._inner.responses(since=since, after=after, page_size=page_size)


class StuckToken(FailingRead):
    """A survey that always promises more after the same token."""

    def responses(
        self, *, since: datetime | None, after: str | None, page_size: int
    ) -> SurveyPage:
        page = self._inner.responses(since=since, after=None, page_size=page_size)
        return attrs.evolve(page, after="same", more=True)


def test_reads_every_page_and_keeps_each_answer_once() -> None:
    shop = Shop.open()
    planted = [
        shop.answer(k, ago=timedelta(minutes=10 - n)) for n, k in enumerate(KNOWN)
    ]

    report = shop.fetch(page_size=2)

    assert (report.pages, report.fetched, report.new, report.duplicates) == (3, 5, 5, 0)
    stored = shop.storage.nps.responses()
    assert [r.response_id for r in stored] == planted
    assert [str(r.order_key) for r in stored] == KNOWN


def test_a_matched_answer_queues_one_discount_entry_for_its_order() -> None:
    shop = Shop.open()
    response_id = shop.answer(KNOWN[0], score=10)

    report = shop.fetch()

    (entry,) = shop.discounts()
    assert report.queued == 1
    assert entry.key == discount_key(FORM, response_id)
    assert entry.key == f"discount:{FORM}:{response_id}"
    assert entry.subject == KNOWN[0]
    assert entry.status is EffectStatus.QUEUED
    assert dict(entry.result) == {"form": FORM, "response": response_id}


def test_the_overlap_rereads_recent_answers_and_changes_nothing() -> None:
    shop = Shop.open()
    for key in KNOWN[:3]:
        shop.answer(key)
    shop.fetch()
    shop.clock.advance(timedelta(minutes=20))

    report = shop.fetch()

    assert (report.fetched, report.new, report.duplicates) == (3, 0, 3)
    assert report.queued == 0
    assert len(shop.discounts()) == 3
    assert len(shop.storage.nps.responses()) == 3


def test_an_answer_listed_late_inside_the_overlap_is_still_read() -> None:
    shop = Shop.open()
    shop.answer(KNOWN[0], ago=timedelta(minutes=1))
    shop.fetch()
    shop.clock.advance(timedelta(minutes=5))
    late = shop.answer(KNOWN[1], ago=timedelta(minutes=40))

    report = shop.fetch(overlap=timedelta(hours=1))

    assert report.new == 1
    assert shop.storage.nps.get_response(FORM, late) is not None


def test_the_watermark_moves_to_the_newest_answer_once_the_walk_is_stored() -> None:
    shop = Shop.open()
    shop.answer(KNOWN[0], ago=timedelta(minutes=30))
    shop.answer(KNOWN[1], ago=timedelta(minutes=3))

    report = shop.fetch(page_size=1, overlap=timedelta(minutes=10))

    newest = T0 - timedelta(minutes=3)
    assert report.cursor == newest
    assert shop.storage.cursors.get(cursor_name(shop.survey)) == newest
    assert cursor_name(shop.survey) == f"fetch-nps-responses:memory:{FORM}"
    shop.clock.advance(timedelta(hours=1))
    assert shop.fetch(overlap=timedelta(minutes=10)).since == newest - timedelta(
        minutes=10
    )


def test_a_first_run_reads_back_the_lookback_only() -> None:
    shop = Shop.open()
    shop.answer(KNOWN[0], ago=timedelta(days=40))
    recent = shop.answer(KNOWN[1], ago=timedelta(days=2))

    report = shop.fetch(first_run_lookback=timedelta(days=30))

    assert report.since == T0 - timedelta(days=30)
    assert [r.response_id for r in shop.storage.nps.responses()] == [recent]


def test_a_first_run_without_a_lookback_reads_every_answer() -> None:
    shop = Shop.open()
    shop.answer(KNOWN[0], ago=timedelta(days=400))

    report = shop.fetch(first_run_lookback=None)

    assert report.since is None
    assert report.new == 1


def test_each_form_keeps_its_own_watermark() -> None:
    shop = Shop.open()
    other = MemorySurveySource("second-form")
    shop.answer(KNOWN[0], ago=timedelta(minutes=50))
    other.submit({"order": KNOWN[1]}, score=3, at=T0 - timedelta(minutes=5))

    shop.fetch()
    shop.fetch(other)

    cursors = shop.storage.cursors
    assert cursors.get(cursor_name(shop.survey)) == T0 - timedelta(minutes=50)
    assert cursors.get(cursor_name(other)) == T0 - timedelta(minutes=5)
    assert {e.key.split(":")[1] for e in shop.discounts()} == {FORM, "second-form"}


def test_an_answer_naming_no_known_order_is_kept_and_surfaced_once() -> None:
    shop = Shop.open()
    stranger = shop.answer("shopify:shemsiworld:999", score=2, name="Layla")

    first = shop.fetch()
    shop.storage.attention.resolve(f"nps:{FORM}:{stranger}", NPS_UNMATCHED, T0)
    second = shop.fetch()

    (kept,) = shop.storage.nps.responses(unmatched=True)
    assert kept.response_id == stranger
    assert kept.order_key is None
    assert kept.hidden["order"] == "shopify:shemsiworld:999"
    assert (first.unmatched, second.unmatched) == (1, 0)
    assert shop.storage.attention.open_items() == []
    assert shop.discounts() == []


def test_the_attention_item_quotes_the_links_order_and_nothing_personal() -> None:
    shop = Shop.open()
    stranger = shop.answer("#1042 (forwarded)", score=2, name="Layla")

    shop.fetch()

    (item,) = shop.storage.attention.open_items()
    assert item.subject == f"nps:{FORM}:{stranger}"
    assert item.reason == NPS_UNMATCHED
    assert "'#1042 (forwarded)'" in item.message
    assert "Layla" not in item.message
    assert item.raised_at == T0


def test_a_link_without_an_order_is_surfaced_as_such() -> None:
    shop = Shop.open()
    shop.survey.submit({"first_name": "Layla"}, score=8, at=T0)

    shop.fetch()

    (item,) = shop.storage.attention.open_items()
    assert "no order in its link" in item.message
    assert "Layla" not in item.message


def test_a_very_long_order_value_is_shortened_in_the_message() -> None:
    shop = Shop.open()
    shop.answer("x" * 500)

    shop.fetch()

    (item,) = shop.storage.attention.open_items()
    assert "x" * 80 + "..." in item.message
    assert "x" * 81 not in item.message


def test_a_failure_after_the_first_page_is_an_incomplete_read() -> None:
    shop = Shop.open()
    for n, key in enumerate(KNOWN):
        shop.answer(key, ago=timedelta(minutes=10 - n))
    broken = FailingRead(
        shop.survey, 2, TransientPartnerError("busy", partner="memory")
    )

    with pytest.raises(IncompleteRead, match="page 2 failed after 2 answers") as stop:
        shop.fetch(broken, page_size=2)

    assert isinstance(stop.value.__cause__, TransientPartnerError)
    assert shop.storage.cursors.get(cursor_name(shop.survey)) is None
    assert len(shop.storage.nps.responses()) == 2  # the first page is kept
    assert shop.fetch(page_size=2).new == 3


def test_a_failure_on_the_first_page_is_the_surveys_own_error() -> None:
    shop = Shop.open()
    shop.answer(KNOWN[0])
    refused = PermanentPartnerError("Authentication failed", partner="memory")

    with pytest.raises(PermanentPartnerError):
        shop.fetch(FailingRead(shop.survey, 1, refused))

    assert shop.storage.cursors.get(cursor_name(shop.survey)) is None


def test_a_token_that_comes_back_twice_stops_the_walk_loudly() -> None:
    shop = Shop.open()
    shop.answer(KNOWN[0])
    stuck = StuckToken(shop.survey, 0, RuntimeError())

    with pytest.raises(IncompleteRead, match="came back twice"):
        shop.fetch(stuck)

    assert shop.storage.cursors.get(cursor_name(shop.survey)) is None


def test_more_pages_without_a_token_is_an_incomplete_read() -> None:
    shop = Shop.open()

    class NoToken(FailingRead):
        def responses(self, **_: Any) -> SurveyPage:
            return SurveyPage((), after=None, more=True)

    with pytest.raises(IncompleteRead, match="gives no token"):
        shop.fetch(NoToken(shop.survey, 0, RuntimeError()))


def test_a_walk_longer_than_the_page_limit_stops_loudly() -> None:
    shop = Shop.open()
    for n, key in enumerate(KNOWN):
        shop.answer(key, ago=timedelta(minutes=10 - n))

    with pytest.raises(IncompleteRead, match="still more after 2 pages"):
        shop.fetch(page_size=1, max_pages=2)


def test_an_answer_stamped_in_the_future_does_not_push_the_watermark_ahead() -> None:
    shop = Shop.open()
    shop.answer(KNOWN[0], ago=-timedelta(hours=3))

    report = shop.fetch()

    assert report.cursor == T0
    assert report.new == 1


def test_a_crash_before_the_watermark_moves_only_rereads() -> None:
    shop = Shop.open()
    for key in KNOWN[:3]:
        shop.answer(key)

    class Died(Exception):
        pass

    class DyingCursors:
        def get(self, name: str) -> datetime | None:
            return shop.storage.cursors.get(name)

        def set(self, name: str, value: datetime) -> None:
            raise Died

    with pytest.raises(Died):
        fetch_nps_responses(
            survey=shop.survey,
            orders=shop.storage.orders,
            nps=shop.storage.nps,
            cursors=DyingCursors(),
            ledger=shop.storage.ledger,
            attention=shop.storage.attention,
            clock=shop.clock,
        )
    report = shop.fetch()

    assert (report.new, report.duplicates, report.queued) == (0, 3, 0)
    assert len(shop.discounts()) == 3
    assert report.cursor == T0 - timedelta(minutes=1)


def test_a_crash_between_keeping_an_answer_and_queueing_its_discount_heals() -> None:
    shop = Shop.open()
    response_id = shop.answer(KNOWN[0])
    response = shop.survey.responses(since=None, after=None, page_size=5).responses[0]
    shop.storage.nps.add_response(response)  # kept, then the runner died

    report = shop.fetch()

    assert (report.new, report.duplicates, report.queued) == (0, 1, 1)
    (entry,) = shop.discounts()
    assert entry.key == discount_key(FORM, response_id)


def test_a_discount_already_taken_by_the_discount_worker_is_not_queued_again() -> None:
    shop = Shop.open()
    response_id = shop.answer(KNOWN[0])
    shop.fetch()
    shop.storage.ledger.take(discount_key(FORM, response_id), T0)
    shop.clock.advance(timedelta(minutes=5))

    report = shop.fetch()

    assert report.queued == 0
    entry = shop.storage.ledger.get(discount_key(FORM, response_id))
    assert entry is not None
    assert entry.status is EffectStatus.PENDING


def test_an_answer_listed_twice_in_one_walk_counts_once() -> None:
    shop = Shop.open()
    shop.answer(KNOWN[0])

    class Twice(FailingRead):
        def responses(self, **kwargs: Any) -> SurveyPage:
            page = self._inner.responses(**kwargs)
            return attrs.evolve(page, responses=page.responses * 2)

    report = shop.fetch(Twice(shop.survey, 0, RuntimeError()))

    assert (report.fetched, report.new, report.duplicates) == (2, 1, 1)
    assert len(shop.discounts()) == 1


def test_an_empty_survey_reads_one_page_and_leaves_no_watermark() -> None:
    shop = Shop.open()

    report = shop.fetch()

    assert (report.pages, report.fetched, report.cursor) == (1, 0, None)
