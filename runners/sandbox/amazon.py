"""A loopback Amazon Selling Partner API: LWA tokens, the Tokens API and
the Orders API in both the versions the connector speaks.

One server plays both hosts a real client talks to:

- ``POST /auth/o2/token`` is Login with Amazon (``api.amazon.com``):
  a form-encoded ``refresh_token`` grant with the app's client id and
  secret answers ``{access_token, refresh_token, token_type, expires_in}``;
  a wrong client is 401 ``invalid_client``, an unknown or revoked refresh
  token 400 ``invalid_grant`` (:meth:`AmazonSimulator.revoke_refresh_token`
  plays a seller who removed the app), in LWA's ``{error,
  error_description}`` body.
- Everything else is the regional SP-API host: every call carries
  ``x-amz-access-token``; a missing, unknown or expired token is 403
  ``Unauthorized`` in the SP-API error list (the wording integrators
  report; Amazon's model lists the 403 without a body).
  ``POST /tokens/2021-03-01/restrictedDataToken`` issues a restricted data
  token (RDT) for the v0 paths and data elements asked;
  ``GET /orders/v0/orders`` (``getOrders``) and
  ``GET /orders/v0/orders/{id}/orderItems`` (``getOrderItems``) serve v0,
  whose address and buyer name come only with an RDT that grants them;
  ``GET /orders/2026-01-01/orders`` (``searchOrders``) serves v2026-01-01,
  whose buyer and recipient come with ``includedData`` (v2026 replaced
  RDTs with roles; the sandbox app holds them).

Both order searches check their query like Amazon: exactly one of the
created or last-updated lower bounds, times in ISO 8601 (an offset whose
``+`` was not encoded arrives as a space and is refused), an upper bound
at least two minutes before the simulator clock's now and not before the
lower one, page sizes 1 to 100 -> 400 ``InvalidInput``.  The answer echoes
the upper bound it used (two minutes before now when none was given).
A page token remembers the orders the first page matched, so an order
changed during the walk cannot shift the rest out of it; it lives 24
hours on the clock.

Each operation has a token bucket with Amazon's default rate and burst
(:data:`RATE_LIMITS`) filled on the simulator clock; an empty bucket is 429
``QuotaExceeded`` with no ``Retry-After``, as Amazon documents none.  Every
answer carries ``x-amzn-RequestId``; order answers also carry
``x-amzn-RateLimit-Limit``.  Faults are injected on the route names
``token``, ``createRestrictedDataToken``, ``getOrders``, ``getOrderItems``
and ``searchOrders``.

The orders come from :mod:`.amazon_orders`: :meth:`AmazonSimulator.load_orders`
takes plain :class:`~.amazon_orders.AmazonOrder` descriptions per
marketplace, and ``seed=True`` starts with
:func:`~.amazon_orders.seed_amazon_orders`.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import attrs

from fulfilment.core.ports import Clock

from ._partner import json_object
from .amazon_orders import (
    INCLUDED_DATA,
    MARKETPLACES,
    STATUSES,
    AmazonOrder,
    created_at,
    order_from_json,
    order_to_json,
    orders_by_marketplace,
    seed_amazon_orders,
    updated_at,
    v0_items,
    v0_order,
    v2026_order,
)
from .server import SimRequest, SimResponse, Simulator, route

__all__ = [
    "MAX_PAGE_SIZE",
    "MIN_LAG",
    "RATE_LIMITS",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SANDBOX_REFRESH_TOKEN",
    "V0",
    "V2026",
    "AmazonSimulator",
    "RateLimit",
]

# The sandbox app's LWA credentials: fixed, because the simulator only
# listens on 127.0.0.1 and guards nothing real.
SANDBOX_CLIENT_ID = "amzn1.application-oa2-client.sandbox0001"
SANDBOX_CLIENT_SECRET = "sandbox-lwa-secret"  # noqa: S105
SANDBOX_REFRESH_TOKEN = "Atzr|sandbox-refresh-token"  # noqa: S105
V0, V2026 = "v0", "2026-01-01"
MIN_LAG = timedelta(minutes=2)  # how far before now an upper bound must be
PAGE_TOKEN_TTL = timedelta(hours=24)
MAX_PAGE_SIZE = 100
_RESTRICTED_ELEMENTS = frozenset(
    {"buyerInfo", "shippingAddress", "buyerTaxInformation"}
)
_RDT_PATHS = re.compile(r"/orders/v0/orders(/(\{orderId\}|[0-9-]+)(/orderItems)?)?")
_ORDER_ID = re.compile(r"\d{3}-\d{7}-\d{7}")
_INVALID_INPUT = (
    "The input you have submitted is not valid. Please check your input and try again."
)
_DENIED = "Access to requested resource is denied."
Json = dict[str, Any]


@attrs.frozen
class RateLimit:
    """An SP-API usage plan: *rate* requests per second, *burst* at most."""

    rate: float
    burst: int


RATE_LIMITS: Mapping[str, RateLimit] = {
    "getOrders": RateLimit(0.0167, 20),
    "getOrderItems": RateLimit(0.5, 30),
    "searchOrders": RateLimit(0.0056, 20),
    "createRestrictedDataToken": RateLimit(1.0, 10),
}


@attrs.frozen
class _Spelling:
    """The query names of one order search (v0 is PascalCase, v2026
    camelCase) and the values its status and channel filters take."""

    api: str
    created_after: str
    created_before: str
    updated_after: str
    updated_before: str
    marketplaces: str
    page_size: str
    page_token: str
    statuses: str
    status_values: Mapping[str, str]  # wire value -> v2026 status
    channels: str
    channel_values: Mapping[str, str]  # wire value -> MFN/AFN


_V0 = _Spelling(
    V0,
    "CreatedAfter",
    "CreatedBefore",
    "LastUpdatedAfter",
    "LastUpdatedBefore",
    "MarketplaceIds",
    "MaxResultsPerPage",
    "NextToken",
    "OrderStatuses",
    {v0: v2026 for v2026, v0 in STATUSES.items()},
    "FulfillmentChannels",
    {"MFN": "MFN", "AFN": "AFN"},
)
_V2026 = _Spelling(
    V2026,
    "createdAfter",
    "createdBefore",
    "lastUpdatedAfter",
    "lastUpdatedBefore",
    "marketplaceIds",
    "maxResultsPerPage",
    "paginationToken",
    "fulfillmentStatuses",
    {s: s for s in STATUSES},
    "fulfilledBy",
    {"MERCHANT": "MFN", "AMAZON": "AFN"},
)


class _Refused(Exception):
    """A request the SP-API answers with an error list."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


