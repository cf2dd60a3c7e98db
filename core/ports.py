"""The ports: what the core needs from the outside world, named for intent.

Each port is a :class:`typing.Protocol`.  Every port has an in-memory twin
in the package (``fulfilment.adapters.oms.memory``,
``fulfilment.adapters.pl3.memory``, ``fulfilment.adapters.storage.memory``)
and one contract test suite runs against the twin and each real adapter.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from .attention import attention_id, reason_code, subject_store
from .domain import Booking, Order, OrderKey, OrderState, Problem, TrackingEvent
from .rates import FxRate, PublishedRates, RateType

if TYPE_CHECKING:
    from .nps import DiscountCode, DiscountKind, NpsResponse

__all__ = [
    "OPTED_OUT",
    "AttentionItem",
    "AttentionQueue",
    "BookingRequest",
    "Capabilities",
    "Clock",
    "CursorStore",
    "DeliveryPartner",
    "DiscountRequest",
    "Effect",
    "EffectLedger",
    "EffectStatus",
    "ExistingDiscount",
    "LeaseStore",
    "LinkShortener",
    "MailMessage",
    "MailSender",
    "NpsStore",
    "OrderPage",
    "OrderSource",
    "OrderStore",
    "RateBudget",
    "RateSource",
    "RateStore",
    "Receipt",
    "RunLog",
    "RunRecord",
    "ShipmentReport",
    "SmsMessage",
    "SmsSender",
    "SourceWindow",
    "Storage",
    "StoreDiscounts",
    "StoreFulfilments",
    "SurveyPage",
    "SurveySource",
    "TrackingBatch",
    "WebhookDelivery",
    "WebhookInbox",
]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


# --- order sources -----------------------------------------------------------


@attrs.frozen
class SourceWindow:
    """Orders changed at or after ``since`` and strictly before ``until``."""

    since: datetime | None
    until: datetime


@attrs.frozen
class OrderPage:
    """One page of changed orders, oldest change first.

    ``orders`` are already mapped to the domain; an order the adapter could
    not fully read is still here, with ``source_problems`` and its raw
    payload.  ``next_page`` is the opaque token for the following page, None
    on the last page.
    """

    orders: tuple[Order, ...]
    next_page: str | None


@runtime_checkable
class OrderSource(Protocol):
    """A sales channel's store (one Shopify shop, one Amazon marketplace)."""

    channel: str
    store: str

    def fetch_changed_orders(
        self, window: SourceWindow, page: str | None = None
    ) -> OrderPage:
        """One page of orders whose source version changed inside *window*,
        sorted by change time.  Raises ``TransientPartnerError`` or
        ``PermanentPartnerError``; never returns a partial page silently."""
        ...


@attrs.frozen
class ShipmentReport:
    """What a store is told once a parcel is on its way: the partner's
    tracking number, the carrier's name as the store should show it, and
    the page where the customer can follow the parcel."""

    tracking_number: str
    company: str
    url: str | None = None


@runtime_checkable
class StoreFulfilments(Protocol):
    """A store that can be told a parcel has left (Shopify marks the order
    fulfilled with the tracking number).  A channel that cannot, or whose
    rules keep the seller from doing so, does not implement it; its orders
    are simply not reported.

    The store keys nothing on our side, so the tracking number is the
    natural key of a report: an implementation should hand back the record
    it already holds for a tracking number rather than make a second one,
    and the worker, after an attempt whose outcome is unknown, asks
    :meth:`find_shipment_report` before it reports again.
    """

    store: str

    def report_shipment(self, order: Order, report: ShipmentReport) -> str:
        """Record the shipment on the store's copy of *order*; return the
        store's id for that record.  Raises ``PartnerRejected`` with the
        store's words (nothing left to fulfil, order cancelled there),
        ``TransientPartnerError`` when nothing happened, ``OutcomeUnknown``
        when it may have."""
        ...

    def find_shipment_report(self, order: Order, tracking_number: str) -> str | None:
        """The store's id of an earlier record of *tracking_number* on
        *order*, or None when there is none."""
        ...


