"""A loopback Farfill: OAuth2 tokens and fulfilment orders.

Farfill publishes nothing, so this simulator speaks the model in
``fulfilment.adapters.pl3.farfill.wire`` (Quiqup Fulfilment's shape): a
client-credentials token endpoint, ``POST /api/fulfilment/orders`` keyed by
a unique ``partner_order_id``, and lookups with ``GET``.  What it checks:

- the client id and secret, and every bearer token: unknown or expired →
  401 ``invalid_token``;
- orders: recipient phone, a city of the UAE sandbox list (any case), the
  configured currency, the payment mode and amount, the service kind, items
  → 422 ``{"errors": [{"field", "message"}]}``; a ``partner_order_id`` already
  used → 409 "has already been taken" (never a second parcel).

Orders live in ``state["orders"]`` by Farfill id, with the body as received;
:func:`state_of` is the one place that says which state an order reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

from fulfilment.adapters.pl3.farfill.wire import SERVICE_KINDS
from fulfilment.adapters.pl3.memory import SANDBOX_CITIES
from fulfilment.core.ports import Clock

from ._partner import bearer_is_valid, issue_token, json_object
from .server import SimRequest, SimResponse, Simulator, route

__all__ = [
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "FarfillSimulator",
    "state_of",
]

# The sandbox OAuth client: fixed, because the simulator only listens on
# 127.0.0.1 and guards nothing real.
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"  # noqa: S105
TRACKING_BASE = "https://track.farfill.test/orders/"
_PAYMENT_MODES = ("paid_on_delivery", "pre_paid")
_BLANK = "can't be blank"


def state_of(record: Mapping[str, Any]) -> str:
    """The state an order reports.  Orders stay ``pending`` until later
    simulation work moves them along by setting the record's ``state``."""
    return str(record.get("state", "pending"))


