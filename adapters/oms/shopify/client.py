"""The Shopify GraphQL Admin API client: one POST per query, cost-aware.

Every query is priced locally with :mod:`.cost` before it is sent.  The
client remembers the last ``throttleStatus`` Shopify reported and, when the
bucket cannot cover the next query yet, waits (through the injected
``sleep``) for it to refill instead of spending a request on a refusal.

How answers translate (on top of :func:`fulfilment.adapters.http.send`):

==============================================  ==============================
``errors[].extensions.code == "THROTTLED"``     ``TransientPartnerError`` with
(HTTP 200 or 429)                               ``retry_after`` = deficit /
                                                restore rate
``MAX_COST_EXCEEDED``, or a query costing more  :class:`QueryCostError`
than the bucket can ever hold                   (the caller asks for less)
``INTERNAL_SERVER_ERROR`` in ``errors``         ``OutcomeUnknown``
any other ``errors``                            ``PermanentPartnerError``
429, 5xx, 401, 403                              as ``send`` says; 401/403 are
                                                never retried
==============================================  ==============================

Queries are reads, so they are retried as idempotent under the one
:class:`~fulfilment.adapters.retry.RetryPolicy`.  A mutation is sent with
``idempotent=False``: it is retried only when Shopify surely did not run it
(``THROTTLED``, 429, 503, no connection); an ``OutcomeUnknown`` (a timeout,
a dropped or 5xx answer) goes back to the caller, who must look before
sending it again.

The local price follows Shopify's documented rules, which can be higher
than what Shopify actually charges a given query; the waits before sending
are then longer than strictly needed, never shorter.  A ``THROTTLED``
answer's wait is computed from the cost Shopify itself reported.

Several runners on one shop share Shopify's bucket without seeing each
other's answers.  Given a :class:`~fulfilment.core.ports.RateBudget` (the
database's, in a runner), the client takes each query's price from the
shared bucket of the shop before sending it instead of pacing on its own
last ``throttleStatus``: it waits while the budget says so, gives back
what Shopify did not charge (the requested price less
``actualQueryCost``, all of it for a throttled answer), and lowers the
shared bucket to every ``currentlyAvailable`` Shopify reports.  Until
Shopify has reported its bucket the budget assumes the *assumed_bucket*
shape (by default the smallest plan's, 1000 points restoring 50 a second).
Budget times are the wall clock (*wall*), which every runner reads alike;
a query whose outcome is unknown (a timeout) keeps its price spent.

The access token goes in the ``X-Shopify-Access-Token`` header and nowhere
else: never in a log line or an error message.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx

from fulfilment.adapters.http import send
from fulfilment.adapters.payloads import dig
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import (
    OutcomeUnknown,
    PartnerError,
    PermanentPartnerError,
    TransientPartnerError,
)
from fulfilment.core.ports import RateBudget

from .cost import MAX_QUERY_COST, parse_document, requested_cost

__all__ = [
    "ASSUMED_BUCKET",
    "PARTNER",
    "BucketShape",
    "QueryCostError",
    "ShopifyGraphQLClient",
    "ThrottleStatus",
]

log = logging.getLogger(__name__)

PARTNER = "shopify"
THROTTLED = "THROTTLED"
MAX_COST_EXCEEDED = "MAX_COST_EXCEEDED"
INTERNAL_ERROR = "INTERNAL_SERVER_ERROR"
OVER_BUCKET = "COST_EXCEEDS_BUCKET"  # our own code: no Shopify answer names it


class QueryCostError(PermanentPartnerError):
    """The query asks for more points than Shopify will ever grant one query:
    over the single-query maximum, or over the whole bucket.  Sending it
    again cannot help; the caller must ask for a smaller page."""

    def __init__(self, message: str, *, cost: int, limit: float, code: str) -> None:
        super().__init__(message, partner=PARTNER, code=code)
        self.cost = cost
        self.limit = limit


@attrs.frozen
class ThrottleStatus:
    """The bucket as Shopify last reported it, and when (monotonic seconds)."""

    maximum: float
    available: float
    restore_rate: float
    observed_at: float

    def available_at(self, now: float) -> float:
        refilled = self.restore_rate * max(0.0, now - self.observed_at)
        return min(self.maximum, self.available + refilled)

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until the bucket holds *cost* points; 0 if it does now."""
        missing = cost - self.available_at(now)
        if missing <= 0 or self.restore_rate <= 0:
            return 0.0
        return missing / self.restore_rate


@attrs.frozen
class BucketShape:
    """A cost bucket's size (points) and restore rate (points a second)."""

    maximum: float = attrs.field(validator=attrs.validators.gt(0))
    restore_rate: float = attrs.field(validator=attrs.validators.gt(0))


# The smallest bucket Shopify has documented for the GraphQL Admin API.
ASSUMED_BUCKET = BucketShape(1000.0, 50.0)