# --- the feedback loop ------------------------------------------------------


@attrs.frozen
class SurveyPage:
    """Completed answers after a cursor, oldest first.  ``after`` is the
    provider's token to ask for the next page with; ``more`` says whether
    there is one."""

    responses: tuple[NpsResponse, ...]
    after: str | None = None
    more: bool = False


@runtime_checkable
class SurveySource(Protocol):
    """An NPS survey (Typeform): personalised links out, answers back."""

    name: str
    form_id: str

    def form_link(self, hidden: Mapping[str, str]) -> str:
        """The survey's address carrying *hidden* fields (the order key,
        the customer's first name), which come back with the answer."""
        ...

    def responses(
        self, *, since: datetime | None, after: str | None, page_size: int
    ) -> SurveyPage:
        """Completed answers submitted at or after *since*, continuing after
        the token *after* of the previous page.  An answer may come twice
        (pages of a moving list); callers de-duplicate on its id.  Each
        answer's ``order_key`` is set from its hidden field when it parses
        as an order key, whether or not such an order exists."""
        ...


@attrs.frozen
class DiscountRequest:
    """One single-use discount code to create in a store, for one customer.
    ``title`` names the answer it rewards, so a code found in the store can
    be recognised as ours."""

    code: str
    title: str
    kind: DiscountKind
    value: Decimal
    currency: str
    starts_at: datetime
    ends_at: datetime
    customer_id: str | None = None


@attrs.frozen
class ExistingDiscount:
    """A discount the store already holds under a code.  ``starts_at`` and
    ``ends_at`` are the dates the store runs it between, when the store
    says (a code recovered after a lost answer is announced with the
    store's own dates, not with ones worked out again later)."""

    store_id: str
    title: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@runtime_checkable
class StoreDiscounts(Protocol):
    """A store that can create discount codes (Shopify)."""

    store: str

    def create_discount(self, request: DiscountRequest) -> str:
        """Create the code; return the store's id of the discount.  Raises
        ``DiscountCodeTaken`` when the store already has that code (ours from
        an earlier attempt, or someone else's), ``PartnerRejected`` with the
        store's words, ``TransientPartnerError`` / ``OutcomeUnknown`` as
        every adapter does."""
        ...

    def find_discount(self, code: str) -> ExistingDiscount | None:
        """The discount the store holds under *code*, or None."""
        ...


# --- delivery partners -------------------------------------------------------


@attrs.frozen
class Capabilities:
    """What a delivery partner can do; the core refuses an order the
    partner cannot take before any call is made."""

    cash_on_delivery: bool = True
    cod_currencies: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    lookup_by_reference: bool = True
    cancel: bool = False
    batch_tracking: bool = False
    max_tracking_batch: int = 1
    # The currencies the partner takes an order in at all (declared value,
    # invoice); empty means any.  Cash collection is ``cod_currencies``.
    currencies: frozenset[str] = frozenset()
    # Whether a booking comes back with a printable label document.
    label_documents: bool = False

    def refusal(self, order: Order, partner: str) -> Problem | None:
        """Why *partner*, with these capabilities, cannot take *order*: a
        country it does not serve, a currency it does not take, cash it
        cannot collect.  None when nothing declared stands in the way."""
        address = order.shipping_address
        country = address.country_code if address else None
        if self.countries and country not in self.countries:
            return Problem(
                "destination_not_served",
                f"{partner} does not deliver to {country or 'an unknown country'}",
                "shippingAddress.countryCode",
            )
        if self.currencies and order.currency not in self.currencies:
            return Problem(
                "currency_not_supported",
                f"{partner} takes orders in {_listing(self.currencies)} only, "
                f"not {order.currency}",
                "total.currency",
            )
        return self._cash_refusal(order, partner)

    def _cash_refusal(self, order: Order, partner: str) -> Problem | None:
        if not order.payment.is_cod:
            return None
        if not self.cash_on_delivery:
            return Problem(
                "cod_not_supported",
                f"{partner} cannot collect cash on delivery",
                "payment.method",
            )
        collect = order.payment.collect
        currency = collect.currency if collect else order.currency
        if self.cod_currencies and currency not in self.cod_currencies:
            return Problem(
                "cod_currency_not_supported",
                f"{partner} collects cash only in "
                f"{_listing(self.cod_currencies)}, not {currency}",
                "payment.collect",
            )
        return None


