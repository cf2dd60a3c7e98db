"""Worker send-nps-form: ask each customer, once per order, how it went.

The tracking worker queues ``nps-survey:<order key>`` in the ledger when a
parcel is first delivered, due no earlier than the first moment the survey
could be due in any time zone.  This worker takes each due entry and
decides, on the store's own calendar (:func:`~fulfilment.core.nps.
survey_refusal`), whether the customer may be asked now:

- too early (the store's local day has not come yet), or the order not
  yet saved as delivered (tracking queues the survey before it saves the
  order, and that save can lose a race with intake): left queued,
  untouched, for a later run;
- refused: the order is no longer delivered (returned or cancelled since),
  there is no way to reach the customer, the marketplace forbids direct
  contact, the customer was asked within the policy's interval about
  another order, or they opted out of every channel.  The entry fails with
  the reason; these are expected outcomes, nothing for a person to do;
- asked: the entry is taken (queued -> pending), the personalised survey
  link is built (the order key and first name ride along as hidden fields)
  and shortened with a slashtag of the order's own, the survey notices are
  queued for notify-customers (which keeps quiet hours and speaks the
  store's language) on every channel the customer has not opted out of,
  the customer's contacts are marked surveyed, and the entry is done with
  the link and the channels.

Every step of asking can be repeated with the same effect: a slashtag
always gives the same short link, a notice is keyed by (order, event,
channel) and queued once, and marking a contact keeps the latest time.  An
entry a runner left pending when it died is therefore finished by a later
run once ``pending_grace`` has passed.  A notice already queued settles the
link (the first attempt may have fallen back to the long link while the
shortener was failing) and means the customer was to be asked, so it is
not decided again.  Whatever crashes, an order's customer gets at most one
survey per channel.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta

import attrs

from ..domain import Order, OrderKey
from ..errors import PartnerError
from ..messages import NotifyEvent
from ..notices import NOTICE, Notice, has_opted_out, notices_for
from ..nps import NPS_SURVEY, SurveyPolicy, survey_contact, survey_refusal
from ..ports import (
    AttentionItem,
    AttentionQueue,
    Clock,
    Effect,
    EffectLedger,
    EffectStatus,
    LinkShortener,
    NpsStore,
    OrderStore,
    SurveySource,
)
from ..states import ACTIVE_DELIVERY

__all__ = [
    "SurveyReport",
    "SurveySettings",
    "SurveyVoice",
    "send_nps_form",
    "survey_slashtag",
]

log = logging.getLogger(__name__)

TOO_EARLY = "too_early"
NOT_DELIVERED_YET = "not_delivered_yet"
# Refusals that pass with time: the entry stays queued.
_LATER = frozenset({TOO_EARLY, NOT_DELIVERED_YET})


@attrs.frozen
class SurveyVoice:
    """How a store asks for opinions: the time zone its calendar days are
    counted in, its survey policy, and the shortener of its links (none:
    the long link)."""

    time_zone: str = "UTC"
    policy: SurveyPolicy = attrs.field(factory=SurveyPolicy)
    links: LinkShortener | None = None


@attrs.frozen
class SurveySettings:
    batch_size: int = 500
    # An entry still pending this long after it was taken belongs to a
    # runner that died while asking; a later run finishes it.
    pending_grace: timedelta = timedelta(minutes=15)


@attrs.frozen
class SurveyReport:
    """``outcomes``: entries by what became of them (``asked``;
    ``finished`` for one a dead runner left half done; ``too_early`` and
    ``not_delivered_yet`` for those left queued; a refusal such as
    ``not_delivered`` or ``opted_out``; ``dropped`` when the order or its
    store's settings are gone; ``taken_elsewhere``); ``by_channel``: survey
    notices queued per channel."""

    outcomes: Mapping[str, int]
    by_channel: Mapping[str, int]


@attrs.define
class _Run:
    orders: OrderStore
    ledger: EffectLedger
    nps: NpsStore
    attention: AttentionQueue
    survey: SurveySource
    stores: Mapping[str, SurveyVoice]
    clock: Clock
    channels: Counter[str] = attrs.Factory(Counter)


def send_nps_form(
    *,
    orders: OrderStore,
    ledger: EffectLedger,
    nps: NpsStore,
    attention: AttentionQueue,
    survey: SurveySource,
    stores: Mapping[str, SurveyVoice],
    clock: Clock,
    settings: SurveySettings | None = None,
) -> SurveyReport:
    """Ask the customers whose survey is due; *stores* by store handle (a
    store missing from it sends no surveys)."""
    settings = settings or SurveySettings()
    run = _Run(orders, ledger, nps, attention, survey, stores, clock)
    now = clock.now()
    outcomes: Counter[str] = Counter()

    for entry in _abandoned(run, settings):
        outcomes[_one(run, entry)] += 1
    for entry in ledger.queued(NPS_SURVEY, now, settings.batch_size):
        outcomes[_one(run, entry)] += 1

    log.info(
        "surveys.run %s",
        " ".join(f"{k}={v}" for k, v in sorted(outcomes.items())) or "nothing=0",
    )
    return SurveyReport(dict(outcomes), dict(run.channels))


def _abandoned(run: _Run, settings: SurveySettings) -> list[Effect]:
    now = run.clock.now()
    pending = run.ledger.with_status(EffectStatus.PENDING, settings.batch_size)
    return [
        entry
        for entry in pending
        if entry.kind == NPS_SURVEY and now - entry.updated_at >= settings.pending_grace
    ]


def _one(run: _Run, entry: Effect) -> str:
    order = run.orders.get(OrderKey.parse(str(entry.result["order"])))
    voice = run.stores.get(order.key.store) if order else None
    if order is None or voice is None:
        _fail(run, entry, "the order or its store's survey settings are gone")
        return "dropped"
    planned = notices_for(order, [NotifyEvent.NPS_SURVEY])
    decided = _queued_link(run.ledger, planned)
    if decided is not None:
        # A notice is queued: this customer was being asked; finish it.
        _ask(run, order, entry, planned, decided)
        return "finished"
    return _decide(run, entry, order, voice, planned)


def _decide(
    run: _Run,
    entry: Effect,
    order: Order,
    voice: SurveyVoice,
    planned: Sequence[Notice],
) -> str:
    refusal = _refusal(run, order, voice, planned)
    if refusal in _LATER:
        if entry.status is EffectStatus.PENDING:
            _requeue(run, entry, refusal)
        return refusal
    if (
        entry.status is EffectStatus.QUEUED
        and run.ledger.take(entry.key, run.clock.now()) is None
    ):
        return "taken_elsewhere"
    if refusal is not None:
        _fail(run, entry, refusal)
        return refusal.split(" ", maxsplit=1)[0]

    link = _link(run, order, voice)
    _ask(run, order, entry, planned, link)
    return "asked"


def _refusal(
    run: _Run, order: Order, voice: SurveyVoice, planned: Sequence[Notice]
) -> str | None:
    """Why *order*'s customer may not be asked now, or None."""
    last_asked = max(
        (t for c in _contacts(order) if (t := run.nps.last_surveyed(c))),
        default=None,
    )
    refusal = survey_refusal(
        order, run.clock.now(), voice.time_zone, voice.policy, last_asked=last_asked
    )
    if refusal is None and not _open(run.ledger, planned):
        return "opted_out (every channel)"
    if (
        refusal is not None
        and refusal.startswith("not_delivered")
        and order.state in ACTIVE_DELIVERY
        and not order.is_cancelled
    ):
        # Tracking queues the survey before it saves the delivery; that
        # save lost a race and the next poll makes it again.
        return NOT_DELIVERED_YET
    return refusal


def _ask(
    run: _Run, order: Order, entry: Effect, planned: Sequence[Notice], link: str
) -> None:
    """Queue the survey notices, remember the customer was asked, and
    complete the entry.  Each step may run again with the same effect."""
    now = run.clock.now()
    channels = [n.channel for n in _open(run.ledger, planned)]
    for notice in notices_for(order, [NotifyEvent.NPS_SURVEY], {"link": link}):
        if notice.channel in channels and run.ledger.queue(
            notice.key, NOTICE, notice.order_key, now, payload=notice.payload()
        ):
            run.channels[notice.channel] += 1
    run.nps.mark_surveyed(_contacts(order), now)
    run.ledger.complete(
        entry.key, {**entry.result, "link": link, "channels": channels}, now
    )


def _open(ledger: EffectLedger, planned: Sequence[Notice]) -> list[Notice]:
    """The planned notices on channels the customer has not opted out of."""
    return [n for n in planned if not has_opted_out(ledger, n.channel, n.to)]


def _queued_link(ledger: EffectLedger, planned: Sequence[Notice]) -> str | None:
    """The link a survey notice of this order was queued with, if any."""
    for notice in planned:
        queued = ledger.get(notice.key)
        if queued is not None:
            return str(queued.result.get("values", {}).get("link", ""))
    return None


def _contacts(order: Order) -> list[str]:
    """Where the customer is reached, as the survey memory keys them: the
    E.164 phone and the e-mail address in lower case."""
    phone, email = survey_contact(order)
    return [c for c in (phone, email.strip().lower() if email else None) if c]


def _link(run: _Run, order: Order, voice: SurveyVoice) -> str:
    """The customer's own survey link, short when the store's shortener
    can make it, else long: the customer still gets a working link."""
    first_name = order.customer.first_name if order.customer else None
    link = run.survey.form_link(
        {"order": str(order.key), "first_name": first_name or ""}
    )
    if voice.links is None:
        return link
    try:
        return voice.links.shorten(link, survey_slashtag(order.key))
    except PartnerError as error:
        run.attention.raise_item(
            AttentionItem(
                f"shortener:{voice.links.name}",
                "short_links_unavailable",
                f"{error}; surveys carry the long link meanwhile",
                run.clock.now(),
            )
        )
        return link


_SLASHTAG = re.compile(r"[A-Za-z0-9_-]{1,40}")


def survey_slashtag(key: OrderKey) -> str:
    """The slashtag of an order's survey link: ``nps-<store>-<id>``, or,
    when that is not a valid slashtag (letters, digits, ``-`` and ``_``, at
    most 40), ``nps-`` and a hash of the order key.  Asking a shortener
    again with it returns the same link."""
    tag = f"nps-{key.store}-{key.external_id}"
    if _SLASHTAG.fullmatch(tag):
        return tag
    digest = hashlib.sha256(str(key).encode()).digest()
    return "nps-" + base64.b32encode(digest).decode().lower()[:24]


def _fail(run: _Run, entry: Effect, reason: str) -> None:
    run.ledger.mark(entry.key, EffectStatus.FAILED, reason, run.clock.now())


def _requeue(run: _Run, entry: Effect, why: str) -> None:
    run.ledger.mark(entry.key, EffectStatus.QUEUED, why, run.clock.now())
