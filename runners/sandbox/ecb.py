"""A loopback ECB: the three euro reference-rate files, drawn from the
sandbox's one market.

It serves, under ``/stats/eurofxref/`` as the ECB does, the files
described in ``fulfilment.adapters.rates.ecb.wire``:

- ``eurofxref-daily.xml``: the latest day published (on a Saturday,
  Friday's rates);
- ``eurofxref-hist-90d.xml``: every day published in the 90 days up to
  and including the latest, newest first;
- ``eurofxref-hist.xml``: every day published since ``history_start``
  (1 January 2024 unless told otherwise), newest first;
- any other file under the folder: 404 with an HTML page, as a web server
  answers.

A day is published when :func:`~.markets.ecb_publishes` says the ECB
works that day, once the clock has passed 16:00 in Frankfurt on it; so
nothing is ever published after the clock's today.  Its rates are the
market's dollar rates seen from the euro, ``usd_rates(day)[X] /
usd_rates(day)["EUR"]`` for each currency in ``ECB_CURRENCIES`` (the
dollar itself being one over the euros per dollar), rounded to five
significant digits, trailing zeros kept, the way the ECB writes most of
its figures.  The simulator keeps no state: the files follow from the
clock alone, so every process serving the sandbox serves the same ones.

Failures are faults on the routes ``daily``, ``hist-90d`` and ``hist``
(``sim.faults.add("hist-90d", Fault(status=503))``), and
:meth:`EcbSimulator.serve_maintenance_page` puts an HTML page in a file's
place, the way a web server under maintenance answers, 200 and all.
"""

from __future__ import annotations

import decimal
import functools
import re
from collections import deque
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fulfilment.core.ports import Clock

from .markets import ECB_CURRENCIES, ecb_publishes, usd_rates
from .server import SimRequest, SimResponse, Simulator, route

__all__ = [
    "HISTORY_START",
    "MAINTENANCE_TITLE",
    "PUBLISHED_AT",
    "SANDBOX_FOLDER",
    "EcbSimulator",
    "ecb_rates",
]

# Written out here rather than taken from the adapter's wire module, so a
# mistake there shows as a disagreement instead of being served back.
SANDBOX_FOLDER = "/stats/eurofxref/"
DAILY = "eurofxref-daily.xml"
HISTORY_90_DAYS = "eurofxref-hist-90d.xml"
HISTORY = "eurofxref-hist.xml"
GESMES = "http://www.gesmes.org/xml/2002-08-01"
REFERENCE = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
HISTORY_START = date(2024, 1, 1)
# The reference rates appear around 16:00 CET on the day they are for.
PUBLISHED_AT = time(16, 0)
MAINTENANCE_TITLE = "ECB website under maintenance"
DIGITS = 5

_FRANKFURT = ZoneInfo("Europe/Berlin")
_CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)
_XML = "text/xml"
_FILES = "|".join(re.escape(name) for name in (DAILY, HISTORY_90_DAYS, HISTORY))
_HTML = "text/html; charset=utf-8"
# The order the ECB lists its currencies in; any other goes last.
# fmt: off
_ORDER = (
    "USD", "JPY", "CZK", "DKK", "GBP", "HUF", "PLN", "RON", "SEK", "CHF",
    "ISK", "NOK", "TRY", "AUD", "BRL", "CAD", "CNY", "HKD", "IDR", "ILS",
    "INR", "KRW", "MXN", "MYR", "NZD", "PHP", "SGD", "THB", "ZAR",
)
# fmt: on


def ecb_rates(day: date) -> dict[str, Decimal]:
    """Units of each of ``ECB_CURRENCIES`` per one euro on *day*, in the
    ECB's order, as the simulator writes them."""
    return dict(_rates(day))


@functools.lru_cache(maxsize=4096)
def _rates(day: date) -> tuple[tuple[str, Decimal], ...]:
    usd = usd_rates(day)
    per_euro = {
        currency: _CONTEXT.divide(1 if currency == "USD" else usd[currency], usd["EUR"])
        for currency in ECB_CURRENCIES
    }
    ordered = sorted(per_euro, key=lambda c: (_place(c), c))
    return tuple((currency, _significant(per_euro[currency])) for currency in ordered)


def _place(currency: str) -> int:
    return _ORDER.index(currency) if currency in _ORDER else len(_ORDER)


def _significant(value: Decimal) -> Decimal:
    exponent = value.adjusted() - DIGITS + 1
    return value.quantize(Decimal(1).scaleb(exponent), context=_CONTEXT)