def _listing(codes: Collection[str]) -> str:
    return ", ".join(sorted(codes))


@attrs.frozen
class BookingRequest:
    """Everything a partner needs to take a parcel, built by the core from
    an order.  ``reference`` is unique per order and is the natural
    idempotency key at the partner."""

    reference: str
    order: Order


@runtime_checkable
class DeliveryPartner(Protocol):
    name: str
    capabilities: Capabilities

    def book(self, request: BookingRequest) -> Booking:
        """Book the parcel.  Raises ``PartnerRejected`` with the partner's
        words, ``TransientPartnerError`` when nothing happened,
        ``OutcomeUnknown`` when it may have happened."""
        ...

    def find_booking(self, reference: str) -> Booking | None:
        """The booking made earlier under *reference*, or None.  Partners
        whose ``capabilities.lookup_by_reference`` is False raise
        ``NotImplementedError``."""
        ...

    def track(self, references: Sequence[str]) -> TrackingBatch:
        """Tracking history of up to ``capabilities.max_tracking_batch``
        parcels (partner references) in as few calls as the partner allows.
        Events carry the partner's raw code and the normalised status
        (``unknown`` when the code is not in the partner's table)."""
        ...

    def cancel(self, reference: str) -> bool:
        """Cancel a booked parcel; True when the partner accepted.  Partners
        whose ``capabilities.cancel`` is False raise ``NotImplementedError``;
        a parcel already moving raises ``PartnerRejected``."""
        ...


@attrs.frozen
class TrackingBatch:
    """What a partner said about a batch of parcels.  ``events`` by partner
    reference, in any order, possibly with duplicates; ``missing`` are the
    references the partner does not know (Aramex ``NonExistingWaybills``)."""

    events: Mapping[str, tuple[TrackingEvent, ...]]
    missing: frozenset[str] = frozenset()
    # The customer's tracking page by partner reference, for partners that
    # only know it once a courier has the parcel (Flextock).
    links: Mapping[str, str] = attrs.field(factory=dict)


# --- notifications -----------------------------------------------------------

OPTED_OUT = "opted_out"
"""The ``code`` of a ``PartnerRejected`` raised by a sender whose recipient
unsubscribed (replied STOP, is on a do-not-disturb list): the connector
never writes to that address on that channel again."""


@attrs.frozen
class SmsMessage:
    """One text message.  ``to`` is E.164; ``reference`` is our idempotency
    key (the effect-ledger key), passed to providers that accept one."""

    to: str
    body: str
    reference: str
    sender: str | None = None


@attrs.frozen
class MailMessage:
    to: str
    subject: str
    text: str
    reference: str
    html: str | None = None
    sender: str | None = None
    reply_to: str | None = None
    language: str | None = None


@attrs.frozen
class Receipt:
    """A provider's acknowledgement: its id for the message and status."""

    provider: str
    message_id: str
    status: str
    segments: int | None = None


class SmsSender(Protocol):
    name: str

    def send_sms(self, message: SmsMessage) -> Receipt:
        """Send one SMS.  ``PartnerRejected`` for a number or body the
        provider refuses; ``TransientPartnerError`` when nothing was sent;
        ``OutcomeUnknown`` when it may have been."""
        ...


class MailSender(Protocol):
    name: str

    def send_mail(self, message: MailMessage) -> Receipt: ...


