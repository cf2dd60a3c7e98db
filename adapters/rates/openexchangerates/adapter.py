"""Open Exchange Rates as a ``RateSource``."""

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
from .client import OpenExchangeRatesClient
from .settings import OpenExchangeRatesSettings

__all__ = ["OpenExchangeRatesSource"]

log = logging.getLogger(__name__)

_CODE = re.compile(r"[A-Z]{3}")


class OpenExchangeRatesSource:
    """Daily rates per one ``settings.base`` from Open Exchange Rates.

    Each day from *start* to *end* is one request: today's (the clock's
    UTC day) is ``latest.json``, an earlier day's ``historical/<day>.json``,
    and a later day is not asked for.  An answer counts for a day only
    when its ``timestamp`` falls on that day; a day the API has no figures
    for (its 400 ``not_available`` or ``invalid_date``), or answers with
    another day's, is left out and logged with the reason.

    Reads change nothing, so every failure that may pass (429, 5xx, no
    connection, a body that is not JSON) is retried under the retry
    policy.  A refusal (the app id, a ``base`` the plan does not allow, an
    unknown address) is a ``PermanentPartnerError`` with the API's code
    and words; an answer that is JSON but not a rates answer is one too,
    naming the field.  The app id never appears in a message or a log
    line.
    """

    name = wire.PARTNER

    def __init__(
        self,
        settings: OpenExchangeRatesSettings,
        client: OpenExchangeRatesClient,
        retry: RetryPolicy,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._client = client
        self._retry = retry
        self._clock = clock

    @property
    def base(self) -> str:
        return self._settings.base

    def published(
        self, start: date, end: date, quotes: Collection[str]
    ) -> list[PublishedRates]:
        wanted = _codes(quotes)
        today = self._clock.now().astimezone(UTC).date()
        params = wire.query(self.base, wanted)
        found = []
        for day in _days(start, min(end, today)):
            rates = self._day(day, today, params, wanted)
            if rates is not None:
                found.append(rates)
        return found

    def _day(
        self, day: date, today: date, params: dict[str, str], wanted: frozenset[str]
    ) -> PublishedRates | None:
        what = "latest" if day == today else "historical"
        publication = self._retry.call(
            lambda: self._read(day, today, params, wanted),
            idempotent=True,
            what=f"openexchangerates.{what}",
        )
        if publication is None or not self._is_for(day, publication):
            return None
        return PublishedRates(day, self.base, publication.rates)

    def _read(
        self, day: date, today: date, params: dict[str, str], wanted: frozenset[str]
    ) -> wire.Publication | None:
        if day == today:
            answer = self._client.latest(params)
        else:
            answer = self._client.historical(day, params)
        if wire.is_no_data(answer):
            log.info(
                "rates.day_not_published provider=openexchangerates day=%s reason=%s",
                day,
                wire.code_of(answer.body),
            )
            return None
        if not answer.ok:
            raise wire.error_of(answer)
        if answer.body is None:
            # Nothing is changed by a read: a body cut short is worth another.
            raise TransientPartnerError(
                f"the answer is not JSON ({answer.where}): {answer.text[:120]!r}",
                partner=self.name,
                status=answer.status,
            )
        try:
            return wire.publication_of(answer.body, wanted)
        except wire.Malformed as error:
            raise PermanentPartnerError(
                f"not a rates answer: {error} ({answer.where})",
                partner=self.name,
                status=answer.status,
            ) from error

    def _is_for(self, day: date, publication: wire.Publication) -> bool:
        if publication.base != self.base:
            raise PermanentPartnerError(
                f"asked for rates per {self.base}, answered per {publication.base}",
                partner=self.name,
            )
        if publication.day != day:
            log.info(
                "rates.day_not_published provider=openexchangerates day=%s "
                "reason=answered_for_another_day answered=%s",
                day,
                publication.day,
            )
            return False
        return True


def _codes(quotes: Collection[str]) -> frozenset[str]:
    """The quotes asked for, each checked: a code goes into the query."""
    if isinstance(quotes, str):
        raise ValueError(f"quotes must be a collection of codes, not {quotes!r}")
    bad = sorted(
        repr(q) for q in quotes if not isinstance(q, str) or not _CODE.fullmatch(q)
    )
    if bad:
        raise ValueError(
            f"quotes {', '.join(bad)} are not three-letter currency codes in capitals"
        )
    return frozenset(quotes)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