class EcbSimulator(Simulator):
    """The ECB's reference-rate files on the sandbox's clock."""

    name = "ecb"

    def __init__(
        self,
        *,
        data_dir: Any = None,
        clock: Clock | None = None,
        history_start: date = HISTORY_START,
        published_at: time = PUBLISHED_AT,
    ) -> None:
        super().__init__(data_dir=data_dir, clock=clock)
        self.history_start = history_start
        self.published_at = published_at
        self._maintenance: dict[str, deque[int]] = {}

    def sandbox_settings(self, base_url: str) -> dict[str, Any]:
        """The ECB adapter's configuration table (TOML-ready data) for an
        adapter talking to this simulator at *base_url*."""
        return {"base_url": f"{base_url.rstrip('/')}{SANDBOX_FOLDER}"}

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self._maintenance.clear()

    def serve_maintenance_page(
        self, route_name: str, times: int = 1, status: int = 200
    ) -> None:
        """Answer the next *times* requests of *route_name* with an HTML
        maintenance page and *status* instead of the file."""
        with self.lock:
            self._maintenance.setdefault(route_name, deque()).extend([status] * times)

    def latest(self) -> date:
        """The newest day published by the clock's now."""
        local = self.clock.now().astimezone(_FRANKFURT)
        day = local.date()
        if local.time() < self.published_at:
            day -= timedelta(days=1)
        while not ecb_publishes(day):
            day -= timedelta(days=1)
        return day

    def rates_of(self, day: date) -> dict[str, Decimal] | None:
        """What the ECB had published for *day* by the clock's now: its
        rates, or None for a day it did not (or not yet) publish."""
        if self.history_start <= day <= self.latest() and ecb_publishes(day):
            return ecb_rates(day)
        return None

    # --- routes ----------------------------------------------------------

    @route("GET", SANDBOX_FOLDER + re.escape(DAILY), "daily")
    def daily(self, request: SimRequest) -> SimResponse:
        latest = self.latest()
        return self._file("daily", max(latest, self.history_start), latest)

    @route("GET", SANDBOX_FOLDER + re.escape(HISTORY_90_DAYS), "hist-90d")
    def ninety_days(self, request: SimRequest) -> SimResponse:
        latest = self.latest()
        first = max(latest - timedelta(days=90), self.history_start)
        return self._file("hist-90d", first, latest)

    @route("GET", SANDBOX_FOLDER + re.escape(HISTORY), "hist")
    def history(self, request: SimRequest) -> SimResponse:
        return self._file("hist", self.history_start, self.latest())

    @route(
        "GET",
        rf"{SANDBOX_FOLDER}(?!(?:{_FILES})$).*",
        "missing-file",
    )
    def missing_file(self, request: SimRequest) -> SimResponse:
        page = _page("Page not found", "The page you requested does not exist.")
        return SimResponse(404, raw=page, content_type=_HTML)

    def _file(self, route_name: str, first: date, last: date) -> SimResponse:
        pending = self._maintenance.get(route_name)
        if pending:
            page = _page(MAINTENANCE_TITLE, "Please try again later.")
            return SimResponse(pending.popleft(), raw=page, content_type=_HTML)
        return SimResponse(200, raw=_envelope(first, last), content_type=_XML)


@functools.lru_cache(maxsize=16)
def _envelope(first: date, last: date) -> bytes:
    """The gesmes envelope of the days published from *first* to *last*,
    newest first, laid out like the ECB's own files."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<gesmes:Envelope xmlns:gesmes="{GESMES}" xmlns="{REFERENCE}">',
        "\t<gesmes:subject>Reference rates</gesmes:subject>",
        "\t<gesmes:Sender>",
        "\t\t<gesmes:name>European Central Bank</gesmes:name>",
        "\t</gesmes:Sender>",
        "\t<Cube>",
    ]
    day = last
    while day >= first:
        if ecb_publishes(day):
            lines.append(f"\t\t<Cube time='{day.isoformat()}'>")
            lines.extend(
                f"\t\t\t<Cube currency='{currency}' rate='{rate:f}'/>"
                for currency, rate in _rates(day)
            )
            lines.append("\t\t</Cube>")
        day -= timedelta(days=1)
    lines += ["\t</Cube>", "</gesmes:Envelope>", ""]
    return "\n".join(lines).encode("utf-8")


def _page(title: str, words: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title></head>\n<body><h1>{title}</h1>"
        f"<p>{words}</p></body></html>\n"
    ).encode()
