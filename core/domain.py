"""The domain: orders, the people and things in them, and their shipments.

Every class here is a frozen value.  Money is :class:`~decimal.Decimal` with
an ISO 4217 currency, never a float; every time is timezone-aware UTC; a
phone number is kept twice, as the customer typed it and as E.164.  The
module knows nothing about any shop, partner or database: adapters translate
their wire shapes into these classes at the edge.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs

__all__ = [
    "Address",
    "Booking",
    "Claim",
    "Customer",
    "LineItem",
    "Money",
    "Order",
    "OrderKey",
    "OrderState",
    "Payment",
    "PaymentMethod",
    "Phone",
    "Problem",
    "Product",
    "ReportingTotal",
    "Shipment",
    "TrackingEvent",
    "TrackingStatus",
    "ensure_utc",
    "minor_units",
]


def ensure_utc(value: datetime) -> datetime:
    """Return *value* in UTC; refuse a naive datetime rather than guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


def _utc(value: datetime) -> datetime:
    return ensure_utc(value)


def _optional_utc(value: datetime | None) -> datetime | None:
    return None if value is None else ensure_utc(value)


def _decimal(value: Decimal | int | str) -> Decimal:
    """An exact amount.  A float is refused (``Money(1.1, ...)`` would keep
    1.100000000000000088...), and so are NaN and infinities."""
    if isinstance(value, float | bool):
        raise TypeError(f"amount {value!r}: use a Decimal, int or str, not a float")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"amount {value!r} is not a finite number")
    return amount


# ISO 4217 minor units of the currencies whose smallest unit is not the
# hundredth; every other currency here (MAD, EGP, AED, LBP, USD, ...) has 2.
# The whole list, not only the region's: a rate source (the ECB publishes
# ISK and KRW) makes any of them a currency an amount can be converted to.
_MINOR_UNITS = {
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
}


def minor_units(currency: str) -> int:
    """How many digits *currency* has after the decimal point (ISO 4217)."""
    return _MINOR_UNITS.get(currency, 2)


@attrs.frozen
class Money:
    """An amount in one currency.  Arithmetic refuses to mix currencies."""

    amount: Decimal = attrs.field(converter=_decimal)
    currency: str = attrs.field()

    @currency.validator
    def _check_currency(self, _: attrs.Attribute[str], value: str) -> None:
        if len(value) != 3 or not value.isalpha() or not value.isupper():
            raise ValueError(f"currency {value!r} is not an ISO 4217 code")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        return Money(self.amount * factor, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


@attrs.frozen
class Phone:
    """A phone number as typed (``original``) and normalised (``e164``).

    ``e164`` is None when the original could not be read as a number of the
    store's country; the order then carries an ``invalid_phone`` problem.
    """

    original: str
    e164: str | None = None
    is_mobile: bool | None = None


@attrs.frozen
class Address:
    first_name: str | None = None
    last_name: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country_code: str | None = None
    phone: Phone | None = None
    company: str | None = None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@attrs.frozen
class Customer:
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: Phone | None = None
    locale: str | None = None
    accepts_marketing: bool | None = None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@attrs.frozen
class Product:
    external_id: str | None
    sku: str | None
    title: str
    variant_id: str | None = None


@attrs.frozen
class LineItem:
    """One line of an order.  ``quantity`` is the current quantity, after
    edits; ``ordered_quantity`` is what was first ordered."""

    external_id: str
    product: Product
    quantity: int
    ordered_quantity: int
    unit_price: Money
    grams: int | None = None

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity


class PaymentMethod(enum.StrEnum):
    PREPAID = "prepaid"
    CASH_ON_DELIVERY = "cash_on_delivery"


@attrs.frozen
class Payment:
    """How the order is paid.  ``collect`` is the amount the courier must
    collect on delivery, set only for cash on delivery."""

    method: PaymentMethod
    paid: bool
    collect: Money | None = None
    gateways: tuple[str, ...] = ()

    @property
    def is_cod(self) -> bool:
        return self.method is PaymentMethod.CASH_ON_DELIVERY


@attrs.frozen
class Problem:
    """A machine-readable reason with text a person can act on.

    ``field`` names where the problem is (``shippingAddress.phone``) when it
    is about one field.
    """

    code: str
    message: str
    field: str | None = None


class OrderState(enum.StrEnum):
    NEW = "new"
    ON_HOLD = "on_hold"
    NEEDS_ATTENTION = "needs_attention"
    BOOKING = "booking"
    BOOKED = "booked"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class TrackingStatus(enum.StrEnum):
    CREATED = "created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    ON_HOLD = "on_hold"
    RETURN_TO_SENDER = "return_to_sender"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


@attrs.frozen(order=True)
class OrderKey:
    """Identity of an order: sales channel, store handle, the channel's id.

    Its string form, ``shopify:shemsi-egypt:5551234567890``, is what logs,
    the CLI and the storage use.
    """

    channel: str = attrs.field(validator=lambda _, a, v: _key_part(a.name, v))
    store: str = attrs.field(validator=lambda _, a, v: _key_part(a.name, v))
    external_id: str = attrs.field(validator=lambda _, a, v: _key_id(a.name, v))

    def __str__(self) -> str:
        return f"{self.channel}:{self.store}:{self.external_id}"

    @classmethod
    def parse(cls, text: str) -> OrderKey:
        parts = text.split(":", 2)
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"order key {text!r} is not of the form channel:store:id")
        return cls(*parts)


