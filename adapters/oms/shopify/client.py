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

from .cost import MAX_QUERY_COST, parse_document, requested_cost

__all__ = ["PARTNER", "QueryCostError", "ShopifyGraphQLClient", "ThrottleStatus"]

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


class ShopifyGraphQLClient:
    """Sends GraphQL documents to one shop's Admin API.

    *http* is an ``httpx.Client`` whose ``base_url`` is the shop
    (``https://{shop}.myshopify.com``, or the sandbox's
    ``http://127.0.0.1:PORT/shops/{shop}``); *shop* is the store handle,
    used in log lines; *sleep* waits for the bucket to refill and
    *monotonic* measures that refill (tests replace both).
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
    ) -> None:
        self.shop = shop
        self.api_version = api_version
        self._http = http
        self._token = access_token
        self._retry = retry
        self._sleep = sleep
        self._monotonic = monotonic
        self._path = f"admin/api/{api_version}/graphql.json"
        self.throttle: ThrottleStatus | None = None

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
        response = self._post(
            {"query": document, "variables": dict(variables or {})}, cost
        )
        body = _json_body(response)
        self._observe(body)
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

    def _post(self, payload: Mapping[str, Any], cost: int) -> httpx.Response:
        headers = {"X-Shopify-Access-Token": self._token, "Accept": "application/json"}
        try:
            return send(
                self._http, PARTNER, "POST", self._path, json=payload, headers=headers
            )
        except TransientPartnerError as error:
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
            self.throttle = ThrottleStatus(
                maximum=float(raw["maximumAvailable"]),
                available=float(raw["currentlyAvailable"]),
                restore_rate=float(raw["restoreRate"]),
                observed_at=self._monotonic(),
            )
        except (KeyError, TypeError, ValueError):
            log.warning("shopify.throttle_status_unreadable shop=%s", self.shop)

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