class LinkShortener(Protocol):
    name: str

    def shorten(self, url: str, slashtag: str | None = None) -> str:
        """A short link to *url*.  With *slashtag*, the same slashtag always
        gives the same link (an existing one is looked up, not duplicated)."""
        ...


# --- storage -----------------------------------------------------------------


class OrderStore(Protocol):
    """Orders, written with compare-and-set on ``Order.revision``."""

    def get(self, key: OrderKey) -> Order | None: ...

    def get_many(self, keys: Iterable[OrderKey]) -> dict[OrderKey, Order]: ...

    def save_many(self, orders: Sequence[Order]) -> list[OrderKey]:
        """Write each order if the stored revision still equals
        ``order.revision`` (absent counts as revision 0 for a new order).
        Stored copies get ``revision + 1``.  One bulk write; returns the keys
        that lost the race and were not written."""
        ...

    def save(self, order: Order) -> Order:
        """Write one order with compare-and-set; return the stored copy.
        Raises ``ConflictError`` when the revision moved."""
        ...

    def due(
        self, states: Iterable[OrderState], now: datetime, limit: int
    ) -> list[Order]:
        """Orders in one of *states* whose ``next_attempt_at`` is unset or not
        after *now*, oldest placement first."""
        ...

    def expired_claims(self, now: datetime, limit: int) -> list[Order]:
        """Orders left in ``booking`` by a runner whose claim expired."""
        ...

    def cancelled(self, states: Iterable[OrderState], limit: int) -> list[Order]:
        """Orders in one of *states* that their source cancelled
        (``cancelled_at`` set), oldest placement first."""
        ...

    def unstamped(self, limit: int) -> list[Order]:
        """Orders without a ``reporting_total`` yet, oldest placement
        first (stamped as soon as rates exist)."""
        ...

    def list(
        self, *, state: OrderState | None = None, store: str | None = None
    ) -> list[Order]:
        """Every order, optionally filtered, in key order (for reports and the
        CLI, not for workers)."""
        ...


class CursorStore(Protocol):
    """Named watermarks such as ``fetch-new-orders:shemsiworld``."""

    def get(self, name: str) -> datetime | None: ...

    def set(self, name: str, value: datetime) -> None: ...


class EffectStatus(enum.StrEnum):
    QUEUED = "queued"
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    UNCERTAIN = "uncertain"


@attrs.frozen
class Effect:
    """One side effect in the ledger: a unique ``key`` per (action,
    subject), written before the call and completed after it."""

    key: str
    kind: str
    subject: str
    status: EffectStatus
    created_at: datetime
    updated_at: datetime
    attempts: int = 1
    result: Mapping[str, Any] = attrs.field(factory=dict)
    detail: str | None = None
    not_before: datetime | None = None

    @classmethod
    def queued(
        cls,
        key: str,
        kind: str,
        subject: str,
        now: datetime,
        *,
        payload: Mapping[str, Any],
        not_before: datetime | None = None,
    ) -> Effect:
        """A new QUEUED entry carrying *payload* in ``result``, as every
        store's ``EffectLedger.queue`` writes it."""
        return cls(
            key,
            kind,
            subject,
            EffectStatus.QUEUED,
            now,
            now,
            result=dict(payload),
            not_before=not_before,
        )