@attrs.frozen
class _Page:
    """One page of a search: its order records, the token of the next page
    (None on the last), the upper bound used as ``{name: time}`` and the
    datasets to include."""

    records: list[Json]
    next_token: str | None
    bound: Json
    included: list[str]


def _invalid(details: str = "") -> _Refused:
    return _Refused(400, "InvalidInput", _INVALID_INPUT, details)


@attrs.define
class _Bucket:
    """A token bucket: one token per call, refilled at *rate* per second
    of the simulator clock up to *burst*."""

    limit: RateLimit
    tokens: float
    at: datetime

    def take(self, now: datetime) -> bool:
        elapsed = max(0.0, (now - self.at).total_seconds())
        self.tokens = min(self.limit.burst, self.tokens + elapsed * self.limit.rate)
        self.at = max(self.at, now)
        # A client that waited exactly 1/rate must not be refused for the
        # float noise in the refill.
        if self.tokens < 1 - 1e-9:
            return False
        self.tokens = max(0.0, self.tokens - 1)
        return True


class AmazonSimulator(Simulator):
    """One seller's SP-API app over the AE, EG and SA marketplaces.

    Starts with no orders unless ``seed=True`` (the sandbox mix at the
    clock's now) or *orders* (marketplace id -> orders) is given; state
    persisted in *data_dir* wins over both.
    """

    name = "amazon"

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        clock: Clock | None = None,
        orders: Mapping[str, Sequence[AmazonOrder]] | None = None,
        seed: bool = False,
        client_id: str = SANDBOX_CLIENT_ID,
        client_secret: str = SANDBOX_CLIENT_SECRET,
        refresh_token: str = SANDBOX_REFRESH_TOKEN,
        token_ttl: timedelta = timedelta(hours=1),
        rate_limits: Mapping[str, RateLimit] = RATE_LIMITS,
    ) -> None:
        self._given, self._seed = orders, seed
        self.client = {"client_id": client_id, "client_secret": client_secret}
        self.refresh_token = refresh_token
        self.token_ttl = token_ttl
        self.rate_limits = dict(rate_limits)
        self._buckets: dict[str, _Bucket] = {}
        super().__init__(data_dir=data_dir, clock=clock)

    def initial_state(self) -> dict[str, Any]:
        if self._given is not None:
            records = orders_by_marketplace(self._given)
        elif self._seed:
            records = orders_by_marketplace(seed_amazon_orders(self.clock.now()))
        else:
            records = []
        return {
            "orders": records,
            "access_tokens": {},
            "rdts": {},
            "pages": {},
            "revoked": False,
        }

    # --- helpers for tests and the demo ----------------------------------------

    def sandbox_settings(
        self, base_url: str, api_version: str = V2026
    ) -> dict[str, Any]:
        """The Amazon source's configuration table (TOML-ready data) for an
        adapter talking to this simulator at *base_url*: the SP-API and
        the LWA token endpoint both on this server, every sandbox
        marketplace mapped to its store handle."""
        base = base_url.rstrip("/")
        return {
            "base_url": base,
            "lwa_url": f"{base}/auth/o2/token",
            "client_id": self.client["client_id"],
            "client_secret": self.client["client_secret"],
            "refresh_token": self.refresh_token,
            "marketplaces": {m.marketplace_id: m.store for m in MARKETPLACES.values()},
            "api_version": api_version,
        }

    def reset(
        self,
        *,
        orders: Mapping[str, Sequence[AmazonOrder]] | None = None,
        seed: bool = False,
    ) -> None:
        """Start again: no tokens, full buckets, no recorded requests or
        faults, and the orders *orders* or ``seed`` asks for."""
        with self.lock:
            self._given, self._seed = orders, seed
            self.state = self.initial_state()
            self._buckets.clear()
            self.requests.clear()
            self.faults.clear()
            self.save()

    def load_orders(self, orders: Mapping[str, Sequence[AmazonOrder]]) -> None:
        """Replace the orders of each marketplace given (id -> orders).

        Raises ``ValueError`` for a marketplace the sandbox does not serve
        or an order id given twice; then nothing is loaded."""
        records = orders_by_marketplace(orders)
        with self.lock:
            kept = [o for o in self.state["orders"] if o["marketplace"] not in orders]
            ids = {o["order_id"] for o in kept}
            twice = next((r["order_id"] for r in records if r["order_id"] in ids), None)
            if twice is not None:
                raise ValueError(f"order {twice} is already in another marketplace")
            self.state["orders"] = kept + records
            self.save()

    def has_orders(self) -> bool:
        """Whether any order is loaded (a world already seeded)."""
        with self.lock:
            return bool(self.state["orders"])

    def orders(self, marketplace: str | None = None) -> list[AmazonOrder]:
        """The orders kept, of one marketplace when given."""
        with self.lock:
            return [
                order_from_json(r)
                for r in self.state["orders"]
                if marketplace in (None, r["marketplace"])
            ]

    def update_order(self, order_id: str, **changes: Any) -> AmazonOrder:
        """Change fields of an order (``status="SHIPPED"``...) and stamp it
        updated at the simulator clock's now, as any change on Amazon does."""
        with self.lock:
            index, record = self._find(order_id)
            order = attrs.evolve(
                order_from_json(record), **changes, updated=self.clock.now()
            )
            self.state["orders"][index] = order_to_json(order, record["marketplace"])
            self.save()
            return order

    def cancel_order(self, order_id: str) -> AmazonOrder:
        """The buyer cancels: the order becomes ``CANCELLED`` now."""
        return self.update_order(order_id, status="CANCELLED")

    def revoke_refresh_token(self) -> None:
        """The seller removes the app: the refresh token stops working
        (``invalid_grant``) and so does every token issued with it."""
        with self.lock:
            self.state["revoked"] = True
            self.state["access_tokens"].clear()
            self.state["rdts"].clear()
            self.save()

    def expire_tokens(self) -> None:
        """Make every access token and RDT issued so far expire now."""
        with self.lock:
            now = self.clock.now().isoformat()
            for tokens in (self.state["access_tokens"], self.state["rdts"]):
                for grant in tokens.values():
                    grant["expires"] = now
            self.save()

    def _find(self, order_id: str) -> tuple[int, Json]:
        for index, record in enumerate(self.state["orders"]):
            if record["order_id"] == order_id:
                return index, record
        raise KeyError(f"no Amazon order {order_id!r} in the sandbox")

    # --- Login with Amazon ---------------------------------------------------

    @route("POST", r"/auth/o2/token", "token")
    def token(self, request: SimRequest) -> SimResponse:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8")).items()}
        for field in ("grant_type", "client_id", "client_secret", "refresh_token"):
            if not form.get(field):
                return _lwa_error(
                    400,
                    "invalid_request",
                    f"The request is missing a required parameter : {field}",
                )
        if form["grant_type"] != "refresh_token":
            return _lwa_error(
                400, "unsupported_grant_type", "The grant type is not supported"
            )
        if {k: form[k] for k in self.client} != self.client:
            return _lwa_error(401, "invalid_client", "Client authentication failed")
        if form["refresh_token"] != self.refresh_token or self.state["revoked"]:
            return _lwa_error(
                400,
                "invalid_grant",
                "The request has an invalid grant parameter : refresh_token",
            )
        token = "Atza|" + secrets.token_urlsafe(24)
        expires = self.clock.now() + self.token_ttl
        self.state["access_tokens"][token] = {"expires": expires.isoformat()}
        return SimResponse(
            200,
            {
                "access_token": token,
                "refresh_token": self.refresh_token,
                "token_type": "bearer",
                "expires_in": int(self.token_ttl.total_seconds()),
            },
        )

    # --- the SP-API ------------------------------------------------------------

    @route(
        "POST", r"/tokens/2021-03-01/restrictedDataToken", "createRestrictedDataToken"
    )
    def create_rdt(self, request: SimRequest) -> SimResponse:
        return self._serve("createRestrictedDataToken", request, self._issue_rdt)

    @route("GET", r"/orders/v0/orders", "getOrders")
    def get_orders(self, request: SimRequest) -> SimResponse:
        return self._serve("getOrders", request, self._get_orders)

    @route("GET", r"/orders/v0/orders/(?P<order_id>[^/]+)/orderItems", "getOrderItems")
    def get_order_items(self, request: SimRequest) -> SimResponse:
        return self._serve("getOrderItems", request, self._get_order_items)

    @route("GET", r"/orders/2026-01-01/orders", "searchOrders")
    def search_orders(self, request: SimRequest) -> SimResponse:
        return self._serve("searchOrders", request, self._search_orders)

    def _serve(self, operation: str, request: SimRequest, answer: Any) -> SimResponse:
        """Authorise, charge the operation's bucket, answer; a refusal is
        the SP-API error list."""
        limit = self.rate_limits[operation]
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        if operation != "createRestrictedDataToken":
            headers["x-amzn-RateLimit-Limit"] = f"{limit.rate:g}"
        try:
            grants = self._authorise(request, operation)
            if not self._bucket(operation).take(self.clock.now()):
                raise _Refused(
                    429,
                    "QuotaExceeded",
                    "You exceeded your quota for the requested resource.",
                )
            status, body = answer(request, grants)
        except _Refused as refused:
            error = {
                "code": refused.code,
                "message": refused.message,
                "details": refused.details,
            }
            return SimResponse(refused.status, {"errors": [error]}, headers)
        return SimResponse(status, body, headers)

    def _authorise(self, request: SimRequest, operation: str) -> frozenset[str]:
        """The restricted data elements the request's token grants (none for
        an LWA token); a token that grants nothing here is refused."""
        token = request.header("x-amz-access-token") or ""
        now = self.clock.now()
        grant = self.state["access_tokens"].get(token)
        rdt = self.state["rdts"].get(token)
        found = grant or rdt
        if found is None:
            raise _Refused(
                403,
                "Unauthorized",
                _DENIED,
                "The access token you provided is revoked, malformed or invalid.",
            )
        if datetime.fromisoformat(found["expires"]) <= now:
            raise _Refused(
                403,
                "Unauthorized",
                _DENIED,
                "The access token you provided has expired.",
            )
        if rdt is None:
            return frozenset()
        if operation not in ("getOrders", "getOrderItems"):
            raise _Refused(403, "Unauthorized", _DENIED)
        return _granted(rdt["resources"], request.path)

    def _bucket(self, operation: str) -> _Bucket:
        if operation not in self._buckets:
            limit = self.rate_limits[operation]
            self._buckets[operation] = _Bucket(limit, limit.burst, self.clock.now())
        return self._buckets[operation]

    # --- Tokens API ----------------------------------------------------------

    def _issue_rdt(self, request: SimRequest, _: frozenset[str]) -> tuple[int, Any]:
        body = json_object(request)
        resources = body.get("restrictedResources") if body else None
        if not isinstance(resources, list) or not 1 <= len(resources) <= 50:
            raise _invalid("restrictedResources must list 1 to 50 resources.")
        for resource in resources:
            _check_resource(resource)
        token = "Atz.sprdt|" + secrets.token_urlsafe(24)
        expires = self.clock.now() + self.token_ttl
        self.state["rdts"][token] = {
            "expires": expires.isoformat(),
            "resources": resources,
        }
        expires_in = int(self.token_ttl.total_seconds())
        return 200, {"restrictedDataToken": token, "expiresIn": expires_in}

    # --- Orders API v0 -------------------------------------------------------

    def _get_orders(
        self, request: SimRequest, grants: frozenset[str]
    ) -> tuple[int, Any]:
        page = self._page(request, _V0, [])
        orders = [v0_order(*_described(r), restricted=grants) for r in page.records]
        payload: Json = {"Orders": orders}
        if page.next_token:
            payload["NextToken"] = page.next_token
        return 200, {"payload": payload | page.bound}

    def _get_order_items(
        self, request: SimRequest, _: frozenset[str]
    ) -> tuple[int, Any]:
        order_id = request.params["order_id"]
        if not _ORDER_ID.fullmatch(order_id):
            raise _invalid(f"Invalid AmazonOrderId: {order_id}")
        try:
            record = self._find(order_id)[1]
        except KeyError:
            raise _Refused(404, "NotFound", "Invalid AmazonOrderId", order_id) from None
        return 200, {"payload": v0_items(*_described(record))}

    # --- Orders API v2026-01-01 ----------------------------------------------

    def _search_orders(self, request: SimRequest, _: frozenset[str]) -> tuple[int, Any]:
        included = _listed(request, "includedData")
        unknown = sorted(set(included) - INCLUDED_DATA)
        if unknown:
            raise _invalid(f"Invalid includedData value(s) {unknown}.")
        page = self._page(request, _V2026, included)
        orders = [v2026_order(*_described(r), page.included) for r in page.records]
        body: Json = {"orders": orders}
        if page.next_token:
            body["pagination"] = {"nextToken": page.next_token}
        return 200, body | page.bound

    # --- searching and paging ------------------------------------------------

    def _page(
        self, request: SimRequest, spelling: _Spelling, included: list[str]
    ) -> _Page:
        """The page a search or its page token asks for.  A token can be
        used again until it expires (a client retrying a lost answer);
        ``includedData`` sent with it wins over the first request's."""
        token = request.arg(spelling.page_token)
        if token:
            kept = self._resume(token, spelling)
            ids, bound, size = kept["ids"], kept["bound"], kept["size"]
            included = included or kept["included"]
        else:
            ids, bound = self._match(request, spelling)
            size = _page_size(request, spelling)
        records = {r["order_id"]: r for r in self.state["orders"]}
        rest = ids[size:]
        return _Page(
            [records[i] for i in ids[:size] if i in records],
            self._keep_page(spelling, rest, bound, size, included) if rest else None,
            bound,
            included,
        )

    def _resume(self, token: str, spelling: _Spelling) -> Json:
        kept: Json | None = self.state["pages"].get(token)
        if (
            kept is None
            or kept["api"] != spelling.api
            or datetime.fromisoformat(kept["expires"]) <= self.clock.now()
        ):
            raise _invalid(f"Invalid {spelling.page_token}.")
        return kept

    def _keep_page(
        self,
        spelling: _Spelling,
        ids: list[str],
        bound: Json,
        size: int,
        included: list[str],
    ) -> str:
        now = self.clock.now()
        pages = self.state["pages"]
        for stale in [
            t for t, p in pages.items() if datetime.fromisoformat(p["expires"]) <= now
        ]:
            del pages[stale]
        token = secrets.token_urlsafe(18)
        pages[token] = {
            "api": spelling.api,
            "ids": ids,
            "bound": bound,
            "size": size,
            "included": included,
            "expires": (now + PAGE_TOKEN_TTL).isoformat(),
        }
        return token

    def _match(
        self, request: SimRequest, spelling: _Spelling
    ) -> tuple[list[str], Json]:
        """The ids of the orders the first request's filters select, oldest
        change first, and the upper bound used."""
        after, before_name, before, when = self._window(request, spelling)
        marketplaces = _listed(request, spelling.marketplaces)
        if spelling.api == V0 and not marketplaces:
            raise _invalid(f"{spelling.marketplaces} is required.")
        if len(marketplaces) > 50:
            raise _invalid(f"{spelling.marketplaces} takes at most 50 values.")
        statuses = _translated(request, spelling.statuses, spelling.status_values)
        channels = _translated(request, spelling.channels, spelling.channel_values)
        chosen = [
            r
            for r in self.state["orders"]
            if (not marketplaces or r["marketplace"] in marketplaces)
            and (not statuses or r["status"] in statuses)
            and (not channels or r["fulfilled_by"] in channels)
            and after <= when(r) <= before
        ]
        chosen.sort(key=lambda r: (when(r), r["order_id"]))
        return [r["order_id"] for r in chosen], {before_name: _iso(before)}

    def _window(
        self, request: SimRequest, spelling: _Spelling
    ) -> tuple[datetime, str, datetime, Any]:
        """(lower bound, name of the upper bound, upper bound, the order time
        they bound) after Amazon's checks on the four time parameters."""
        names = (
            spelling.created_after,
            spelling.created_before,
            spelling.updated_after,
            spelling.updated_before,
        )
        given = {n: v for n in names if (v := request.arg(n)) is not None}
        unreadable = [n for n, v in given.items() if _parse_time(v) is None]
        if unreadable:
            raise _invalid(f"Invalid date-time field(s) [{', '.join(unreadable)}].")
        created = {spelling.created_after, spelling.created_before} & set(given)
        updated = {spelling.updated_after, spelling.updated_before} & set(given)
        if created and updated:
            raise _invalid()
        after_name, before_name, when = (
            (spelling.created_after, spelling.created_before, created_at)
            if created
            else (spelling.updated_after, spelling.updated_before, updated_at)
        )
        if after_name not in given:
            raise _invalid()
        latest = self.clock.now() - MIN_LAG
        after = _parse_time(given[after_name])
        before = _parse_time(given.get(before_name, "")) or latest
        assert after is not None
        if before > latest or before < after:
            raise _invalid()
        return after, before_name, before, when


