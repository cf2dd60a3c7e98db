"""From a GraphQL Admin API ``Order`` node to the domain :class:`Order`.

Pure functions.  The input is one node exactly as the ``orders``
connection returns it (``lineItems: {nodes: [...]}``, money as
``...Set: {shopMoney: {amount, currencyCode}}``, times in UTC with ``Z``).

The mapping never raises for bad data.  A part that is missing or cannot be
read becomes a :class:`~fulfilment.core.domain.Problem` in
``source_problems`` whose ``field`` is the path in the node
(``shippingAddress.city``, ``lineItems.nodes[2].currentQuantity``), and the
node itself is kept in ``raw`` so the order can be re-mapped once the cause
is fixed.  A part that is set aside without stopping the order becomes a
warning in ``source_warnings``, located the same way.  Only a node with no
usable id at all cannot become an order; it comes back as a
:class:`Rejected` for the source to log and count.

Business rules encoded here:

- quantities are ``currentQuantity`` (after edits); a line whose current
  quantity is 0 was removed by an edit or a cancellation and is left out of
  ``lines`` (it stays in ``raw``);
- the total is ``currentTotalPriceSet`` (after edits), else
  ``totalPriceSet``;
- cash on delivery is a gateway name containing "cash on delivery" or the
  word "cod" (COD apps name their gateways freely), or a ``PENDING`` order
  paid through the ``manual`` gateway with an amount outstanding.  The
  amount to collect is ``totalOutstandingSet`` when above 0, else the
  current total; a COD order already marked ``PAID`` with nothing
  outstanding has nothing to collect and is treated as prepaid;
- a prepaid order counts as paid when its ``displayFinancialStatus`` is
  ``PAID``, ``PARTIALLY_REFUNDED`` or ``AUTHORIZED``;
- phones are read with the shipping country (else the store's country).
  A cancelled order needs no delivery, so it is not checked for an address,
  a phone or items;
- the customer's e-mail is ``customer.email``, else the order's ``email``.
  One that is not a single address (a line break, a space, no or two ``@``;
  see :func:`~fulfilment.adapters.emails.email_problem`) is never used for
  messages: it is left out of ``customer.email`` (``raw`` keeps it) and,
  when no usable address remains, noted in ``source_warnings``.  A bad
  e-mail never stops a parcel, so it is no problem;
- a line's ``grams`` is the weight of one unit, read from
  ``variant.inventoryItem.measurement.weight`` and converted to whole grams
  (half up).  Shopify stores 0 when the merchant entered no weight, so a
  weight that is absent, 0 or unreadable leaves ``grams`` None; a missing
  weight does not stop a delivery, so it is no problem either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import attrs

from fulfilment.adapters.emails import email_problem
from fulfilment.adapters.payloads import aware_time, decimal_of, dig
from fulfilment.adapters.phones import normalise_phone
from fulfilment.core.domain import (
    Address,
    Customer,
    LineItem,
    Money,
    Order,
    OrderKey,
    Payment,
    PaymentMethod,
    Phone,
    Problem,
    Product,
)
from fulfilment.core.masking import mask_phone

__all__ = [
    "CHANNEL",
    "Rejected",
    "is_cod_gateway",
    "legacy_id",
    "map_order",
    "unit_grams",
]

CHANNEL = "shopify"
PAID_STATUSES = frozenset({"PAID", "PARTIALLY_REFUNDED", "AUTHORIZED"})
NO_CURRENCY = "XXX"  # ISO 4217's code for "no currency involved"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_COD_GATEWAY = re.compile(r"cash[\s_-]*on[\s_-]*delivery|\bcod\b", re.IGNORECASE)
_ORDER_GID = re.compile(r"^gid://shopify/Order/(\d+)(?:\?.*)?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Shopify's WeightUnit values, in grams (the ounce and pound are the
# international avoirdupois units, defined exactly).
GRAMS_PER_UNIT = {
    "GRAMS": Decimal(1),
    "KILOGRAMS": Decimal(1000),
    "OUNCES": Decimal("28.349523125"),
    "POUNDS": Decimal("453.59237"),
}


@attrs.frozen
class Rejected:
    """A node that cannot become an order: nothing identifies it."""

    reason: str
    raw: Any = attrs.field(repr=False)


def map_order(
    node: Mapping[str, Any], store: str, *, country: str | None = None
) -> Order | Rejected:
    """Map one ``Order`` node of *store* to the domain.

    *country* (ISO alpha-2) is the store's country, used to read phone
    numbers when the node has no shipping country.
    """
    if not isinstance(node, Mapping):
        return Rejected(f"the node is a {type(node).__name__}, not an object", node)
    external_id = legacy_id(node)
    if external_id is None:
        return Rejected("the node has no legacyResourceId and no Order id", node)
    try:
        key = OrderKey(CHANNEL, store, external_id)
    except ValueError as error:  # a control character in the id
        return Rejected(str(error), node)
    return _Mapper(node, country).order(key)


def legacy_id(node: Mapping[str, Any]) -> str | None:
    """The numeric order id: ``legacyResourceId``, else the tail of the
    ``gid://shopify/Order/…`` id; None when neither is usable."""
    legacy = node.get("legacyResourceId")
    if isinstance(legacy, int) and not isinstance(legacy, bool) and legacy > 0:
        return str(legacy)
    if isinstance(legacy, str) and legacy.strip().isdigit():
        return legacy.strip()
    gid = node.get("id")
    match = _ORDER_GID.match(gid.strip()) if isinstance(gid, str) else None
    return match.group(1) if match else None