class ShopifyGraphQLClient:
    """Sends GraphQL documents to one shop's Admin API.

    *http* is an ``httpx.Client`` whose ``base_url`` is the shop
    (``https://{shop}.myshopify.com``, or the sandbox's
    ``http://127.0.0.1:PORT/shops/{shop}``); *shop* is the store handle,
    used in log lines; *sleep* waits for the bucket to refill and
    *monotonic* measures that refill (tests replace both).  With a
    *budget*, queries are priced against its bucket *budget_key* (see the
    module docstring), on the *wall* clock.
    """

    def __init__(
        self,
        http: httpx.Client,
        shop: str,
        access_token: str,
        api_version: str,
        retry: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        budget: RateBudget | None = None,
        budget_key: str = "",
        assumed_bucket: BucketShape = ASSUMED_BUCKET,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if budget is not None and not budget_key:
            raise ValueError("a shared rate budget needs the key of the shop")
        self.shop = shop
        self.api_version = api_version
        self._http = http
        self._token = access_token
        self._retry = retry
        self._sleep = sleep
        self._monotonic = monotonic
        self._path = f"admin/api/{api_version}/graphql.json"
        self.throttle: ThrottleStatus | None = None
        self.rate_budget = budget
        self.budget_key = budget_key
        self._assumed = assumed_bucket
        self._wall = wall

    def __repr__(self) -> str:
        return f"ShopifyGraphQLClient(shop={self.shop!r}, version={self.api_version!r})"

    @property
    def cost_limit(self) -> float:
        """The most one query may cost: the single-query maximum, or the
        bucket size once Shopify has reported a smaller one."""
        if self.throttle is None:
            return MAX_QUERY_COST
        return min(MAX_QUERY_COST, self.throttle.maximum)

    def execute(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        what: str = "query",
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Run one query or mutation and return its ``data``.  *what* names
        the call in retry log lines; a mutation passes ``idempotent=False``
        unless running it twice is harmless."""
        cost = requested_cost(parse_document(document), variables)
        return self._retry.call(
            lambda: self._attempt(document, variables, cost),
            idempotent=idempotent,
            what=f"shopify.{what}",
        )

    def _attempt(
        self, document: str, variables: Mapping[str, Any] | None, cost: int
    ) -> dict[str, Any]:
        self._wait_for_bucket(cost)
        reserved = self._reserve(cost)
        response = self._post(
            {"query": document, "variables": dict(variables or {})}, cost, reserved
        )
        body = _json_body(response)
        self._settle(body, reserved)
        errors = body.get("errors")
        if errors:
            raise self._error(errors, body, response.status_code, cost)
        if response.status_code != 200 or not isinstance(body.get("data"), dict):
            raise PermanentPartnerError(
                "the answer carries no data",
                partner=PARTNER,
                status=response.status_code,
            )
        _log_cost(self.shop, body)
        data: dict[str, Any] = body["data"]
        return data

    def _post(
        self, payload: Mapping[str, Any], cost: int, reserved: float
    ) -> httpx.Response:
        headers = {"X-Shopify-Access-Token": self._token, "Accept": "application/json"}
        try:
            return send(
                self._http, PARTNER, "POST", self._path, json=payload, headers=headers
            )
        except TransientPartnerError as error:
            if error.status == 429:
                # Refused, so nothing was charged: the price goes back before
                # Shopify's count (read from the body below) lowers the budget.
                self._give_back(reserved)
            if error.status == 429 and error.retry_after is None:
                error.retry_after = self._retry_after_429(error, cost)
            raise

    def _wait_for_bucket(self, cost: int) -> None:
        status = self.throttle
        if status is None:
            return
        if cost > status.maximum:
            raise QueryCostError(
                f"query cost is {cost}, more than the bucket of {status.maximum:g}",
                cost=cost,
                limit=status.maximum,
                code=OVER_BUCKET,
            )
        if self.rate_budget is not None:
            return  # the shared budget paces instead (see _reserve)
        wait = status.wait_for(cost, self._monotonic())
        if wait > 0:
            log.info(
                "shopify.throttle_wait shop=%s cost=%d wait=%.2fs",
                self.shop,
                cost,
                wait,
            )
            self._sleep(wait)

    def _observe(self, body: Mapping[str, Any]) -> None:
        raw = dig(body, "extensions", "cost", "throttleStatus")
        if not isinstance(raw, Mapping):
            return
        try:
            status = ThrottleStatus(
                maximum=float(raw["maximumAvailable"]),
                available=float(raw["currentlyAvailable"]),
                restore_rate=float(raw["restoreRate"]),
                observed_at=self._monotonic(),
            )
        except (KeyError, TypeError, ValueError):
            log.warning("shopify.throttle_status_unreadable shop=%s", self.shop)
            return
        self.throttle = status
        if self.rate_budget is not None and _usable(status):
            self.rate_budget.observe(
                self.budget_key,
                status.available,
                status.maximum,
                status.restore_rate,
                self._wall(),
            )

    # --- the shared budget ---------------------------------------------------

    def _shape(self) -> BucketShape:
        status = self.throttle
        if status is None or not _usable(status):
            return self._assumed
        return BucketShape(status.maximum, status.restore_rate)

    def _reserve(self, cost: int) -> float:
        """Take *cost* points from the shared budget, waiting until it holds
        them; the points taken (0 without a budget)."""
        budget = self.rate_budget
        if budget is None:
            return 0.0
        shape = self._shape()
        # Before Shopify has reported its bucket, a query may cost more than
        # the assumed one holds: it takes the whole of it.
        points = float(min(cost, shape.maximum))
        while True:
            before = self._wall()
            wait = budget.take(
                self.budget_key, points, shape.maximum, shape.restore_rate, before
            )
            if wait <= 0:
                return points
            log.info(
                "shopify.budget_wait shop=%s cost=%d wait=%.2fs",
                self.shop,
                cost,
                wait,
            )
            self._sleep(wait)
            if self._wall() <= before:
                # A sleeper that lets no time pass (a test's) would wait for
                # ever; the query goes as it would without a budget.
                return 0.0

    def _give_back(self, points: float) -> None:
        if self.rate_budget is None or points <= 0:
            return
        shape = self._shape()
        self.rate_budget.give_back(
            self.budget_key, points, shape.maximum, shape.restore_rate, self._wall()
        )

    def _settle(self, body: Mapping[str, Any], reserved: float) -> None:
        """Give back what Shopify did not charge of the *reserved* points,
        then take its word on the bucket."""
        cost = dig(body, "extensions", "cost")
        if isinstance(cost, Mapping) and "actualQueryCost" in cost:
            actual = cost["actualQueryCost"]
            # A null actual cost is a query Shopify did not run.
            charged = float(actual) if isinstance(actual, int | float) else 0.0
            self._give_back(reserved - charged)
        self._observe(body)

    def _error(
        self, errors: Any, body: Mapping[str, Any], status: int, cost: int
    ) -> PartnerError:
        entries = errors if isinstance(errors, list) else [{"message": str(errors)}]
        codes = [str(dig(e, "extensions", "code") or "") for e in entries]
        message = "; ".join(str(dig(e, "message") or e) for e in entries)
        if THROTTLED in codes:
            return self._throttled(body, cost)
        if MAX_COST_EXCEEDED in codes:
            return _max_cost(entries[codes.index(MAX_COST_EXCEEDED)], cost)
        if INTERNAL_ERROR in codes:
            return OutcomeUnknown(
                message, partner=PARTNER, status=status, code=INTERNAL_ERROR
            )
        code = next((c for c in codes if c), None)
        return PermanentPartnerError(message, partner=PARTNER, status=status, code=code)

    def _throttled(self, body: Mapping[str, Any], cost: int) -> PartnerError:
        requested = dig(body, "extensions", "cost", "requestedQueryCost")
        requested = int(requested) if isinstance(requested, int | float) else cost
        status = self.throttle
        if status is not None and requested > status.maximum:
            return QueryCostError(
                f"query cost is {requested}, over the bucket of {status.maximum:g}",
                cost=requested,
                limit=status.maximum,
                code=OVER_BUCKET,
            )
        wait = status.wait_for(requested, status.observed_at) if status else None
        return TransientPartnerError(
            f"throttled: query cost {requested}",
            partner=PARTNER,
            code=THROTTLED,
            retry_after=wait,
        )

    def _retry_after_429(self, error: TransientPartnerError, cost: int) -> float | None:
        # send() keeps only an excerpt of a 429 body; Shopify's THROTTLED
        # body is short enough to arrive whole, and otherwise the last known
        # bucket says how long to wait.
        try:
            body = json.loads(error.message)
        except ValueError:
            body = None
        if isinstance(body, Mapping):
            self._observe(body)
        if self.throttle is None:
            return None
        return self.throttle.wait_for(cost, self._monotonic())


def _usable(status: ThrottleStatus) -> bool:
    """Whether a reported bucket has a shape a budget can follow."""
    return status.maximum > 0 and status.restore_rate > 0 and status.available >= 0


def _max_cost(entry: Mapping[str, Any], cost: int) -> QueryCostError:
    extensions = dig(entry, "extensions") or {}
    reported = extensions.get("cost")
    limit = extensions.get("maxCost")
    return QueryCostError(
        str(entry.get("message") or "query cost exceeds the maximum"),
        cost=int(reported) if isinstance(reported, int | float) else cost,
        limit=float(limit) if isinstance(limit, int | float) else MAX_QUERY_COST,
        code=MAX_COST_EXCEEDED,
    )


def _json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise OutcomeUnknown(
            "the answer is not JSON", partner=PARTNER, status=response.status_code
        ) from error
    if not isinstance(body, dict):
        raise OutcomeUnknown(
            "the answer is not a JSON object",
            partner=PARTNER,
            status=response.status_code,
        )
    return body


def _log_cost(shop: str, body: Mapping[str, Any]) -> None:
    cost = dig(body, "extensions", "cost") or {}
    log.debug(
        "shopify.query_cost shop=%s requested=%s actual=%s available=%s",
        shop,
        cost.get("requestedQueryCost"),
        cost.get("actualQueryCost"),
        dig(cost, "throttleStatus", "currentlyAvailable"),
    )
