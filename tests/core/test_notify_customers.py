"""Customer notices: queued by tracking, sent once, in the store's voice."""

from __future__ import annotations

import logging
from datetime import timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fulfilment.adapters.notify.memory import (
    LOST_REPLY,
    MemoryLinkShortener,
    MemoryMailSender,
    MemorySmsSender,
)
from fulfilment.adapters.pl3.memory import (
    CREATED_ONLY,
    DELIVERED_IN_TWO_DAYS,
    MemoryDeliveryPartner,
)
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.domain import Order, OrderState, TrackingEvent, TrackingStatus
from fulfilment.core.errors import TransientPartnerError
from fulfilment.core.messages import NotifyEvent
from fulfilment.core.notices import NOTICE, notices_for, opt_out_key, record_opt_out
from fulfilment.core.ports import EffectStatus
from fulfilment.core.routing import RoutingPolicy
from fulfilment.core.workers.create_fulfilment_requests import (
    create_fulfilment_requests,
)
from fulfilment.core.workers.fetch_fulfilment_status import fetch_fulfilment_status
from fulfilment.core.workers.notify_customers import (
    NotifyReport,
    StoreVoice,
    notify_customers,
)
from fulfilment.testing.builders import T0, make_order

ROUTES = RoutingPolicy.one_partner_per_store({"shemsi-egypt": "flextock"})
NOON_CAIRO = T0.replace(hour=10)  # 12:00 in Cairo


class Crash(BaseException):
    """The runner dies mid-send."""


class World:
    def __init__(self) -> None:
        self.clock = ManualClock(NOON_CAIRO)
        self.storage = MemoryStorage()
        self.partner = MemoryDeliveryPartner(
            "flextock", clock=self.clock, script=DELIVERED_IN_TWO_DAYS
        )
        self.sms = MemorySmsSender("infobip")
        self.mail = MemoryMailSender("smtp")
        self.links = MemoryLinkShortener("rebrandly")
        self.voice = StoreVoice(
            "Shemsi Egypt",
            "ar",
            "Africa/Cairo",
            sms=self.sms,
            mail=self.mail,
            mail_from="shop@shemsi.example",
            links=self.links,
        )

    def book(self, *orders: Order) -> None:
        self.storage.orders.save_many(list(orders))
        create_fulfilment_requests(
            orders=self.storage.orders,
            partners={"flextock": self.partner},
            routing=ROUTES,
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            clock=self.clock,
            owner="runner",
        )
        for order in self.storage.orders.list():
            shipment = order.shipment
            if shipment and not shipment.tracking_url:
                self.storage.orders.save(
                    attrs.evolve(
                        order,
                        shipment=attrs.evolve(
                            shipment,
                            tracking_url=f"https://track.example/{shipment.reference}",
                        ),
                    )
                )

    def track(self) -> None:
        fetch_fulfilment_status(
            orders=self.storage.orders,
            partners={"flextock": self.partner},
            attention=self.storage.attention,
            clock=self.clock,
            ledger=self.storage.ledger,
        )

    def notify(self) -> NotifyReport:
        return notify_customers(
            orders=self.storage.orders,
            ledger=self.storage.ledger,
            attention=self.storage.attention,
            voices={"shemsi-egypt": self.voice},
            clock=self.clock,
        )

    def day(self, hours: int = 3, rounds: int = 8) -> None:
        for _ in range(rounds):
            self.clock.advance(timedelta(hours=hours))
            self.track()
            self.notify()


def egyptian(external_id: str) -> Order:
    return make_order(external_id, store="shemsi-egypt")


def test_a_delivered_parcel_sends_each_notice_once_per_channel() -> None:
    world = World()
    world.book(egyptian("1"))

    world.day(rounds=20)

    bodies = world.sms.bodies_to("+201001234567")
    assert len(bodies) == 3  # shipped, out for delivery, delivered: once each
    assert len(world.mail.sent["fatima@example.com"]) == 3
    assert any("https://short.example/" in b for b in bodies)
    assert all(b.startswith("مرحبا Fatima") for b in bodies)


