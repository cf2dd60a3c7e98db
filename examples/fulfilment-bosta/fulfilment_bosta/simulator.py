"""A loopback Bosta: cities, districts, creating and searching deliveries.

It answers in Bosta's envelope, ``{"success", "message", "data"}``, and
checks what Bosta checks before it takes a parcel:

- the raw API key in ``Authorization`` (anything else: 401);
- ``type`` 10, a receiver with a first name and an Egyptian mobile number
  (``01xxxxxxxxx``), a drop-off with a known city id, a district of that
  city when one is given, and a first address line;
- ``cod`` a number from 0 to 30,000 pounds.

A refusal is 400 with ``success: false`` and a message naming the field.
With ``requests_per_minute`` set, a busier caller gets 429 and a
``Retry-After`` hint, as Bosta's rate limit answers.

Deliveries live in ``state["deliveries"]`` by tracking number, with the
body as received and a timeline from :mod:`fulfilment.runners.sandbox
.timelines`, so states move on the simulator's clock.  Search answers each
delivery's current state only, as Bosta does.
"""

from __future__ import annotations

import collections
import math
import re
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fulfilment.core.ports import Clock
from fulfilment.runners.sandbox import timelines
from fulfilment.runners.sandbox.server import (
    SimRequest,
    SimResponse,
    Simulator,
    route,
)
from fulfilment.runners.sandbox.timelines import Step

__all__ = ["API_KEY", "CITIES", "BostaSimulator"]

API_KEY = "bosta-sandbox-key"
MAX_COD = 30000
PAGE_LIMIT = 50

# Bosta ids of the sandbox cities and their districts.
CITIES: Mapping[str, tuple[str, str, Mapping[str, tuple[str, str]]]] = {
    "FceDyHXwpSYYF9zGW": (
        "Cairo",
        "القاهرة",
        {
            "cai-nasr": ("Nasr City", "مدينة نصر"),
            "cai-maadi": ("Maadi", "المعادي"),
            "cai-heliopolis": ("Heliopolis", "مصر الجديدة"),
        },
    ),
    "Yt7cCsTyqSmbr5oNj": (
        "Giza",
        "الجيزة",
        {
            "giz-dokki": ("Dokki", "الدقي"),
            "giz-october": ("6th of October", "السادس من أكتوبر"),
        },
    ),
    "kX9aP2LmQe4vRt8Zw": (
        "Alexandria",
        "الإسكندرية",
        {
            "alx-smouha": ("Smouha", "سموحة"),
            "alx-sidi-gaber": ("Sidi Gaber", "سيدي جابر"),
        },
    ),
}

_MOBILE = re.compile(r"01[0125]\d{8}")
_FIRST_NUMBER = 5_000_000_000
# How each timeline step reads in Bosta's state: (code, value).  Bosta has
# no word for "packed" or "at the delivering hub": those steps are silent.
_STATES: Mapping[Step, tuple[int, str]] = {
    Step.CREATED: (10, "Pickup requested"),
    Step.PICKED_UP: (21, "Picked up"),
    Step.AT_HUB: (24, "Received at warehouse"),
    Step.DEPARTED: (30, "In transit between hubs"),
    Step.ODD: (105, "Under investigation"),
    Step.OUT_FOR_DELIVERY: (41, "Out for delivery"),
    Step.FAILED_ATTEMPT: (47, "Exception"),
    Step.DELIVERED: (45, "Delivered"),
    Step.RETURNING: (60, "Returning to business"),
    Step.RETURNED: (46, "Returned to business"),
    Step.CANCELLED: (48, "Terminated"),
}


def _ok(data: Any, message: str = "Success", status: int = 200) -> SimResponse:
    return SimResponse(status, {"success": True, "message": message, "data": data})


def _refused(message: str, status: int = 400) -> SimResponse:
    return SimResponse(status, {"success": False, "message": message})


