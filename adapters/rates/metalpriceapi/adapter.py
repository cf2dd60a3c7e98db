"""MetalpriceAPI as a ``RateSource``."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterator
from datetime import UTC, date, timedelta

from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import PermanentPartnerError, TransientPartnerError
from fulfilment.core.ports import Clock
from fulfilment.core.rates import PublishedRates

from . import wire
from .client import MetalpriceApiClient
from .settings import MetalpriceApiSettings

__all__ = ["MetalpriceApiRateSource"]

log = logging.getLogger(__name__)

_CODE = re.compile(r"[A-Z]{3}")


class MetalpriceApiRateSource:
    """Gold and silver (and any currency asked) per one ``base``, a day at a
    time: today from ``/v1/latest``, an earlier day from ``/v1/YYYY-MM-DD``,
    one request per day.  "Today" is the UTC date of the clock; a later day
    is never asked for.

    A published day comes back with the quotes asked for that it carries,
    and with no rates at all when it carries none of them (the base is
    never carried per itself), so the caller still learns which days were
    published and which quotes are missing.  Only the plain quotes are
    handed back (``XAU``: ounces per one base); the inverses MetalpriceAPI
    adds (``USDXAU``) are a cross-check, and one that disagrees with its
    quote is logged, not used.  An answer that names
    another day than the one asked (the latest rates still being
    yesterday's) leaves that day out; an answer per another base is a
    ``PermanentPartnerError``, since every figure in it would be mislabelled.

    Reads are safe to repeat, so whatever may pass (429, 5xx, no connection,
    a garbled or cut-off answer) is retried under the retry policy;
    MetalpriceAPI's refusals (a wrong key, a plan that does not allow the
    request, a bad query) are ``PermanentPartnerError`` in its words.
    """

    name = wire.PARTNER

    def __init__(
        self,
        settings: MetalpriceApiSettings,
        client: MetalpriceApiClient,
        retry: RetryPolicy,
        clock: Clock,
    ) -> None:
        self._base = settings.base
        self._client = client
        self._retry = retry
        self._clock = clock

    @property
    def base(self) -> str:
        return self._base

    def published(
        self, start: date, end: date, quotes: Collection[str]
    ) -> list[PublishedRates]:
        wanted = _wanted(quotes, self._base)
        today = self._clock.now().astimezone(UTC).date()
        found = (self._day(day, today, wanted) for day in _days(start, end, today))
        return [rates for rates in found if rates is not None]

    def _day(
        self, day: date, today: date, wanted: frozenset[str]
    ) -> PublishedRates | None:
        what = "metalpriceapi.latest" if day == today else "metalpriceapi.historical"
        answer = self._retry.call(
            lambda: self._read(day, today, wanted), idempotent=True, what=what
        )
        if answer.day is not None and answer.day != day:
            log.info(
                "rates.day_not_published provider=metalpriceapi day=%s answered=%s",
                day,
                answer.day,
            )
            return None
        for quote in answer.disagreements():
            log.warning(
                "rates.inverse_mismatch provider=metalpriceapi day=%s quote=%s "
                "rate=%s inverse=%s",
                day,
                quote,
                answer.rates[quote],
                answer.inverses[quote],
            )
        return PublishedRates(day, self._base, dict(answer.rates))

    def _read(self, day: date, today: date, wanted: frozenset[str]) -> wire.Answer:
        params = wire.query(self._base, wanted)
        if day == today:
            reply = self._client.latest(params)
        else:
            reply = self._client.historical(day, params)
        if not reply.ok or wire.is_refusal(reply.body):
            raise wire.error_of(reply)
        try:
            answer = wire.answer_of(reply.body, wanted)
        except ValueError as error:
            # Nothing is changed by a read: a garbled answer is worth another.
            raise TransientPartnerError(
                f"unreadable rates for {day} ({error}): {reply.text[:120]!r}",
                partner=self.name,
                status=reply.status,
            ) from error
        if answer.base != self._base:
            raise PermanentPartnerError(
                f"rates for {day} came per {answer.base}, not per {self._base} "
                "as asked",
                partner=self.name,
                status=reply.status,
            )
        return answer


def _wanted(quotes: Collection[str], base: str) -> frozenset[str]:
    """The quotes to ask for, the base left out (MetalpriceAPI does not
    publish it per itself).  ValueError for anything that is not a
    currency code: a bare string passed for a collection lands here too."""
    bad = [q for q in quotes if not isinstance(q, str) or not _CODE.fullmatch(q)]
    if bad:
        raise ValueError(
            f"quotes must be three-letter currency codes like 'XAU', not {bad!r}"
        )
    return frozenset(quotes) - {base}


def _days(start: date, end: date, today: date) -> Iterator[date]:
    """Each day from *start* to *end* inclusive, none after *today*."""
    day, last = start, min(end, today)
    while day <= last:
        yield day
        day += timedelta(days=1)
