"""Surveys: who is asked, when on the store's calendar, and only once.

Orders are booked with the in-memory partner and followed to delivery by
the tracking worker (which queues each survey); the send-nps-form worker
then runs at chosen moments against the in-memory stores, survey and
shortener.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
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
from fulfilment.core.domain import Order, OrderKey, OrderState, Phone
from fulfilment.core.errors import PermanentPartnerError
from fulfilment.core.messages import NotifyEvent
from fulfilment.core.notices import NOTICE, notices_for, record_opt_out
from fulfilment.core.nps import (
    NPS_SURVEY,
    SurveyPolicy,
    earliest_survey_at,
    survey_due_at,
    survey_key,
)
from fulfilment.core.ports import Effect, EffectStatus
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
    SurveyReport,
    SurveyVoice,
    send_nps_form,
    survey_slashtag,
)
from fulfilment.testing.builders import make_order

SECOND = timedelta(seconds=1)
FORM = "Xq7LmN2p"
POLICY = SurveyPolicy(delay_days=14, min_interval=timedelta(days=90))
ZONES = {
    "shemsi-egypt": "Africa/Cairo",
    "shemsiworld": "Africa/Casablanca",
    "shemsi-uae": "Asia/Dubai",
}
ROUTES = RoutingPolicy.one_partner_per_store(dict.fromkeys(ZONES, "flextock"))
# One instant, three calendars: 23:30 in Cairo, 22:30 in Casablanca and
# already 01:30 the next day in Dubai.
EVENING = datetime(2026, 11, 2, 21, 30, tzinfo=UTC)
CAIRO_DUE = datetime(2026, 11, 15, 22, 0, tzinfo=UTC)  # midnight in Cairo
CASABLANCA_DUE = datetime(2026, 11, 15, 23, 0, tzinfo=UTC)
DUBAI_DUE = datetime(2026, 11, 16, 20, 0, tzinfo=UTC)


class World:
    def __init__(self, start: datetime = EVENING) -> None:
        self.clock = ManualClock(start)
        self.storage = MemoryStorage()
        self.partner = MemoryDeliveryPartner(
            "flextock", clock=self.clock, script=DELIVERED_IN_TWO_DAYS
        )
        self.survey = MemorySurveySource(FORM)
        self.links = MemoryLinkShortener("rebrandly")
        self.stores = {
            store: SurveyVoice(zone, POLICY, self.links)
            for store, zone in ZONES.items()
        }

    def deliver(self, *orders: Order) -> None:
        """Book *orders* now and follow their parcels to delivery (two
        days), the tracking worker queueing their surveys."""
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
        for _ in range(17):
            self.clock.advance(timedelta(hours=3))
            fetch_fulfilment_status(
                orders=self.storage.orders,
                partners={"flextock": self.partner},
                attention=self.storage.attention,
                clock=self.clock,
                ledger=self.storage.ledger,
                settings=TrackingSettings(survey_after_days=POLICY.delay_days),
            )
        for order in orders:
            assert self.order(order).state is OrderState.DELIVERED

    def ask(self, at: datetime | None = None) -> SurveyReport:
        if at is not None:
            self.clock.set(at)
        return send_nps_form(
            orders=self.storage.orders,
            ledger=self.storage.ledger,
            nps=self.storage.nps,
            attention=self.storage.attention,
            survey=self.survey,
            stores=self.stores,
            clock=self.clock,
        )

    def order(self, order: Order) -> Order:
        found = self.storage.orders.get(order.key)
        assert found is not None
        return found

    def change(self, order: Order, **changes: object) -> None:
        self.storage.orders.save(attrs.evolve(self.order(order), **changes))

    def entry(self, order: Order) -> Effect:
        found = self.storage.ledger.get(survey_key(str(order.key)))
        assert found is not None
        return found

    def survey_notices(self, order: Order) -> dict[str, Effect]:
        """The survey notices queued for *order*, by channel."""
        return {
            str(e.result["channel"]): e
            for e in self.storage.ledger.for_subject(str(order.key))
            if e.kind == NOTICE and e.result["event"] == NotifyEvent.NPS_SURVEY
        }


def order_in(store: str, external_id: str = "1", **changes: object) -> Order:
    return make_order(external_id, store=store, placed_at=EVENING, **changes)  # type: ignore[arg-type]


EGYPT = order_in("shemsi-egypt")


# --- when: the store's calendar ----------------------------------------------


def test_a_late_evening_order_in_cairo_is_asked_at_local_midnight_14_days_on() -> None:
    world = World()
    world.deliver(EGYPT)
    queued = world.entry(EGYPT)

    early = world.ask(at=CAIRO_DUE - SECOND)
    untouched = world.entry(EGYPT)
    due = world.ask(at=CAIRO_DUE)

    # Thirteen days and a half in UTC; fourteen calendar days in Cairo.
    assert CAIRO_DUE - EGYPT.placed_at == timedelta(days=13, minutes=30)
    assert early == SurveyReport({"too_early": 1}, {})
    assert untouched == queued
    assert due == SurveyReport({"asked": 1}, {"sms": 1, "email": 1})
    entry = world.entry(EGYPT)
    assert entry.status is EffectStatus.DONE
    assert entry.result["channels"] == ["sms", "email"]
    assert set(world.survey_notices(EGYPT)) == {"sms", "email"}


def test_one_instant_is_due_on_each_stores_own_calendar() -> None:
    world = World()
    morocco = order_in("shemsiworld", "ma")
    uae = order_in("shemsi-uae", "ae")
    # Another customer: one customer is asked once in the interval.
    uae = attrs.evolve(uae, customer=attrs.evolve(uae.customer, email="amal@x.ae"))
    world.deliver(morocco, uae)

    world.ask(at=CASABLANCA_DUE)
    moroccan, emirati = world.entry(morocco), world.entry(uae)
    still_early = world.ask(at=DUBAI_DUE - SECOND)
    at_dubai_midnight = world.ask(at=DUBAI_DUE)

    assert moroccan.status is EffectStatus.DONE
    assert emirati.status is EffectStatus.QUEUED
    assert still_early.outcomes == {"too_early": 1}
    assert at_dubai_midnight.outcomes == {"asked": 1}
    assert world.entry(uae).status is EffectStatus.DONE


@given(
    zone=st.sampled_from(
        [
            *ZONES.values(),
            "Asia/Beirut",
            "Europe/London",
            "America/Sao_Paulo",
            "Pacific/Kiritimati",
            "Pacific/Pago_Pago",
            "Australia/Lord_Howe",
        ]
    ),
    placed=st.datetimes(
        min_value=datetime(2020, 1, 1),
        max_value=datetime(2035, 1, 1),
        timezones=st.just(UTC),
    ),
    days=st.integers(1, 60),
)
def test_a_survey_is_never_queued_for_later_than_it_is_due(
    zone: str, placed: datetime, days: int
) -> None:
    due = survey_due_at(
        make_order(placed_at=placed), zone, SurveyPolicy(delay_days=days)
    )

    assert earliest_survey_at(placed, days) <= due
    assert due - earliest_survey_at(placed, days) < timedelta(days=1, hours=5)


# --- who: refusals -----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"state": OrderState.RETURNED}, "not_delivered (returned)"),
        ({"state": OrderState.CANCELLED}, "not_delivered (cancelled)"),
        ({"cancelled_at": EVENING + timedelta(days=5)}, "not_delivered (delivered)"),
    ],
    ids=["returned", "cancelled", "cancelled_in_the_store"],
)
def test_an_order_returned_or_cancelled_after_delivery_is_never_asked(
    change: dict[str, object], reason: str
) -> None:
    world = World()
    world.deliver(EGYPT)
    world.change(EGYPT, **change)

    report = world.ask(at=CAIRO_DUE)

    entry = world.entry(EGYPT)
    assert report.outcomes == {"not_delivered": 1}
    assert (entry.status, entry.detail) == (EffectStatus.FAILED, reason)
    assert world.survey_notices(EGYPT) == {}
    assert world.links.links == {}
    assert world.storage.attention.open_items() == []


def test_an_order_whose_delivery_is_not_saved_yet_waits_for_it() -> None:
    world = World()
    world.deliver(EGYPT)
    # As when tracking queued the survey and its save of the delivery lost
    # a race with intake: the next poll saves it.
    world.change(EGYPT, state=OrderState.OUT_FOR_DELIVERY)

    waiting = world.ask(at=CAIRO_DUE)
    queued = world.entry(EGYPT)
    world.change(EGYPT, state=OrderState.DELIVERED)
    delivered = world.ask(at=CAIRO_DUE + timedelta(minutes=30))

    assert waiting.outcomes == {"not_delivered_yet": 1}
    assert queued.status is EffectStatus.QUEUED
    assert delivered.outcomes == {"asked": 1}


def test_a_customer_who_opted_out_of_sms_is_asked_by_email_only() -> None:
    world = World()
    world.deliver(EGYPT)
    record_opt_out(
        world.storage.ledger,
        channel="sms",
        address="+201001234567",
        subject=str(EGYPT.key),
        reason="replied STOP",
        now=world.clock.now(),
    )

    report = world.ask(at=CAIRO_DUE)

    assert report == SurveyReport({"asked": 1}, {"email": 1})
    assert set(world.survey_notices(EGYPT)) == {"email"}
    assert world.entry(EGYPT).result["channels"] == ["email"]


def test_a_customer_who_opted_out_of_every_channel_is_not_asked() -> None:
    world = World()
    world.deliver(EGYPT)
    for channel, address in (("sms", "+201001234567"), ("email", "FATIMA@example.com")):
        record_opt_out(
            world.storage.ledger,
            channel=channel,
            address=address,
            subject="operator",
            reason="asked us to stop",
            now=world.clock.now(),
        )

    report = world.ask(at=CAIRO_DUE)

    entry = world.entry(EGYPT)
    assert report.outcomes == {"opted_out": 1}
    assert (entry.status, entry.detail) == (
        EffectStatus.FAILED,
        "opted_out (every channel)",
    )
    assert world.survey_notices(EGYPT) == {}
    assert world.storage.nps.last_surveyed("+201001234567") is None


def test_a_customer_with_no_phone_or_email_is_not_asked() -> None:
    world = World()
    unreachable = attrs.evolve(EGYPT, customer=attrs.evolve(EGYPT.customer, email=None))
    world.deliver(unreachable)
    address = world.order(unreachable).shipping_address
    world.change(
        unreachable,
        shipping_address=attrs.evolve(address, phone=Phone("not a number")),
    )

    report = world.ask(at=CAIRO_DUE)

    assert report.outcomes == {"no_contact": 1}
    assert world.entry(unreachable).status is EffectStatus.FAILED


def test_an_amazon_order_is_never_asked() -> None:
    world = World()
    amazon = attrs.evolve(
        EGYPT,
        key=OrderKey("amazon", "shemsi-egypt", "402-1234567-1234567"),
        state=OrderState.DELIVERED,
    )
    world.storage.orders.save(amazon)
    # Tracking never queues one; an entry queued by hand is refused too.
    key = str(amazon.key)
    world.storage.ledger.queue(
        survey_key(key), NPS_SURVEY, key, EVENING, payload={"order": key}
    )

    report = world.ask(at=CAIRO_DUE)

    assert report.outcomes == {"no_direct_contact": 1}
    assert world.entry(amazon).detail == "no_direct_contact"
    assert world.storage.ledger.for_subject(key)[1:] == []


def test_a_customer_is_asked_once_within_the_interval_whatever_they_order() -> None:
    world = World()
    first = EGYPT
    world.deliver(first)
    # Three days later, the same customer, another phone, the e-mail in
    # capitals; then again a hundred days after the first order.
    world.clock.set(EVENING + timedelta(days=3))
    second = attrs.evolve(
        order_in("shemsi-egypt", "2", phone="+201009999999"),
        placed_at=EVENING + timedelta(days=3),
        customer=attrs.evolve(EGYPT.customer, email="Fatima@Example.COM"),
    )
    world.deliver(second)
    world.clock.set(EVENING + timedelta(days=100))
    third = attrs.evolve(
        order_in("shemsi-egypt", "3"), placed_at=EVENING + timedelta(days=100)
    )
    world.deliver(third)

    asked_first = world.ask(at=CAIRO_DUE)
    refused_second = world.ask(at=CAIRO_DUE + timedelta(days=3))
    asked_third = world.ask(at=CAIRO_DUE + timedelta(days=100))

    assert asked_first.outcomes == {"asked": 1}
    assert refused_second.outcomes == {"asked_recently": 1}
    assert world.entry(second).detail == "asked_recently"
    assert asked_third.outcomes == {"asked": 1}
    assert world.storage.nps.last_surveyed("fatima@example.com") == (
        CAIRO_DUE + timedelta(days=100)
    )
    assert world.storage.nps.last_surveyed("+201009999999") is None


def test_a_store_without_survey_settings_sends_no_surveys() -> None:
    world = World()
    world.deliver(EGYPT)
    del world.stores["shemsi-egypt"]

    report = world.ask(at=CAIRO_DUE)

    assert report.outcomes == {"dropped": 1}
    assert world.entry(EGYPT).status is EffectStatus.FAILED
    assert world.survey_notices(EGYPT) == {}


# --- how: the link -----------------------------------------------------------


def test_the_short_link_leads_to_the_customers_own_form() -> None:
    world = World()
    world.deliver(EGYPT)

    world.ask(at=CAIRO_DUE)

    link = world.entry(EGYPT).result["link"]
    notices = world.survey_notices(EGYPT)
    assert link == "https://short.example/nps-shemsi-egypt-1"
    assert {n.result["values"]["link"] for n in notices.values()} == {link}
    destination = world.links.destination_of(link)
    assert destination is not None
    assert destination.startswith(f"https://forms.example/to/{FORM}#")
    assert hidden_fields(destination) == {
        "order": "shopify:shemsi-egypt:1",
        "first_name": "Fatima",
    }


def test_a_failing_shortener_gives_the_long_link_and_tells_a_person() -> None:
    world = World()
    world.deliver(EGYPT)
    world.links.fail_next(
        PermanentPartnerError(
            "link quota of the plan is used up", partner="rebrandly", status=403
        )
    )

    report = world.ask(at=CAIRO_DUE)

    link = world.entry(EGYPT).result["link"]
    assert report.outcomes == {"asked": 1}
    assert hidden_fields(link)["order"] == "shopify:shemsi-egypt:1"
    assert world.survey_notices(EGYPT)["sms"].result["values"] == {"link": link}
    (item,) = world.storage.attention.open_items()
    assert (item.subject, item.reason) == (
        "shortener:rebrandly",
        "short_links_unavailable",
    )
    assert "quota" in item.message


def test_an_order_id_that_is_no_slashtag_gets_a_hashed_one() -> None:
    odd = OrderKey("shopify", "shemsi-egypt", "id with spaces/and-more-than-40-chars")

    tag = survey_slashtag(odd)

    assert tag == survey_slashtag(odd)
    assert tag.startswith("nps-")
    assert len(tag) <= 40
    assert tag.replace("-", "").isalnum()
    assert survey_slashtag(EGYPT.key) == "nps-shemsi-egypt-1"


# --- once: reruns and runners that died --------------------------------------


def test_reruns_ask_each_order_at_most_once() -> None:
    world = World()
    world.deliver(EGYPT)
    world.ask(at=CAIRO_DUE)
    asked = world.survey_notices(EGYPT)

    again = [world.ask(at=CAIRO_DUE + timedelta(hours=h)) for h in (1, 2, 30)]

    assert [r.outcomes for r in again] == [{}, {}, {}]
    assert world.survey_notices(EGYPT) == asked
    assert len(world.links.links) == 1


def test_an_entry_a_runner_left_taken_is_asked_once_its_grace_has_passed() -> None:
    world = World()
    world.deliver(EGYPT)
    world.storage.ledger.take(survey_key(str(EGYPT.key)), CAIRO_DUE)

    within_grace = world.ask(at=CAIRO_DUE + timedelta(minutes=14))
    after_grace = world.ask(at=CAIRO_DUE + timedelta(minutes=15))

    assert within_grace.outcomes == {}
    assert after_grace.outcomes == {"asked": 1}
    assert set(world.survey_notices(EGYPT)) == {"sms", "email"}


def test_a_half_asked_entry_is_finished_with_the_link_already_queued() -> None:
    world = World()
    world.deliver(EGYPT)
    key = survey_key(str(EGYPT.key))
    # A runner took the entry and queued the SMS with the long link (its
    # shortener was failing), then died.
    world.storage.ledger.take(key, CAIRO_DUE)
    long_link = world.survey.form_link(
        {"order": str(EGYPT.key), "first_name": "Fatima"}
    )
    (sms, _) = notices_for(
        world.order(EGYPT), [NotifyEvent.NPS_SURVEY], {"link": long_link}
    )
    world.storage.ledger.queue(
        sms.key, NOTICE, sms.order_key, CAIRO_DUE, payload=sms.payload()
    )

    report = world.ask(at=CAIRO_DUE + timedelta(hours=1))

    notices = world.survey_notices(EGYPT)
    assert report == SurveyReport({"finished": 1}, {"email": 1})
    assert {n.result["values"]["link"] for n in notices.values()} == {long_link}
    assert world.entry(EGYPT).result["link"] == long_link
    assert world.links.links == {}
    assert world.storage.nps.last_surveyed("+201001234567") is not None


# --- end to end: the customer's phone ----------------------------------------


def test_a_survey_due_at_midnight_in_cairo_arrives_in_the_morning_in_arabic() -> None:
    world = World()
    world.deliver(EGYPT)
    sms, mail = MemorySmsSender("infobip"), MemoryMailSender("smtp")
    voice = StoreVoice(
        "Shemsi Egypt", "ar", "Africa/Cairo", sms=sms, mail=mail, links=world.links
    )

    def notify(at: datetime) -> list[str]:
        world.clock.set(at)
        notify_customers(
            orders=world.storage.orders,
            ledger=world.storage.ledger,
            attention=world.storage.attention,
            voices={"shemsi-egypt": voice},
            clock=world.clock,
        )
        return [
            m.body for m in sms.sent["+201001234567"] if ":nps_survey:" in m.reference
        ]

    world.ask(at=CAIRO_DUE)
    at_midnight = notify(CAIRO_DUE)
    before_nine = notify(datetime(2026, 11, 16, 6, 59, tzinfo=UTC))
    at_nine = notify(datetime(2026, 11, 16, 7, 0, tzinfo=UTC))

    local = datetime(2026, 11, 16, 7, 0, tzinfo=UTC).astimezone(
        ZoneInfo("Africa/Cairo")
    )
    assert local.hour == 9
    assert at_midnight == before_nine == []
    (body,) = at_nine
    assert body.startswith("مرحبا Fatima، كيف كانت تجربتك مع طلبك #1 من Shemsi Egypt؟")
    assert body.endswith("https://short.example/nps-shemsi-egypt-1")
    (email,) = [
        m for m in mail.sent["fatima@example.com"] if "nps_survey" in m.reference
    ]
    assert email.language == "ar"
    assert "https://short.example/nps-shemsi-egypt-1" in email.text
