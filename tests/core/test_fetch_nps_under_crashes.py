"""Survey answers survive any interleaving of new answers, page sizes,
failed reads and crashes: none is lost, none is kept twice, and each answer
tied to an order gets exactly one discount entry.

Customers answer at any time, some a while before the survey lists their
answer (within the overlap); runners read with any page size, a read may
fail mid-walk, and a fuse kills the runner before or after any write (an
answer kept, a discount queued, an attention item raised, the watermark
moved).  After a last clean run, the store, the ledger and the attention
queue must say exactly what the customers did.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.adapters.survey.memory import MemorySurveySource
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import OrderKey
from fulfilment.core.errors import FulfilmentError, TransientPartnerError
from fulfilment.core.ports import EffectStatus, SurveyPage
from fulfilment.core.workers.fetch_nps_responses import (
    DISCOUNT,
    NPS_UNMATCHED,
    FetchNpsSettings,
    discount_key,
    fetch_nps_responses,
)
from fulfilment.testing.builders import T0, make_order

from .test_notices_under_crashes import Burning, Crash, Fuse

FORM = "nps"
KNOWN = tuple(f"shopify:shemsi-uae:{n}" for n in range(1, 5))
STRANGERS = ("shopify:shemsi-uae:404", "#1042", "")
OVERLAP = timedelta(hours=1)
WRITES = {
    "nps": ("add_response",),
    "ledger": ("queue",),
    "attention": ("raise_item",),
    "cursors": ("set",),
}


class Flaky:
    """*inner*, whose read number *fail_at* of a run fails (nothing sent)."""

    def __init__(self, inner: MemorySurveySource, fail_at: int | None) -> None:
        self._inner, self._fail_at = inner, fail_at
        self.name, self.form_id = inner.name, inner.form_id
        self._reads = 0

    def form_link(self, hidden: Mapping[str, str]) -> str:
        return self._inner.form_link(hidden)

    def responses(
        self, *, since: datetime | None, after: str | None, page_size: int
    ) -> SurveyPage:
        self._reads += 1
        if self._reads == self._fail_at:
            raise TransientPartnerError("busy", partner=self.name)
        return self._inner.responses(since=since, after=after, page_size=page_size)


@attrs.define
class World:
    clock: ManualClock
    storage: MemoryStorage
    survey: MemorySurveySource
    fuse: Fuse
    planted: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    def open(cls) -> World:
        storage = MemoryStorage()
        storage.orders.save_many(
            [
                make_order(OrderKey.parse(k).external_id, store="shemsi-uae")
                for k in KNOWN
            ]
        )
        return cls(ManualClock(T0), storage, MemorySurveySource(FORM), Fuse())

    def answer(self, order: str, score: int, late: int) -> None:
        hidden = {"order": order, "first_name": "Layla"} if order else {}
        at = self.clock.now() - timedelta(minutes=late)
        response = self.survey.submit(hidden, score=score, at=at)
        self.planted[response.response_id] = order

    def run(self, page_size: int, crash_at: int | None, fail_at: int | None) -> None:
        if crash_at is not None:
            self.fuse.arm(crash_at)
        try:
            fetch_nps_responses(
                survey=Flaky(self.survey, fail_at),
                orders=self.storage.orders,
                nps=self._burning("nps"),
                cursors=self._burning("cursors"),
                ledger=self._burning("ledger"),
                attention=self._burning("attention"),
                clock=self.clock,
                settings=FetchNpsSettings(overlap=OVERLAP, page_size=page_size),
            )
        except (Crash, FulfilmentError):
            pass
        finally:
            self.fuse.at = None

    def _burning(self, name: str) -> Any:
        return Burning(getattr(self.storage, name), self.fuse, WRITES[name])


answers = st.tuples(
    st.just("answer"),
    st.sampled_from(KNOWN + STRANGERS),
    st.integers(0, 10),
    st.integers(0, 50),  # minutes between submitting and being listed
)
runs = st.tuples(
    st.just("run"),
    st.integers(1, 4),
    st.one_of(st.none(), st.integers(1, 12)),
    st.one_of(st.none(), st.integers(1, 4)),
)
waits = st.tuples(st.just("wait"), st.integers(1, 180))


@settings(deadline=None)
@given(steps=st.lists(st.one_of(answers, runs, waits), min_size=1, max_size=30))
def test_no_answer_or_discount_is_lost_or_doubled(steps: list[tuple[Any, ...]]) -> None:
    world = World.open()
    for step in steps:
        if step[0] == "answer":
            world.answer(*step[1:])
        elif step[0] == "run":
            world.run(*step[1:])
        else:
            world.clock.advance(timedelta(minutes=step[1]))

    world.clock.advance(timedelta(minutes=1))
    world.run(page_size=3, crash_at=None, fail_at=None)

    kept = world.storage.nps.responses()
    assert sorted(r.response_id for r in kept) == sorted(world.planted)
    matched = {i for i, order in world.planted.items() if order in KNOWN}
    for response in kept:
        order = world.planted[response.response_id]
        expected = OrderKey.parse(order) if order in KNOWN else None
        assert response.order_key == expected
    discounts = [
        e
        for status in EffectStatus
        for e in world.storage.ledger.with_status(status, 10_000)
        if e.kind == DISCOUNT
    ]
    assert sorted(e.key for e in discounts) == sorted(
        discount_key(FORM, i) for i in matched
    )
    for entry in discounts:
        response_id = entry.key.rsplit(":", 1)[1]
        assert entry.subject == world.planted[response_id]
    surfaced = {
        item.subject
        for item in world.storage.attention.open_items()
        if item.reason == NPS_UNMATCHED
    }
    assert surfaced == {f"nps:{FORM}:{i}" for i in set(world.planted) - matched}