class EffectLedger(Protocol):
    def begin(
        self, key: str, kind: str, subject: str, now: datetime
    ) -> tuple[Effect, bool]:
        """Record intent before acting.  Returns ``(entry, True)`` for a new
        pending entry, or ``(existing entry, False)`` unchanged: the caller
        decides what an earlier attempt means."""
        ...

    def queue(
        self,
        key: str,
        kind: str,
        subject: str,
        now: datetime,
        *,
        payload: Mapping[str, Any],
        not_before: datetime | None = None,
    ) -> bool:
        """Plan an effect for later (an outbox entry): create a QUEUED entry
        carrying *payload* in ``result``, unless the key exists in any
        status.  True when it was created."""
        ...

    def take(self, key: str, now: datetime) -> Effect | None:
        """Atomically move a QUEUED entry to PENDING (the caller is about to
        act) and return it; None when someone else took it first or it is
        not queued."""
        ...

    def queued(self, kind: str, now: datetime, limit: int) -> list[Effect]:
        """QUEUED entries of *kind* whose ``not_before`` is unset or not after
        *now*, oldest first."""
        ...

    def reopen(self, key: str, now: datetime) -> Effect:
        """Turn a FAILED entry (known not to have happened) back into a
        PENDING one for a new attempt, counting the attempt."""
        ...

    def complete(
        self, key: str, result: Mapping[str, Any], now: datetime
    ) -> Effect: ...

    def mark(
        self, key: str, status: EffectStatus, detail: str, now: datetime
    ) -> Effect: ...

    def get(self, key: str) -> Effect | None: ...

    def with_status(self, status: EffectStatus, limit: int) -> list[Effect]: ...

    def for_subject(self, subject: str, limit: int = 1000) -> list[Effect]:
        """Up to *limit* entries about *subject* (an order key: its booking,
        its notices), of every kind and status, oldest first, then by key.
        For the history an operator reads, not for workers."""
        ...


class LeaseStore(Protocol):
    """Named leases so two schedulers never do the same run at once."""

    def acquire(self, name: str, owner: str, now: datetime, ttl_seconds: float) -> bool:
        """Take the lease if it is free, expired, or already *owner*'s."""
        ...

    def renew(self, name: str, owner: str, now: datetime, ttl_seconds: float) -> bool:
        """Extend *owner*'s live lease to *now* + *ttl_seconds*.  False when
        *owner* does not hold it (it lapsed, and perhaps another runner has
        taken it): a renewal never takes a lease, unlike ``acquire``."""
        ...

    def release(self, name: str, owner: str) -> None: ...


# --- run history -------------------------------------------------------------


@attrs.frozen
class RunRecord:
    """What is known of the runs under one name (a worker, or a worker and
    its scope such as ``fetch-new-orders:shopify:shemsiworld``): the latest
    run started, how it ended (``finished_at`` None while it runs or when
    its runner died), and when a run under the name last succeeded."""

    name: str
    run_id: str
    owner: str
    started_at: datetime
    finished_at: datetime | None = None
    ok: bool | None = None
    summary: str = ""
    last_success_at: datetime | None = None


class RunLog(Protocol):
    """The history that schedulers share: what ran, when, and how it ended.

    One record per name holds the latest run; a scheduler decides from it
    what is due, and ``status`` what is overdue."""

    def started(self, name: str, run_id: str, owner: str, at: datetime) -> None:
        """Record that run *run_id* of *name* began; it becomes the latest
        (its outcome unknown until ``finished``).  The last success stays."""
        ...

    def finished(
        self, name: str, run_id: str, at: datetime, ok: bool, summary: str
    ) -> bool:
        """Record how run *run_id* ended; False (and nothing changes) when
        a later run of *name* has started since."""
        ...

    def last(self, name: str) -> RunRecord | None: ...

    def all(self) -> list[RunRecord]:
        """Every name's record, by name."""
        ...