def test_a_notice_due_at_night_waits_for_the_morning() -> None:
    world = World()
    world.clock.set(T0.replace(hour=20))  # 22:00 in Cairo
    world.book(egyptian("2"))
    reference = world.storage.orders.list()[0].shipment.reference  # type: ignore[union-attr]
    world.partner.add_event(
        reference,
        TrackingEvent(
            "picked", TrackingStatus.PICKED_UP, "Picked up", T0.replace(hour=20)
        ),
    )
    world.clock.advance(timedelta(minutes=30))
    world.track()

    night = world.notify()
    world.clock.set(T0.replace(hour=7, day=T0.day + 1))  # 09:00 in Cairo
    morning = world.notify()

    assert night.outcomes == {"waiting_for_morning": 2}
    assert morning.outcomes == {"sent": 2}


def test_a_lost_reply_is_marked_uncertain_and_never_resent() -> None:
    world = World()
    world.book(egyptian("3"))
    world.sms.fail_next(LOST_REPLY)

    world.day(rounds=20)

    uncertain = world.storage.ledger.with_status(EffectStatus.UNCERTAIN, 10)
    assert len(uncertain) == 1
    assert world.sms.send_calls == 3  # the one whose reply was lost: not again
    (item,) = world.storage.attention.open_items(reason="notification_uncertain")
    assert item.effect == uncertain[0].key
    assert "the provider may have sent it" in item.message


def test_nothing_sent_is_retried_on_the_next_run() -> None:
    world = World()
    world.book(egyptian("4"))
    world.sms.fail_next(TransientPartnerError("busy", partner="infobip", status=503))

    world.day(rounds=20)

    assert len(world.sms.bodies_to("+201001234567")) == 3


def test_an_opted_out_customer_gets_no_sms_but_still_gets_mail() -> None:
    world = World()
    world.sms.opt_out("+201001234567")
    world.book(egyptian("5"))

    world.day(rounds=20)

    assert world.sms.bodies_to("+201001234567") == []
    assert len(world.mail.sent["fatima@example.com"]) == 3
    failed = world.storage.ledger.with_status(EffectStatus.FAILED, 10)
    assert len(failed) == 3
    assert all(":sms" in e.key for e in failed)
    # The first refusal is remembered: the provider is not asked again.
    assert world.sms.send_calls == 1
    remembered = world.storage.ledger.get(opt_out_key("sms", "+201001234567"))
    assert remembered is not None
    assert "unsubscribed" in remembered.result["reason"]


def test_an_opt_out_recorded_by_an_operator_stops_that_channel_only() -> None:
    world = World()
    record_opt_out(
        world.storage.ledger,
        channel="email",
        address="Fatima@Example.com",
        subject="operator",
        reason="asked by phone",
        now=world.clock.now(),
    )
    world.book(egyptian("5b"))

    world.day(rounds=20)

    assert world.mail.send_calls == 0
    assert len(world.sms.bodies_to("+201001234567")) == 3


def test_amazon_orders_get_no_direct_messages() -> None:
    world = World()
    amazon = attrs.evolve(
        egyptian("6"), key=attrs.evolve(egyptian("6").key, channel="amazon")
    )
    world.book(amazon)

    world.day(rounds=20)

    assert world.sms.send_calls == 0
    assert world.mail.send_calls == 0


def test_a_runner_dying_mid_send_leaves_an_uncertain_notice_not_a_second_one() -> None:
    world = World()
    world.book(egyptian("7"))
    world.clock.advance(timedelta(hours=6))
    world.track()
    sms = world.sms

    def crash(message):  # type: ignore[no-untyped-def]
        sms.sent[message.to].append(message)
        raise Crash

    original = sms.send_sms
    sms.send_sms = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        world.notify()
    sms.send_sms = original  # type: ignore[method-assign]
    world.clock.advance(timedelta(minutes=20))
    report = world.notify()

    assert report.outcomes.get("uncertain") == 1
    assert len(sms.bodies_to("+201001234567")) == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=25))
