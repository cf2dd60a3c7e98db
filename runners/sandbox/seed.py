"""The sandbox's starting world of Shopify orders: four shops, a realistic mix.

:func:`seed_orders` returns, per store handle, order nodes in exactly the
shape the GraphQL ``orders`` connection returns them, so a JSON file of
such nodes can stand in for the seeds.  The same *now* gives the same
orders, byte for byte.

What the mix exercises: cash on delivery and prepaid orders; a prepaid
order not yet paid (bank deposit); Arabic and French names and addresses;
phone numbers in every local habit (trunk 0, spaces, Arabic-Indic digits,
``00`` and ``+`` prefixes, a stray trunk 0 after the country code); a
cancelled order; an order edited after it was placed; one malformed order
(no city, an unreadable phone) in ``shemsi-egypt``; and one Moroccan order
whose city is misspelt ``Casablanka``, which the Aramex sandbox rejects.
Every product but the Zaatar soap carries a weight per unit, in the unit a
merchant would type it (grams, kilograms, ounces or pounds); the soap has
none, as when a merchant leaves the field empty.  Every person, phone number
and address is fictional; e-mail addresses are under ``example.com``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

__all__ = ["STORES", "StoreSeed", "sandbox_token", "seed_orders"]


@attrs.frozen
class StoreSeed:
    """One sandbox shop: handle, country, currency and its catalogue."""

    handle: str
    country: str
    currency: str
    first_order_id: int
    first_number: int
    shipping: Decimal
    products: Mapping[str, tuple[str, Decimal]]

    @property
    def access_token(self) -> str:
        return sandbox_token(self.handle)


def sandbox_token(handle: str) -> str:
    """The Admin API token the sandbox accepts for *handle*."""
    return f"shpat_sandbox_{handle}"


_TITLES = {
    "OUD-50": "Oud Perfume 50ml",
    "MSK-100": "White Musk 100ml",
    "BKH-01": "Bakhoor Burner",
    "ARG-OIL": "Argan Oil 100ml",
    "KHL-01": "Kohl Set",
    "DKH-250": "Dukhoon Mix 250g",
    "ZTR-01": "Zaatar Soap",
}

# The weight of one unit as Shopify's ``Weight {unit value}``; None is a
# product whose weight was never entered.
_WEIGHTS: dict[str, tuple[str, float] | None] = {
    "OUD-50": ("GRAMS", 350.0),
    "MSK-100": ("KILOGRAMS", 0.28),
    "BKH-01": ("KILOGRAMS", 1.2),
    "ARG-OIL": ("GRAMS", 180.0),
    "KHL-01": ("OUNCES", 4.0),
    "DKH-250": ("POUNDS", 0.7),
    "ZTR-01": None,
}


def _catalogue(prices: Mapping[str, str]) -> dict[str, tuple[str, Decimal]]:
    return {sku: (_TITLES[sku], Decimal(price)) for sku, price in prices.items()}


STORES: dict[str, StoreSeed] = {
    s.handle: s
    for s in (
        StoreSeed(
            "shemsiworld",
            "MA",
            "MAD",
            6200000000001,
            1001,
            Decimal(30),
            _catalogue(
                {"OUD-50": "390", "MSK-100": "220", "BKH-01": "150", "ARG-OIL": "120"}
            ),
        ),
        StoreSeed(
            "shemsi-egypt",
            "EG",
            "EGP",
            6300000000001,
            2001,
            Decimal(60),
            _catalogue(
                {"OUD-50": "1450", "MSK-100": "850", "BKH-01": "600", "KHL-01": "300"}
            ),
        ),
        StoreSeed(
            "shemsi-uae",
            "AE",
            "AED",
            6400000000001,
            3001,
            Decimal(15),
            _catalogue(
                {"OUD-50": "99", "MSK-100": "179", "BKH-01": "40", "DKH-250": "65"}
            ),
        ),
        StoreSeed(
            "shemsi-lebanon",
            "LB",
            "USD",
            6500000000001,
            4001,
            Decimal(5),
            _catalogue(
                {"OUD-50": "35", "MSK-100": "25", "BKH-01": "15", "ZTR-01": "6.5"}
            ),
        ),
    )
}


@attrs.frozen
class _Spec:
    """One seeded order, in the words of the people involved."""

    hours_ago: float
    first: str
    last: str
    email: str
    locale: str
    address1: str
    address2: str | None
    city: str | None
    province: str | None
    zip: str | None
    phone: str | None
    payment: str  # "cod", "paid" or "unpaid"
    lines: tuple[tuple[str, int], ...]
    note: str | None = None
    tags: tuple[str, ...] = ()
    special: str | None = None  # "cancelled" or "edited"


_MOROCCO = (
    _Spec(
        70,
        "Yasmine",
        "Benali",
        "yasmine.benali",
        "fr",
        "12 Rue Ibn Batouta, Quartier Gauthier",
        None,
        "Casablanca",
        None,
        "20250",
        "0661234567",
        "cod",
        (("OUD-50", 1), ("BKH-01", 1)),
    ),
    _Spec(
        58,
        "يوسف",
        "العلوي",
        "youssef.alaoui",
        "ar",
        "شارع محمد الخامس، عمارة 8، شقة 3",
        "قرب محطة القطار",
        "Rabat",
        None,
        "10000",
        "06 12 34 56 78",
        "cod",
        (("MSK-100", 2),),
        note="المرجو الاتصال قبل التوصيل",
    ),
    _Spec(
        47,
        "Karim",
        "El Idrissi",
        "karim.elidrissi",
        "fr",
        "Résidence Al Manar, Apt 14, Avenue Mohammed VI",
        None,
        "Marrakech",
        None,
        "40000",
        "+212 6 70 11 22 33",
        "paid",
        (("OUD-50", 2),),
    ),
    _Spec(
        40,
        "فاطمة الزهراء",
        "بناني",
        "fatima.bennani",
        "ar",
        "درب الحرة 15، المدينة القديمة",
        None,
        "Fes",
        None,
        "30000",
        "0761234567",
        "cod",
        (("OUD-50", 1), ("MSK-100", 2)),
        special="edited",
    ),
    _Spec(
        30,
        "Salma",
        "Tazi",
        "salma.tazi",
        "fr",
        "45 Boulevard Pasteur",
        "2e étage",
        "Tangier",
        None,
        "90000",
        "0662457812",
        "cod",
        (("ARG-OIL", 3),),
    ),
    _Spec(
        20,
        "Hamza",
        "Berrada",
        "hamza.berrada",
        "fr",
        "Rue Mustapha El Maani, Imm. 22",
        None,
        "Casablanka",
        None,
        "20000",
        "0663112233",
        "cod",
        (("BKH-01", 1), ("ARG-OIL", 1)),
    ),
    _Spec(
        6,
        "Nadia",
        "Chraibi",
        "nadia.chraibi",
        "fr",
        "Hay Dakhla, Rue 7, N° 19",
        None,
        "Agadir",
        None,
        "80000",
        "0664 55 66 77",
        "cod",
        (("MSK-100", 1),),
        tags=("whatsapp-confirm",),
    ),
)

_EGYPT = (
    _Spec(
        68,
        "محمد",
        "عبد الرحمن",
        "mohamed.abdelrahman",
        "ar",
        "١٥ شارع قصر النيل، وسط البلد",
        None,
        "Cairo",
        "C",
        None,
        "01001234567",
        "cod",
        (("OUD-50", 1),),
    ),
    _Spec(
        55,
        "Mariam",
        "Saleh",
        "mariam.saleh",
        "en",
        "22 Shehab St., Mohandessin, Apt 5",
        None,
        "Giza",
        "GZ",
        None,
        "01112345678",
        "cod",
        (("MSK-100", 1), ("KHL-01", 1)),
    ),
    _Spec(
        44,
        "أحمد",
        "فؤاد",
        "ahmed.fouad",
        "ar",
        "٧ طريق الجيش، سيدي جابر",
        None,
        "Alexandria",
        "ALX",
        None,
        "٠١٢٢٣٤٥٦٧٨٩",
        "cod",
        (("BKH-01", 2),),
    ),
    _Spec(
        36,
        "Nour",
        "Hassan",
        "nour.hassan",
        "en",
        "Building 4, Street 9, Maadi",
        None,
        "Cairo",
        "C",
        None,
        "01512345678",
        "unpaid",
        (("OUD-50", 1),),
    ),
    # Malformed: a hurried checkout left no city and a phone nobody can dial.
    _Spec(
        26,
        "خالد",
        "منصور",
        "khaled.mansour",
        "ar",
        "شارع الهرم، برج 3",
        None,
        None,
        "GZ",
        None,
        "01x 23",
        "cod",
        (("KHL-01", 1),),
    ),
    _Spec(
        14,
        "Heba",
        "Mostafa",
        "heba.mostafa",
        "en",
        "Sheikh Zayed, 16th District, Villa 3",
        None,
        "Giza",
        "GZ",
        None,
        "00201001234568",
        "paid",
        (("MSK-100", 2),),
    ),
    _Spec(
        4,
        "عمر",
        "سامي",
        "omar.samy",
        "ar",
        "30 Fawzi Moaz St., Smouha",
        None,
        "Alexandria",
        "ALX",
        None,
        "0100 765 4321",
        "cod",
        (("OUD-50", 1), ("BKH-01", 1)),
    ),
)

_UAE = (
    _Spec(
        66,
        "ليلى",
        "الحمادي",
        "layla.hammadi",
        "ar",
        "شارع الشيخ زايد، برج النخيل، شقة 1204",
        "بالقرب من محطة المترو",
        "Dubai",
        "DU",
        None,
        "0551234567",
        "cod",
        (("OUD-50", 2), ("BKH-01", 1)),
        note="يرجى الاتصال قبل التوصيل",
        tags=("whatsapp-confirm",),
    ),
    _Spec(
        50,
        "Omar",
        "Khalil",
        "omar.khalil",
        "en",
        "Villa 7, Street 12, Khalifa City A",
        None,
        "Abu Dhabi",
        "AZ",
        None,
        "050 123 4567",
        "paid",
        (("MSK-100", 1),),
        special="cancelled",
    ),
    _Spec(
        38,
        "Rania",
        "Aziz",
        "rania.aziz",
        "en",
        "Al Majaz 2, Jamal Abdul Nasser St, Bldg 5",
        None,
        "Sharjah",
        "SH",
        None,
        "+971 0521234567",
        "paid",
        (("DKH-250", 2),),
    ),
    _Spec(
        22,
        "سعيد",
        "المنصوري",
        "saeed.mansoori",
        "ar",
        "الورقاء ١، شارع ٢٣، فيلا ٩",
        None,
        "Dubai",
        "DU",
        None,
        "056 789 0123",
        "cod",
        (("MSK-100", 1), ("DKH-250", 1)),
    ),
    _Spec(
        12,
        "Claire",
        "Haddad",
        "claire.haddad",
        "fr",
        "Marina Promenade, Tower 3, Apt 2201",
        None,
        "Dubai",
        "DU",
        None,
        "0581234567",
        "paid",
        (("OUD-50", 1),),
    ),
    _Spec(
        3,
        "فاطمة",
        "السويدي",
        "fatima.suwaidi",
        "ar",
        "جزيرة الريم، برج السماء، شقة 3305",
        None,
        "Abu Dhabi",
        "AZ",
        None,
        "054 222 3344",
        "cod",
        (("BKH-01", 2),),
    ),
)

_LEBANON = (
    _Spec(
        60,
        "Rami",
        "Khoury",
        "rami.khoury",
        "fr",
        "Rue Hamra, Immeuble Saroulla, 3e étage",
        None,
        "Beirut",
        None,
        None,
        "03 123 456",
        "cod",
        (("OUD-50", 1),),
    ),
    _Spec(
        45,
        "رنا",
        "حداد",
        "rana.haddad",
        "ar",
        "شارع المرفأ، بناية الأرز، الطابق الثاني",
        None,
        "Jounieh",
        None,
        None,
        "70 123 456",
        "cod",
        (("MSK-100", 2),),
    ),
    _Spec(
        33,
        "Élie",
        "Nassar",
        "elie.nassar",
        "fr",
        "Rue Azmi, Imm. Kassem",
        None,
        "Tripoli",
        None,
        None,
        "71 234 567",
        "paid",
        (("ZTR-01", 4), ("BKH-01", 1)),
    ),
    _Spec(
        20,
        "Maya",
        "Abou Jaoude",
        "maya.aboujaoude",
        "fr",
        "Achrafieh, Rue Sursock, Bldg 11",
        None,
        "Beirut",
        None,
        None,
        "81 234 567",
        "cod",
        (("OUD-50", 1), ("ZTR-01", 2)),
    ),
    _Spec(
        8,
        "حسين",
        "الزين",
        "hussein.zein",
        "ar",
        "الحمرا، شارع المقدسي، بناية 4",
        None,
        "Beirut",
        None,
        None,
        "+961 3 987 654",
        "cod",
        (("MSK-100", 1),),
    ),
    _Spec(
        2,
        "Joëlle",
        "Sfeir",
        "joelle.sfeir",
        "fr",
        "Kaslik, Rue Principale, Imm. Sfeir",
        None,
        "Jounieh",
        None,
        None,
        "76 543 210",
        "paid",
        (("OUD-50", 1),),
    ),
)

_SPECS = {
    "shemsiworld": _MOROCCO,
    "shemsi-egypt": _EGYPT,
    "shemsi-uae": _UAE,
    "shemsi-lebanon": _LEBANON,
}


def seed_orders(now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The seeded orders of every sandbox store, placed in the days before
    *now* (aware), oldest first, as GraphQL ``Order`` nodes."""
    start = now.astimezone(UTC).replace(microsecond=0)
    return {
        handle: [
            _node(STORES[handle], index, spec, start)
            for index, spec in enumerate(specs)
        ]
        for handle, specs in _SPECS.items()
    }