def is_cod_gateway(name: str) -> bool:
    """Whether a payment gateway name is a cash-on-delivery method."""
    return bool(_COD_GATEWAY.search(name.replace("_", " ")))


class _Mapper:
    """Reads one node, collecting a problem for every part it cannot use."""

    def __init__(self, node: Mapping[str, Any], country: str | None) -> None:
        self.node = node
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.default_country = country

    def problem(self, code: str, message: str, field: str | None) -> None:
        self.problems.append(Problem(code, message, field))

    def warn(self, code: str, message: str, field: str) -> None:
        self.warnings.append(Problem(code, message, field))

    def order(self, key: OrderKey) -> Order:
        cancelled_at = self.time("cancelledAt", required=False)
        placed_at, updated_at = self.times()
        currency = self.currency()
        address = self.address()
        customer = self.customer(address)
        lines = self.lines(currency)
        total = self.total(currency)
        payment = self.payment(total)
        if cancelled_at is None:
            self.check_deliverable(address, customer, lines)
        return Order(
            key=key,
            name=_text(self.node.get("name")) or f"#{key.external_id}",
            placed_at=placed_at,
            source_updated_at=updated_at,
            customer=customer,
            shipping_address=address,
            lines=lines,
            total=total,
            payment=payment,
            financial_status=_text(self.node.get("displayFinancialStatus")),
            cancelled_at=cancelled_at,
            cancel_reason=_text(self.node.get("cancelReason")),
            tags=_tags(self.node.get("tags")),
            note=_text(self.node.get("note")),
            source_problems=tuple(self.problems),
            source_warnings=tuple(self.warnings),
            raw=self.node,
        )

    # --- times and money -----------------------------------------------------

    def times(self) -> tuple[datetime, datetime]:
        placed = self.time("createdAt")
        updated = self.time("updatedAt")
        # Each stands in for the other so the order can still be stored;
        # the problem is already recorded.
        placed = placed or updated or EPOCH
        return placed, updated or placed

    def time(self, field: str, *, required: bool = True) -> datetime | None:
        value = self.node.get(field)
        if value is None:
            if required:
                self.problem("missing_time", f"{field} is missing", field)
            return None
        parsed = aware_time(value)
        if parsed is None:
            self.problem(
                "unreadable_time", f"{field} {value!r} is not an ISO time", field
            )
        return parsed

    def currency(self) -> str:
        code = self.node.get("currencyCode")
        if isinstance(code, str) and _CURRENCY.match(code):
            return code
        total = dig(self.node, "totalPriceSet", "shopMoney", "currencyCode")
        if isinstance(total, str) and _CURRENCY.match(total):
            return total
        self.problem(
            "unreadable_currency",
            f"currencyCode {code!r} is not an ISO 4217 code",
            "currencyCode",
        )
        return NO_CURRENCY

    def money(self, container: Any, path: str, currency: str) -> Money | None:
        """The ``shopMoney`` of the money bag at *path* inside *container*;
        None when the bag is absent, a problem when it is unreadable."""
        bag = dig(container, path.rsplit(".", 1)[-1])
        if bag is None:
            return None
        amount = decimal_of(dig(bag, "shopMoney", "amount"))
        if amount is None:
            self.problem(
                "unreadable_amount",
                f"{path}.shopMoney.amount is not a decimal amount",
                f"{path}.shopMoney.amount",
            )
            return None
        code = dig(bag, "shopMoney", "currencyCode")
        valid = isinstance(code, str) and _CURRENCY.match(code)
        return Money(amount, code if valid else currency)

    def total(self, currency: str) -> Money:
        for name in ("currentTotalPriceSet", "totalPriceSet"):
            money = self.money(self.node, name, currency)
            if money is not None:
                return money
        if all(
            self.node.get(n) is None for n in ("currentTotalPriceSet", "totalPriceSet")
        ):
            self.problem(
                "missing_total", "the order has no total price", "totalPriceSet"
            )
        return Money.zero(currency)

    def payment(self, total: Money) -> Payment:
        gateways = tuple(
            g for g in self.node.get("paymentGatewayNames") or () if isinstance(g, str)
        )
        status = _text(self.node.get("displayFinancialStatus"))
        outstanding = self.money(self.node, "totalOutstandingSet", total.currency)
        owed = outstanding is not None and outstanding.amount > 0
        paid = status in PAID_STATUSES
        manual_pending = status == "PENDING" and owed and _has_manual(gateways)
        cod = any(is_cod_gateway(g) for g in gateways) or manual_pending
        if not cod or (paid and not owed):
            return Payment(PaymentMethod.PREPAID, paid, None, gateways)
        collect = outstanding if owed and outstanding is not None else total
        return Payment(PaymentMethod.CASH_ON_DELIVERY, paid, collect, gateways)

    # --- people and places ---------------------------------------------------

    def address(self) -> Address | None:
        data = self.node.get("shippingAddress")
        if data is None:
            return None
        if not isinstance(data, Mapping):
            self.problem(
                "unreadable_address",
                "shippingAddress is not an object",
                "shippingAddress",
            )
            return None
        country = _text(data.get("countryCodeV2"))
        return Address(
            first_name=_text(data.get("firstName")),
            last_name=_text(data.get("lastName")),
            line1=_text(data.get("address1")),
            line2=_text(data.get("address2")),
            city=_text(data.get("city")),
            province=_text(data.get("province")),
            province_code=_text(data.get("provinceCode")),
            zip=_text(data.get("zip")),
            country_code=country,
            phone=normalise_phone(_text(data.get("phone")), self.region(country)),
            company=_text(data.get("company")),
        )

    def region(self, address_country: str | None = None) -> str | None:
        if address_country:
            return address_country
        shipping = self.node.get("shippingAddress")
        if isinstance(shipping, Mapping) and _text(shipping.get("countryCodeV2")):
            return _text(shipping.get("countryCodeV2"))
        return self.default_country

    def customer(self, address: Address | None) -> Customer | None:
        data = self.node.get("customer")
        data = data if isinstance(data, Mapping) else {}
        typed = _text(data.get("email")) or _text(self.node.get("email"))
        raw_phone = _text(data.get("phone")) or _text(self.node.get("phone"))
        if not data and typed is None and raw_phone is None:
            return None
        return Customer(
            external_id=_text(data.get("id")),
            first_name=_text(data.get("firstName")) or (address and address.first_name),
            last_name=_text(data.get("lastName")) or (address and address.last_name),
            email=self.email(data),
            phone=normalise_phone(raw_phone, self.region()),
            locale=_text(data.get("locale")),
        )

    def email(self, customer: Mapping[str, Any]) -> str | None:
        """The first usable address of ``customer.email`` and ``email``; a
        warning on the first one given when none is usable."""
        given = [
            (field, text)
            for field, text in (
                ("customer.email", _text(customer.get("email"))),
                ("email", _text(self.node.get("email"))),
            )
            if text is not None
        ]
        for _, address in given:
            if email_problem(address) is None:
                return address
        if given:
            field, address = given[0]
            self.warn(
                "unusable_email",
                f"{field} is not one e-mail address ({email_problem(address)}); "
                "no e-mail is sent to this customer",
                field,
            )
        return None

    # --- line items ----------------------------------------------------------

    def lines(self, currency: str) -> tuple[LineItem, ...]:
        connection = self.node.get("lineItems")
        nodes = dig(connection, "nodes")
        if not isinstance(nodes, list):
            self.problem(
                "unreadable_lines", "lineItems has no list of nodes", "lineItems"
            )
            return ()
        if dig(connection, "pageInfo", "hasNextPage") is True:
            self.problem(
                "incomplete_lines",
                "only the first page of line items was read",
                "lineItems",
            )
        read = (self.line(i, item, currency) for i, item in enumerate(nodes))
        return tuple(line for line in read if line is not None and line.quantity > 0)

    def line(self, index: int, item: Any, currency: str) -> LineItem | None:
        path = f"lineItems.nodes[{index}]"
        if not isinstance(item, Mapping) or not _text(item.get("id")):
            self.problem("unreadable_line", f"{path} has no id", path)
            return None
        current = item.get("currentQuantity", item.get("quantity"))
        if not _is_count(current):
            self.problem(
                "unreadable_quantity",
                f"{path}.currentQuantity {current!r} is not a count",
                f"{path}.currentQuantity",
            )
            return None
        ordered = item.get("quantity")
        price = self.money(item, f"{path}.originalUnitPriceSet", currency)
        return LineItem(
            external_id=str(item["id"]),
            product=_product(item),
            quantity=current,
            ordered_quantity=ordered if _is_count(ordered) else current,
            unit_price=price or Money.zero(currency),
            grams=unit_grams(dig(item, "variant", "inventoryItem", "measurement")),
        )

    # --- checks --------------------------------------------------------------

    def check_deliverable(
        self,
        address: Address | None,
        customer: Customer | None,
        lines: Sequence[LineItem],
    ) -> None:
        if not lines and isinstance(dig(self.node, "lineItems", "nodes"), list):
            self.problem("no_items", "no line item has a quantity above 0", "lineItems")
        self.check_address(address)
        self.check_phone(address, customer)

    def check_address(self, address: Address | None) -> None:
        if address is None:
            if self.node.get("shippingAddress") is None:
                self.problem(
                    "missing_address",
                    "the order has no shipping address",
                    "shippingAddress",
                )
            return
        required = (
            ("city", "missing_city", "the shipping address has no city"),
            ("line1", "missing_address_line", "the shipping address has no street"),
            ("country_code", "missing_country", "the shipping address has no country"),
        )
        wire = {"city": "city", "line1": "address1", "country_code": "countryCodeV2"}
        for attribute, code, message in required:
            if not getattr(address, attribute):
                self.problem(code, message, f"shippingAddress.{wire[attribute]}")

    def check_phone(self, address: Address | None, customer: Customer | None) -> None:
        order_phone = normalise_phone(_text(self.node.get("phone")), self.region())
        candidates = (
            ("shippingAddress.phone", address.phone if address else None),
            ("customer.phone", customer.phone if customer else None),
            ("phone", order_phone),
        )
        if any(phone and phone.e164 for _, phone in candidates):
            return
        unreadable = [(f, p) for f, p in candidates if p is not None]
        if not unreadable:
            self.problem(
                "missing_phone",
                "the order has no phone number anywhere",
                "shippingAddress.phone",
            )
            return
        field, phone = unreadable[0]
        self.problem(
            "invalid_phone",
            f"{field} {_masked(phone)} is not a phone number of "
            f"{self.region() or 'an unknown country'}",
            field,
        )