def test_reruns_at_any_pace_never_send_a_notice_twice(steps: list[int]) -> None:
    world = World()
    world.book(egyptian("8"), egyptian("9"))

    for hours in steps:
        world.clock.advance(timedelta(hours=hours))
        world.track()
        world.notify()
        world.notify()

    for number, messages in world.sms.sent.items():
        assert len({m.reference for m in messages}) == len(messages), number
    for address, messages in world.mail.sent.items():
        assert len({m.reference for m in messages}) == len(messages), address


def test_a_notice_of_an_order_cancelled_meanwhile_is_not_sent() -> None:
    world = World()
    world.book(egyptian("10"))
    world.clock.advance(timedelta(hours=6))
    world.track()
    order = world.storage.orders.list()[0]
    world.storage.orders.save(attrs.evolve(order, state=OrderState.CANCELLED))

    report = world.notify()

    assert report.outcomes == {"order_cancelled": 2}
    assert world.sms.send_calls == world.mail.send_calls == 0
    failed = world.storage.ledger.with_status(EffectStatus.FAILED, 10)
    assert {e.detail for e in failed} == {"the order was cancelled"}


def test_values_queued_with_a_notice_are_what_the_customer_reads() -> None:
    world = World()
    world.book(egyptian("11"))
    order = world.storage.orders.list()[0]
    for notice in notices_for(
        order,
        [NotifyEvent.DISCOUNT],
        {"code": "MERCI-ABCDEFGHJK", "discount": "15%", "expires": "2027-01-31"},
    ):
        world.storage.ledger.queue(
            notice.key,
            NOTICE,
            notice.order_key,
            world.clock.now(),
            payload=notice.payload(),
        )

    report = world.notify()

    assert report.by_channel == {"sms": 1, "email": 1}
    (sms,) = world.sms.bodies_to("+201001234567")
    assert "MERCI-ABCDEFGHJK" in sms
    assert "15%" in sms
    assert "https://short.example/" not in sms
    assert world.links.links == {}  # no tracking link shortened for it


def scripted(world: World, external_id: str) -> str:
    """Book one order whose parcel only moves as the test says; its
    reference."""
    world.partner = MemoryDeliveryPartner(
        "flextock", clock=world.clock, script=CREATED_ONLY
    )
    world.book(egyptian(external_id))
    shipment = world.storage.orders.list()[0].shipment
    assert shipment is not None
    return shipment.reference


def step(world: World, reference: str, status: TrackingStatus, code: str) -> None:
    world.partner.add_event(
        reference, TrackingEvent(code, status, code, world.clock.now())
    )
    world.clock.advance(timedelta(minutes=40))
    world.track()
    world.notify()


def test_a_notice_held_at_night_is_dropped_once_the_parcel_moved_on() -> None:
    world = World()
    reference = scripted(world, "12")
    step(world, reference, TrackingStatus.IN_TRANSIT, "moving")  # noon: sent
    world.clock.set(T0.replace(hour=20))  # 22:00 in Cairo
    step(world, reference, TrackingStatus.OUT_FOR_DELIVERY, "ofd")  # held
    world.clock.set(T0.replace(hour=5, day=T0.day + 1))  # 07:00: still quiet
    step(world, reference, TrackingStatus.DELIVERED, "done")
    world.clock.set(T0.replace(hour=8, day=T0.day + 1))  # 10:00 in Cairo

    report = world.notify()

    texts = world.sms.bodies_to("+201001234567")
    assert len(texts) == 2  # shipped, then delivered; never "arrives today"
    assert report.outcomes == {"sent": 2}  # the delivered ones, at 10:00
    failed = world.storage.ledger.with_status(EffectStatus.FAILED, 10)
    assert {e.detail for e in failed} == {"superseded: the order is now delivered"}