# --- request helpers -----------------------------------------------------------


def _listed(request: SimRequest, name: str) -> list[str]:
    """An array parameter, sent comma-separated or repeated."""
    values = request.query.get(name, [])
    return [part for value in values for part in value.split(",") if part]


def _translated(request: SimRequest, name: str, values: Mapping[str, str]) -> set[str]:
    given = _listed(request, name)
    unknown = [v for v in given if v not in values]
    if unknown:
        raise _invalid(f"Invalid {name} value(s) {unknown}.")
    return {values[v] for v in given}


def _page_size(request: SimRequest, spelling: _Spelling) -> int:
    text = request.arg(spelling.page_size)
    if text is None:
        return MAX_PAGE_SIZE
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise _invalid(f"{spelling.page_size} must be between 1 and {MAX_PAGE_SIZE}.")
    return int(text)


def _parse_time(text: str) -> datetime | None:
    """An ISO 8601 time (UTC when it names no zone), None when unreadable."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _described(record: Json) -> tuple[AmazonOrder, Any]:
    return order_from_json(record), MARKETPLACES[record["marketplace"]]


def _check_resource(resource: Any) -> None:
    """Refuse a restricted resource the Tokens API would not grant."""
    if not isinstance(resource, dict):
        raise _invalid("Each restricted resource must be an object.")
    path, method = resource.get("path"), resource.get("method")
    if method != "GET" or not isinstance(path, str) or not _RDT_PATHS.fullmatch(path):
        raise _invalid(f"{method} {path} is not a restricted operation.")
    elements = resource.get("dataElements")
    if (
        not isinstance(elements, list)
        or not elements
        or not set(elements) <= _RESTRICTED_ELEMENTS
    ):
        raise _invalid(
            f"dataElements for {path} must name some of "
            + ", ".join(sorted(_RESTRICTED_ELEMENTS))
            + "."
        )


def _granted(resources: Sequence[Json], path: str) -> frozenset[str]:
    """The data elements an RDT grants on *path*; a path it does not name
    is refused, as Amazon refuses an RDT used elsewhere."""
    for resource in resources:
        pattern = re.escape(resource["path"]).replace(r"\{orderId\}", r"[^/]+")
        if re.fullmatch(pattern, path):
            return frozenset(resource["dataElements"])
    raise _Refused(403, "Unauthorized", _DENIED)


def _lwa_error(status: int, error: str, description: str) -> SimResponse:
    return SimResponse(status, {"error": error, "error_description": description})


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