class FarfillSimulator(Simulator):
    """Farfill for one merchant OAuth client; the defaults are the sandbox
    credentials the sandbox configuration uses."""

    name = "farfill"

    def __init__(
        self,
        *,
        data_dir: Any = None,
        clock: Clock | None = None,
        client_id: str = SANDBOX_CLIENT_ID,
        client_secret: str = SANDBOX_CLIENT_SECRET,
        currency: str = "AED",
        token_ttl: timedelta = timedelta(hours=1),
    ) -> None:
        super().__init__(data_dir=data_dir, clock=clock)
        self.client = {"client_id": client_id, "client_secret": client_secret}
        self.currency = currency
        self.token_ttl = token_ttl
        self.cities = {c.casefold() for c in SANDBOX_CITIES["AE"]}

    def sandbox_settings(self, base_url: str) -> dict[str, Any]:
        """The ``[partners.farfill]`` configuration table (TOML-ready data)
        for an adapter talking to this simulator at *base_url*."""
        return {
            "base_url": base_url,
            "client_id": self.client["client_id"],
            "client_secret": self.client["client_secret"],
            "cod_currencies": [self.currency],
        }

    def initial_state(self) -> dict[str, Any]:
        # "ids" indexes Farfill ids by partner_order_id for lookups.
        return {"tokens": {}, "orders": {}, "ids": {}, "next_id": 1}

    def expire_tokens(self) -> None:
        """Make every issued token stale (the next call with one gets 401)."""
        with self.lock:
            self.state["tokens"].clear()
            self.save()

    def order_by_partner_id(self, partner_order_id: str) -> dict[str, Any] | None:
        """The stored record for a merchant reference, for tests and tools."""
        order_id = self.state["ids"].get(partner_order_id)
        return self.state["orders"][order_id] if order_id else None

    # --- routes ----------------------------------------------------------

    @route("POST", r"/oauth/token", "token")
    def token(self, request: SimRequest) -> SimResponse:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8")).items()}
        if form.get("grant_type") != "client_credentials":
            return SimResponse(400, {"error": "unsupported_grant_type"})
        if {k: form.get(k) for k in self.client} != self.client:
            return SimResponse(
                401,
                {"error": "invalid_client", "error_description": "Client unknown."},
            )
        return SimResponse(200, self._issue())

    @route("POST", r"/api/fulfilment/orders", "create-order")
    def create_order(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        body = json_object(request)
        if body is None:
            return _errors([("base", "body must be a JSON object")])
        if self.order_by_partner_id(str(body.get("partner_order_id"))):
            return _errors([("partner_order_id", "has already been taken")], 409)
        errors = self._order_errors(body)
        if errors:
            return _errors(errors)
        return SimResponse(201, {"order": self._view(self._store(body))})

    @route("GET", r"/api/fulfilment/orders", "list-orders")
    def list_orders(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        wanted = request.arg("partner_order_id")
        if wanted is None:
            records = list(self.state["orders"].values())
        else:
            found = self.order_by_partner_id(wanted)
            records = [found] if found else []
        return SimResponse(200, {"orders": [self._view(r) for r in records]})

    @route("GET", r"/api/fulfilment/orders/(?P<order_id>[^/]+)", "get-order")
    def get_order(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        record = self.state["orders"].get(request.params["order_id"])
        if record is None:
            return SimResponse(
                404, {"errors": [{"field": "id", "message": "not found"}]}
            )
        return SimResponse(200, {"order": self._view(record)})

    # --- tokens ----------------------------------------------------------

    def _issue(self) -> dict[str, Any]:
        now = self.clock.now()
        return {
            "access_token": issue_token(self.state["tokens"], now, self.token_ttl),
            "token_type": "Bearer",
            "expires_in": int(self.token_ttl.total_seconds()),
        }

    def _denied(self, request: SimRequest) -> SimResponse | None:
        if bearer_is_valid(self.state["tokens"], request, self.clock.now()):
            return None
        return SimResponse(
            401,
            {"error": "invalid_token", "error_description": "Token invalid."},
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )

    # --- orders ----------------------------------------------------------

    def _store(self, body: Mapping[str, Any]) -> dict[str, Any]:
        order_id = f"FF{self.state['next_id']:08d}"
        self.state["next_id"] += 1
        record = {
            "id": order_id,
            "order": dict(body),
            "state": "pending",
            "created_at": self.clock.now().isoformat(),
        }
        self.state["orders"][order_id] = record
        self.state["ids"][body["partner_order_id"]] = order_id
        return record

    def _view(self, record: Mapping[str, Any]) -> dict[str, Any]:
        order = record["order"]
        return {
            "id": record["id"],
            "partner_order_id": order["partner_order_id"],
            "state": state_of(record),
            "service_kind": order["service_kind"],
            "payment_mode": order["payment_mode"],
            "payment_amount": order["payment_amount"],
            "currency": order["currency"],
            "tracking_url": TRACKING_BASE + record["id"],
            "created_at": record["created_at"],
        }

    def _order_errors(self, body: Mapping[str, Any]) -> list[tuple[str, str]]:
        errors = [
            (name, _BLANK)
            for name in ("partner_order_id", "service_kind", "payment_mode")
            if not str(body.get(name) or "").strip()
        ]
        if body.get("service_kind") and body["service_kind"] not in SERVICE_KINDS:
            errors.append(("service_kind", "is not included in the list"))
        errors += self._payment_errors(body)
        errors += self._recipient_errors(body.get("recipient"))
        errors += _item_errors(body.get("items"))
        return errors

    def _payment_errors(self, body: Mapping[str, Any]) -> list[tuple[str, str]]:
        mode, currency = body.get("payment_mode"), body.get("currency")
        errors = []
        if mode and mode not in _PAYMENT_MODES:
            errors.append(("payment_mode", f"{mode} is not included in the list"))
        if currency != self.currency:
            errors.append(
                ("currency", f"{currency} is not accepted; use {self.currency}")
            )
        amount = _decimal(body.get("payment_amount"))
        if amount is None or not amount.is_finite() or amount < 0:
            errors.append(("payment_amount", "must be a decimal string"))
        elif mode == "paid_on_delivery" and amount == 0:
            errors.append(("payment_amount", "must be greater than 0"))
        return errors

    def _recipient_errors(self, recipient: Any) -> list[tuple[str, str]]:
        if not isinstance(recipient, Mapping):
            return [("recipient", _BLANK)]
        errors = [
            (f"recipient.{name}", _BLANK)
            for name in ("name", "phone")
            if not str(recipient.get(name) or "").strip()
        ]
        address = recipient.get("address")
        if not isinstance(address, Mapping):
            return [*errors, ("recipient.address", _BLANK)]
        city = str(address.get("city") or "").strip()
        if not city:
            errors.append(("recipient.address.city", _BLANK))
        elif city.casefold() not in self.cities:
            errors.append(
                ("recipient.address.city", f"{city} is not a city we deliver to")
            )
        if address.get("country") != "AE":
            errors.append(("recipient.address.country", "must be AE"))
        return errors


def _item_errors(items: Any) -> list[tuple[str, str]]:
    if not isinstance(items, list) or not items:
        return [("items", _BLANK)]
    errors = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping) or not item.get("sku"):
            errors.append((f"items.{index}.sku", _BLANK))
        elif not isinstance(item.get("quantity"), int) or item["quantity"] < 1:
            errors.append((f"items.{index}.quantity", "must be greater than 0"))
    return errors


def _errors(errors: list[tuple[str, str]], status: int = 422) -> SimResponse:
    body = {"errors": [{"field": f, "message": m} for f, m in errors]}
    return SimResponse(status, body)


def _decimal(value: Any) -> Decimal | None:
    if not isinstance(value, str):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None
