"""Builders for domain objects in tests: readable defaults, named changes.

``make_order()`` is a valid, bookable Moroccan cash-on-delivery order;
pass keyword arguments to change what a test is about.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

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
    Product,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

COUNTRIES = {
    "shemsiworld": ("MA", "MAD", "Casablanca", "+212661234567"),
    "shemsi-egypt": ("EG", "EGP", "Cairo", "+201001234567"),
    "shemsi-uae": ("AE", "AED", "Dubai", "+971551234567"),
    "shemsi-lebanon": ("LB", "USD", "Beirut", "+9613123456"),
}


def make_order(
    external_id: str = "1001",
    *,
    store: str = "shemsiworld",
    cod: bool = True,
    paid: bool | None = None,
    amount: str = "459.00",
    city: str | None = None,
    phone: str | None = "default",
    placed_at: datetime = T0,
    updated_at: datetime | None = None,
    cancelled: bool = False,
    quantity: int = 2,
    name: str | None = None,
    currency: str | None = None,
) -> Order:
    country, default_currency, default_city, default_phone = COUNTRIES[store]
    currency = currency or default_currency
    e164 = default_phone if phone == "default" else phone
    total = Money(Decimal(amount), currency)
    address = Address(
        first_name="Fatima",
        last_name="Benali",
        line1="12 Rue Ibn Battouta",
        city=default_city if city is None else city or None,
        country_code=country,
        phone=Phone(e164, e164, True) if e164 else None,
    )
    unit = Money(Decimal(amount) / quantity, currency)
    line = LineItem(
        external_id=f"{external_id}-1",
        product=Product("p1", "TAJ-BLUE", "Tajine plate"),
        quantity=quantity,
        ordered_quantity=quantity,
        unit_price=unit,
        grams=700,
    )
    payment = Payment(
        PaymentMethod.CASH_ON_DELIVERY if cod else PaymentMethod.PREPAID,
        paid=(not cod) if paid is None else paid,
        collect=total if cod else None,
    )
    return Order(
        key=OrderKey("shopify", store, external_id),
        name=name or f"#{external_id}",
        placed_at=placed_at,
        source_updated_at=updated_at or placed_at + timedelta(minutes=1),
        customer=Customer("c1", "Fatima", "Benali", "fatima@example.com"),
        shipping_address=address,
        lines=(line,),
        total=total,
        payment=payment,
        financial_status="PENDING" if cod else "PAID",
        cancelled_at=placed_at + timedelta(hours=1) if cancelled else None,
    )
