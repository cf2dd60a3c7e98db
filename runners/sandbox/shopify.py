"""A loopback Shopify GraphQL Admin API serving four shops from one server.

``POST /shops/{handle}/admin/api/{version}/graphql.json`` really executes
the GraphQL it receives (graphql-core, over the schema subset in
``shopify_schema.graphql``) against the shop's orders, which are kept as
order nodes in exactly the shape the ``orders`` connection returns them.
Like Shopify it:

- checks ``X-Shopify-Access-Token`` per shop (401 with Shopify's body);
- echoes the version in ``X-Shopify-API-Version``;
- filters ``orders`` with ``updated_at``/``created_at`` search terms
  (quoted ISO times, ``>= > <= <``), sorts by the sort key then id, and
  pages with opaque cursors that encode the (sort value, id) *position*,
  so an order updated mid-read moves behind the cursor and is seen again
  later, as on the real API;
- refuses pages over 250 and queries whose requested cost (priced with the
  adapter's own :mod:`~fulfilment.adapters.oms.shopify.cost`) exceeds the
  single-query maximum, with Shopify's ``MAX_COST_EXCEEDED`` body;
- charges a leaky bucket per shop (``bucket_size`` points refilling at
  ``restore_rate`` per second on a monotonic clock tests can replace),
  answers ``THROTTLED`` (HTTP 200, ``actualQueryCost: null``) when the
  bucket cannot cover a query, refunds the difference between requested
  and actual cost, and reports ``extensions.cost`` on every executed or
  throttled answer.

The wording of the page-size and cursor errors is the sandbox's own;
Shopify's exact text is not documented.  Faults are injected on the route
named ``graphql``.

Real Shopify only ever serves schema-valid orders, so :meth:`load_orders`
refuses a node the schema cannot represent (a missing ``name``, an unknown
enum value, a time without a zone...) before anything is loaded:
:func:`check_order_nodes` names each problem.  Orders that fit the schema
but lack business data (no city, an unreadable phone) load as they are.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import copy
import functools
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import phonenumbers
from graphql import (
    DocumentNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
    default_field_resolver,
    execute_sync,
    get_named_type,
    parse,
    validate,
)

from fulfilment.adapters.oms.shopify.cost import actual_cost, requested_cost
from fulfilment.core.ports import Clock

from .seed import STORES, sandbox_token, seed_orders
from .server import SimRequest, SimResponse, Simulator, route
from .shopify_discounts import (
    create_discount,
    discount_by_code,
    discount_status,
    plant_discount,
)
from .shopify_fulfilment import (
    create_fulfilment,
    fulfilment_order_views,
    fulfilments_of,
    open_fulfilment_orders,
    order_lines,
    order_number,
)
from .shopify_webhooks import WebhookOutbox

__all__ = [
    "MAX_PAGE_SIZE",
    "InvalidOrderNodes",
    "ShopUsage",
    "ShopifySimulator",
    "check_order_nodes",
]

MAX_PAGE_SIZE = 250
UNAUTHORIZED = (
    "[API] Invalid API key or access token (unrecognized login or wrong password)"
)
RATE_LIMITS_DOC = "https://shopify.dev/api/usage/rate-limits"
_POINT_NOISE = 1e-6  # bucket points below which a shortfall is float noise
Node = dict[str, Any]


class ShopifySimulator(Simulator):
    """Four sandbox shops behind one GraphQL endpoint per shop.

    The shops start empty (the sandbox world and the demo seed them, so a
    folder that already holds a world is not seeded twice); ``seed=True``
    starts them with :func:`~.seed.seed_orders` at the clock's now, and
    *orders* (store handle → order nodes) with exactly those orders.
    State persisted in *data_dir* wins over all three.
    """

    name = "shopify"

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        clock: Clock | None = None,
        orders: Mapping[str, Sequence[Node]] | None = None,
        seed: bool = False,
        bucket_size: float = 1000.0,
        restore_rate: float = 50.0,
        max_cost: int = 1000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._given = orders
        self._seed = seed
        self.bucket_size = float(bucket_size)
        self.restore_rate = float(restore_rate)
        self.max_cost = max_cost
        self.monotonic = monotonic
        self._buckets: dict[str, _Bucket] = {}
        self._sorted: dict[tuple[str, str | None], _SortedOrders] = {}
        # Webhooks of the changes made through the methods below; see
        # shopify_webhooks.py.
        self.webhooks = WebhookOutbox()
        super().__init__(data_dir=data_dir, clock=clock)

    def initial_state(self) -> dict[str, Any]:
        if self._given is not None:
            orders: Mapping[str, Sequence[Node]] = self._given
        elif self._seed:
            orders = seed_orders(self.clock.now())
        else:
            orders = {handle: [] for handle in STORES}
        return {"stores": {h: _store_state(h, nodes) for h, nodes in orders.items()}}

    # --- the API -------------------------------------------------------------

    @route(
        "POST",
        r"/shops/(?P<store>[^/]+)/admin/api/(?P<version>[^/]+)/graphql\.json",
        name="graphql",
    )
    def graphql(self, request: SimRequest) -> SimResponse:
        handle, version = request.params["store"], request.params["version"]
        headers = {"X-Shopify-API-Version": version}
        shop = self.state["stores"].get(handle)
        if shop is None:
            return SimResponse(404, {"errors": "Not Found"}, headers)
        if request.header("X-Shopify-Access-Token") != shop["access_token"]:
            return SimResponse(401, {"errors": UNAUTHORIZED}, headers)
        status, body = self._answer(handle, shop, request)
        return SimResponse(status, body, headers)

    def _answer(self, handle: str, shop: Node, request: SimRequest) -> tuple[int, Any]:
        try:
            payload = request.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return 400, {"errors": {"query": "Required parameter missing or invalid"}}
        variables = payload.get("variables") or {}
        operation = payload.get("operationName")
        if not isinstance(variables, dict):
            return 200, {"errors": [{"message": "Variables must be a JSON object."}]}
        try:
            document = parse(payload["query"])
        except GraphQLError as error:
            return 200, {"errors": [error.formatted]}
        problems = validate(_schema(), document)
        if problems:
            return 200, {"errors": [p.formatted for p in problems]}
        return 200, self._run(handle, shop, document, variables, operation)

    def _run(
        self,
        handle: str,
        shop: Node,
        document: DocumentNode,
        variables: dict[str, Any],
        operation: str | None,
    ) -> Any:
        try:
            requested = requested_cost(document, variables, operation)
        except ValueError as error:
            return {"errors": [{"message": str(error)}]}
        if requested > self.max_cost:
            return self._too_costly(requested)
        bucket = self._bucket(handle)
        if not bucket.take(requested, self.monotonic()):
            bucket.throttled += 1
            return self._throttled(requested, bucket)
        now = _iso(self.clock.now())
        open_fulfilment_orders(shop, now)
        result = execute_sync(
            _schema(),
            document,
            context_value=_ShopView(
                shop["orders"],
                shop,
                now,
                functools.partial(self._sorted_orders, handle),
            ),
            variable_values=variables,
            operation_name=operation,
        )
        actual = actual_cost(document, result.data, variables, operation)
        bucket.refund(requested - actual)
        # The bucket goes on filling while the query runs; the answer
        # reports it as it is when the answer leaves.
        bucket.refill(self.monotonic())
        bucket.charged += actual
        bucket.served += 1
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        body["extensions"] = {"cost": self._cost(requested, actual, bucket)}
        return body

    def _too_costly(self, requested: int) -> Any:
        message = (
            f"Query cost is {requested}, which exceeds the single query max cost "
            f"limit ({self.max_cost})."
        )
        extensions = {
            "code": "MAX_COST_EXCEEDED",
            "cost": requested,
            "maxCost": self.max_cost,
        }
        return {"errors": [{"message": message, "extensions": extensions}]}

    def _throttled(self, requested: int, bucket: _Bucket) -> Any:
        extensions = {"code": "THROTTLED", "documentation": RATE_LIMITS_DOC}
        return {
            "errors": [{"message": "Throttled", "extensions": extensions}],
            "extensions": {"cost": self._cost(requested, None, bucket)},
        }

    def _cost(self, requested: int, actual: int | None, bucket: _Bucket) -> Node:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": bucket.size,
                "currentlyAvailable": int(bucket.available),
                "restoreRate": bucket.rate,
            },
        }

    def _bucket(self, handle: str) -> _Bucket:
        if handle not in self._buckets:
            self._buckets[handle] = _Bucket(
                self.bucket_size, self.restore_rate, self.bucket_size, self.monotonic()
            )
        return self._buckets[handle]

    def _sorted_orders(self, handle: str, field: str | None) -> _SortedOrders:
        """*handle*'s orders sorted by *field* (then id); rebuilt only when
        an order was added, removed or had that field changed since the
        index was last built, however the change was made."""
        orders = self.state["stores"][handle]["orders"]
        built = self._sorted.get((handle, field))
        if built is None or not built.fits(orders):
            built = self._sorted[handle, field] = _SortedOrders.build(orders, field)
        return built

    def usage(self, handle: str) -> ShopUsage:
        """What *handle*'s bucket has served since the last reset."""
        with self.lock:
            bucket = self._bucket(handle)
            return ShopUsage(bucket.charged, bucket.served, bucket.throttled)

    # --- helpers for tests and the demo ----------------------------------------

    def sandbox_settings(self, base_url: str, store: str) -> dict[str, Any]:
        """The ``[stores.<store>.source]`` configuration table (TOML-ready
        data) for a Shopify source talking to this simulator at *base_url*."""
        table = {
            "store": store,
            "base_url": f"{base_url.rstrip('/')}/shops/{store}",
            "access_token": self._shop(store)["access_token"],
        }
        country = STORES[store].country if store in STORES else None
        return table | ({"country": country} if country else {})

    def has_orders(self) -> bool:
        """Whether any shop holds an order (a world already seeded)."""
        with self.lock:
            return any(shop["orders"] for shop in self.state["stores"].values())

    def orders(self, store: str) -> list[Node]:
        """A copy of *store*'s order nodes."""
        with self.lock:
            return copy.deepcopy(self._shop(store)["orders"])

    def fulfillment_orders(self, store: str, order_id: str | int) -> list[Node]:
        """A copy of an order's fulfillment orders as the API serves them
        (line items with their own ids and remaining quantities)."""
        with self.lock:
            shop = self._shop(store)
            open_fulfilment_orders(shop, _iso(self.clock.now()))
            return copy.deepcopy(
                fulfilment_order_views(shop, self._find(store, order_id))
            )

    def fulfillments(self, store: str, order_id: str | int) -> list[Node]:
        """A copy of the fulfilments recorded on an order, oldest first, with
        what the API does not serve: ``notifyCustomer`` and the ``lines``
        taken (fulfillment-order line item id, order line id, quantity)."""
        with self.lock:
            return copy.deepcopy(
                fulfilments_of(self._shop(store), self._find(store, order_id))
            )

    def discounts(self, store: str) -> list[Node]:
        """A copy of *store*'s code discounts, oldest first, each a
        ``DiscountCodeNode`` as the API serves it (``{id, codeDiscount}``,
        the discount's ``codes`` a plain list)."""
        with self.lock:
            return copy.deepcopy(self._shop(store).get("discounts", []))

    def add_discount(
        self,
        store: str,
        *,
        code: str,
        title: str,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> Node:
        """Put a 10 % code for everyone in *store*, as its staff would in
        the admin (no checks): someone else's code, for tests of a clash.
        It starts at the clock's now unless told otherwise."""
        with self.lock:
            node = plant_discount(
                self._shop(store),
                code=code,
                title=title,
                starts_at=_iso(starts_at or self.clock.now()),
                ends_at=_iso(ends_at) if ends_at else None,
            )
            self.save()
            return copy.deepcopy(node)

    def add_order(self, store: str, node: Mapping[str, Any]) -> Node:
        """Add one order node (GraphQL shape) to *store*, as given."""
        with self.lock:
            shop = self.state["stores"].setdefault(store, _store_state(store, []))
            shop["orders"].append(copy.deepcopy(dict(node)))
            self.save()
            self.webhooks.order_changed(store, "orders/create", shop["orders"][-1])
            return copy.deepcopy(shop["orders"][-1])

    def update_order(self, store: str, order_id: str | int, **changes: Any) -> Node:
        """Set top-level fields of an order and bump its ``updatedAt`` to the
        simulator clock, as any change in the Shopify admin does."""
        with self.lock:
            node = self._find(store, order_id)
            node.update(copy.deepcopy(changes))
            return self._touched(node, store)

    def cancel_order(
        self, store: str, order_id: str | int, reason: str = "CUSTOMER"
    ) -> Node:
        """Cancel an order with restock: quantities and current totals drop to
        0, a pending payment is voided and a taken one refunded."""
        with self.lock:
            node = self._find(store, order_id)
            node["cancelledAt"] = _iso(self.clock.now())
            node["cancelReason"] = reason
            status = node.get("displayFinancialStatus")
            node["displayFinancialStatus"] = (
                "VOIDED" if status == "PENDING" else "REFUNDED"
            )
            for line in order_lines(node):
                line["currentQuantity"] = 0
            _set_amount(node, "currentTotalPriceSet", Decimal(0))
            _set_amount(node, "totalOutstandingSet", Decimal(0))
            touched = self._touched(node, store)
            self.webhooks.order_changed(store, "orders/cancelled", node)
            return touched

    def edit_remove_line(
        self, store: str, order_id: str | int, line_id: str | int
    ) -> Node:
        """Remove one line with an order edit: its ``currentQuantity`` becomes
        0 (``quantity`` stays), the current total drops by its value and an
        outstanding amount follows the new total."""
        with self.lock:
            node = self._find(store, order_id)
            line = _find_line(node, line_id)
            removed = _amount(line.get("originalUnitPriceSet")) * int(
                line.get("currentQuantity") or 0
            )
            line["currentQuantity"] = 0
            current = _amount(
                node.get("currentTotalPriceSet") or node.get("totalPriceSet")
            )
            current = max(Decimal(0), current - removed)
            _set_amount(node, "currentTotalPriceSet", current)
            if _amount(node.get("totalOutstandingSet")) > 0:
                _set_amount(node, "totalOutstandingSet", current)
            return self._touched(node, store)

    def reset(
        self, *, orders: Mapping[str, Sequence[Node]] | None = None, seed: bool = False
    ) -> None:
        """Start the world again: empty shops, the seeds at the clock's now
        (``seed=True``) or *orders*, with full buckets sized by the
        current ``bucket_size``/``restore_rate``, no recorded requests, no
        pending faults."""
        with self.lock:
            self._given, self._seed = orders, seed
            self.state = self.initial_state()
            self._buckets.clear()
            self._sorted.clear()
            self.requests.clear()
            self.faults.clear()
            self.save()

    def load_orders(self, orders: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Replace the orders of each given store (creating the store, with
        its sandbox token, when it is new).

        Raises :class:`InvalidOrderNodes` (a ``ValueError``) listing every
        problem :func:`check_order_nodes` finds; then nothing is loaded.
        """
        problems = check_order_nodes({s: list(nodes) for s, nodes in orders.items()})
        if problems:
            raise InvalidOrderNodes(problems)
        with self.lock:
            for store, nodes in orders.items():
                shop = self.state["stores"].setdefault(store, _store_state(store, []))
                shop["orders"] = [copy.deepcopy(dict(n)) for n in nodes]
            self.save()

    def _shop(self, store: str) -> Node:
        try:
            shop: Node = self.state["stores"][store]
        except KeyError:
            raise KeyError(f"no sandbox store {store!r}") from None
        return shop

    def _find(self, store: str, order_id: str | int) -> Node:
        wanted = str(order_id).rsplit("/", 1)[-1]
        for node in self._shop(store)["orders"]:
            if order_number(node) == wanted:
                return node
        raise KeyError(f"no order {order_id!r} in sandbox store {store!r}")

    def _touched(self, node: Node, store: str) -> Node:
        node["updatedAt"] = _iso(self.clock.now())
        self.save()
        self.webhooks.order_changed(store, "orders/updated", node)
        return copy.deepcopy(node)


def _store_state(handle: str, nodes: Iterable[Mapping[str, Any]]) -> Node:
    return {
        "access_token": sandbox_token(handle),
        "orders": [copy.deepcopy(dict(n)) for n in nodes],
        "fulfillment_orders": {},
        "fulfillments": {},
        "discounts": [],
    }


@attrs.frozen
class ShopUsage:
    """A shop's bucket so far: points charged (actual costs), queries run
    and queries refused as ``THROTTLED``."""

    points: float
    served: int
    throttled: int

    @property
    def requests(self) -> int:
        return self.served + self.throttled


@attrs.define
class _Bucket:
    """Shopify's leaky bucket: *size* points, refilled at *rate* per second,
    with what it has charged, served and refused."""

    size: float
    rate: float
    available: float
    at: float
    charged: float = 0.0
    served: int = 0
    throttled: int = 0

    def refill(self, now: float) -> None:
        self.available = min(
            self.size, self.available + self.rate * max(0.0, now - self.at)
        )
        self.at = max(self.at, now)

    def take(self, cost: float, now: float) -> bool:
        self.refill(now)
        # A client that waited exactly the deficit must not be refused for
        # the float noise of now - at (2.04 s can come back as 2.0399...).
        if cost > self.available + _POINT_NOISE:
            return False
        self.available -= cost
        return True

    def refund(self, points: float) -> None:
        self.available = min(self.size, self.available + max(0.0, points))


# --- executing GraphQL ---------------------------------------------------------


@attrs.frozen
class _ShopView:
    """What resolvers see of one shop during one request: its orders, the
    whole shop state when fulfilments are served (None while order nodes
    are only being checked against the schema) and the request's time."""

    orders: list[Node]
    shop: Node | None = None
    now: str = ""
    sorted_orders: Callable[[str | None], _SortedOrders] | None = None


@attrs.frozen
class _SortedOrders:
    """A shop's orders in one sort order (by a time field, then id), so a
    page is found by bisecting on the cursor's position instead of sorting
    the shop on every request.  *stamp* is what the order was built from:
    each order's identity and sort value, checked before every use."""

    field: str | None
    stamp: list[tuple[int, Any, Any, Any]]
    keys: list[list[Any]]
    nodes: list[Node]

    @classmethod
    def build(cls, orders: list[Node], field: str | None) -> _SortedOrders:
        position = _order_position(field)
        ordered = sorted(orders, key=position)
        return cls(
            field, _stamp(orders, field), [position(n) for n in ordered], ordered
        )

    def fits(self, orders: list[Node]) -> bool:
        """Whether *orders* are still the ones indexed, unchanged.  The
        nodes held here stay alive, so no new order can reuse an ``id``."""
        return _stamp(orders, self.field) == self.stamp


def _stamp(orders: list[Node], field: str | None) -> list[tuple[int, Any, Any, Any]]:
    # The order number is part of the sort key too; it is read from
    # ``legacyResourceId`` (or the GID), which a test may rewrite.
    return [
        (id(n), n.get(field) if field else None, n.get("legacyResourceId"), n.get("id"))
        for n in orders
    ]


# ISO 4217 codes in use; with the region list of phonenumbers (ISO 3166
# alpha-2, plus Shopify's ZZ "unknown region") they stand in for Shopify's
# full CurrencyCode and CountryCode enums, so a file of real orders shipping
# anywhere is accepted.
_CURRENCIES = (  # noqa: SIM905 (a word list reads better than 160 quoted codes)
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND "
    "BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF "
    "DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD "
    "HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW "
    "KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR "
    "MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN "
    "PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN "
    "SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND "
    "VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL"
).split()


def _full_code_lists(sdl: str) -> str:
    countries = sorted(set(phonenumbers.SUPPORTED_REGIONS) | {"ZZ"})
    for name, codes in (("CurrencyCode", _CURRENCIES), ("CountryCode", countries)):
        block = "enum " + name + " {\n  " + "\n  ".join(codes) + "\n}"
        sdl = re.sub(r"enum " + name + r" \{[^}]*\}", block, sdl)
    return sdl


@functools.cache
def _schema() -> GraphQLSchema:
    sdl = resources.files(__package__).joinpath("shopify_schema.graphql")
    schema = build_schema(_full_code_lists(sdl.read_text("utf-8")))
    root, mutation = schema.query_type, schema.mutation_type
    order = schema.type_map["Order"]
    fulfilment_order = schema.type_map["FulfillmentOrder"]
    assert root is not None
    assert mutation is not None
    assert isinstance(order, GraphQLObjectType)
    assert isinstance(fulfilment_order, GraphQLObjectType)
    root.fields["orders"].resolve = _resolve_orders
    root.fields["order"].resolve = _resolve_order
    order.fields["lineItems"].resolve = _resolve_line_items
    order.fields["fulfillmentOrders"].resolve = _resolve_fulfilment_orders
    order.fields["fulfillments"].resolve = _resolve_fulfilments
    fulfilment_order.fields["lineItems"].resolve = _resolve_listed
    mutation.fields["fulfillmentCreate"].resolve = _resolve_fulfilment_create
    root.fields["codeDiscountNodeByCode"].resolve = _resolve_discount_by_code
    mutation.fields["discountCodeBasicCreate"].resolve = _resolve_discount_create
    for kind in _DISCOUNT_KINDS:
        discount = schema.type_map[kind]
        assert isinstance(discount, GraphQLObjectType)
        discount.fields["status"].resolve = _resolve_discount_status
    basic = schema.type_map["DiscountCodeBasic"]
    assert isinstance(basic, GraphQLObjectType)
    basic.fields["codes"].resolve = _resolve_listed
    return schema


_DISCOUNT_KINDS = (
    "DiscountCodeApp",
    "DiscountCodeBasic",
    "DiscountCodeBxgy",
    "DiscountCodeFreeShipping",
)


_SORT_FIELDS = {
    "ID": None,
    "UPDATED_AT": "updatedAt",
    "CREATED_AT": "createdAt",
    "PROCESSED_AT": "processedAt",
}


def _resolve_orders(_: Any, info: GraphQLResolveInfo, **args: Any) -> Node:
    sort_key = args.get("sortKey", "ID")
    if sort_key not in _SORT_FIELDS:
        raise GraphQLError(f"The sandbox does not sort orders by {sort_key}.")
    view: _ShopView = info.context
    field = _SORT_FIELDS[sort_key]
    if view.sorted_orders is not None and _forward_page(args):
        page = _page_after(view.sorted_orders(field), sort_key, args)
        if page is not None:
            return page
    matching = [n for n in view.orders if _matches(n, args.get("query"))]
    return _connection(matching, _order_position(field), sort_key, args)


def _order_position(field: str | None) -> Callable[[Node], list[Any]]:
    """An order's place in a listing sorted by *field*: [time, number]."""

    def position(node: Node) -> list[Any]:
        value = _sortable_time(node.get(field)) if field else ""
        return [value, _id_number(node)]

    return position


def _forward_page(args: Mapping[str, Any]) -> bool:
    """Whether the request reads forward (``first``, maybe ``after``): the
    way every reader pages, and the only one the index serves."""
    first = args.get("first")
    return (
        isinstance(first, int)
        and 0 < first <= MAX_PAGE_SIZE
        and args.get("last") is None
        and args.get("before") is None
    )


def _page_after(
    index: _SortedOrders, sort: str, args: Mapping[str, Any]
) -> Node | None:
    """The page :func:`_connection` would serve, found from *index*: bisect
    to the cursor, then walk (in either direction) collecting matches, one
    more to know whether a next page exists.  None when the cursor's
    position cannot be compared with the orders' (the slow path then says
    what is wrong, exactly as before)."""
    after = _position(args.get("after"), sort)
    keys, query = index.keys, args.get("query")
    descending = bool(args.get("reverse"))
    try:
        if after is None:
            start = len(keys) - 1 if descending else 0
        elif descending:
            start = bisect.bisect_left(keys, after) - 1
        else:
            start = bisect.bisect_right(keys, after)
    except TypeError:
        return None
    step = -1 if descending else 1
    first: int = args["first"]
    chosen: list[int] = []
    more = False
    i = start
    while 0 <= i < len(keys):
        if _matches(index.nodes[i], query):
            if len(chosen) == first:
                more = True
                break
            chosen.append(i)
        i += step
    # Anything matching before the cursor makes a previous page.
    behind = range(start - step, -1 if step == 1 else len(keys), -step)
    earlier = bool(chosen) and any(_matches(index.nodes[j], query) for j in behind)
    cursors = [_cursor(sort, keys[i]) for i in chosen]
    nodes = [index.nodes[i] for i in chosen]
    return {
        "nodes": nodes,
        "edges": [
            {"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)
        ],
        "pageInfo": {
            "hasNextPage": more,
            "hasPreviousPage": earlier,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def _resolve_order(_: Any, info: GraphQLResolveInfo, id: str) -> Node | None:
    view: _ShopView = info.context
    wanted = id.rsplit("/", 1)[-1]
    return next((n for n in view.orders if order_number(n) == wanted), None)


def _resolve_line_items(order: Node, _: GraphQLResolveInfo, **args: Any) -> Node:
    nodes = order_lines(order)
    index = {id(line): i for i, line in enumerate(nodes)}
    return _connection(nodes, lambda line: [index[id(line)]], "LINE", args)


def _resolve_fulfilment_orders(
    order: Node, info: GraphQLResolveInfo, **args: Any
) -> Node:
    view: _ShopView = info.context
    views = fulfilment_order_views(view.shop, order)
    return _connection(views, lambda fo: [views.index(fo)], "FULFILLMENT_ORDER", args)


def _resolve_listed(parent: Node, info: GraphQLResolveInfo, **args: Any) -> Node:
    """A connection over a list the parent node already holds."""
    nodes = parent[info.field_name]
    index = {id(node): i for i, node in enumerate(nodes)}
    return _connection(nodes, lambda node: [index[id(node)]], info.field_name, args)


def _resolve_fulfilments(order: Node, info: GraphQLResolveInfo, **args: Any) -> Any:
    view: _ShopView = info.context
    found = fulfilments_of(view.shop, order)
    first = args.get("first")
    return found if first is None else found[: max(0, first)]


def _resolve_fulfilment_create(
    _: Any, info: GraphQLResolveInfo, fulfillment: Node, message: str | None = None
) -> Node:
    view: _ShopView = info.context
    if view.shop is None:
        raise GraphQLError("Fulfilments are not served here.")
    return create_fulfilment(view.shop, fulfillment, view.now)


def _resolve_discount_by_code(
    _: Any, info: GraphQLResolveInfo, code: str
) -> Node | None:
    view: _ShopView = info.context
    return discount_by_code(view.shop, code)


def _resolve_discount_create(
    _: Any,
    info: GraphQLResolveInfo,
    basicCodeDiscount: Node,  # noqa: N803
) -> Node:
    view: _ShopView = info.context
    if view.shop is None:
        raise GraphQLError("Discounts are not served here.")
    return create_discount(view.shop, basicCodeDiscount, view.now)


def _resolve_discount_status(discount: Node, info: GraphQLResolveInfo) -> str:
    view: _ShopView = info.context
    return discount_status(discount, view.now)


def _connection(
    items: list[Node],
    position: Callable[[Node], list[Any]],
    sort: str,
    args: Mapping[str, Any],
) -> Node:
    """Relay pagination over *items* ordered by *position*; cursors carry
    the position, not an index, as Shopify's do."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise GraphQLError("You must provide one of first or last.")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= MAX_PAGE_SIZE:
            raise GraphQLError(
                f"The {name} argument must be between 0 and {MAX_PAGE_SIZE}, "
                f"not {size}."
            )
    ordered = sorted(items, key=position, reverse=bool(args.get("reverse")))
    keys = [position(item) for item in ordered]
    window = _window(keys, sort, args)
    if first is not None:
        window = window[:first]
    if last is not None:
        window = window[max(0, len(window) - last) :]
    chosen = [ordered[i] for i in window]
    cursors = [_cursor(sort, keys[i]) for i in window]
    return {
        "nodes": chosen,
        "edges": [
            {"cursor": c, "node": n} for c, n in zip(cursors, chosen, strict=True)
        ],
        "pageInfo": {
            "hasNextPage": bool(window) and window[-1] < len(ordered) - 1,
            "hasPreviousPage": bool(window) and window[0] > 0,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def _window(keys: list[list[Any]], sort: str, args: Mapping[str, Any]) -> list[int]:
    """Indexes strictly after ``after`` and strictly before ``before``."""
    descending = bool(args.get("reverse"))
    after = _position(args.get("after"), sort)
    before = _position(args.get("before"), sort)

    def beyond(key: list[Any], mark: list[Any]) -> bool:
        return key < mark if descending else key > mark

    return [
        i
        for i, key in enumerate(keys)
        if (after is None or beyond(key, after))
        and (before is None or beyond(before, key))
    ]


def _cursor(sort: str, key: list[Any]) -> str:
    raw = json.dumps([sort, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _position(cursor: str | None, sort: str) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error):
        decoded = None
    if not isinstance(decoded, list) or not decoded or decoded[0] != sort:
        raise GraphQLError("Invalid cursor for current pagination sort.")
    return decoded[1:]


# --- search syntax -------------------------------------------------------------

_TERM = re.compile(
    r"""(?P<field>\w+):(?P<op>>=|<=|>|<|=)?(?P<value>'[^']*'|"[^"]*"|[^\s()]+)"""
)
_TIME_FIELDS = {"updated_at": "updatedAt", "created_at": "createdAt"}
_COMPARE: dict[str, Callable[[str, str], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "=": lambda a, b: a == b,
}


def _matches(node: Node, query: str | None) -> bool:
    """Whether *node* satisfies every term of *query* (terms are joined with
    AND; Shopify ignores fields it does not know, and so does this)."""
    for term in _TERM.finditer(query or ""):
        field, value = term["field"], term["value"].strip("'\"")
        op = term["op"] or "="
        if field in _TIME_FIELDS:
            bound = _sortable_time(value)
            actual = _sortable_time(node.get(_TIME_FIELDS[field]))
            if bound and not (actual and _COMPARE[op](actual, bound)):
                return False
        elif field == "status" and not _status_matches(node, value.lower()):
            return False
    return True


def _status_matches(node: Node, status: str) -> bool:
    if status == "cancelled":
        return node.get("cancelledAt") is not None
    if status == "closed":
        return node.get("closedAt") is not None
    if status == "open":
        return node.get("cancelledAt") is None and node.get("closedAt") is None
    return True


def _sortable_time(value: Any) -> str:
    """A time as text that sorts chronologically; empty when unreadable.
    Accepts a date alone (midnight UTC), as Shopify's search does."""
    if not isinstance(value, str):
        return ""
    return _sortable_text(value)


# Every page re-reads every order's times; a shop of tens of thousands of
# orders (the benchmarks) would spend seconds a page re-parsing them.
@functools.lru_cache(maxsize=1 << 17)
def _sortable_text(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return ""
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


# --- order nodes ---------------------------------------------------------------


def _id_number(node: Mapping[str, Any]) -> int:
    number = order_number(node)
    return int(number) if number.isdigit() else 0


def _find_line(node: Mapping[str, Any], line_id: str | int) -> Node:
    wanted = str(line_id).rsplit("/", 1)[-1]
    for line in order_lines(node):
        if str(line.get("id", "")).rsplit("/", 1)[-1] == wanted:
            return line
    raise KeyError(f"no line item {line_id!r} in order {node.get('name')}")


def _amount(bag: Any) -> Decimal:
    amount = (
        bag.get("shopMoney", {}).get("amount") if isinstance(bag, Mapping) else None
    )
    return Decimal(str(amount)) if amount is not None else Decimal(0)


def _set_amount(node: Node, field: str, amount: Decimal) -> None:
    currency = node.get("currencyCode")
    text = f"{int(amount)}.0" if amount == amount.to_integral_value() else f"{amount:f}"
    node[field] = {"shopMoney": {"amount": text, "currencyCode": currency}}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- checking order nodes against the schema -------------------------------------


class InvalidOrderNodes(ValueError):
    """Order nodes the sandbox's schema cannot represent.  ``problems``
    holds one line per problem; the message is a heading and those lines,
    ready to print."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        heading = (
            f"{len(self.problems)} problem(s) in order nodes that do not fit "
            "the Shopify schema; nothing was loaded:"
        )
        super().__init__("\n".join([heading, *(f"  {p}" for p in self.problems)]))


def check_order_nodes(mapping: dict[str, list[Any]]) -> list[str]:
    """Every way the nodes of *mapping* (store handle → ``Order`` nodes)
    fail to fit the sandbox's schema, one readable line each, e.g.
    ``shemsi-uae[3] (#3007): cancelReason: "ALIENS" is not a valid
    OrderCancelReason``; empty when all fit.

    Each node is executed against the schema with a query of every field it
    declares, each value held against its declared type (a missing non-null
    field, an unknown enum value, a list that is not one...); then what the
    types cannot say is checked: times carry a zone, ``id`` is an order GID
    that ``legacyResourceId`` repeats, ``lineItems`` holds a list of nodes,
    and no id appears twice in a store.  Data a real order may lack (a
    city, a readable phone) is not checked: the connector reports it.
    """
    problems: list[str] = []
    for store, nodes in mapping.items():
        seen: dict[str, str] = {}  # order GID -> the label of its first node
        for index, node in enumerate(nodes):
            label = _label(store, index, node)
            found = [*_node_problems(node), *_repeated_id(node, label, seen)]
            problems += [f"{label}: {problem}" for problem in found]
    return problems


_ORDER_GID = re.compile(r"gid://shopify/Order/(\d+)")
_SHOWN = 60  # the most characters of a value a problem shows


def _label(store: str, index: int, node: Any) -> str:
    """``store[index]``, with the node's name, else its id, when it has one."""
    fields = node if isinstance(node, Mapping) else {}
    name = next(
        (v for v in (fields.get("name"), fields.get("id")) if _is_text(v)), None
    )
    return f"{store}[{index}]" + (f" ({name})" if name else "")


def _node_problems(node: Any) -> list[str]:
    if not isinstance(node, Mapping):
        return [f"{_show(node)} is not an Order object"]
    return [*_schema_problems(node), *_id_problems(node), *_line_list_problems(node)]


def _schema_problems(node: Mapping[str, Any]) -> list[str]:
    """The schema walk of *node*, one page of 250 line items at a time (the
    largest page the connection serves), line indexes counted over all."""
    lines = order_lines(node)
    found: dict[str, None] = {}  # ordered, each problem once
    for start in range(0, max(1, len(lines)), MAX_PAGE_SIZE):
        part = node
        if len(lines) > MAX_PAGE_SIZE:
            page = lines[start : start + MAX_PAGE_SIZE]
            part = {**node, "lineItems": {**node["lineItems"], "nodes": page}}
        for path, message in _SchemaFit().run(part):
            found[f"{_field_path(path, start)}: {message}"] = None
    return list(found)


def _id_problems(node: Mapping[str, Any]) -> list[str]:
    gid = node.get("id")
    if gid is None:
        return []  # the schema walk reports it missing
    match = _ORDER_GID.fullmatch(gid) if isinstance(gid, str) else None
    if match is None:
        return [f"id: {_show(gid)} is not an order id like gid://shopify/Order/1001"]
    legacy = node.get("legacyResourceId")
    if legacy is None or _uint64_problem(legacy) or str(legacy) == match[1]:
        return []
    return [f"legacyResourceId: {_show(legacy)} does not match id {gid}"]


def _line_list_problems(node: Mapping[str, Any]) -> list[str]:
    items = node.get("lineItems")
    if items is None:
        return ['lineItems: missing (an order without lines has {"nodes": []})']
    if isinstance(items, Mapping) and isinstance(items.get("nodes"), list):
        return []
    return [f"lineItems: {_show(items)} is not an object with a list of nodes"]


def _repeated_id(node: Any, label: str, seen: dict[str, str]) -> list[str]:
    gid = node.get("id") if isinstance(node, Mapping) else None
    if not isinstance(gid, str) or not _ORDER_GID.fullmatch(gid):
        return []
    if gid in seen:
        return [f"id: {gid} is also the id of {seen[gid]}"]
    seen[gid] = label
    return []


def _field_path(path: Sequence[str | int], line_offset: int) -> str:
    """``lineItems.nodes[2].quantity`` from an execution path that starts
    with ``orders.nodes[0]``; line indexes are shifted by *line_offset*."""
    steps = list(path[3:])
    text = ""
    for i, step in enumerate(steps):
        if isinstance(step, int):
            shift = line_offset if steps[i - 2 : i] == ["lineItems", "nodes"] else 0
            text += f"[{step + shift}]"
        else:
            text += f".{step}" if text else step
    return text or "(the order)"


class _StandIn(dict[str, Any]):
    """An object put where the node holds no usable one; nothing under it
    is reported, its parent already was."""


class _SchemaFit:
    """Executes the every-field query over one node, holding each value
    against its declared type.  A value that does not fit is noted and
    replaced by one that does, so the walk goes on: left to itself the
    executor would blank the whole order at the first missing non-null
    field and report nothing more."""

    def __init__(self) -> None:
        self.problems: list[tuple[list[str | int], str]] = []

    def run(self, node: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
        """The (execution path, message) of every problem in *node*."""
        result = execute_sync(
            _schema(),
            _every_field_query(),
            context_value=_ShopView([dict(node)]),
            field_resolver=self.resolve,
        )
        left = [(list(e.path or ()), e.message) for e in result.errors or ()]
        return self.problems + left

    def resolve(self, source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        if isinstance(source, _StandIn):
            return _stand_in(info.return_type)
        value = default_field_resolver(source, info, **args)
        return self.fit(value, info.return_type, info.path.as_list())

    def fit(self, value: Any, kind: GraphQLOutputType, path: list[str | int]) -> Any:
        """*value* when it fits *kind*; else the problem is noted and a
        fitting stand-in (None where *kind* allows it) is returned."""
        if isinstance(kind, GraphQLNonNull):
            if value is None:
                self.note(path, _missing(path, kind.of_type))
            fitted = None if value is None else self.fit(value, kind.of_type, path)
            return _stand_in(kind) if fitted is None else fitted
        if value is None:
            return None
        if isinstance(kind, GraphQLList):
            return self.fit_list(value, kind.of_type, path)
        if isinstance(kind, GraphQLEnumType | GraphQLScalarType):
            return self.fit_leaf(value, kind, path)
        if isinstance(value, Mapping):
            return value
        self.note(path, f"{_show(value)} is not a {get_named_type(kind).name} object")
        return None

    def fit_list(
        self, value: Any, item: GraphQLOutputType, path: list[str | int]
    ) -> list[Any] | None:
        if isinstance(value, list | tuple):
            return [self.fit(v, item, [*path, i]) for i, v in enumerate(value)]
        self.note(path, f"{_show(value)} is not a list of {get_named_type(item).name}")
        return None

    def fit_leaf(
        self,
        value: Any,
        kind: GraphQLEnumType | GraphQLScalarType,
        path: list[str | int],
    ) -> Any:
        problem = _leaf_problem(value, kind)
        if problem is None:
            return value
        self.note(path, problem)
        return None

    def note(self, path: list[str | int], problem: str) -> None:
        self.problems.append((path, problem))


def _missing(path: list[str | int], kind: GraphQLOutputType) -> str:
    if isinstance(path[-1], str):
        return "missing"
    return f"null is not a valid {get_named_type(kind).name}"  # a list item


def _leaf_problem(value: Any, kind: GraphQLEnumType | GraphQLScalarType) -> str | None:
    """Why *value* cannot be served as *kind*; None when it can.  The
    sandbox's own scalars pass anything through, so they are checked here."""
    check = _SCALAR_CHECKS.get(kind.name)
    if check is not None:
        return check(value)
    try:
        kind.serialize(value)
    except (GraphQLError, TypeError, ValueError):
        bits = " (a GraphQL Int has 32 bits)" if isinstance(value, int) else ""
        return f"{_show(value)} is not a valid {kind.name}{bits}"
    return None


def _time_problem(value: Any) -> str | None:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        return f"{_show(value)} is not an ISO 8601 time"
    if parsed.tzinfo is None:
        return f"{_show(value)} has no time zone (end it with Z for UTC)"
    return None


def _decimal_problem(value: Any) -> str | None:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            if Decimal(str(value)).is_finite():
                return None
        except ArithmeticError:
            pass
    return f"{_show(value)} is not a decimal amount"


def _uint64_problem(value: Any) -> str | None:
    text = str(value) if isinstance(value, str | int) else ""
    if not isinstance(value, bool) and text.isdigit() and int(text) < 2**64:
        return None
    return f"{_show(value)} is not an unsigned 64-bit integer"


_SCALAR_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "DateTime": _time_problem,
    "Decimal": _decimal_problem,
    "UnsignedInt64": _uint64_problem,
}


def _stand_in(kind: GraphQLOutputType) -> Any:
    """A value that fits *kind*, for a part of the node that does not.
    Only non-null fields need one; a nullable one gets None."""
    if not isinstance(kind, GraphQLNonNull):
        return None
    inner = kind.of_type
    if isinstance(inner, GraphQLList):
        return []
    if isinstance(inner, GraphQLEnumType):
        return next(iter(inner.values))
    if isinstance(inner, GraphQLScalarType):
        return {"Int": 0, "Float": 0.0, "Boolean": False}.get(inner.name, "0")
    return _StandIn()


@functools.cache
def _every_field_query() -> DocumentNode:
    """One order with every field the schema declares; a connection is read
    through its ``nodes``, a page of 250."""
    order = _schema().type_map["Order"]
    assert isinstance(order, GraphQLObjectType)
    return parse(f"{{ orders(first: 1) {{ nodes {{ {_selection(order, set())} }} }} }}")


def _selection(kind: GraphQLObjectType, outer: set[str]) -> str:
    seen = outer | {kind.name}
    return " ".join(
        _field_selection(name, field, seen)
        for name, field in kind.fields.items()
        if get_named_type(field.type).name not in seen
    )


def _field_selection(name: str, field: GraphQLField, seen: set[str]) -> str:
    inner = get_named_type(field.type)
    if not isinstance(inner, GraphQLObjectType):
        return name
    if "first" not in field.args or "nodes" not in inner.fields:
        # A plain list may take ``first`` too (Order.fulfillments).
        return f"{name} {{ {_selection(inner, seen)} }}"
    node = get_named_type(inner.fields["nodes"].type)
    assert isinstance(node, GraphQLObjectType)
    return f"{name}(first: {MAX_PAGE_SIZE}) {{ nodes {{ {_selection(node, seen)} }} }}"


def _show(value: Any) -> str:
    """*value* as JSON, cut short when long."""
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())