def _key_part(name: str, value: str) -> None:
    if not value or ":" in value:
        raise ValueError(f"order key {name} {value!r} must be non-empty, without ':'")


def _key_id(name: str, value: str) -> None:
    # Any text a channel uses as an id, but no control character: a NUL or
    # a line break in a key would not survive every store, log or terminal.
    if not value or any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError(
            f"order key {name} {value!r} must be non-empty, without control characters"
        )


@attrs.frozen
class TrackingEvent:
    code: str
    status: TrackingStatus
    description: str
    occurred_at: datetime = attrs.field(converter=_utc)
    location: str | None = None


@attrs.frozen
class Booking:
    """What a partner answered when it accepted a parcel."""

    partner: str
    reference: str
    label_url: str | None = None
    tracking_url: str | None = None


@attrs.frozen
class Shipment:
    partner: str
    reference: str
    merchant_reference: str
    label_url: str | None = None
    tracking_url: str | None = None
    status: TrackingStatus = TrackingStatus.CREATED
    incident: str | None = None
    events: tuple[TrackingEvent, ...] = ()
    booked_at: datetime | None = attrs.field(default=None, converter=_optional_utc)
    last_polled_at: datetime | None = attrs.field(default=None, converter=_optional_utc)


@attrs.frozen
class ReportingTotal:
    """An order's total in the reporting currency, stamped once when the
    order is first stored (or as soon as rates exist): ``amount`` at
    ``rate`` (reporting units per unit of the order's currency) from the
    rates of ``rate_day`` published by ``sources``.  Never recomputed.

    When no rate can ever be found (no source serves the currency, or the
    order is older than any rate kept or fetchable), the stamp says so in
    ``missing`` and carries no amount, so the order is not tried again.
    """

    amount: Money | None
    rate: Decimal | None
    rate_day: date | None
    sources: tuple[str, ...]
    stamped_at: datetime = attrs.field(converter=_utc)
    missing: str | None = None


@attrs.frozen
class Claim:
    """Who is working on an order and until when the claim holds."""

    owner: str
    expires_at: datetime = attrs.field(converter=_utc)


@attrs.frozen
class Order:
    """An order as the connector knows it.

    The fields up to ``raw`` come from the sales channel and are replaced
    when a newer source version arrives; the fields after it are the
    connector's own (state, problems, shipment, booking attempts) and
    survive a refresh.  ``revision`` counts stored versions and lets stores
    write with compare-and-set.

    ``fulfilled_by`` names who ships the order when it is not the
    connector's to ship (``"amazon"`` for an order Amazon fulfils from its
    own warehouses, ``"merchant"`` for one the shop sent out before the
    connector saw it): it is kept for reporting and never booked.

    ``source_problems`` are parts of the source order that stop it from
    being booked (no city, no items); ``source_warnings`` are parts that
    were set aside without stopping the parcel (an e-mail address nothing
    can be sent to), kept so an operator sees why a customer hears nothing.
    """

    key: OrderKey
    name: str
    placed_at: datetime = attrs.field(converter=_utc)
    source_updated_at: datetime = attrs.field(converter=_utc)
    customer: Customer | None
    shipping_address: Address | None
    lines: tuple[LineItem, ...]
    total: Money
    payment: Payment
    financial_status: str | None = None
    cancelled_at: datetime | None = attrs.field(default=None, converter=_optional_utc)
    cancel_reason: str | None = None
    tags: tuple[str, ...] = ()
    note: str | None = None
    source_problems: tuple[Problem, ...] = ()
    source_warnings: tuple[Problem, ...] = ()
    fulfilled_by: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    state: OrderState = OrderState.NEW
    problems: tuple[Problem, ...] = ()
    hold_reason: str | None = None
    shipment: Shipment | None = None
    partner: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = attrs.field(
        default=None, converter=_optional_utc
    )
    claim: Claim | None = None
    reporting_total: ReportingTotal | None = None
    revision: int = 0

    @property
    def store(self) -> str:
        return self.key.store

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def currency(self) -> str:
        return self.total.currency

    @property
    def phone(self) -> Phone | None:
        """The best phone to reach the customer for delivery."""
        address_phone = self.shipping_address and self.shipping_address.phone
        if address_phone and address_phone.e164:
            return address_phone
        customer_phone = self.customer and self.customer.phone
        return customer_phone or address_phone or None

    @property
    def all_problems(self) -> tuple[Problem, ...]:
        return self.source_problems + self.problems

    def claim_is_live(self, now: datetime) -> bool:
        return self.claim is not None and self.claim.expires_at > now
