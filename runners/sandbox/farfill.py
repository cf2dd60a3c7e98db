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

Orders live in ``state["orders"]`` by Farfill id, with the body as received
and the order's timeline (:mod:`.timelines`, from the Farfill id), so states
move on the simulator's clock.  :func:`history_of` is the one place that says
which states an order has been through by a given time; an order answer
carries its current ``state``, ``state_updated_at`` and the ``events``
history.  One scenario in eight passes through ``address_verification``, a
state no table knows.

``PATCH /api/fulfilment/orders/{id}`` ``{"state": "cancelled"}`` cancels an
order until a courier collects it (then 422 naming ``state``); repeating it
changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

from fulfilment.adapters.pl3.farfill.wire import SERVICE_KINDS
from fulfilment.adapters.pl3.memory import SANDBOX_CITIES
from fulfilment.core.ports import Clock

from . import timelines
from ._partner import bearer_is_valid, issue_token, json_object
from .server import SimRequest, SimResponse, Simulator, route
from .timelines import Step

__all__ = [
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "FarfillSimulator",
    "history_of",
]

# The sandbox OAuth client: fixed, because the simulator only listens on
# 127.0.0.1 and guards nothing real.
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"  # noqa: S105
TRACKING_BASE = "https://track.farfill.test/orders/"
_PAYMENT_MODES = ("paid_on_delivery", "pre_paid")
_BLANK = "can't be blank"
# How each timeline step reads in an order's history: (state, note).  Steps
# Farfill's model has no state for are left out.
_STEPS: Mapping[Step, tuple[str, str]] = {
    Step.CREATED: ("pending", "Order received"),
    Step.READY: ("ready_for_collection", "Packed and ready for collection"),
    Step.PICKED_UP: ("collected", "Collected by courier"),
    Step.AT_HUB: ("received_at_depot", "Received at depot"),
    Step.AT_DESTINATION: ("at_depot", "At the delivering depot"),
    Step.ODD: ("address_verification", "Held for address verification"),
    Step.OUT_FOR_DELIVERY: ("out_for_delivery", "Out for delivery"),
    Step.FAILED_ATTEMPT: ("delivery_failed", "Customer not reachable"),
    Step.DELIVERED: ("delivery_complete", "Delivered to customer"),
    Step.RETURNING: ("return_to_origin", "Returning after failed attempts"),
    Step.RETURNED: ("returned_to_origin", "Returned to origin"),
    Step.CANCELLED: ("cancelled", "Cancelled by merchant"),
}


def history_of(record: Mapping[str, Any], now: datetime) -> list[dict[str, str]]:
    """The order's events by *now*, oldest first, as the answer shows them."""
    happened = timelines.reached(_timeline(record), now)
    return [_history_event(m) for m in happened if m.step in _STEPS]


def _history_event(milestone: timelines.Milestone) -> dict[str, str]:
    state, note = _STEPS[milestone.step]
    return {"state": state, "occurred_at": milestone.at.isoformat(), "note": note}


def _timeline(record: Mapping[str, Any]) -> list[timelines.Milestone]:
    # Orders stored before timelines existed get theirs from the Farfill id.
    if "timeline" in record:
        return timelines.from_json(record["timeline"])
    created = datetime.fromisoformat(record["created_at"])
    return timelines.build(record["id"], created)


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

    @route("PATCH", r"/api/fulfilment/orders/(?P<order_id>[^/]+)", "update-order")
    def update_order(self, request: SimRequest) -> SimResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        record = self.state["orders"].get(request.params["order_id"])
        if record is None:
            return SimResponse(
                404, {"errors": [{"field": "id", "message": "not found"}]}
            )
        if json_object(request) != {"state": "cancelled"}:
            return _errors([("state", "only cancelled can be set")])
        cancelled = timelines.cancel(_timeline(record), self.clock.now())
        if cancelled is None:
            return _errors([("state", "cannot be cancelled once collected")])
        record["timeline"] = timelines.to_json(cancelled)
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
        now = self.clock.now()
        record = {
            "id": order_id,
            "order": dict(body),
            "created_at": now.isoformat(),
            "scenario": timelines.scenario_for(order_id).value,
            "timeline": timelines.to_json(timelines.build(order_id, now)),
        }
        self.state["orders"][order_id] = record
        self.state["ids"][body["partner_order_id"]] = order_id
        return record

    def _view(self, record: Mapping[str, Any]) -> dict[str, Any]:
        order = record["order"]
        history = history_of(record, self.clock.now())
        # A clock set back before the booking still shows the order pending.
        current = history[-1] if history else _history_event(_timeline(record)[0])
        return {
            "id": record["id"],
            "partner_order_id": order["partner_order_id"],
            "state": current["state"],
            "state_updated_at": current["occurred_at"],
            "events": history,
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