class BostaSimulator(Simulator):
    """Bosta for one business account, keyed by :data:`API_KEY`."""

    name = "bosta"

    def __init__(
        self,
        *,
        data_dir: Any = None,
        clock: Clock | None = None,
        requests_per_minute: int | None = None,
    ) -> None:
        super().__init__(data_dir=data_dir, clock=clock)
        self.requests_per_minute = requests_per_minute
        self._recent: collections.deque[float] = collections.deque()
        self._rate_lock = threading.Lock()

    def initial_state(self) -> dict[str, Any]:
        return {"deliveries": {}}

    def sandbox_settings(self, base_url: str) -> dict[str, Any]:
        """The ``[partners.bosta]`` table that connects to this simulator."""
        return {"adapter": "bosta", "base_url": base_url, "api_key": API_KEY}

    # --- routes ----------------------------------------------------------

    @route("GET", r"/api/v2/cities", "cities")
    def cities(self, request: SimRequest) -> SimResponse:
        if (denied := self._guard(request)) is not None:
            return denied
        return _ok(
            [
                {"_id": city, "name": name, "nameAr": arabic}
                for city, (name, arabic, _) in CITIES.items()
            ]
        )

    @route("GET", r"/api/v2/cities/(?P<city>[^/]+)/districts", "districts")
    def districts(self, request: SimRequest) -> SimResponse:
        if (denied := self._guard(request)) is not None:
            return denied
        city = CITIES.get(request.params["city"])
        if city is None:
            return _refused("City not found.", 404)
        return _ok(
            [
                {"_id": district, "name": name, "nameAr": arabic}
                for district, (name, arabic) in city[2].items()
            ]
        )

    @route("POST", r"/api/v2/deliveries", "create-delivery")
    def create_delivery(self, request: SimRequest) -> SimResponse:
        if (denied := self._guard(request)) is not None:
            return denied
        body = _object(request)
        problem = _delivery_problem(body)
        if problem is not None:
            return _refused(problem)
        deliveries = self.state["deliveries"]
        number = str(_FIRST_NUMBER + len(deliveries) + 1)
        now = self.clock.now()
        deliveries[number] = {
            "body": body,
            "created_at": now.isoformat(),
            "timeline": timelines.to_json(timelines.build(number, now)),
        }
        return _ok(self._view(number, now), "Delivery created successfully", 201)

    @route("POST", r"/api/v2/deliveries/search", "search")
    def search(self, request: SimRequest) -> SimResponse:
        if (denied := self._guard(request)) is not None:
            return denied
        body = _object(request)
        limit = body.get("pageLimit", PAGE_LIMIT)
        if not isinstance(limit, int) or not 1 <= limit <= PAGE_LIMIT:
            return _refused(f"pageLimit must be between 1 and {PAGE_LIMIT}.")
        numbers = self._matching(body)
        now = self.clock.now()
        found = [self._view(number, now) for number in numbers[:limit]]
        return _ok({"deliveries": found, "count": len(numbers)})

    # --- views and checks ------------------------------------------------

    def _matching(self, body: Mapping[str, Any]) -> list[str]:
        deliveries = self.state["deliveries"]
        wanted = str(body.get("trackingNumbers") or "")
        numbers = [n.strip() for n in wanted.split(",") if n.strip()] or list(
            deliveries
        )
        reference = body.get("businessReference")
        return [
            number
            for number in numbers
            if number in deliveries
            and reference in (None, deliveries[number]["body"].get("businessReference"))
        ]

    def _view(self, number: str, now: datetime) -> dict[str, Any]:
        """A delivery as search and create answer it at *now*."""
        record = self.state["deliveries"][number]
        body = record["body"]
        timeline = timelines.from_json(record["timeline"])
        current = timelines.latest(timeline, now, _STATES)
        step = current.step if current else Step.CREATED
        code, value = _STATES[step]
        city = body["dropOffAddress"]["cityId"]
        return {
            "_id": f"del-{number}",
            "trackingNumber": number,
            "businessReference": body.get("businessReference"),
            "type": {"code": body["type"], "value": "SEND"},
            "state": {"code": code, "value": value},
            "cod": body.get("cod", 0),
            "receiver": body["receiver"],
            "dropOffAddress": {
                **body["dropOffAddress"],
                "city": {"_id": city, "name": CITIES[city][0]},
            },
            "creationTimestamp": record["created_at"],
            "updatedAt": (current.at if current else now).isoformat(),
        }

    def _guard(self, request: SimRequest) -> SimResponse | None:
        if request.header("authorization") != API_KEY:
            return _refused("Unauthorized: invalid API key.", 401)
        wait = self._over_limit()
        if wait is None:
            return None
        return SimResponse(
            429,
            {
                "success": False,
                "message": f"Too many requests. Try again in {wait} seconds.",
            },
            {"Retry-After": str(wait)},
        )

    def _over_limit(self) -> int | None:
        """Seconds until the oldest request of the last minute leaves the
        window, when the caller has used up ``requests_per_minute``."""
        if self.requests_per_minute is None:
            return None
        with self._rate_lock:
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 60:
                self._recent.popleft()
            if len(self._recent) >= self.requests_per_minute:
                return max(1, math.ceil(60 - (now - self._recent[0])))
            self._recent.append(now)
            return None


def _object(request: SimRequest) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _delivery_problem(body: Mapping[str, Any]) -> str | None:
    """Bosta's message for the first thing wrong with a delivery body."""
    if body.get("type") != 10:
        return '"type" must be 10 (SEND).'
    receiver = body.get("receiver")
    receiver = receiver if isinstance(receiver, Mapping) else {}
    if not str(receiver.get("firstName") or "").strip():
        return '"receiver.firstName" is required.'
    phone = receiver.get("phone")
    if not phone:
        return '"receiver.phone" is required.'
    if not isinstance(phone, str) or not _MOBILE.fullmatch(phone):
        return '"receiver.phone" must be an Egyptian mobile number.'
    return _address_problem(body.get("dropOffAddress")) or _cod_problem(body)


def _address_problem(address: Any) -> str | None:
    if not isinstance(address, Mapping):
        return '"dropOffAddress" is required.'
    city = CITIES.get(str(address.get("cityId")))
    if city is None:
        return '"dropOffAddress.city" is not a valid city.'
    district = address.get("districtId")
    if district is not None and district not in city[2]:
        return f'"dropOffAddress.districtId" is not a district of {city[0]}.'
    if not str(address.get("firstLine") or "").strip():
        return '"dropOffAddress.firstLine" is required.'
    return None


def _cod_problem(body: Mapping[str, Any]) -> str | None:
    cod = body.get("cod", 0)
    if isinstance(cod, bool) or not isinstance(cod, int | float):
        return '"cod" must be a number.'
    if not 0 <= cod <= MAX_COD:
        return f'"cod" must be between 0 and {MAX_COD}.'
    return None