def _node(store: StoreSeed, index: int, spec: _Spec, now: datetime) -> dict[str, Any]:
    order_id = store.first_order_id + index
    created = now - timedelta(hours=spec.hours_ago)
    lines = [
        _line(store, order_id, n, sku, qty) for n, (sku, qty) in enumerate(spec.lines)
    ]
    total = sum((_price(store, sku) * qty for sku, qty in spec.lines), store.shipping)
    node: dict[str, Any] = {
        "id": f"gid://shopify/Order/{order_id}",
        "legacyResourceId": str(order_id),
        "name": f"#{store.first_number + index}",
        "email": f"{spec.email}@example.com",
        "phone": None,
        "createdAt": _iso(created),
        "updatedAt": _iso(created + timedelta(minutes=2)),
        "cancelledAt": None,
        "cancelReason": None,
        "currencyCode": store.currency,
        "displayFinancialStatus": "PAID" if spec.payment == "paid" else "PENDING",
        "displayFulfillmentStatus": "UNFULFILLED",
        "paymentGatewayNames": [_GATEWAYS[spec.payment]],
        "tags": list(spec.tags) + (["COD"] if spec.payment == "cod" else []),
        "note": spec.note,
        "customer": _customer(store, order_id, spec),
        "totalPriceSet": _money(total, store.currency),
        "currentTotalPriceSet": _money(total, store.currency),
        "totalOutstandingSet": _money(
            Decimal(0) if spec.payment == "paid" else total, store.currency
        ),
        "shippingAddress": _address(store, spec),
        "lineItems": {"nodes": lines},
    }
    if spec.special:
        _SPECIALS[spec.special](node, store, created)
    return node


