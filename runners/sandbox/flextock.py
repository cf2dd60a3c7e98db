"""A loopback Flextock: login, products, orders and order status.

It speaks the shapes in ``fulfilment.adapters.pl3.flextock.wire`` (observed
from merchant code) and answers errors the way that module models them,
Django REST Framework style (``{"customer_address": {"city": ["..."]}}``),
since Flextock publishes no error format.  What it checks:

- the login (username, password and, when configured, ``key``) and every
  bearer token: unknown or expired → 401 ``token_not_valid``;
- products: each SKU is created once, a second time answers "SKU code
  already exists." (HTTP 200, per item);
- orders: city in the sandbox cities of Egypt (any case), a phone number,
  the configured currency, known SKUs, and an ``order_code`` not used before
  (400 "already exists": never a second parcel).

Orders live in ``state["orders"]`` by ``order_code`` with the body as
received and the order's timeline (:mod:`.timelines`, from the order code),
so statuses move on the simulator's clock; :func:`status_of` is the one place
that says what order-status reports: the current status only, as Flextock
does, with a courier and tracking number once a driver has the parcel.  One
scenario in eight passes through ``address verification``, a status no
table knows.

Cancel-order cancels an order still at the warehouse: at once while it is
pending ("Order cancelled successfully."), within the hour once packed
("Order cancellation is in progress"); once a driver has it, or when it is
already cancelled, it answers 400 with a message.  AWB is not simulated: the
adapter does not use it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fulfilment.adapters.pl3.memory import SANDBOX_CITIES
from fulfilment.core.ports import Clock

from . import timelines
from ._partner import bearer_is_valid, issue_token, json_object
from .server import SimRequest, SimResponse, Simulator, route
from .timelines import Step

__all__ = ["SANDBOX_PASSWORD", "SANDBOX_USERNAME", "FlextockSimulator", "status_of"]

# The sandbox account: fixed, because the simulator only listens on
# 127.0.0.1 and guards nothing real.
SANDBOX_USERNAME = "sandbox"
SANDBOX_PASSWORD = "sandbox-password"  # noqa: S105

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PAYMENT_TYPES = ("cash_on_delivery", "prepaid")
_ADDRESS_FIELDS = ("city", "area", "address_line1", "first_name", "phone_number")
_BLANK = ["This field may not be blank."]
COURIER = "Sandbox Express"
COURIER_TRACKING = "https://track.sandbox-express.test/"
# How each timeline step reads in order-status: (order_status, sub-status).
# Flextock's vocabulary has no "out for delivery" and no hub-to-hub steps,
# so those steps leave the status as it was (a "failed attempt" stays
# visible until the parcel is delivered or sent back).
_STEPS: Mapping[Step, tuple[str, str | None]] = {
    Step.CREATED: ("pending", None),
    Step.READY: ("fulfilled", None),
    Step.PICKED_UP: ("picked by driver", None),
    Step.AT_HUB: ("in transit", None),
    Step.ODD: ("address verification", None),
    Step.FAILED_ATTEMPT: ("in transit", "failed attempt"),
    Step.DELIVERED: ("delivered", None),
    Step.RETURNING: ("returning", None),
    Step.RETURNED: ("returned to origin", None),
    Step.CANCELLED: ("canceled", None),
}
# Cancelling a packed order takes Flextock a while (unpacking, restocking).
_UNPACKING = timedelta(hours=1)
_CANCELLED = "Order cancelled successfully."
_IN_PROGRESS = "Order cancellation is in progress"


def status_of(record: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """What order-status says about a stored order at *now*."""
    timeline = _timeline(record)
    current = timelines.latest(timeline, now, _STEPS)
    status, sub_status = _STEPS[current.step] if current else ("pending", None)
    code = record["order"]["order_code"]
    courier = _courier(code) if _with_courier(timeline, now) else {}
    return {
        "order_code": code,
        "order_status": status,
        "order_sub_status": sub_status,
        "courier_name": courier.get("courier_name"),
        "tracking_number": courier.get("tracking_number"),
        "tracking_url": courier.get("tracking_url"),
    }


def _timeline(record: Mapping[str, Any]) -> list[timelines.Milestone]:
    # Orders stored before timelines existed get theirs from the order code.
    if "timeline" in record:
        return timelines.from_json(record["timeline"])
    created = datetime.fromisoformat(record["created_at"])
    return timelines.build(record["order"]["order_code"], created)


def _with_courier(timeline: list[timelines.Milestone], now: datetime) -> bool:
    return any(m.step is Step.PICKED_UP for m in timelines.reached(timeline, now))


def _courier(order_code: str) -> dict[str, str]:
    digest = hashlib.sha256(order_code.encode()).hexdigest()
    number = f"SBX{int(digest[:10], 16) % 10**10:010d}"
    return {
        "courier_name": COURIER,
        "tracking_number": number,
        "tracking_url": COURIER_TRACKING + number,
    }


class FlextockSimulator(Simulator):
    """Flextock for one merchant account; the defaults are the sandbox
    credentials the sandbox configuration uses."""

    name = "flextock"

    def __init__(
        self,
        *,
        data_dir: Any = None,
        clock: Clock | None = None,
        username: str = SANDBOX_USERNAME,
        password: str = SANDBOX_PASSWORD,
        key: str | None = None,
        currency: str = "EGP",
        token_ttl: timedelta = timedelta(hours=1),
    ) -> None:
        super().__init__(data_dir=data_dir, clock=clock)
        self.credentials = {"username": username, "password": password}
        self.key = key
        self.currency = currency
        self.token_ttl = token_ttl
        self.cities = {c.casefold() for c in SANDBOX_CITIES["EG"]}

    def sandbox_settings(self, base_url: str) -> dict[str, Any]:
        """The ``[partners.flextock]`` configuration table (TOML-ready data)
        for an adapter talking to this simulator at *base_url*."""
        return {
            "base_url": base_url,
            "username": self.credentials["username"],
            "password": self.credentials["password"],
            "vendor_name": "Shemsi Egypt",
            "cod_currencies": [self.currency],
        } | ({"api_key": self.key} if self.key else {})

    def initial_state(self) -> dict[str, Any]:
        return {"tokens": {}, "products": {}, "orders": {}}

    def expire_tokens(self) -> None:
        """Make every issued token stale, as a token lifetime running out
        would (the next call with one answers 401)."""
        with self.lock:
            self.state["tokens"].clear()
            self.save()

    # --- routes ----------------------------------------------------------

    @route("POST", r"/base/auth/?", "auth")
    def auth(self, request: SimRequest) -> SimResponse:
        body = json_object(request)
        if body is None or not self._credentials_match(body):
            return SimResponse(
                401, {"detail": "No active account found with the given credentials"}
            )
        return SimResponse(
            200, {"access": self._issue(), "refresh": secrets.token_urlsafe(24)}
        )

    @route("POST", r"/external-integration/create-products/?", "create-products")
    def create_products(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        products = (json_object(request) or {}).get("products")
        if not isinstance(products, list) or not 1 <= len(products) <= 100:
            return SimResponse(400, {"products": ["Send between 1 and 100 products."]})
        return SimResponse(200, {"response": [self._add_product(p) for p in products]})

    @route("POST", r"/external-integration/create-order/?", "create-order")
    def create_order(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        body = json_object(request)
        if body is None:
            return SimResponse(400, {"message": "JSON parse error."})
        errors = self._order_errors(body)
        if errors:
            return SimResponse(400, errors)
        now = self.clock.now()
        code = body["order_code"]
        self.state["orders"][code] = {
            "order": body,
            "created_at": now.isoformat(),
            "scenario": timelines.scenario_for(code).value,
            "timeline": timelines.to_json(timelines.build(code, now)),
        }
        return SimResponse(200, {"message": "Order created successfully."})

    @route("POST", r"/external-integration/order-status/?", "order-status")
    def order_status(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        body = json_object(request) or {}
        orders, now = self.state["orders"], self.clock.now()
        if isinstance(body.get("order_code_array"), list):
            codes = body["order_code_array"]
            return SimResponse(
                200, [status_of(orders[c], now) for c in codes if c in orders]
            )
        record = orders.get(body.get("order_code"))
        if record is None:
            return SimResponse(404, {"message": "Order not found."})
        return SimResponse(200, status_of(record, now))

    @route("POST", r"/external-integration/cancel-order/?", "cancel-order")
    def cancel_order(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        body = json_object(request) or {}
        record = self.state["orders"].get(body.get("order_code"))
        if record is None:
            return SimResponse(404, {"message": "Order not found."})
        if body.get("order_type") != "outbound":
            return SimResponse(400, {"order_type": ["Only outbound orders."]})
        return self._cancel(record, self.clock.now())

    def _cancel(self, record: dict[str, Any], now: datetime) -> SimResponse:
        timeline = _timeline(record)
        when = timelines.cancelled_by(timeline)
        if when is not None:
            if when > now:
                return SimResponse(200, {"message": _IN_PROGRESS})
            return SimResponse(400, {"message": "Order is already canceled."})
        packed = any(m.step is Step.READY for m in timelines.reached(timeline, now))
        delay = _UNPACKING if packed else timedelta(0)
        cancelled = timelines.cancel(timeline, now, delay)
        if cancelled is None:
            return SimResponse(
                400, {"message": "Order cannot be canceled: a driver has it."}
            )
        record["timeline"] = timelines.to_json(cancelled)
        return SimResponse(200, {"message": _IN_PROGRESS if packed else _CANCELLED})

    # --- checks ----------------------------------------------------------

    def _credentials_match(self, body: Mapping[str, Any]) -> bool:
        given = {k: body.get(k) for k in self.credentials}
        return given == self.credentials and (
            self.key is None or body.get("key") == self.key
        )

    def _issue(self) -> str:
        return issue_token(self.state["tokens"], self.clock.now(), self.token_ttl)

    def _denied(self, request: SimRequest) -> SimResponse | None:
        if bearer_is_valid(self.state["tokens"], request, self.clock.now()):
            return None
        return SimResponse(
            401,
            {
                "detail": "Given token not valid for any token type",
                "code": "token_not_valid",
            },
        )

    def _add_product(self, product: Mapping[str, Any]) -> dict[str, str]:
        sku = str(product.get("sku_code") or "").strip()
        if not sku or not product.get("sku_name"):
            return {"sku_code": sku, "message": "sku_code and sku_name are required."}
        if sku in self.state["products"]:
            return {"sku_code": sku, "message": "SKU code already exists."}
        self.state["products"][sku] = dict(product)
        return {"sku_code": sku, "message": "SKU created successfully."}

    def _order_errors(self, body: Mapping[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        code = str(body.get("order_code") or "").strip()
        if not code:
            errors["order_code"] = _BLANK
        elif code in self.state["orders"]:
            errors["order_code"] = ["Order with this order code already exists."]
        if not _DATE.fullmatch(str(body.get("order_date") or "")):
            errors["order_date"] = ["Date has wrong format. Use YYYY-MM-DD."]
        if body.get("order_currency") != self.currency:
            errors["order_currency"] = [
                f"Currency {body.get('order_currency')!r} is not supported; "
                f"orders are in {self.currency}."
            ]
        _put(errors, "customer_address", self._address_errors(body))
        _put(errors, "line_items", self._line_errors(body.get("line_items")))
        _put(errors, "payment_data", _payment_errors(body.get("payment_data")))
        return errors

    def _address_errors(self, body: Mapping[str, Any]) -> dict[str, Any]:
        address = body.get("customer_address")
        if not isinstance(address, Mapping):
            return {"non_field_errors": ["customer_address is required."]}
        errors = {
            name: _BLANK
            for name in _ADDRESS_FIELDS
            if not str(address.get(name) or "").strip()
        }
        if address.get("country") != "Egypt":
            errors["country"] = [f"Country {address.get('country')!r} is not served."]
        city = str(address.get("city") or "").strip()
        if city and city.casefold() not in self.cities:
            errors["city"] = [f"City {city!r} is not a valid city."]
        return errors

    def _line_errors(self, lines: Any) -> Any:
        if not isinstance(lines, list) or not lines:
            return ["At least one line item is required."]
        errors = [self._line_error(line) for line in lines]
        return errors if any(errors) else None

    def _line_error(self, line: Any) -> dict[str, list[str]]:
        if not isinstance(line, Mapping):
            return {"non_field_errors": ["Invalid line item."]}
        errors = {}
        sku = line.get("sku_code")
        if sku not in self.state["products"]:
            errors["sku_code"] = [f"SKU {sku!r} does not exist."]
        if not isinstance(line.get("quantity"), int) or line["quantity"] < 1:
            errors["quantity"] = ["Ensure this value is greater than or equal to 1."]
        return errors


def _payment_errors(payments: Any) -> Any:
    if not isinstance(payments, list) or not payments:
        return ["At least one payment is required."]
    errors = [_payment_error(payment) for payment in payments]
    return errors if any(errors) else None


def _payment_error(payment: Any) -> dict[str, list[str]]:
    kind = payment.get("payment_type") if isinstance(payment, Mapping) else None
    if kind not in _PAYMENT_TYPES:
        return {"payment_type": [f"{kind!r} is not a valid choice."]}
    if not isinstance(payment.get("value"), int | float):
        return {"value": ["A valid number is required."]}
    return {}


def _put(errors: dict[str, Any], name: str, value: Any) -> None:
    if value:
        errors[name] = value
