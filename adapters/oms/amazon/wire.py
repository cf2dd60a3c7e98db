"""From SP-API Orders payloads to the domain :class:`Order`.

Pure functions, one per API version: :func:`map_v2026_order` reads one
order of ``searchOrders`` (v2026-01-01, camelCase, items inline) and
:func:`map_v0_order` one order of ``getOrders`` (v0, PascalCase) with the
items of its ``getOrderItems`` pages.  Neither raises for bad data: a part
that is missing or unreadable becomes a
:class:`~fulfilment.core.domain.Problem` whose ``field`` is the path in
the payload, and the payload is kept in ``raw``.  Only an order with no
usable id comes back as a :class:`Rejected`.

Business rules:

- the order key is ``amazon:<store>:<Amazon order id>``; the channel is
  ``amazon``, which is what keeps every Amazon buyer from being sent an
  SMS or e-mail (``NO_DIRECT_CONTACT`` in ``core/notices.py``).  The
  buyer's e-mail is Amazon's relay address; it is kept on the customer
  for the record, never used;
- the marketplace gives the country (for phone numbers and an address
  without one) and the currency of an order that states none;
- an order Amazon fulfils (``AFN`` in v0, ``fulfilledBy: AMAZON`` in
  v2026) is kept for reporting with ``fulfilled_by = "amazon"``: the
  booking policy holds such an order for good (``fulfilled_elsewhere``),
  before any routing rule or partner is asked, and no person is asked
  about it;
- ``Canceled`` (v0) and ``CANCELLED`` (v2026) cancel the order at its
  last update time (Amazon gives no cancellation time);
- cash on delivery: v0 ``PaymentMethod`` ``COD`` (or ``COD`` among
  ``PaymentMethodDetails``); v2026 an item whose
  ``fulfillment.shipping.shippingConstraints.cashOnDelivery`` is
  ``MANDATORY``.  The amount to collect is the order total;
- an order Amazon has not released for shipment yet (``Pending``,
  ``PendingAvailability``) carries no address; it is not checked for one
  and its payment is reported as not settled, so booking holds it until
  Amazon releases it (the next update brings the address and the real
  payment);
- an order Amazon already reports ``Shipped`` or ``PartiallyShipped`` was
  sent without the connector; ``fulfilled_by = "merchant"`` keeps it from
  being booked (again);
- quantities are ``QuantityOrdered`` / ``quantityOrdered``; a line of 0
  is left out.  v0's ``ItemPrice`` is the price of the whole line, so the
  unit price is it divided by the quantity.

What is verified and what is modelled, for v2026-01-01: the query
parameters, the ``orders``/``pagination.nextToken`` envelope and the
fields read here (``orderId``, ``createdTime``, ``lastUpdatedTime``,
``salesChannel.marketplaceId``, ``buyer.buyerName``/``buyerEmail``,
``recipient.deliveryAddress.*``, ``proceeds.grandTotal``,
``fulfillment.fulfillmentStatus``/``fulfilledBy``, ``orderItems[].
orderItemId``/``quantityOrdered``/``product.asin``/``sellerSku``/``title``/
``price.unitPrice``, the item's ``shippingConstraints.cashOnDelivery``)
are taken from Amazon's published model of the version.  Reading
``recipient``, ``buyer``, ``proceeds`` and ``fulfillment`` needs the
matching ``includedData``; the source asks for them.  The order-level
``payment`` dataset is not read: its COD shape is not pinned down in the
material we had, so COD comes from the item constraint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from fulfilment.adapters.payloads import aware_time, decimal_of, dig, stripped_text
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
    Problem,
    Product,
)

__all__ = [
    "CHANNEL",
    "FULFILLED_BY_AMAZON",
    "MARKETPLACES",
    "SHIPPED_OUTSIDE",
    "Marketplace",
    "Rejected",
    "map_v0_order",
    "map_v2026_order",
]

CHANNEL = "amazon"
# Order.fulfilled_by of an order the connector does not ship.
FULFILLED_BY_AMAZON = "amazon"
SHIPPED_OUTSIDE = "merchant"
NO_CURRENCY = "XXX"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@attrs.frozen
class Marketplace:
    country: str
    currency: str
    domain: str


MARKETPLACES = {
    "A2VIGQ35RCS4UG": Marketplace("AE", "AED", "amazon.ae"),
    "A17E79C6D8DWNP": Marketplace("SA", "SAR", "amazon.sa"),
    "ARBP9OOSHTCHU": Marketplace("EG", "EGP", "amazon.eg"),
}

# Statuses, as the neutral names below, that each version spells its way.
_V0_STATUS = {
    "PendingAvailability": "pending",
    "Pending": "pending",
    "Unshipped": "unshipped",
    "PartiallyShipped": "shipped",
    "Shipped": "shipped",
    "InvoiceUnconfirmed": "shipped",
    "Canceled": "cancelled",
    "Unfulfillable": "unfulfillable",
}
_V2026_STATUS = {
    "PENDING_AVAILABILITY": "pending",
    "PENDING": "pending",
    "UNSHIPPED": "unshipped",
    "PARTIALLY_SHIPPED": "shipped",
    "SHIPPED": "shipped",
    "CANCELLED": "cancelled",
    "UNFULFILLABLE": "unfulfillable",
}


@attrs.frozen
class Rejected:
    """A payload that cannot become an order: nothing identifies it."""

    reason: str
    raw: Any = attrs.field(repr=False)


def map_v2026_order(payload: Any, store: str) -> Order | Rejected:
    """Map one order of a ``searchOrders`` page of *store*."""
    if not isinstance(payload, Mapping):
        return Rejected(f"the order is a {type(payload).__name__}", payload)
    order_id = stripped_text(payload.get("orderId"))
    if order_id is None:
        return Rejected("the order has no orderId", payload)
    key = _key(store, order_id)
    if isinstance(key, str):
        return Rejected(key, payload)
    return _V2026(payload).order(key)


def map_v0_order(
    payload: Any, items: Sequence[Any] | None, store: str
) -> Order | Rejected:
    """Map one order of a ``getOrders`` page of *store*, with the
    ``OrderItems`` of its ``getOrderItems`` pages (None when they could not
    be read)."""
    if not isinstance(payload, Mapping):
        return Rejected(f"the order is a {type(payload).__name__}", payload)
    order_id = stripped_text(payload.get("AmazonOrderId"))
    if order_id is None:
        return Rejected("the order has no AmazonOrderId", payload)
    key = _key(store, order_id)
    if isinstance(key, str):
        return Rejected(key, payload)
    return _V0(payload, items).order(key)


def _key(store: str, order_id: str) -> OrderKey | str:
    """The order's key, or why the id cannot be one (a control character
    in it)."""
    try:
        return OrderKey(CHANNEL, store, order_id)
    except ValueError as error:
        return str(error)


@attrs.frozen
class _Parts:
    """What both versions give, named the same way."""

    status: str | None
    status_text: str | None
    amazon_fulfils: bool
    cod: bool
    total: Money | None
    address: Address | None
    address_given: bool
    customer: Customer | None
    lines: tuple[LineItem, ...]


class _Mapper:
    """Collects problems while reading; subclasses read one version."""

    created = ""
    updated = ""
    status_field = ""
    address_field = ""

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.payload = payload
        self.problems: list[Problem] = []
        self.marketplace = MARKETPLACES.get(self.marketplace_id() or "")

    def problem(self, code: str, message: str, field: str | None) -> None:
        self.problems.append(Problem(code, message, field))

    def marketplace_id(self) -> str | None:
        raise NotImplementedError

    def parts(self, currency: str) -> _Parts:
        raise NotImplementedError

    def order(self, key: OrderKey) -> Order:
        placed = self.time(self.created)
        updated = self.time(self.updated)
        placed = placed or updated or EPOCH
        updated = updated or placed
        currency = self.marketplace.currency if self.marketplace else NO_CURRENCY
        parts = self.parts(currency)
        cancelled = parts.status == "cancelled"
        total = parts.total
        if total is None:
            total = Money.zero(
                parts.lines[0].unit_price.currency if parts.lines else currency
            )
        self.check(parts, cancelled)
        return Order(
            key=key,
            name=key.external_id,
            placed_at=placed,
            source_updated_at=updated,
            customer=parts.customer,
            shipping_address=parts.address,
            lines=parts.lines,
            total=total,
            payment=self.payment(parts, total),
            financial_status=parts.status_text,
            cancelled_at=updated if cancelled else None,
            source_problems=tuple(self.problems),
            fulfilled_by=self.fulfilled_by(parts, cancelled),
            raw=self.payload,
        )

    @staticmethod
    def fulfilled_by(parts: _Parts, cancelled: bool) -> str | None:
        """Who ships the order when the connector does not: Amazon for its
        own (AFN) orders, the merchant for one already shipped when first
        seen."""
        if parts.amazon_fulfils:
            return FULFILLED_BY_AMAZON
        if parts.status == "shipped" and not cancelled:
            return SHIPPED_OUTSIDE
        return None

    # --- shared pieces -------------------------------------------------------

    def time(self, field: str) -> datetime | None:
        value = self.payload.get(field)
        if value is None:
            self.problem("missing_time", f"{field} is missing", field)
            return None
        parsed = aware_time(value)
        if parsed is None:
            self.problem(
                "unreadable_time", f"{field} {value!r} is not an ISO time", field
            )
        return parsed

    def money(self, value: Any, field: str, currency: str) -> Money | None:
        """A ``{amount, currencyCode}`` (either spelling); None when absent,
        a problem when unreadable."""
        if value is None:
            return None
        amount = decimal_of(_get(value, "amount", "Amount"))
        code = _get(value, "currencyCode", "CurrencyCode")
        if amount is None:
            self.problem("unreadable_amount", f"{field} has no decimal amount", field)
            return None
        valid = (
            isinstance(code, str)
            and len(code) == 3
            and code.isalpha()
            and code.isupper()
        )
        return Money(amount, code if valid else currency)

    def payment(self, parts: _Parts, total: Money) -> Payment:
        if parts.status == "pending":
            # Not released for shipment: booking holds an unsettled payment.
            return Payment(PaymentMethod.PREPAID, False)
        if parts.cod:
            return Payment(PaymentMethod.CASH_ON_DELIVERY, False, total, ("COD",))
        return Payment(PaymentMethod.PREPAID, True)

    def check(self, parts: _Parts, cancelled: bool) -> None:
        if self.marketplace is None:
            self.problem(
                "unknown_marketplace",
                f"marketplace {self.marketplace_id()!r} is not one the connector "
                "knows (amazon.ae, amazon.sa, amazon.eg)",
                None,
            )
        if parts.status is None:
            self.problem(
                "unknown_status",
                f"{self.status_field} {parts.status_text!r} is not an Amazon "
                "order status",
                self.status_field,
            )
        if parts.amazon_fulfils:
            # Kept for reporting (Order.fulfilled_by); nothing of it is
            # ours to check.
            return
        if cancelled or parts.status in ("pending", "unfulfillable", "shipped"):
            return
        if parts.total is None:
            self.problem("missing_total", "the order has no total", None)
        if not parts.lines:
            self.problem("no_items", "no item has a quantity above 0", None)
        self.check_address(parts)

    def check_address(self, parts: _Parts) -> None:
        address = parts.address
        where = self.address_field
        if address is None:
            if not parts.address_given:
                self.problem(
                    "missing_address", "the order has no shipping address", where
                )
            return
        for value, code, wire, text in (
            (address.line1, "missing_address_line", "addressLine1", "no street"),
            (address.city, "missing_city", "city", "no city"),
            (address.country_code, "missing_country", "countryCode", "no country"),
        ):
            if not value:
                self.problem(
                    code,
                    f"the shipping address has {text} (restricted fields need "
                    "the seller's PII role or a restricted data token)"
                    if wire == "addressLine1"
                    else f"the shipping address has {text}",
                    f"{where}.{_spell(wire, where)}",
                )
        phone = address.phone
        if phone is None:
            self.problem(
                "missing_phone",
                "the shipping address has no phone number",
                f"{where}.{_spell('phone', where)}",
            )
        elif phone.e164 is None:
            self.problem(
                "invalid_phone",
                f"the shipping address phone is not a phone number of "
                f"{self.region(address) or 'an unknown country'}",
                f"{where}.{_spell('phone', where)}",
            )

    def region(self, address: Mapping[str, Any] | Address | None) -> str | None:
        if isinstance(address, Address) and address.country_code:
            return address.country_code
        if isinstance(address, Mapping):
            code = stripped_text(_get(address, "countryCode", "CountryCode"))
            if code:
                return code
        return self.marketplace.country if self.marketplace else None

    def address(self, data: Any, field: str) -> Address | None:
        if data is None:
            return None
        if not isinstance(data, Mapping):
            self.problem("unreadable_address", f"{field} is not an object", field)
            return None
        first, last = _split_name(stripped_text(_get(data, "name", "Name")))
        line2 = " ".join(
            t
            for t in (
                stripped_text(_get(data, "addressLine2", "AddressLine2")),
                stripped_text(_get(data, "addressLine3", "AddressLine3")),
            )
            if t
        )
        region = self.region(data)
        return Address(
            first_name=first,
            last_name=last,
            line1=stripped_text(_get(data, "addressLine1", "AddressLine1")),
            line2=line2 or None,
            city=stripped_text(_get(data, "city", "City")),
            province=stripped_text(_get(data, "stateOrRegion", "StateOrRegion")),
            zip=stripped_text(_get(data, "postalCode", "PostalCode")),
            country_code=stripped_text(_get(data, "countryCode", "CountryCode"))
            or (self.marketplace.country if self.marketplace else None),
            phone=normalise_phone(stripped_text(_get(data, "phone", "Phone")), region),
            company=stripped_text(_get(data, "companyName", "CompanyName")),
        )

    def line(
        self,
        item: Any,
        path: str,
        currency: str,
        *,
        id_field: str,
        quantity_field: str,
        product: Product,
        price: Money | None,
        price_is_line_total: bool,
    ) -> LineItem | None:
        if not isinstance(item, Mapping) or not stripped_text(item.get(id_field)):
            self.problem("unreadable_line", f"{path} has no {id_field}", path)
            return None
        quantity = item.get(quantity_field)
        if not _is_count(quantity):
            self.problem(
                "unreadable_quantity",
                f"{path}.{quantity_field} {quantity!r} is not a count",
                f"{path}.{quantity_field}",
            )
            return None
        unit = price or Money.zero(currency)
        if price_is_line_total and quantity:
            unit = Money(unit.amount / quantity, unit.currency)
        return LineItem(
            external_id=str(item[id_field]).strip(),
            product=product,
            quantity=quantity,
            ordered_quantity=quantity,
            unit_price=unit,
        )


class _V2026(_Mapper):
    created = "createdTime"
    updated = "lastUpdatedTime"
    status_field = "fulfillment.fulfillmentStatus"
    address_field = "recipient.deliveryAddress"

    def marketplace_id(self) -> str | None:
        return stripped_text(dig(self.payload, "salesChannel", "marketplaceId"))

    def parts(self, currency: str) -> _Parts:
        fulfillment = self.payload.get("fulfillment")
        status_text = stripped_text(dig(fulfillment, "fulfillmentStatus"))
        items = self.payload.get("orderItems")
        address_data = dig(self.payload, "recipient", "deliveryAddress")
        return _Parts(
            status=_V2026_STATUS.get(status_text or ""),
            status_text=status_text,
            amazon_fulfils=stripped_text(dig(fulfillment, "fulfilledBy")) == "AMAZON",
            cod=any(
                dig(
                    i,
                    "fulfillment",
                    "shipping",
                    "shippingConstraints",
                    "cashOnDelivery",
                )
                == "MANDATORY"
                for i in (items if isinstance(items, list) else ())
            ),
            total=self.money(
                dig(self.payload, "proceeds", "grandTotal"),
                "proceeds.grandTotal",
                currency,
            ),
            address=self.address(address_data, self.address_field),
            address_given=address_data is not None,
            customer=self.customer(),
            lines=self.lines(items, currency),
        )

    def customer(self) -> Customer | None:
        buyer = self.payload.get("buyer")
        if not isinstance(buyer, Mapping):
            return None
        first, last = _split_name(stripped_text(buyer.get("buyerName")))
        return Customer(
            first_name=first,
            last_name=last,
            email=stripped_text(buyer.get("buyerEmail")),
        )

    def lines(self, items: Any, currency: str) -> tuple[LineItem, ...]:
        if not isinstance(items, list):
            self.problem("unreadable_lines", "orderItems is not a list", "orderItems")
            return ()
        read = []
        for index, item in enumerate(items):
            path = f"orderItems[{index}]"
            product = dig(item, "product")
            line = self.line(
                item,
                path,
                currency,
                id_field="orderItemId",
                quantity_field="quantityOrdered",
                product=_product(
                    dig(product, "asin"),
                    dig(product, "sellerSku"),
                    dig(product, "title"),
                ),
                price=self.money(
                    dig(product, "price", "unitPrice"),
                    f"{path}.product.price.unitPrice",
                    currency,
                ),
                price_is_line_total=False,
            )
            if line is not None and line.quantity > 0:
                read.append(line)
        return tuple(read)


class _V0(_Mapper):
    created = "PurchaseDate"
    updated = "LastUpdateDate"
    status_field = "OrderStatus"
    address_field = "ShippingAddress"

    def __init__(self, payload: Mapping[str, Any], items: Sequence[Any] | None):
        super().__init__(payload)
        self.items = items

    def marketplace_id(self) -> str | None:
        return stripped_text(self.payload.get("MarketplaceId"))

    def parts(self, currency: str) -> _Parts:
        status_text = stripped_text(self.payload.get("OrderStatus"))
        details = self.payload.get("PaymentMethodDetails")
        address_data = self.payload.get("ShippingAddress")
        return _Parts(
            status=_V0_STATUS.get(status_text or ""),
            status_text=status_text,
            amazon_fulfils=stripped_text(self.payload.get("FulfillmentChannel"))
            == "AFN",
            cod=self.payload.get("PaymentMethod") == "COD"
            or (isinstance(details, list) and "COD" in details),
            total=self.money(self.payload.get("OrderTotal"), "OrderTotal", currency),
            address=self.address(address_data, self.address_field),
            address_given=address_data is not None,
            customer=self.customer(),
            lines=self.lines(currency),
        )

    def customer(self) -> Customer | None:
        buyer = self.payload.get("BuyerInfo")
        if not isinstance(buyer, Mapping):
            return None
        first, last = _split_name(stripped_text(buyer.get("BuyerName")))
        return Customer(
            first_name=first,
            last_name=last,
            email=stripped_text(buyer.get("BuyerEmail")),
        )

    def lines(self, currency: str) -> tuple[LineItem, ...]:
        if self.items is None:
            self.problem(
                "unreadable_lines",
                "the order's items (getOrderItems) could not be read",
                "OrderItems",
            )
            return ()
        read = []
        for index, item in enumerate(self.items):
            path = f"OrderItems[{index}]"
            line = self.line(
                item,
                path,
                currency,
                id_field="OrderItemId",
                quantity_field="QuantityOrdered",
                product=_product(
                    dig(item, "ASIN"), dig(item, "SellerSKU"), dig(item, "Title")
                ),
                price=self.money(dig(item, "ItemPrice"), f"{path}.ItemPrice", currency),
                price_is_line_total=True,
            )
            if line is not None and line.quantity > 0:
                read.append(line)
        return tuple(read)


def _product(asin: Any, sku: Any, title: Any) -> Product:
    sku_text = stripped_text(sku)
    return Product(
        external_id=stripped_text(asin),
        sku=sku_text,
        title=stripped_text(title) or sku_text or "(untitled item)",
    )


def _spell(name: str, where: str) -> str:
    """*name* as the version at *where* spells it (v0 is PascalCase)."""
    return name[0].upper() + name[1:] if where[0].isupper() else name


def _split_name(name: str | None) -> tuple[str | None, str | None]:
    if not name:
        return None, None
    first, _, last = name.partition(" ")
    return first, last.strip() or None


def _get(data: Any, *names: str) -> Any:
    if not isinstance(data, Mapping):
        return None
    for name in names:
        if data.get(name) is not None:
            return data[name]
    return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
