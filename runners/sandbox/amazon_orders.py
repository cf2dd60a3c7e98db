"""Amazon orders for the SP-API sandbox: a plain Python description, and
the two wire shapes the simulator serves it in.

An :class:`AmazonOrder` says what happened (who bought what, in which
marketplace, who fulfils it, how it is paid, where it goes, its status)
without any SP-API spelling.  :func:`v0_order` and :func:`v0_items` write it
as Orders API v0 does (PascalCase, ``Canceled``, money as
``{CurrencyCode, Amount}``), :func:`v2026_order` as Orders API v2026-01-01
does (camelCase, ``CANCELLED``, money as ``{amount, currencyCode}``, the
optional parts only when ``includedData`` names them).  One description
served both ways is what lets a test hold the two versions against each
other.

What is verified against Amazon's published models (v0 and v2026-01-01)
and the reference fixtures: field names, enum spellings, the money shapes,
which v0 address and buyer fields are restricted, that v0 serves no
shipping address on Pending or Canceled orders, that the phone is
suppressed on Amazon-fulfilled orders and that the v2026 buyer e-mail is
only served for merchant-fulfilled ones.  What is modelled: v2026 applies
the same address rule as v0; ``fulfillment``, ``proceeds`` and ``payment``
are only served when asked for, like ``buyer`` and ``recipient``; the
payment method names ``CashOnDelivery`` and ``CreditCard`` come from the
model's own examples.

:func:`seed_amazon_orders` is the sandbox's starting mix.  Every person,
phone number and relay address in it is fictional.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

__all__ = [
    "INCLUDED_DATA",
    "MARKETPLACES",
    "STATUSES",
    "AmazonAddress",
    "AmazonItem",
    "AmazonOrder",
    "Marketplace",
    "order_from_json",
    "order_to_json",
    "seed_amazon_orders",
    "v0_items",
    "v0_order",
    "v2026_order",
]


@attrs.frozen
class Marketplace:
    """One Amazon marketplace the sandbox sells in."""

    marketplace_id: str
    country: str
    currency: str
    domain: str
    store: str  # the sandbox's store handle for it


MARKETPLACES: Mapping[str, Marketplace] = {
    m.marketplace_id: m
    for m in (
        Marketplace("A2VIGQ35RCS4UG", "AE", "AED", "Amazon.ae", "amazon-ae"),
        Marketplace("ARBP9OOSHTCHU", "EG", "EGP", "Amazon.eg", "amazon-eg"),
        Marketplace("A17E79C6D8DWNP", "SA", "SAR", "Amazon.sa", "amazon-sa"),
    )
}

# The v2026 status of an order, with its v0 spelling (one "l" in Canceled).
STATUSES: Mapping[str, str] = {
    "PENDING_AVAILABILITY": "PendingAvailability",
    "PENDING": "Pending",
    "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped",
    "SHIPPED": "Shipped",
    "CANCELLED": "Canceled",
    "UNFULFILLABLE": "Unfulfillable",
}
INCLUDED_DATA = frozenset(
    {
        "BUYER",
        "RECIPIENT",
        "PROCEEDS",
        "EXPENSE",
        "PROMOTION",
        "CANCELLATION",
        "FULFILLMENT",
        "PACKAGES",
        "TAX",
        "PAYMENT",
        "FULFILLMENT_ORDERS",
    }
)
# Amazon serves a shipping address only once an order can ship.
_ADDRESSED = frozenset({"UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"})
_FLAGS = (
    "IsBusinessOrder",
    "IsPrime",
    "IsPremiumOrder",
    "IsGlobalExpressEnabled",
    "IsReplacementOrder",
    "IsSoldByAB",
    "IsISPU",
    "IsAccessPointOrder",
    "HasRegulatedItems",
)
Json = dict[str, Any]


@attrs.frozen
class AmazonAddress:
    """Where an order goes; the phone as the buyer typed it."""

    name: str
    line1: str
    city: str | None
    country: str
    line2: str | None = None
    region: str | None = None
    postal_code: str | None = None
    phone: str | None = None


@attrs.frozen
class AmazonItem:
    """One order line: seller SKU, quantity and the price of one unit."""

    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    asin: str | None = None
    shipped: int = 0


def _items(items: Iterable[AmazonItem]) -> tuple[AmazonItem, ...]:
    return tuple(items)


@attrs.frozen
class AmazonOrder:
    """An order as the sandbox keeps it.  ``fulfilled_by`` is ``MFN`` (the
    seller ships) or ``AFN`` (Amazon ships); ``status`` is a v2026 status;
    ``updated`` defaults to ``purchased``."""

    order_id: str
    purchased: datetime
    items: tuple[AmazonItem, ...] = attrs.field(converter=_items)
    address: AmazonAddress | None
    buyer_name: str
    buyer_email: str
    status: str = "UNSHIPPED"
    fulfilled_by: str = "MFN"
    cod: bool = False
    shipping: Decimal = Decimal(0)
    updated: datetime | None = None

    def __attrs_post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(
                f"order {self.order_id}: status {self.status!r} is not one of "
                + ", ".join(STATUSES)
            )
        if self.fulfilled_by not in ("MFN", "AFN"):
            raise ValueError(
                f"order {self.order_id}: fulfilled_by {self.fulfilled_by!r} "
                "is not MFN or AFN"
            )


# --- keeping orders in the simulator's JSON state ------------------------------


def order_to_json(order: AmazonOrder, marketplace: str) -> Json:
    """*order* as a JSON-able record, with its marketplace id."""
    record = attrs.asdict(order, value_serializer=_serialise)
    return record | {"marketplace": marketplace}


def order_from_json(record: Mapping[str, Any]) -> AmazonOrder:
    """The order a :func:`order_to_json` record holds."""
    fields = {k: v for k, v in record.items() if k != "marketplace"}
    address = fields["address"]
    return AmazonOrder(
        **fields
        | {
            "purchased": datetime.fromisoformat(fields["purchased"]),
            "updated": _time_or_none(fields["updated"]),
            "shipping": Decimal(fields["shipping"]),
            "address": AmazonAddress(**address) if address else None,
            "items": [_item_from_json(i) for i in fields["items"]],
        }
    )


def _item_from_json(record: Mapping[str, Any]) -> AmazonItem:
    return AmazonItem(**{**record, "unit_price": Decimal(record["unit_price"])})


def _serialise(_: Any, __: Any, value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _time_or_none(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def updated_at(record: Mapping[str, Any]) -> datetime:
    """When a kept order last changed."""
    return datetime.fromisoformat(record["updated"] or record["purchased"])


def created_at(record: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(record["purchased"])


# --- money -----------------------------------------------------------------


def order_total(order: AmazonOrder) -> Decimal:
    return sum((_line_total(i) for i in order.items), Decimal(0)) + order.shipping


def _line_total(item: AmazonItem) -> Decimal:
    return item.unit_price * item.quantity


def _amount(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


# --- Orders API v0 ---------------------------------------------------------


def v0_order(
    order: AmazonOrder, marketplace: Marketplace, *, restricted: frozenset[str]
) -> Json:
    """*order* as a v0 ``Order``.  *restricted* holds the restricted data
    elements (``shippingAddress``, ``buyerInfo``) the caller's token grants;
    without them the address keeps only its non-restricted keys and the
    buyer only the relay e-mail."""
    body: Json = {
        "AmazonOrderId": order.order_id,
        "SellerOrderId": order.order_id,
        "PurchaseDate": _iso(order.purchased),
        "LastUpdateDate": _iso(order.updated or order.purchased),
        "OrderStatus": STATUSES[order.status],
        "FulfillmentChannel": order.fulfilled_by,
        "SalesChannel": marketplace.domain,
        "ShipServiceLevel": f"Std {marketplace.country} Dom_1",
    }
    if order.status != "PENDING":
        body["OrderTotal"] = _v0_money(order_total(order), marketplace)
    body |= _v0_counts(order) | _v0_payment(order, marketplace)
    body |= {
        "MarketplaceId": marketplace.marketplace_id,
        "ShipmentServiceLevelCategory": "Standard",
        "OrderType": "StandardOrder",
        "EarliestShipDate": _iso(order.purchased + timedelta(days=1)),
        "LatestShipDate": _iso(order.purchased + timedelta(days=2)),
    }
    body |= dict.fromkeys(_FLAGS, False)
    address = _v0_address(order, "shippingAddress" in restricted)
    if address is not None:
        body["ShippingAddress"] = address
    body["BuyerInfo"] = {"BuyerEmail": order.buyer_email}
    if "buyerInfo" in restricted:
        body["BuyerInfo"]["BuyerName"] = order.buyer_name
    return body


def _v0_counts(order: AmazonOrder) -> Json:
    shipped = sum(i.shipped for i in order.items)
    ordered = sum(i.quantity for i in order.items)
    unshipped = 0 if order.status == "CANCELLED" else ordered - shipped
    return {"NumberOfItemsShipped": shipped, "NumberOfItemsUnshipped": unshipped}


def _v0_payment(order: AmazonOrder, marketplace: Marketplace) -> Json:
    if not order.cod:
        return {"PaymentMethod": "Other", "PaymentMethodDetails": ["Standard"]}
    execution = {
        "Payment": _v0_money(order_total(order), marketplace),
        "PaymentMethod": "COD",
    }
    return {
        "PaymentExecutionDetail": [execution],
        "PaymentMethod": "COD",
        "PaymentMethodDetails": ["COD"],
    }


def _v0_address(order: AmazonOrder, full: bool) -> Json | None:
    place = order.address
    if place is None or order.status not in _ADDRESSED:
        return None
    body = {
        "Name": place.name,
        "AddressLine1": place.line1,
        "AddressLine2": place.line2,
        "City": place.city,
        "StateOrRegion": place.region,
        "PostalCode": place.postal_code,
        "CountryCode": place.country,
        "Phone": place.phone if order.fulfilled_by == "MFN" else None,
        "AddressType": "Residential",
    }
    if not full:
        kept = ("City", "StateOrRegion", "PostalCode", "CountryCode")
        body = {k: body[k] for k in kept}
    return {k: v for k, v in body.items() if v is not None}


def v0_items(order: AmazonOrder, marketplace: Marketplace) -> Json:
    """The ``getOrderItems`` payload of *order*: pricing left out while the
    order is Pending, shipping charged on the first line, the COD fee lines
    only on a COD order, ``IsGift`` a string as Amazon sends it."""
    items = [
        _v0_item(order, marketplace, index, item)
        for index, item in enumerate(order.items)
    ]
    return {"AmazonOrderId": order.order_id, "OrderItems": items}


def _v0_item(
    order: AmazonOrder, marketplace: Marketplace, index: int, item: AmazonItem
) -> Json:
    body: Json = {
        "ASIN": item.asin or _asin(item.sku),
        "SellerSKU": item.sku,
        "OrderItemId": _item_id(order, index),
        "Title": item.title,
        "QuantityOrdered": item.quantity,
        "QuantityShipped": item.shipped,
        "ProductInfo": {"NumberOfItems": "1"},
    }
    if order.status != "PENDING":
        body["ItemPrice"] = _v0_money(_line_total(item), marketplace)
        if index == 0 and order.shipping:
            body["ShippingPrice"] = _v0_money(order.shipping, marketplace)
        body["PromotionDiscount"] = _v0_money(Decimal(0), marketplace)
        if order.cod:
            body["CODFee"] = _v0_money(Decimal(0), marketplace)
    return body | {
        "IsGift": "false",
        "ConditionId": "New",
        "ConditionSubtypeId": "New",
        "IsTransparency": False,
        "SerialNumberRequired": False,
    }


def _v0_money(value: Decimal, marketplace: Marketplace) -> Json:
    return {"CurrencyCode": marketplace.currency, "Amount": _amount(value)}


# --- Orders API v2026-01-01 --------------------------------------------------


def v2026_order(
    order: AmazonOrder, marketplace: Marketplace, included: Iterable[str]
) -> Json:
    """*order* as a v2026-01-01 ``Order`` with the datasets *included*
    names; its items are always there."""
    wanted = frozenset(included)
    body: Json = {
        "orderId": order.order_id,
        "orderAliases": [{"aliasId": order.order_id, "aliasType": "SELLER_ORDER_ID"}],
        "createdTime": _iso(order.purchased),
        "lastUpdatedTime": _iso(order.updated or order.purchased),
        "programs": [],
        "associatedOrders": [],
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": marketplace.marketplace_id,
            "marketplaceName": marketplace.domain,
        },
    }
    parts = {
        "BUYER": ("buyer", _buyer),
        "RECIPIENT": ("recipient", _recipient),
        "PROCEEDS": ("proceeds", _proceeds),
        "PAYMENT": ("payment", _payment),
        "FULFILLMENT": ("fulfillment", _fulfilment),
    }
    for dataset, (key, build) in parts.items():
        part = build(order, marketplace) if dataset in wanted else None
        if part is not None:
            body[key] = part
    body["orderItems"] = [
        _v2026_item(order, marketplace, index, item, wanted)
        for index, item in enumerate(order.items)
    ]
    return body


def _buyer(order: AmazonOrder, _: Marketplace) -> Json:
    body = {"buyerName": order.buyer_name}
    if order.fulfilled_by == "MFN":
        body["buyerEmail"] = order.buyer_email
    return body


def _recipient(order: AmazonOrder, _: Marketplace) -> Json | None:
    place = order.address
    if place is None or order.status not in _ADDRESSED:
        return None
    address = {
        "name": place.name,
        "addressLine1": place.line1,
        "addressLine2": place.line2,
        "city": place.city,
        "stateOrRegion": place.region,
        "postalCode": place.postal_code,
        "countryCode": place.country,
        "phone": place.phone if order.fulfilled_by == "MFN" else None,
        "addressType": "RESIDENTIAL",
    }
    return {"deliveryAddress": {k: v for k, v in address.items() if v is not None}}


def _proceeds(order: AmazonOrder, marketplace: Marketplace) -> Json:
    lines = sum((_line_total(i) for i in order.items), Decimal(0))
    breakdowns = [{"type": "ITEM", "subtotal": _money(lines, marketplace)}]
    if order.shipping:
        breakdowns.append(
            {"type": "SHIPPING", "subtotal": _money(order.shipping, marketplace)}
        )
    return {
        "grandTotal": _money(order_total(order), marketplace),
        "breakdowns": breakdowns,
    }


def _payment(order: AmazonOrder, marketplace: Marketplace) -> Json:
    method = "CashOnDelivery" if order.cod else "CreditCard"
    execution = {
        "paymentMethod": method,
        "paymentAmount": _money(order_total(order), marketplace),
    }
    return {"paymentExecutions": [execution]}


def _fulfilment(order: AmazonOrder, _: Marketplace) -> Json:
    return {
        "fulfillmentStatus": order.status,
        "fulfilledBy": "MERCHANT" if order.fulfilled_by == "MFN" else "AMAZON",
        "fulfillmentServiceLevel": "STANDARD",
        "shipByWindow": {
            "earliestDateTime": _iso(order.purchased + timedelta(days=1)),
            "latestDateTime": _iso(order.purchased + timedelta(days=2)),
        },
    }


def _v2026_item(
    order: AmazonOrder,
    marketplace: Marketplace,
    index: int,
    item: AmazonItem,
    wanted: frozenset[str],
) -> Json:
    body: Json = {
        "orderItemId": _item_id(order, index),
        "quantityOrdered": item.quantity,
        "programs": [],
        "product": {
            "asin": item.asin or _asin(item.sku),
            "title": item.title,
            "sellerSku": item.sku,
            "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
            "price": {"unitPrice": _money(item.unit_price, marketplace)},
        },
    }
    if "PROCEEDS" in wanted:
        total = _money(_line_total(item), marketplace)
        body["proceeds"] = {
            "proceedsTotal": total,
            "breakdowns": [{"type": "ITEM", "subtotal": total}],
        }
    if "FULFILLMENT" in wanted:
        body["fulfillment"] = _item_fulfilment(order, item)
    return body


def _item_fulfilment(order: AmazonOrder, item: AmazonItem) -> Json:
    left = 0 if order.status == "CANCELLED" else item.quantity - item.shipped
    body: Json = {"quantityFulfilled": item.shipped, "quantityUnfulfilled": left}
    if order.cod:
        body["shipping"] = {"shippingConstraints": {"cashOnDelivery": "MANDATORY"}}
    return body


def _money(value: Decimal, marketplace: Marketplace) -> Json:
    return {"amount": _amount(value), "currencyCode": marketplace.currency}


# --- ids and times -----------------------------------------------------------


def _item_id(order: AmazonOrder, index: int) -> str:
    digits = "".join(c for c in order.order_id if c.isdigit())
    return f"{digits[-11:]}{index + 1:03d}"


def _asin(sku: str) -> str:
    letters = "".join(c for c in sku.upper() if c.isalnum())
    return ("B0" + letters + "00000000")[:10]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the sandbox's starting mix --------------------------------------------------

_AE, _EG, _SA = "A2VIGQ35RCS4UG", "ARBP9OOSHTCHU", "A17E79C6D8DWNP"
_CATALOGUE = {
    "OUD-50": (
        "Oud Perfume 50ml",
        {"AED": "145.00", "EGP": "1450.00", "SAR": "149.00"},
    ),
    "MSK-100": ("White Musk 100ml", {"AED": "95.00", "EGP": "900.00", "SAR": "99.00"}),
    "BKH-01": ("Bakhoor Burner", {"AED": "25.00", "EGP": "240.00", "SAR": "25.75"}),
}


def _item(sku: str, currency: str, quantity: int = 1) -> AmazonItem:
    title, prices = _CATALOGUE[sku]
    return AmazonItem(sku, title, quantity, Decimal(prices[currency]))


def seed_amazon_orders(now: datetime) -> dict[str, list[AmazonOrder]]:
    """The sandbox's Amazon orders per marketplace id, placed in the hours
    before *now*: merchant-fulfilled orders in the UAE and Egypt (one paid
    cash on delivery, one cancelled, one whose buyer left the city out), two
    Amazon-fulfilled ones and a Saudi order.  The same *now* gives the same
    orders."""

    def ago(hours: int) -> datetime:
        return now - timedelta(hours=hours)

    return {
        _AE: [
            AmazonOrder(
                "407-1000001-0000001",
                ago(20),
                [_item("OUD-50", "AED"), _item("BKH-01", "AED", 2)],
                AmazonAddress(
                    "Mariam Al Hashimi",
                    "Villa 14, Street 7B, Al Barsha 2",
                    "Dubai",
                    "AE",
                    region="Dubai",
                    phone="050 123 4567",
                ),
                "Mariam Al Hashimi",
                "fake1001buyer@marketplace.amazon.ae",
                shipping=Decimal("10.00"),
            ),
            AmazonOrder(
                "407-1000002-0000002",
                ago(16),
                [_item("MSK-100", "AED")],
                AmazonAddress(
                    "خالد المنصوري",
                    "شقة 1203، برج الندى، شارع الخليج",
                    "Abu Dhabi",
                    "AE",
                    region="Abu Dhabi",
                    phone="+971 52 765 4321",
                ),
                "خالد المنصوري",
                "fake1002buyer@marketplace.amazon.ae",
                cod=True,
                shipping=Decimal("10.00"),
            ),
            AmazonOrder(
                "407-1000003-0000003",
                ago(12),
                [_item("OUD-50", "AED", 2)],
                AmazonAddress(
                    "Ravi Menon", "Flat 5, Al Nahda 1", "Dubai", "AE", phone=None
                ),
                "Ravi Menon",
                "fake1003buyer@marketplace.amazon.ae",
                fulfilled_by="AFN",
                status="SHIPPED",
                updated=ago(6),
            ),
        ],
        _EG: [
            AmazonOrder(
                "171-2000001-0000001",
                ago(18),
                [_item("OUD-50", "EGP")],
                AmazonAddress(
                    "منى عبد الرحمن",
                    "١٢ شارع التحرير، الدقي",
                    "الجيزة",
                    "EG",
                    region="Giza",
                    postal_code="12611",
                    phone="0100 123 4567",
                ),
                "منى عبد الرحمن",
                "fake2001buyer@marketplace.amazon.eg",
                shipping=Decimal("45.00"),
            ),
            AmazonOrder(
                "171-2000002-0000002",
                ago(15),
                [_item("MSK-100", "EGP"), _item("BKH-01", "EGP")],
                AmazonAddress(
                    "Omar Farouk",
                    "7 Road 9, Maadi",
                    None,
                    "EG",
                    phone="01221234567",
                ),
                "Omar Farouk",
                "fake2002buyer@marketplace.amazon.eg",
                shipping=Decimal("45.00"),
            ),
            AmazonOrder(
                "171-2000003-0000003",
                ago(30),
                [_item("OUD-50", "EGP")],
                AmazonAddress(
                    "Youssef Nabil", "3 Nile St", "Cairo", "EG", phone="01112223334"
                ),
                "Youssef Nabil",
                "fake2003buyer@marketplace.amazon.eg",
                status="CANCELLED",
                updated=ago(10),
            ),
            AmazonOrder(
                "171-2000004-0000004",
                ago(9),
                [_item("BKH-01", "EGP", 3)],
                AmazonAddress("Salma Adel", "22 Corniche", "Alexandria", "EG"),
                "Salma Adel",
                "fake2004buyer@marketplace.amazon.eg",
                fulfilled_by="AFN",
            ),
        ],
        _SA: [
            AmazonOrder(
                "405-3000001-0000001",
                ago(8),
                [_item("OUD-50", "SAR"), _item("BKH-01", "SAR")],
                AmazonAddress(
                    "عبدالله القحطاني",
                    "طريق الملك فهد، حي العليا",
                    "الرياض",
                    "SA",
                    line2="مبنى 12، الدور 3",
                    region="منطقة الرياض",
                    postal_code="12211",
                    phone="0500000303",
                ),
                "عبدالله القحطاني",
                "fake3001buyer@marketplace.amazon.sa",
                shipping=Decimal("15.00"),
            ),
        ],
    }


def orders_by_marketplace(
    orders: Mapping[str, Sequence[AmazonOrder]],
) -> list[Json]:
    """Kept records of *orders* (marketplace id -> orders); an unknown
    marketplace or an order id given twice is refused before anything is
    kept."""
    records: list[Json] = []
    seen: set[str] = set()
    for marketplace, listed in orders.items():
        if marketplace not in MARKETPLACES:
            known = ", ".join(MARKETPLACES)
            raise ValueError(
                f"marketplace {marketplace!r} is not one the sandbox serves ({known})"
            )
        for order in listed:
            if order.order_id in seen:
                raise ValueError(f"order {order.order_id} is given twice")
            seen.add(order.order_id)
            records.append(order_to_json(order, marketplace))
    return records