@attrs.frozen
class AttentionItem:
    """Something a person must look at (see :mod:`fulfilment.core.attention`).

    One open item per (subject, reason); raising it again refreshes its
    message and keeps its ID.  ``occurrence`` counts the times the pair
    was raised anew after being resolved: the store sets it.  ``effect``
    names the ledger entry the item is about, when there is one (an
    uncertain notice), so an operator's resend can queue it again.  A
    resolved item keeps who closed it and their note; the connector
    closing an item whose condition cleared leaves both unset."""

    subject: str
    reason: str
    message: str
    raised_at: datetime
    problems: tuple[Problem, ...] = ()
    resolved_at: datetime | None = None
    occurrence: int = 1
    effect: str | None = None
    note: str | None = None
    resolved_by: str | None = None

    @property
    def id(self) -> str:
        return attention_id(self.subject, self.reason, self.occurrence)

    @property
    def code(self) -> str:
        """The reason's catalogue code (without its detail)."""
        return reason_code(self.reason)

    @property
    def store(self) -> str | None:
        return subject_store(self.subject)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class AttentionQueue(Protocol):
    """Items that need a person, open and resolved."""

    def raise_item(self, item: AttentionItem) -> AttentionItem:
        """Open *item*, or refresh the open item of its (subject, reason)
        (message, time, problems, effect), keeping that item's ID; the item
        as stored.  A pair raised after its item was resolved opens a new
        item with the next occurrence."""
        ...

    def open_items(
        self,
        *,
        reason: str | None = None,
        store: str | None = None,
        subject: str | None = None,
        limit: int | None = None,
    ) -> list[AttentionItem]:
        """Open items oldest first (then by subject and reason), of one
        reason code (``unknown_tracking_code`` matches every code's item),
        one store (:func:`~fulfilment.core.attention.subject_store`) and
        one subject, at most *limit* of them."""
        ...

    def get(self, item_id: str) -> AttentionItem | None:
        """The item with *item_id*, open or resolved."""
        ...

    def resolve(self, subject: str, reason: str, now: datetime) -> bool:
        """Close the open item of (subject, reason) because its condition
        cleared; False when there is none."""
        ...

    def resolve_id(
        self, item_id: str, now: datetime, *, note: str, by: str | None = None
    ) -> AttentionItem | None:
        """Close the open item *item_id* on a person's word: *note* (not
        blank, else ``InvalidNote``) and who they are are kept with it.
        The closed item; None when no open item has that ID."""
        ...


class NpsStore(Protocol):
    """Survey answers and the discount codes they earned."""

    def add_response(self, response: NpsResponse) -> bool:
        """Keep *response*; True when it is new, False when an answer with
        its (form, response id) is already kept (which stays as it is)."""
        ...

    def get_response(self, form_id: str, response_id: str) -> NpsResponse | None: ...

    def responses(
        self,
        *,
        store: str | None = None,
        since: datetime | None = None,
        unmatched: bool = False,
    ) -> list[NpsResponse]:
        """Answers oldest first, of one store's orders, submitted at or
        after *since*; with *unmatched*, only those naming no known order."""
        ...

    def add_discount(self, code: DiscountCode) -> bool:
        """Keep *code*; True when new (one per code)."""
        ...

    def discounts(
        self, *, store: str | None = None, since: datetime | None = None
    ) -> list[DiscountCode]:
        """Codes oldest first (by ``starts_at``), of one store, starting at
        or after *since*."""
        ...

    def last_surveyed(self, contact: str) -> datetime | None:
        """When the customer reachable at *contact* (E.164 phone or
        lower-case e-mail) was last sent a survey."""
        ...

    def mark_surveyed(self, contacts: Iterable[str], at: datetime) -> None: ...


# --- reference rates ---------------------------------------------------------


class RateSource(Protocol):
    """A publisher of daily rates from one base currency (the ECB's euro
    reference rates, a JSON FX feed, a metals feed)."""

    @property
    def base(self) -> str:
        """The currency its rates are per one of."""
        ...

    def published(
        self, start: date, end: date, quotes: Collection[str]
    ) -> list[PublishedRates]:
        """What the source published for the days from *start* to *end*
        inclusive, oldest first, limited to *quotes*.  A day it published
        nothing for (a weekend or holiday) is absent; a quote it does not
        carry is absent from that day's rates.  Raises ``PartnerError``
        (``TransientPartnerError`` when a later try may work)."""
        ...


