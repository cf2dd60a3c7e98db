"""Discount codes survive crashes at any point: one code per answer in the
store, one set of notices, and every answer settled.

A fuse counts every write the discount-codes worker makes (to the ledger,
the NPS store, the attention queue) and every creation in the store, and
blows at a chosen count, once before and once after each call, as a runner
killed at that instant would.  Hypothesis picks where the fuses blow, which
store failures come in between (a lost reply, an unknown outcome with
nothing made, a throttled store) and the answers' scores, under a monthly
budget that cannot pay for them all; afterwards the worker runs cleanly
until nothing is left to do.  Then every answer has been rewarded (its
code, and only its code, in the store and the NPS store, its notices
queued once with that code and the store's last day), or refused with a
reason (no reward for its category, over budget, with a person told),
never both and never left half done.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from fulfilment.adapters.oms.memory import LOST_REPLY, MemoryOrderSource
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.errors import OutcomeUnknown, TransientPartnerError
from fulfilment.core.notices import NOTICE
from fulfilment.core.nps import (
    DiscountKind,
    DiscountPolicy,
    DiscountTier,
    NpsCategory,
    NpsResponse,
    discount_code_for,
)
from fulfilment.core.ports import Effect, EffectStatus
from fulfilment.core.workers.discount_codes import (
    DISCOUNT,
    DiscountSettings,
    create_discount_codes,
    discount_key,
)
from fulfilment.testing.builders import T0, make_order

from .test_notices_under_crashes import Burning, Crash, Fuse

STORE = "shemsiworld"
ZONES = {STORE: "Africa/Casablanca"}
GRACE = timedelta(minutes=15)
BUDGET = Decimal(200)  # two 15 % codes (68.85 each) and a 50 MAD one, at most
POLICY = DiscountPolicy(
    tiers={
        NpsCategory.PROMOTER: DiscountTier(DiscountKind.PERCENTAGE, Decimal(15), 30),
        NpsCategory.PASSIVE: DiscountTier(DiscountKind.AMOUNT, Decimal(50), 14),
    },
    monthly_budget={STORE: BUDGET},
)
MOST_WORTH = Decimal("68.85")
WRITES = {
    "ledger": ("begin", "queue", "take", "complete", "mark", "reopen"),
    "attention": ("raise_item", "resolve"),
    "nps": ("add_discount",),
}
FAILURES: dict[str, Any] = {
    "lost_reply": LOST_REPLY,
    "unknown": OutcomeUnknown("read timeout", partner="shopify"),
    "throttled": TransientPartnerError("throttled", partner="shopify"),
}


@attrs.define
class Shop:
    clock: ManualClock
    storage: MemoryStorage
    source: MemoryOrderSource
    fuse: Fuse
    answers: list[NpsResponse]

    @classmethod
    def open(cls, scores: list[int]) -> Shop:
        clock = ManualClock(T0)
        shop = cls(clock, MemoryStorage(), MemoryOrderSource(STORE), Fuse(), [])
        for number, score in enumerate(scores, start=1):
            order = make_order(str(number), placed_at=T0 - timedelta(days=15))
            shop.storage.orders.save(order)
            shop.source.put(order)
            response = NpsResponse(f"r{number}", "form", score, T0, order.key)
            shop.storage.nps.add_response(response)
            shop.storage.ledger.queue(
                discount_key("form", response.response_id),
                DISCOUNT,
                str(order.key),
                T0,
                payload={"form": "form", "response": response.response_id},
            )
            shop.answers.append(response)
        return shop

    def burning(self, name: str) -> Any:
        return Burning(getattr(self.storage, name), self.fuse, WRITES[name])

    def reward(self) -> None:
        create_discount_codes(
            orders=self.storage.orders,
            nps=self.burning("nps"),
            ledger=self.burning("ledger"),
            attention=self.burning("attention"),
            stores={STORE: Burning(self.source, self.fuse, ("create_discount",))},
            policy=POLICY,
            time_zones=ZONES,
            clock=self.clock,
            settings=DiscountSettings(pending_grace=GRACE),
        )

    def survive(self, crash_at: int | None) -> bool:
        if crash_at is not None:
            self.fuse.arm(crash_at)
        try:
            self.reward()
        except Crash:
            return True
        finally:
            self.fuse.at = None
        return False

    def entry(self, response: NpsResponse) -> Effect:
        entry = self.storage.ledger.get(discount_key("form", response.response_id))
        assert entry is not None
        return entry

    def notices(self) -> list[Effect]:
        return [
            effect
            for effect in self.storage.ledger.queued(NOTICE, self.clock.now(), 1000)
        ]


@settings(deadline=None)
@given(
    scores=st.lists(st.integers(0, 10), min_size=1, max_size=5),
    rounds=st.lists(
        st.tuples(
            st.integers(1, 30),
            st.one_of(st.none(), st.integers(1, 40)),
            st.one_of(st.none(), st.sampled_from(sorted(FAILURES))),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_crashes_anywhere_leave_one_code_per_answer_and_every_answer_settled(
    scores: list[int], rounds: list[tuple[int, int | None, str | None]]
) -> None:
    shop = Shop.open(scores)

    crashes = 0
    for minutes, crash_at, failure in rounds:
        shop.clock.advance(timedelta(minutes=minutes))
        if failure is not None:
            shop.source.fail_next_discounts(FAILURES[failure])
        crashes += shop.survive(crash_at)
    # Then no more crashes: runs past the grace until nothing is left.  The
    # store failures queued but not yet met still come, one per creation,
    # so the calm period lasts at least as many runs as there are left.
    for _ in range(len(shop.source.pending_discount_failures()) + 4):
        shop.clock.advance(GRACE + timedelta(minutes=1))
        shop.reward()

    in_store = {code for code in shop.source.discounts}
    kept = {d.code: d for d in shop.storage.nps.discounts()}
    notices = Counter(n.subject for n in shop.notices())
    rewarded = 0
    for response in shop.answers:
        entry = shop.entry(response)
        code = discount_code_for(response, "MERCI")
        if entry.status is EffectStatus.DONE:
            rewarded += 1
            assert code.casefold() in in_store
            assert entry.result["code"] == code in kept
            store_copy = shop.source.discounts[code.casefold()].request
            assert (kept[code].starts_at, kept[code].ends_at) == (
                store_copy.starts_at,
                store_copy.ends_at,
            )
            assert notices[entry.subject] == 2
            for notice in shop.notices():
                if notice.subject == entry.subject:
                    values = notice.result["values"]
                    assert values["code"] == code
                    expires = store_copy.ends_at + timedelta(hours=1)  # Casablanca
                    assert values["expires"] == expires.date().isoformat()
        else:
            # Refused with a reason, and never half rewarded.
            assert entry.status is EffectStatus.FAILED, (entry.status, entry.detail)
            assert code.casefold() not in in_store
            assert code not in kept
            assert notices[entry.subject] == 0
            if response.category is NpsCategory.DETRACTOR:
                assert entry.detail == "no reward for detractor"
            else:
                assert entry.detail == "over budget"
                assert ("discounts:shemsiworld", "discount_budget:2026-11") in {
                    (i.subject, i.reason) for i in shop.storage.attention.open_items()
                }
    # One code per answer rewarded, nothing else in the store or kept.
    assert len(in_store) == len(kept) == rewarded
    # The budget holds, but for codes whose creation a crash interrupted.
    spent = sum((d.worth for d in kept.values()), Decimal(0))
    assert spent <= BUDGET + crashes * MOST_WORTH
    # Nobody else needed: no entry uncertain, no other attention item.
    reasons = {i.reason for i in shop.storage.attention.open_items()}
    assert reasons <= {"discount_budget:2026-11"}


def test_a_crash_right_after_the_store_made_the_code_is_recovered_by_a_look() -> None:
    shop = Shop.open([10])
    create = _first_create_tick()

    assert shop.survive(create + 1) is True  # just after the store answered
    shop.clock.advance(GRACE)
    shop.reward()

    (response,) = shop.answers
    assert shop.entry(response).status is EffectStatus.DONE
    assert shop.source.discount_calls == 1
    assert shop.source.discount_lookups == 1
    assert len(shop.notices()) == 2


def _first_create_tick() -> int:
    """The fuse count just before the first creation, found by a dry run
    on a copy of the same shop."""
    probe = Shop.open([10])
    ticks: list[int] = []
    original = probe.fuse.tick

    def watch() -> None:
        original()
        if probe.source.discount_calls == 0:
            ticks.append(probe.fuse.ticks)

    probe.fuse.tick = watch  # type: ignore[method-assign]
    probe.reward()
    assert probe.source.discount_calls == 1, "the probe created nothing"
    return ticks[-1]
