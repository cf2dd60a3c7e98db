"""Customer notices survive crashes at any point: none is ever sent twice.

A fuse counts every write the tracking and notify workers make (to the
order store, the ledger, the attention queue) and every send (SMS, mail),
and blows at a chosen count, once before and once after each call, as a
runner killed at that instant would.  Hypothesis picks where the fuses
blow over a week of polling; afterwards the workers run cleanly until
nothing is left to do, and every notice has been sent exactly once or,
when a runner died with the message possibly out, marked uncertain for a
person: never twice, never silently lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fulfilment.adapters.notify.memory import (
    MemoryLinkShortener,
    MemoryMailSender,
    MemorySmsSender,
)
from fulfilment.adapters.pl3.memory import (
    DELIVERED_IN_TWO_DAYS,
    MemoryDeliveryPartner,
)
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import OrderState
from fulfilment.core.notices import NOTICE
from fulfilment.core.ports import EffectStatus
from fulfilment.core.routing import RoutingPolicy
from fulfilment.core.workers.create_fulfilment_requests import (
    create_fulfilment_requests,
)
from fulfilment.core.workers.fetch_fulfilment_status import fetch_fulfilment_status
from fulfilment.core.workers.notify_customers import (
    NotifySettings,
    StoreVoice,
    notify_customers,
)
from fulfilment.testing.builders import T0, make_order
from tests.support.crashes import Burning, Crash, Fuse

STORE = "shemsi-egypt"
GRACE = timedelta(minutes=15)
WRITES = {
    "orders": ("save", "save_many"),
    "ledger": ("begin", "queue", "take", "complete", "mark", "reopen"),
    "attention": ("raise_item", "resolve"),
}


@attrs.define
class Shop:
    clock: ManualClock
    storage: MemoryStorage
    partner: MemoryDeliveryPartner
    sms: MemorySmsSender
    mail: MemoryMailSender
    fuse: Fuse

    @classmethod
    def open(cls, orders: int) -> Shop:
        clock = ManualClock(T0.replace(hour=8))  # 10:00 in Cairo
        shop = cls(
            clock,
            MemoryStorage(),
            MemoryDeliveryPartner(
                "flextock", clock=clock, script=DELIVERED_IN_TWO_DAYS
            ),
            MemorySmsSender("infobip"),
            MemoryMailSender("smtp"),
            Fuse(),
        )
        shop.storage.orders.save_many(
            [make_order(str(n), store=STORE) for n in range(1, orders + 1)]
        )
        create_fulfilment_requests(
            orders=shop.storage.orders,
            partners={"flextock": shop.partner},
            routing=RoutingPolicy.one_partner_per_store({STORE: "flextock"}),
            ledger=shop.storage.ledger,
            attention=shop.storage.attention,
            clock=clock,
            owner="runner",
        )
        return shop

    def burning(self, name: str) -> Any:
        return Burning(getattr(self.storage, name), self.fuse, WRITES[name])

    def track(self) -> None:
        fetch_fulfilment_status(
            orders=self.burning("orders"),
            partners={"flextock": self.partner},
            attention=self.burning("attention"),
            clock=self.clock,
            ledger=self.burning("ledger"),
        )

    def notify(self) -> None:
        voice = StoreVoice(
            "Shemsi Egypt",
            "ar",
            "Africa/Cairo",
            sms=Burning(self.sms, self.fuse, ("send_sms",)),
            mail=Burning(self.mail, self.fuse, ("send_mail",)),
            links=MemoryLinkShortener("rebrandly"),
        )
        notify_customers(
            orders=self.burning("orders"),
            ledger=self.burning("ledger"),
            attention=self.burning("attention"),
            voices={STORE: voice},
            clock=self.clock,
            settings=NotifySettings(pending_grace=GRACE),
        )

    def survive(self, work: Callable[[], None], crash_at: int | None) -> bool:
        if crash_at is not None:
            self.fuse.arm(crash_at)
        try:
            work()
        except Crash:
            return True
        finally:
            self.fuse.at = None
        return False

    def sends(self) -> Counter[str]:
        """How often each notice reached a provider, by ledger key."""
        references = [m.reference for ms in self.sms.sent.values() for m in ms]
        references += [m.reference for ms in self.mail.sent.values() for m in ms]
        return Counter(references)


crash_points = st.one_of(st.none(), st.integers(1, 30))


@settings(deadline=None)
# Tracking queued "delivered" and died before saving the order; notify then
# saw an order still in transit and must wait, not drop the notice.
@example(
    rounds=[(1, None, None)] * 3
    + [(4, None, None)]
    + [(8, None, None)] * 4
    + [(8, 2, None)],
    orders=1,
)
@given(
    rounds=st.lists(
        st.tuples(st.integers(1, 8), crash_points, crash_points),
        min_size=1,
        max_size=30,
    ),
    orders=st.integers(1, 3),
)
def test_crashes_anywhere_never_send_a_notice_twice(
    rounds: list[tuple[int, int | None, int | None]], orders: int
) -> None:
    shop = Shop.open(orders)

    crashes = 0
    for hours, track_crash, notify_crash in rounds:
        shop.clock.advance(timedelta(hours=hours))
        crashes += shop.survive(shop.track, track_crash)
        crashes += shop.survive(shop.notify, notify_crash)
    # Then no more crashes: a week of calm, polling every few hours.
    for _ in range(60):
        shop.clock.advance(timedelta(hours=3))
        shop.track()
        shop.notify()

    sends = shop.sends()
    assert all(count == 1 for count in sends.values()), sends
    notices = [
        effect
        for status in EffectStatus
        for effect in shop.storage.ledger.with_status(status, 1000)
        if effect.kind == NOTICE
    ]
    statuses = Counter(e.status for e in notices)
    # Nothing is left half done or forgotten; a notice fails only when the
    # parcel moved on before it could go (held back at night).
    assert set(statuses) <= {
        EffectStatus.DONE,
        EffectStatus.UNCERTAIN,
        EffectStatus.FAILED,
    }
    failed = [e for e in notices if e.status is EffectStatus.FAILED]
    assert all((e.detail or "").startswith("superseded") for e in failed), failed
    assert all(e.key not in sends for e in failed)
    assert statuses[EffectStatus.DONE] == sum(
        1 for e in notices if e.key in sends and e.status is EffectStatus.DONE
    )
    # Every customer hears that the parcel arrived, on both channels (or a
    # person is asked to check when a crash left it unknown).
    outcome = {
        (e.subject, e.result["event"], e.result["channel"]): e.status for e in notices
    }
    for order in shop.storage.orders.list():
        for channel in ("sms", "email"):
            assert outcome[str(order.key), "delivered", channel] in {
                EffectStatus.DONE,
                EffectStatus.UNCERTAIN,
            }
    uncertain = {
        i.subject
        for i in shop.storage.attention.open_items()
        if i.reason.startswith("notification_uncertain:")
    }
    assert statuses[EffectStatus.UNCERTAIN] <= crashes
    assert {e.subject for e in notices if e.status is EffectStatus.UNCERTAIN} <= (
        uncertain
    )
    assert all(o.state is OrderState.DELIVERED for o in shop.storage.orders.list())


def test_a_crash_right_after_a_send_marks_it_uncertain_not_resent() -> None:
    shop = Shop.open(1)
    shop.clock.advance(timedelta(hours=6))
    shop.track()
    # The second tick of the first send is just after the provider took it.
    assert shop.survive(shop.notify, _first_send_tick(shop)) is True
    out_before_the_crash = list(shop.sends())
    assert len(out_before_the_crash) == 1

    for _ in range(5):
        shop.clock.advance(GRACE)
        shop.notify()

    sends = shop.sends()
    uncertain = shop.storage.ledger.with_status(EffectStatus.UNCERTAIN, 10)
    assert [e.key for e in uncertain] == out_before_the_crash
    assert len(sends) == 2  # the other channel went out normally
    assert all(count == 1 for count in sends.values())


def _first_send_tick(shop: Shop) -> int:
    """The fuse count at which the first send has just returned, found by a
    dry run on a copy of the same shop."""
    probe = Shop.open(1)
    probe.clock.set(shop.clock.now())
    probe.track()
    sent_before = probe.sms.send_calls + probe.mail.send_calls
    ticks: list[int] = []
    original = probe.fuse.tick

    def watch() -> None:
        original()
        if probe.sms.send_calls + probe.mail.send_calls > sent_before and not ticks:
            ticks.append(probe.fuse.ticks)

    probe.fuse.tick = watch  # type: ignore[method-assign]
    probe.fuse.ticks = 0  # as arming does: count the notify run alone
    probe.notify()
    assert ticks, "the probe sent nothing"
    return ticks[0]