def unit_grams(measurement: Any) -> int | None:
    """Whole grams (rounded half up) of an ``InventoryItemMeasurement``'s
    ``weight: {unit, value}``; None when there is no weight, its value is
    not above 0 or its unit is not a ``WeightUnit``."""
    unit = dig(measurement, "weight", "unit")
    factor = GRAMS_PER_UNIT.get(unit) if isinstance(unit, str) else None
    value = _number(dig(measurement, "weight", "value"))
    if factor is None or value is None or value <= 0:
        return None
    return int((value * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _product(item: Mapping[str, Any]) -> Product:
    sku = _text(item.get("sku"))
    return Product(
        external_id=_text(dig(item, "product", "id")),
        sku=sku,
        title=_text(item.get("title")) or sku or "(untitled item)",
        variant_id=_text(dig(item, "variant", "id")),
    )


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):  # the REST shape, "COD, VIP"
        value = value.split(",")
    if not isinstance(value, list):
        return ()
    return tuple(t.strip() for t in value if isinstance(t, str) and t.strip())


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _has_manual(gateways: Sequence[str]) -> bool:
    return any(g.strip().lower() == "manual" for g in gateways)


def _number(value: Any) -> Decimal | None:
    """A JSON number (a GraphQL ``Float``) or decimal text as a Decimal; a
    float goes through its shortest text, so 0.28 stays 0.28."""
    if isinstance(value, float):
        return decimal_of(repr(value))
    return decimal_of(value)


def _masked(phone: Phone | None) -> str:
    return mask_phone(phone.original) if phone else "-"
