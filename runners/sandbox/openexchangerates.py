"""A loopback Open Exchange Rates: the latest and historical rates of the
sandbox's market, per one US dollar.

It speaks the shapes in ``fulfilment.adapters.rates.openexchangerates.wire``
and refuses what the API refuses, in its error body ``{"error": true,
"status", "message", "description"}`` (the descriptions are our wording):

- no ``app_id`` → 401 ``missing_app_id``; one it does not know → 401
  ``invalid_app_id``;
- a ``base`` other than USD → 403 ``not_allowed`` (the answer a free plan
  gets);
- ``historical/<date>.json`` with a date it cannot read → 400
  ``invalid_date``; a day before 1999-01-01, after the clock's today, or
  one a test withheld (:meth:`withhold`) → 400 ``not_available`` (both
  modelled: the API does not document them);
- any other address → 404 ``not_found``.

``symbols`` keeps the codes it names (unknown ones are ignored), and
``prettyprint=0`` (or ``false``) gives a compact body; by default it is
indented, as the API's is.  ``latest.json`` is timestamped at the start of
the clock's current hour (the API updates hourly), a past day at its last
second in UTC (modelled); today asked through ``historical`` is answered
like ``latest``.

The figures come from :mod:`fulfilment.runners.sandbox.markets`, written
from their exact decimal digits: every day, weekends too, as the API
publishes.  With ``feed="market"`` the simulator plays a parallel-market
feed of the same shape, whose LBP is the market's pounds per dollar; the
sandbox runs one of each.  Rate limits are faults:
``sim.faults.add("historical", rate_limited())``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from fulfilment.core.ports import Clock

from . import markets
from .server import Fault, SimRequest, SimResponse, Simulator, route

__all__ = [
    "FEEDS",
    "FIRST_DAY",
    "SANDBOX_APP_ID",
    "OpenExchangeRatesSimulator",
    "rate_limited",
]

# The sandbox account: fixed, because the simulator only listens on
# 127.0.0.1 and guards nothing real.
SANDBOX_APP_ID = "5a4db0c0ffee4e7a9c0de0f0e1c2a3b4"
FEEDS = ("official", "market")
FIRST_DAY = date(1999, 1, 1)

_DISCLAIMER = "Usage subject to terms: https://openexchangerates.org/terms"
_LICENSE = "https://openexchangerates.org/license"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COMPACT = frozenset({"0", "false"})


def rate_limited(retry_after: float | None = 1.0) -> Fault:
    """A 429 as a fault, with the API's body for over-use."""
    return Fault(
        status=429,
        body=_error_body(
            429,
            "access_restricted",
            "Access restricted for repeated over-use; wait before asking again.",
        ),
        retry_after=retry_after,
    )