_GATEWAYS = {
    "cod": "Cash on Delivery (COD)",
    "paid": "shopify_payments",
    "unpaid": "Bank Deposit",
}


def _customer(store: StoreSeed, order_id: int, spec: _Spec) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Customer/{order_id + 1_000_000_000_000}",
        "firstName": spec.first,
        "lastName": spec.last,
        "email": f"{spec.email}@example.com",
        "phone": None,
        "locale": spec.locale,
    }


def _address(store: StoreSeed, spec: _Spec) -> dict[str, Any]:
    return {
        "firstName": spec.first,
        "lastName": spec.last,
        "address1": spec.address1,
        "address2": spec.address2,
        "city": spec.city,
        "province": _PROVINCES.get(spec.province or ""),
        "provinceCode": spec.province,
        "zip": spec.zip,
        "countryCodeV2": store.country,
        "phone": spec.phone,
    }


_PROVINCES = {
    "C": "Cairo",
    "GZ": "Giza",
    "ALX": "Alexandria",
    "DU": "Dubai",
    "AZ": "Abu Dhabi",
    "SH": "Sharjah",
}


def _line(
    store: StoreSeed, order_id: int, index: int, sku: str, quantity: int
) -> dict[str, Any]:
    title, price = store.products[sku]
    number = list(_TITLES).index(sku) + 1
    return {
        "id": f"gid://shopify/LineItem/{order_id * 10 + index}",
        "sku": sku,
        "title": title,
        "quantity": quantity,
        "currentQuantity": quantity,
        "variant": {
            "id": f"gid://shopify/ProductVariant/{4400000000000 + number}",
            "inventoryItem": {"measurement": {"weight": _weight(sku)}},
        },
        "product": {"id": f"gid://shopify/Product/{8800000000000 + number}"},
        "originalUnitPriceSet": _money(price, store.currency),
    }


