"""A loopback MetalpriceAPI: the latest and historical rates of one account.

It speaks the shapes in ``fulfilment.adapters.rates.metalpriceapi.wire``,
and its figures are the sandbox market's (:mod:`.markets`), so they agree
with the ECB and Open Exchange Rates simulators:

- ``GET /v1/latest?api_key=...&base=USD&currencies=XAU,XAG,EUR`` answers
  ``{"success": true, "base", "timestamp", "rates"}`` with the clock's
  today's figures; ``GET /v1/YYYY-MM-DD`` the same for that day, with
  ``"historical": true`` and ``"date"``; a day after the clock's today does
  not exist yet (400);
- a day a test withheld (:meth:`withhold`) has no figures of its own: asked
  for it, latest or historical, the simulator answers with the last day's
  before it, stamped with that day's last second (and naming it in
  ``date`` when historical): modelled, as what a feed that carries its
  figures forward over a gap sends, and what the latest rates look like
  before the day's first update;
- ``rates`` holds each currency asked that the market knows, per one base
  (the market's own figures for USD; crossed through the dollar to nine
  significant digits, trailing zeros dropped, for another base), then the
  metals' inverses (``USDXAU``: the base's price of one ounce), as
  MetalpriceAPI adds them; a currency it does not know is left out,
  without an error; without ``currencies`` every currency comes;
- no ``api_key`` or another one → 401; with ``monthly_quota``, a request
  past it in a calendar month → 403; an unknown base or a date that is no
  date → 400.

The refusal bodies (``{"success": false, "error": {"statusCode",
"message"}}``) and their words are modelled: our reference does not quote
MetalpriceAPI's.  Rate limits and outages are faults:
``sim.faults.add("latest", rate_limited())``, ``Fault(status=503)``.

Numbers are written from ``Decimal`` digits straight into the JSON text,
never through ``float``, as a feed of exact figures would write them.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from fulfilment.core.ports import Clock

from . import markets
from .server import Fault, SimRequest, SimResponse, Simulator, route

__all__ = ["SANDBOX_API_KEY", "MetalpriceApiSimulator", "rate_limited"]

# The sandbox account: fixed, because the simulator only listens on
# 127.0.0.1 and guards nothing real.
SANDBOX_API_KEY = "sandbox-metalpriceapi-key"

_CROSS = decimal.Context(prec=9, rounding=decimal.ROUND_HALF_EVEN)


def rate_limited(retry_after: float = 1.0) -> Fault:
    """A 429 as a fault (the body is modelled)."""
    return Fault(
        status=429,
        body=_error_body(429, "Too many requests, slow down."),
        retry_after=retry_after,
    )


class MetalpriceApiSimulator(Simulator):
    """MetalpriceAPI for one account; the default key is the sandbox's.
    ``monthly_quota`` caps the requests served in a calendar month (the
    plans' limits), none by default."""

    name = "metalpriceapi"

    def __init__(
        self,
        *,
        data_dir: Any = None,
        clock: Clock | None = None,
        api_key: str = SANDBOX_API_KEY,
        monthly_quota: int | None = None,
    ) -> None:
        super().__init__(data_dir=data_dir, clock=clock)
        self.api_key = api_key
        self.monthly_quota = monthly_quota

    def sandbox_settings(self, base_url: str) -> dict[str, Any]:
        """The MetalpriceAPI adapter's configuration table (TOML-ready data)
        for an adapter talking to this simulator at *base_url*."""
        return {"base_url": base_url, "api_key": self.api_key, "base": "USD"}

    def initial_state(self) -> dict[str, Any]:
        # Requests served per "YYYY-MM"; the days withheld, as YYYY-MM-DD.
        return {"served": {}, "withheld": []}

    def rates(self, day: date, base: str = "USD") -> dict[str, Decimal]:
        """Every currency's units per one *base* on *day*, as published
        (digit for digit what the answer's JSON text holds)."""
        usd = markets.usd_rates(day)
        if base == "USD":
            return {code: rate for code, rate in usd.items() if code != base}
        return {
            code: _plain(_CROSS.divide(rate, usd[base]))
            for code, rate in usd.items()
            if code != base
        }

    def publishes(self, day: date) -> bool:
        """Whether *day* has figures of its own: any day up to the clock's
        today that was not withheld."""
        today = self.clock.now().astimezone(UTC).date()
        return day <= today and day.isoformat() not in self._withheld()

    def withhold(self, day: date) -> None:
        """Leave *day* without figures of its own: asked for it, the
        simulator answers with the last day's before it."""
        with self.lock:
            withheld = self._withheld() | {day.isoformat()}
            self.state["withheld"] = sorted(withheld)
            self.save()

    # --- routes ----------------------------------------------------------

    @route("GET", r"/v1/latest", "latest")
    def latest(self, request: SimRequest) -> SimResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        now = self.clock.now().astimezone(UTC)
        shown = self._shown_for(now.date())
        if shown == now.date():
            return self._answer(request, shown, int(now.timestamp()), {})
        return self._answer(request, shown, _closing(shown), {})

    @route("GET", r"/v1/(?P<day>\d{4}-\d{2}-\d{2})", "historical")
    def historical(self, request: SimRequest) -> SimResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        try:
            day = date.fromisoformat(request.params["day"])
        except ValueError:
            return _refusal(400, f"Invalid date: {request.params['day']}.")
        now = self.clock.now().astimezone(UTC)
        if day > now.date():
            return _refusal(400, f"No rates for {day} yet: it is in the future.")
        shown = self._shown_for(day)
        stamp = min(int(now.timestamp()), _closing(shown))
        extra = {"historical": True, "date": shown.isoformat()}
        return self._answer(request, shown, stamp, extra)

    # --- checks and answers ----------------------------------------------

    def _answer(
        self, request: SimRequest, day: date, stamp: int, extra: dict[str, Any]
    ) -> SimResponse:
        base = (request.arg("base") or "USD").strip().upper()
        if base not in markets.CURRENCIES:
            return _refusal(400, f"Invalid base currency: {base}.")
        published = self.rates(day, base)
        asked = _asked(request.arg("currencies"), published)
        rates: dict[str, Decimal] = {code: published[code] for code in asked}
        for metal in sorted(markets.METALS & set(asked)):
            rates[f"{base}{metal}"] = _CROSS.divide(1, published[metal])
        self._count()
        body = {"success": True, **extra, "base": base, "timestamp": stamp}
        return SimResponse(200, raw=_json({**body, "rates": rates}).encode())

    def _refused(self, request: SimRequest) -> SimResponse | None:
        key = request.arg("api_key")
        if not key:
            return _refusal(401, "No API key was provided.")
        if key != self.api_key:
            return _refusal(401, "The API key provided is not valid.")
        month = self.clock.now().astimezone(UTC).strftime("%Y-%m")
        served = self.state["served"].get(month, 0)
        if self.monthly_quota is not None and served >= self.monthly_quota:
            return _refusal(
                403, "You have used all the requests of your plan for this month."
            )
        return None

    def _withheld(self) -> set[str]:
        # A state saved before days could be withheld has no such list.
        return set(self.state.get("withheld", []))

    def _shown_for(self, day: date) -> date:
        """The day whose figures answer for *day*: itself, or the last one
        before it that was not withheld."""
        withheld = self._withheld()
        while day.isoformat() in withheld:
            day -= timedelta(days=1)
        return day

    def _count(self) -> None:
        month = self.clock.now().astimezone(UTC).strftime("%Y-%m")
        self.state["served"][month] = self.state["served"].get(month, 0) + 1


def _asked(currencies: str | None, published: Mapping[str, Decimal]) -> list[str]:
    """The codes asked for that the market publishes, in code order; all of
    them when none is asked for."""
    if currencies is None or not currencies.strip():
        return sorted(published)
    codes = {c.strip().upper() for c in currencies.split(",") if c.strip()}
    return sorted(codes & set(published))


def _closing(day: date) -> int:
    """The Unix second a past day's figures are stamped with: its last."""
    return int(datetime.combine(day, time(23, 59, 59), UTC).timestamp())


def _plain(value: Decimal) -> Decimal:
    """*value* without trailing zeros after the point, as a JSON number is
    written (``95823.1800`` is ``95823.18``; ``89500`` stays as it is)."""
    return Decimal(format(value.normalize(), "f"))


def _refusal(status: int, message: str) -> SimResponse:
    return SimResponse(status, _error_body(status, message))


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"statusCode": status, "message": message}}


def _json(value: Any) -> str:
    """JSON text with every ``Decimal`` written as its own digits."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))}: {_json(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    return json.dumps(value)
