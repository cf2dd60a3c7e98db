"""Worker notify-customers: send the queued notices, each at most once.

The tracking worker queues one ledger entry per (order, event, channel).
This worker takes each queued entry that is due (atomically: QUEUED ->
PENDING, so two runners never send the same notice), waits out the store's
quiet hours, renders the message in the store's language with a short
tracking link, sends it, and completes the entry with the provider's
receipt.  Outcomes:

- sent: DONE with the receipt;
- no longer true (held back until the parcel moved on: "out for delivery"
  once it is delivered): FAILED as superseded, nothing sent;
- the order was cancelled meanwhile: FAILED, nothing sent;
- refused by the provider (invalid number, opted out): FAILED with its
  words; an opted-out customer is remembered in the ledger
  (``opt-out:<channel>:<address>``) and no later notice is even tried;
- nothing sent (connection refused, 429): back to QUEUED for the next run;
- may have been sent (timeout, broken reply): UNCERTAIN and surfaced, never
  resent blindly;
- an unexpected error while rendering or sending it (a bug): UNCERTAIN and
  surfaced the same way, logged with the order key, and the batch goes on;
- an entry left PENDING by a runner that died mid-send: UNCERTAIN and
  surfaced once its grace period has passed.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import PurePath

import attrs

from ..domain import Order, OrderKey, OrderState
from ..errors import (
    OutcomeUnknown,
    PartnerError,
    PartnerRejected,
    PermanentPartnerError,
    TransientPartnerError,
)
from ..messages import NotifyEvent, QuietHours, money_text, render, send_time
from ..notices import (
    NOTICE,
    PARCEL_EVENTS,
    has_opted_out,
    reached,
    record_opt_out,
    superseded,
)
from ..ports import (
    OPTED_OUT,
    AttentionItem,
    AttentionQueue,
    Clock,
    Effect,
    EffectLedger,
    EffectStatus,
    LinkShortener,
    MailMessage,
    MailSender,
    OrderStore,
    Receipt,
    SmsMessage,
    SmsSender,
)

__all__ = [
    "NotifyReport",
    "NotifySettings",
    "StoreVoice",
    "notify_customers",
]

log = logging.getLogger(__name__)


@attrs.frozen
class StoreVoice:
    """How a store speaks to its customers: its name and language, its
    quiet hours, and the senders it uses (none: no messages on that
    channel); ``links`` shortens tracking links (none: the long link)."""

    name: str
    locale: str = "en"
    time_zone: str = "UTC"
    quiet: QuietHours = attrs.field(factory=QuietHours)
    sms: SmsSender | None = None
    sender_id: str | None = None
    mail: MailSender | None = None
    mail_from: str | None = None
    links: LinkShortener | None = None


@attrs.frozen
class NotifySettings:
    batch_size: int = 500
    # A notice still PENDING this long after it was taken was being sent by
    # a runner that died; its outcome is unknown.
    pending_grace: timedelta = timedelta(minutes=15)


@attrs.frozen
class NotifyReport:
    outcomes: Mapping[str, int]
    by_channel: Mapping[str, int]


@attrs.define
class _Run:
    orders: OrderStore
    ledger: EffectLedger
    attention: AttentionQueue
    voices: Mapping[str, StoreVoice]
    clock: Clock


def notify_customers(
    *,
    orders: OrderStore,
    ledger: EffectLedger,
    attention: AttentionQueue,
    voices: Mapping[str, StoreVoice],
    clock: Clock,
    settings: NotifySettings | None = None,
) -> NotifyReport:
    settings = settings or NotifySettings()
    run = _Run(orders, ledger, attention, voices, clock)
    now = clock.now()
    outcomes: Counter[str] = Counter()
    channels: Counter[str] = Counter()

    outcomes.update(_settle_abandoned(run, settings))
    for entry in ledger.queued(NOTICE, now, settings.batch_size):
        outcome = _one(run, entry)
        outcomes[outcome] += 1
        if outcome == "sent":
            channels[str(entry.result.get("channel"))] += 1

    log.info(
        "notices.run %s",
        " ".join(f"{k}={v}" for k, v in sorted(outcomes.items())) or "nothing=0",
    )
    return NotifyReport(dict(outcomes), dict(channels))


def _one(run: _Run, entry: Effect) -> str:
    payload = entry.result
    order = run.orders.get(OrderKey.parse(str(payload["order"])))
    voice = run.voices.get(order.key.store) if order else None
    if order is None or voice is None:
        run.ledger.mark(
            entry.key, EffectStatus.FAILED, "order or store gone", run.clock.now()
        )
        return "dropped"
    now = run.clock.now()
    held = _held_back(run, order, entry, now)
    if held is not None:
        return held
    channel, to = str(payload["channel"]), str(payload["to"])
    if send_time(now, voice.time_zone, voice.quiet) > now:
        return "waiting_for_morning"
    taken = run.ledger.take(entry.key, now)
    if taken is None:
        return "taken_elsewhere"

    try:
        receipt = _send(run, order, voice, taken)
    except PartnerRejected as refused:
        run.ledger.mark(entry.key, EffectStatus.FAILED, str(refused), now)
        if refused.code == OPTED_OUT:
            record_opt_out(
                run.ledger,
                channel=channel,
                address=to,
                subject=str(order.key),
                reason=f"{refused.partner}: {refused}",
                now=now,
            )
            return "opted_out"
        return "refused"
    except OutcomeUnknown as unknown:
        _uncertain(run, taken, f"the provider may have sent it: {unknown}")
        return "uncertain"
    except PermanentPartnerError as broken:
        # Credentials or account trouble: nothing went out; keep the notice.
        run.ledger.mark(entry.key, EffectStatus.QUEUED, str(broken), now)
        run.attention.raise_item(
            AttentionItem(
                f"provider:{broken.partner}",
                "provider_unavailable",
                f"{broken}; notices wait until it is fixed",
                now,
            )
        )
        return "provider_failed"
    except TransientPartnerError as transient:
        run.ledger.mark(entry.key, EffectStatus.QUEUED, str(transient), now)
        return "retry_later"
    except Exception as error:  # one broken notice must not stop the batch
        _crashed(run, order, taken, error)
        return "crashed"
    run.ledger.complete(
        entry.key,
        {
            **payload,
            "provider": receipt.provider,
            "message_id": receipt.message_id,
            "status": receipt.status,
            "segments": receipt.segments,
        },
        now,
    )
    return "sent"


def _held_back(run: _Run, order: Order, entry: Effect, now: datetime) -> str | None:
    """Why this notice does not go now (an outcome), or None when it may."""
    payload = entry.result
    if order.state is OrderState.CANCELLED:
        # Cancelled with its partner before this went out: "your order is on
        # its way" would now be wrong.
        run.ledger.mark(entry.key, EffectStatus.FAILED, "the order was cancelled", now)
        return "order_cancelled"
    event = NotifyEvent(str(payload["event"]))
    if not reached(order, event, int(payload.get("occurrence", 1))):
        return "not_yet"  # queued by a tracking run whose save is still due
    if superseded(event, order.state):
        # Held back (quiet hours, a provider down) until the parcel moved
        # on: the customer hears the news that is still true instead.
        run.ledger.mark(
            entry.key,
            EffectStatus.FAILED,
            f"superseded: the order is now {order.state.value}",
            now,
        )
        return "superseded"
    channel, to = str(payload["channel"]), str(payload["to"])
    if has_opted_out(run.ledger, channel, to):
        run.ledger.mark(
            entry.key, EffectStatus.FAILED, f"the customer opted out of {channel}", now
        )
        return "opted_out"
    return None


def _send(run: _Run, order: Order, voice: StoreVoice, entry: Effect) -> Receipt:
    payload = entry.result
    event = NotifyEvent(str(payload["event"]))
    given = payload.get("values") or {}
    # Values decided when the notice was queued (a survey link, a discount
    # code) win over what the order says now.
    values = _values(run, order, voice, tracking=event in PARCEL_EVENTS) | dict(given)
    message = render(event, voice.locale, values)
    if payload["channel"] == "sms":
        if voice.sms is None:
            raise PartnerRejected("no SMS provider for this store", partner="sms")
        return voice.sms.send_sms(
            SmsMessage(str(payload["to"]), message.sms, entry.key, voice.sender_id)
        )
    if voice.mail is None:
        raise PartnerRejected("no mail sender for this store", partner="mail")
    return voice.mail.send_mail(
        MailMessage(
            to=str(payload["to"]),
            subject=message.subject,
            text=message.text,
            html=message.html,
            reference=entry.key,
            sender=voice.mail_from,
            language=message.language,
        )
    )


def _values(
    run: _Run, order: Order, voice: StoreVoice, *, tracking: bool
) -> dict[str, str]:
    shipment = order.shipment
    link = shipment.tracking_url if shipment and shipment.tracking_url else ""
    if not tracking:
        link = ""  # not about the parcel: no tracking link to shorten
    if link and voice.links is not None:
        link = _short(run, voice.links, order, link)
    collect = order.payment.collect
    return {
        "first_name": (order.customer.first_name if order.customer else None) or "",
        "order": order.name,
        "store": voice.name,
        "partner": shipment.partner.title() if shipment else "",
        "link": link,
        "amount": money_text(collect) if collect else "",
    }


def _short(run: _Run, links: LinkShortener, order: Order, link: str) -> str:
    """A short link, or the long one when the shortener cannot help (quota
    used up, credentials): the customer still gets a working link."""
    # A slashtag per order: asking again returns the same short link.
    tag = f"{order.key.store}-{order.key.external_id}"
    try:
        return links.shorten(link, tag)
    except PartnerError as error:
        run.attention.raise_item(
            AttentionItem(
                f"shortener:{links.name}",
                "short_links_unavailable",
                f"{error}; notices carry the long tracking link meanwhile",
                run.clock.now(),
            )
        )
        return link


def _uncertain(run: _Run, entry: Effect, why: str) -> None:
    """A person is told before the entry is settled: a runner dying between
    the two leaves it pending, and the next run tells (idempotently) again."""
    now = run.clock.now()
    run.attention.raise_item(
        AttentionItem(
            entry.subject,
            # One item per notice: several uncertain ones of an order are
            # each a person's to check.
            f"notification_uncertain:{entry.result.get('event')}:"
            f"{entry.result.get('channel')}",
            f"{entry.result.get('channel')} notice {entry.result.get('event')}: "
            f"{why}; it is not sent again automatically",
            now,
            effect=entry.key,
        )
    )
    run.ledger.mark(entry.key, EffectStatus.UNCERTAIN, why, now)


def _crashed(run: _Run, order: Order, entry: Effect, error: Exception) -> None:
    """An unexpected error while rendering or sending one notice (a bug,
    a value no adapter could write).  Whether it went out cannot be known,
    so it is uncertain, never resent.  Only the error's type and where it
    was raised are told: its words may hold the recipient's address."""
    where = _raised_at(error)
    log.error(
        "notices.send_failed order=%s notice=%s error=%s at=%s",
        order.key,
        entry.key,
        type(error).__name__,
        where,
    )
    _uncertain(
        run,
        entry,
        f"sending stopped on an unexpected {type(error).__name__} (at {where}); "
        "it may have gone out",
    )


def _raised_at(error: Exception) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "unknown"
    last = frames[-1]
    return f"{PurePath(last.filename).name}:{last.lineno} in {last.name}"


def _settle_abandoned(run: _Run, settings: NotifySettings) -> Counter[str]:
    now = run.clock.now()
    settled: Counter[str] = Counter()
    for entry in run.ledger.with_status(EffectStatus.PENDING, settings.batch_size):
        if entry.kind == NOTICE and now - entry.updated_at >= settings.pending_grace:
            _uncertain(run, entry, "a runner stopped while sending it")
            settled["uncertain"] += 1
    return settled
