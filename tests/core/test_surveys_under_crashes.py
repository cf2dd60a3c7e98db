"""Surveys survive crashes at any point: no order's customer is asked twice.

A fuse (``tests/support/crashes.py``) counts every write the survey and
notify workers make (orders, ledger, survey memory, attention) and every
call out (the shortener, SMS, mail), and blows at a chosen count, as a
runner killed at that instant would.  Hypothesis picks where the fuses blow
over the day a batch of surveys falls due, and when the shortener fails
(that survey then goes out with the long link); afterwards the workers run
cleanly until nothing is left to do.  Then each delivered order's survey
is done, its notices carry one link (the one the entry recorded, short or
long, leading to the customer's own form), and each customer received at most one survey
per channel: the rest, if a runner died with a message possibly out, are
marked uncertain for a person.  The returned order's customer is never
asked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from fulfilment.adapters.notify.memory import (
    MemoryLinkShortener,
    MemoryMailSender,
    MemorySmsSender,
)
from fulfilment.adapters.pl3.memory import DELIVERED_IN_TWO_DAYS, MemoryDeliveryPartner
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.adapters.survey.links import hidden_of_link as hidden_fields
from fulfilment.adapters.survey.memory import MemorySurveySource
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Customer, Order, OrderState, Phone
from fulfilment.core.errors import TransientPartnerError
from fulfilment.core.notices import NOTICE
from fulfilment.core.nps import NPS_SURVEY, SurveyPolicy
from fulfilment.core.ports import EffectStatus
from fulfilment.core.routing import RoutingPolicy
from fulfilment.core.workers.create_fulfilment_requests import (
    create_fulfilment_requests,
)
from fulfilment.core.workers.fetch_fulfilment_status import (
    TrackingSettings,
    fetch_fulfilment_status,
)
from fulfilment.core.workers.notify_customers import StoreVoice, notify_customers
from fulfilment.core.workers.send_nps_form import (
    SurveySettings,
    SurveyVoice,
    send_nps_form,
)
from fulfilment.testing.builders import T0, make_order
from tests.support.crashes import Burning, Crash, Fuse

STORE = "shemsi-egypt"
GRACE = timedelta(minutes=15)
WRITES = {
    "orders": ("save", "save_many"),
    "ledger": ("begin", "queue", "take", "complete", "mark", "reopen"),
    "attention": ("raise_item", "resolve"),
    "nps": ("mark_surveyed", "add_response", "add_discount"),
}
# Orders placed at T0 (11:00 in Cairo) are due at midnight fourteen days on.
DUE = datetime(2026, 11, 15, 22, 0, tzinfo=UTC)


def customer_order(n: int) -> Order:
    """Order *n* of a customer of its own (own phone, own e-mail)."""
    phone = f"+2010012345{n:02d}"
    order = make_order(str(n), store=STORE, phone=phone)
    address = attrs.evolve(order.shipping_address, phone=Phone(phone, phone, True))
    customer = Customer(f"c{n}", f"Client{n}", "Benali", f"client{n}@example.com")
    return attrs.evolve(order, shipping_address=address, customer=customer)


@attrs.define
class Shop:
    clock: ManualClock
    storage: MemoryStorage
    links: MemoryLinkShortener
    sms: MemorySmsSender
    mail: MemoryMailSender
    fuse: Fuse
    survey: MemorySurveySource = attrs.Factory(lambda: MemorySurveySource("form"))

    @classmethod
    def open(cls, orders: int) -> Shop:
        """*orders* delivered orders and one delivered, then returned."""
        clock = ManualClock(T0)
        shop = cls(
            clock,
            MemoryStorage(),
            MemoryLinkShortener("rebrandly"),
            MemorySmsSender("infobip"),
            MemoryMailSender("smtp"),
            Fuse(),
        )
        partner = MemoryDeliveryPartner(
            "flextock", clock=clock, script=DELIVERED_IN_TWO_DAYS
        )
        placed = [customer_order(n) for n in range(orders + 1)]
        shop.storage.orders.save_many(placed)
        create_fulfilment_requests(
            orders=shop.storage.orders,
            partners={"flextock": partner},
            routing=RoutingPolicy.one_partner_per_store({STORE: "flextock"}),
            ledger=shop.storage.ledger,
            attention=shop.storage.attention,
            clock=clock,
            owner="runner",
        )
        for _ in range(17):
            clock.advance(timedelta(hours=3))
            fetch_fulfilment_status(
                orders=shop.storage.orders,
                partners={"flextock": partner},
                attention=shop.storage.attention,
                clock=clock,
                ledger=shop.storage.ledger,
                settings=TrackingSettings(survey_after_days=14),
            )
        returned = shop.storage.orders.get(placed[0].key)
        assert returned is not None
        shop.storage.orders.save(attrs.evolve(returned, state=OrderState.RETURNED))
        clock.set(DUE - timedelta(hours=2))
        return shop

    def burning(self, name: str) -> Any:
        return Burning(getattr(self.storage, name), self.fuse, WRITES[name])

    def ask(self) -> None:
        voice = SurveyVoice(
            "Africa/Cairo",
            SurveyPolicy(),
            Burning(self.links, self.fuse, ("shorten",)),
        )
        send_nps_form(
            orders=self.burning("orders"),
            ledger=self.burning("ledger"),
            nps=self.burning("nps"),
            attention=self.burning("attention"),
            survey=self.survey,
            stores={STORE: voice},
            clock=self.clock,
            settings=SurveySettings(pending_grace=GRACE),
        )

    def notify(self) -> None:
        voice = StoreVoice(
            "Shemsi Egypt",
            "ar",
            "Africa/Cairo",
            sms=Burning(self.sms, self.fuse, ("send_sms",)),
            mail=Burning(self.mail, self.fuse, ("send_mail",)),
        )
        notify_customers(
            orders=self.burning("orders"),
            ledger=self.burning("ledger"),
            attention=self.burning("attention"),
            voices={STORE: voice},
            clock=self.clock,
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

    def surveys_sent(self) -> Counter[str]:
        """How many survey messages each address received."""
        sent = Counter(
            to
            for to, messages in self.sms.sent.items()
            for m in messages
            if ":nps_survey:" in m.reference
        )
        sent.update(
            to
            for to, messages in self.mail.sent.items()
            for m in messages
            if ":nps_survey:" in m.reference
        )
        return sent


crash_points = st.one_of(st.none(), st.integers(1, 30))


@settings(deadline=None)
@given(
    rounds=st.lists(
        st.tuples(st.integers(5, 90), crash_points, crash_points, st.booleans()),
        min_size=1,
        max_size=20,
    ),
    orders=st.integers(1, 3),
)
def test_crashes_anywhere_never_ask_a_customer_twice(
    rounds: list[tuple[int, int | None, int | None, bool]], orders: int
) -> None:
    shop = Shop.open(orders)

    for minutes, ask_crash, notify_crash, shortener_fails in rounds:
        shop.clock.advance(timedelta(minutes=minutes))
        if shortener_fails:  # that survey gets the long link
            shop.links.fail_next(
                TransientPartnerError("rate limited", partner="rebrandly", status=429)
            )
        shop.survive(shop.ask, ask_crash)
        shop.survive(shop.notify, notify_crash)
    # Then no more crashes: a calm day and a half, every half hour.
    for _ in range(72):
        shop.clock.advance(timedelta(minutes=30))
        shop.ask()
        shop.notify()

    ledger = shop.storage.ledger
    entries = {
        e.subject: e
        for status in EffectStatus
        for e in ledger.with_status(status, 1000)
        if e.kind == NPS_SURVEY
    }
    returned, *delivered = sorted(shop.storage.orders.list(), key=lambda o: o.key)
    assert returned.state is OrderState.RETURNED
    assert entries[str(returned.key)].status is EffectStatus.FAILED
    assert not [
        e
        for e in ledger.for_subject(str(returned.key))
        if e.kind == NOTICE and e.result["event"] == "nps_survey"
    ]
    for order in delivered:
        entry = entries[str(order.key)]
        assert entry.status is EffectStatus.DONE, entry
        notices = [
            e
            for e in ledger.for_subject(str(order.key))
            if e.kind == NOTICE and e.result["event"] == "nps_survey"
        ]
        assert {n.result["channel"] for n in notices} == {"sms", "email"}
        link = entry.result["link"]
        assert {n.result["values"]["link"] for n in notices} == {link}
        destination = shop.links.destination_of(link) or link
        assert hidden_fields(destination)["order"] == str(order.key)
        assert {n.status for n in notices} <= {
            EffectStatus.DONE,
            EffectStatus.UNCERTAIN,
        }
    sent = shop.surveys_sent()
    assert all(count == 1 for count in sent.values()), sent
    assert len(shop.links.links) <= len(delivered)