def test_a_second_delivery_round_is_news_again() -> None:
    world = World()
    reference = scripted(world, "13")
    for status, code in [
        (TrackingStatus.OUT_FOR_DELIVERY, "ofd-1"),
        (TrackingStatus.DELIVERY_FAILED, "absent-1"),
        (TrackingStatus.OUT_FOR_DELIVERY, "ofd-2"),
        (TrackingStatus.DELIVERY_FAILED, "absent-2"),
        (TrackingStatus.OUT_FOR_DELIVERY, "ofd-3"),
        (TrackingStatus.DELIVERED, "done"),
    ]:
        step(world, reference, status, code)

    events = [
        e.result["event"]
        for e in world.storage.ledger.with_status(EffectStatus.DONE, 50)
        if e.kind == NOTICE and e.result["channel"] == "sms"
    ]
    # "Shipped" was queued with the first round but is no news by then.
    assert sorted(events) == sorted(
        ["out_for_delivery"] * 3 + ["delivery_failed"] * 2 + ["delivered"]
    )
    keys = {e.key for e in world.storage.ledger.with_status(EffectStatus.DONE, 50)}
    assert "notice:shopify:shemsi-egypt:13:out_for_delivery-3:sms" in keys
    # Reruns change nothing: the rounds are counted from the history.
    sent = world.sms.send_calls
    world.day(rounds=4)
    assert world.sms.send_calls == sent


def test_each_uncertain_notice_is_its_own_item_for_a_person() -> None:
    world = World()
    reference = scripted(world, "14")
    world.sms.fail_next(LOST_REPLY)
    world.mail.fail_next(LOST_REPLY)
    step(world, reference, TrackingStatus.IN_TRANSIT, "moving")

    reasons = sorted(i.reason for i in world.storage.attention.open_items())

    assert reasons == [
        "notification_uncertain:shipped:email",
        "notification_uncertain:shipped:sms",
    ]


def test_an_unexpected_error_on_one_notice_leaves_it_uncertain_and_the_batch_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World()
    world.book(egyptian("12"), egyptian("13"))
    world.clock.advance(timedelta(hours=6))
    world.track()
    world.mail.fail_next(RuntimeError("cannot write fatima@example.com"))
    caplog.set_level(logging.ERROR, logger="fulfilment.core.workers.notify_customers")

    report = world.notify()
    world.day(rounds=20)

    assert report.outcomes == {"sent": 3, "crashed": 1}
    (uncertain,) = world.storage.ledger.with_status(EffectStatus.UNCERTAIN, 10)
    assert uncertain.key.endswith(":email")
    assert "RuntimeError" in uncertain.detail
    # Sent once per notice, the one that failed included: never again.
    assert world.mail.send_calls == 6
    assert len(world.sms.bodies_to("+201001234567")) == 6
    (item,) = [
        i
        for i in world.storage.attention.open_items()
        if i.reason.startswith("notification_uncertain:")
    ]
    assert item.subject == uncertain.subject
    assert item.effect == uncertain.key
    assert "RuntimeError" in item.message
    assert "fatima" not in item.message + uncertain.detail
    (logged,) = [
        r.getMessage()
        for r in caplog.records
        if r.name.endswith("notify_customers") and r.levelno == logging.ERROR
    ]
    assert logged.startswith("notices.send_failed order=shopify:shemsi-egypt:1")
    assert "error=RuntimeError" in logged
    assert "fatima" not in logged


def test_the_amount_to_collect_reads_with_its_minor_units() -> None:
    world = World()
    world.book(make_order("14", store="shemsi-egypt", amount="570.0"))

    world.day(rounds=20)

    (out_for_delivery,) = [
        b for b in world.sms.bodies_to("+201001234567") if "570" in b
    ]
    assert "570.00 EGP" in out_for_delivery
    assert "570.0 EGP" not in out_for_delivery