class RateStore(Protocol):
    """Rates, append-only: kept as they came, never changed."""

    def add(self, rates: Iterable[FxRate]) -> int:
        """Keep each rate unless one with its key (source, day, base,
        quote, rate type) is kept already (that one stays as it is); how
        many were new."""
        ...

    def latest(
        self, source: str, base: str, quote: str, rate_type: RateType, day: date
    ) -> FxRate | None:
        """The newest rate of (source, base, quote, rate type) for *day*
        or an earlier day."""
        ...

    def history(
        self,
        *,
        quote: str | None = None,
        source: str | None = None,
        rate_type: RateType | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> list[FxRate]:
        """Rates of the days from *start* to *end* inclusive, filtered,
        ordered by day, then source, base, quote and rate type."""
        ...


# --- pushed deliveries -------------------------------------------------------


@attrs.frozen
class WebhookDelivery:
    """One delivery a source pushed to us (a Shopify webhook), kept exactly
    as it came before it is answered, and read afterwards.

    ``delivery_id`` is the source's id of the delivery, the same on every
    retry of it, so a delivery is kept once however often it arrives.
    ``store`` is the store handle the sender was verified for; ``body`` the
    request body as text, unchanged.  ``processed_at`` and ``outcome`` are
    set once the body has been read into the order store."""

    delivery_id: str
    channel: str
    store: str
    topic: str
    received_at: datetime
    body: str = attrs.field(repr=False)
    triggered_at: datetime | None = None
    processed_at: datetime | None = None
    outcome: str | None = None

    @property
    def processed(self) -> bool:
        return self.processed_at is not None


class WebhookInbox(Protocol):
    """Pushed deliveries, kept durably between receipt and processing."""

    def receive(self, delivery: WebhookDelivery) -> bool:
        """Keep *delivery*; True when it is new, False when a delivery with
        its ``delivery_id`` is kept already (that one stays as it is)."""
        ...

    def get(self, delivery_id: str) -> WebhookDelivery | None: ...

    def unprocessed(self, limit: int) -> list[WebhookDelivery]:
        """Deliveries not processed yet, oldest receipt first (then by id)."""
        ...

    def mark_processed(self, delivery_id: str, outcome: str, now: datetime) -> bool:
        """Record that *delivery_id* was read, with what came of it; False
        when no such delivery is kept."""


# --- rate budgets ------------------------------------------------------------


class RateBudget(Protocol):
    """Token buckets by key (a partner credential, an operation of it) that
    every runner on one database takes from before calling the partner.

    Each method is one atomic step on the bucket of *key*, by the rules of
    :mod:`fulfilment.core.rate_budgets`: a bucket never used is full,
    holds at most *capacity* tokens and gains *refill_per_second* a second.
    The caller passes the shape on every call (the partner may report a new
    one at any time); *now* is seconds since the epoch.
    """

    def take(
        self,
        key: str,
        cost: float,
        capacity: float,
        refill_per_second: float,
        now: float,
    ) -> float:
        """Grant *cost* tokens and answer 0, or grant nothing and answer the
        seconds until the bucket will hold them."""
        ...

    def give_back(
        self,
        key: str,
        tokens: float,
        capacity: float,
        refill_per_second: float,
        now: float,
    ) -> None:
        """Return *tokens* a grant turned out not to need."""
        ...

    def observe(
        self,
        key: str,
        available: float,
        capacity: float,
        refill_per_second: float,
        now: float,
    ) -> None:
        """The partner says its bucket held *available* at *now*: lower ours
        to that when it holds more (a 429 is ``available=0``)."""
        ...


class Storage(Protocol):
    """The stores a runner opens together on one database."""

    orders: OrderStore
    cursors: CursorStore
    ledger: EffectLedger
    leases: LeaseStore
    attention: AttentionQueue
    nps: NpsStore
    rates: RateStore
    webhooks: WebhookInbox
    rate_budgets: RateBudget
    runs: RunLog

    def close(self) -> None: ...