class OpenExchangeRatesSimulator(Simulator):
    """Open Exchange Rates for the app ids in *app_ids* (the sandbox's by
    default); *feed* is ``official`` or ``market`` (LBP on the parallel
    market).  A market feed keeps its state apart from an official one in
    the same data folder."""

    name = "openexchangerates"

    def __init__(
        self,
        *,
        data_dir: Any = None,
        clock: Clock | None = None,
        app_ids: Collection[str] = (SANDBOX_APP_ID,),
        feed: str = "official",
    ) -> None:
        if feed not in FEEDS:
            raise ValueError(f"feed must be one of {', '.join(FEEDS)}, not {feed!r}")
        if isinstance(app_ids, str) or not app_ids:
            raise ValueError("app_ids must be a non-empty collection of app ids")
        self.feed = feed
        if feed != "official":
            self.name = f"{type(self).name}-{feed}"
        super().__init__(data_dir=data_dir, clock=clock)
        self.app_ids = tuple(app_ids)

    def sandbox_settings(self, base_url: str) -> dict[str, Any]:
        """The adapter's configuration table (TOML-ready data) for an
        adapter talking to this simulator at *base_url*."""
        return {"base_url": base_url, "app_id": self.app_ids[0]}

    def initial_state(self) -> dict[str, Any]:
        return {"withheld": []}

    @property
    def today(self) -> date:
        return self.clock.now().astimezone(UTC).date()

    def rates_on(self, day: date) -> dict[str, Decimal]:
        """This feed's units per US dollar on *day*, every code."""
        rates = markets.usd_rates(day)
        if self.feed == "market":
            rates["LBP"] = markets.lbp_market(day)
        return rates

    def publishes(self, day: date) -> bool:
        """Whether ``historical/<day>.json`` answers with figures: every day
        from 1999-01-01 to the clock's today, but a withheld one.
        ``latest.json`` always has today's."""
        return (
            FIRST_DAY <= day <= self.today
            and day.isoformat() not in self.state["withheld"]
        )

    def withhold(self, day: date) -> None:
        """Make *day* one the API has no figures for (``not_available``)."""
        with self.lock:
            withheld = set(self.state["withheld"]) | {day.isoformat()}
            self.state["withheld"] = sorted(withheld)
            self.save()

    # --- routes ----------------------------------------------------------

    @route("GET", r"/api/latest\.json", "latest")
    def latest(self, request: SimRequest) -> SimResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        return self._rates(request, self.today, self._this_hour())

    @route("GET", r"/api/historical/(?P<day>[^/]*)\.json", "historical")
    def historical(self, request: SimRequest) -> SimResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        day = _date(request.params["day"])
        if day is None:
            return _error(
                400,
                "invalid_date",
                "Invalid date supplied: write it as YYYY-MM-DD.",
            )
        if not self.publishes(day):
            return _error(
                400,
                "not_available",
                f"Historical rates for {day.isoformat()} are not available; "
                "try another date.",
            )
        if day == self.today:
            return self._rates(request, day, self._this_hour())
        last_second = datetime.combine(day, time(23, 59, 59), UTC)
        return self._rates(request, day, last_second)

    @route(
        "GET",
        r"(?!/api/latest\.json$|/api/historical/[^/]*\.json$)/.*",
        "not-found",
    )
    def not_found(self, request: SimRequest) -> SimResponse:
        return _error(404, "not_found", "There is no such route in this API.")

    # --- checks and bodies -----------------------------------------------

    def _refused(self, request: SimRequest) -> SimResponse | None:
        app_id = request.arg("app_id")
        if not app_id:
            return _error(
                401, "missing_app_id", "No App ID was given: add app_id to the query."
            )
        if app_id not in self.app_ids:
            return _error(401, "invalid_app_id", "The App ID given is not one we know.")
        base = (request.arg("base") or "USD").upper()
        if base != "USD":
            return _error(
                403,
                "not_allowed",
                "Changing the API `base` currency needs a paid plan; upgrade "
                "to use another base.",
            )
        return None

    def _this_hour(self) -> datetime:
        return (
            self.clock.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        )

    def _rates(self, request: SimRequest, day: date, at: datetime) -> SimResponse:
        rates = self.rates_on(day)
        symbols = _symbols(request.arg("symbols"))
        if symbols is not None:
            rates = {code: rate for code, rate in rates.items() if code in symbols}
        body = {
            "disclaimer": _DISCLAIMER,
            "license": _LICENSE,
            "timestamp": int(at.timestamp()),
            "base": "USD",
            "rates": dict(sorted(rates.items())),
        }
        compact = (request.arg("prettyprint") or "").lower() in _COMPACT
        return SimResponse(200, raw=_encode(body, None if compact else 2).encode())


def _symbols(text: str | None) -> frozenset[str] | None:
    if not text:
        return None
    return frozenset(code.strip().upper() for code in text.split(",") if code.strip())


def _date(text: str) -> date | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _error_body(status: int, message: str, description: str) -> dict[str, Any]:
    return {
        "error": True,
        "status": status,
        "message": message,
        "description": description,
    }


def _error(status: int, message: str, description: str) -> SimResponse:
    return SimResponse(status, _error_body(status, message, description))


def _encode(value: Any, indent: int | None, level: int = 0) -> str:
    """JSON text in which a ``Decimal`` is written with its own digits, as
    the API writes its figures (``json`` would need a float on the way),
    and never with an exponent, which the API does not write either."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if not isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False)
    if not value:
        return "{}"
    colon = ":" if indent is None else ": "
    items = [
        f"{json.dumps(key)}{colon}{_encode(item, indent, level + 1)}"
        for key, item in value.items()
    ]
    if indent is None:
        return "{" + ",".join(items) + "}"
    inner = "\n" + " " * indent * (level + 1)
    return "{" + inner + ("," + inner).join(items) + "\n" + " " * indent * level + "}"