def _weight(sku: str) -> dict[str, Any] | None:
    weight = _WEIGHTS[sku]
    return None if weight is None else {"unit": weight[0], "value": weight[1]}


def _cancel(node: dict[str, Any], store: StoreSeed, created: datetime) -> None:
    cancelled = created + timedelta(hours=3)
    node["cancelledAt"] = _iso(cancelled)
    node["cancelReason"] = "CUSTOMER"
    node["updatedAt"] = _iso(cancelled + timedelta(seconds=2))
    node["displayFinancialStatus"] = "REFUNDED"
    for line in node["lineItems"]["nodes"]:
        line["currentQuantity"] = 0
    node["currentTotalPriceSet"] = _money(Decimal(0), store.currency)
    node["totalOutstandingSet"] = _money(Decimal(0), store.currency)


def _edit(node: dict[str, Any], store: StoreSeed, created: datetime) -> None:
    """The customer dropped the last line on the phone; staff edited it."""
    removed = node["lineItems"]["nodes"][-1]
    price = Decimal(removed["originalUnitPriceSet"]["shopMoney"]["amount"])
    current = Decimal(node["currentTotalPriceSet"]["shopMoney"]["amount"])
    current -= price * removed["currentQuantity"]
    removed["currentQuantity"] = 0
    node["currentTotalPriceSet"] = _money(current, store.currency)
    node["totalOutstandingSet"] = _money(current, store.currency)
    node["updatedAt"] = _iso(created + timedelta(hours=6))


_SPECIALS = {"cancelled": _cancel, "edited": _edit}


def _price(store: StoreSeed, sku: str) -> Decimal:
    return store.products[sku][1]


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": _amount(amount), "currencyCode": currency}}


def _amount(amount: Decimal) -> str:
    """Shopify's MoneyV2 style: ``253.0``, ``409.94``."""
    if amount == amount.to_integral_value():
        return f"{int(amount)}.0"
    return f"{amount.normalize():f}"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
