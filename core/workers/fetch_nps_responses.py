"""Worker fetch-nps-responses: bring a survey's answers into the NPS store.

One watermark per form (``fetch-nps-responses:<survey>:<form>``): each run
asks for the answers submitted since the watermark minus an overlap (a
survey provider may list an answer some minutes after it was submitted)
and follows the pages to the end.  Every answer is then:

- kept once: the store ignores an answer whose (form, response id) it
  already holds, so the overlap's re-reads are counted as duplicates and
  change nothing;
- matched to its order: the order key read from the link's hidden field
  must name an order the connector holds, otherwise the answer is kept with
  no order and one attention item quotes the hidden value for a person;
- for an answer tied to an order, followed by one queued ledger entry
  ``discount:<form>:<response id>`` for the discount-codes worker.

The entry is queued after the answer is stored (the discount worker reads
the answer) and again on every re-read, where the ledger ignores it, so a
runner killed between the two leaves nothing behind.  The watermark moves to
the newest submission seen only once the whole walk is stored; a walk that
breaks off raises :class:`~fulfilment.core.errors.IncompleteRead` (or the
survey's own error on the first page) and leaves the watermark where it
was, so the next run reads the same answers again, harmlessly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs

from ..domain import OrderKey
from ..errors import IncompleteRead, PartnerError
from ..nps import DISCOUNT, NpsResponse, discount_key
from ..ports import (
    AttentionItem,
    AttentionQueue,
    Clock,
    CursorStore,
    EffectLedger,
    NpsStore,
    OrderStore,
    SurveyPage,
    SurveySource,
)

__all__ = [
    "DISCOUNT",
    "NPS_UNMATCHED",
    "ORDER_FIELD",
    "FetchNpsReport",
    "FetchNpsSettings",
    "cursor_name",
    "discount_key",
    "fetch_nps_responses",
]

log = logging.getLogger(__name__)

# Ledger kind of "this answer earns a discount code"; the discount-codes
# worker takes these entries.
# Attention reason of an answer that names no order we hold.
NPS_UNMATCHED = "nps_unmatched"
_QUOTE_LIMIT = 80
# The hidden field the survey link carries the order key in.
ORDER_FIELD = "order"


@attrs.frozen
class FetchNpsSettings:
    """``overlap`` re-reads the end of the previous run (answers a provider
    lists late); ``first_run_lookback`` is how far back a form with no
    watermark starts (None: every answer it ever had); ``max_pages`` stops
    a walk that would never end."""

    overlap: timedelta = timedelta(hours=1)
    page_size: int = 500
    first_run_lookback: timedelta | None = timedelta(days=30)
    max_pages: int = 10_000


@attrs.frozen
class FetchNpsReport:
    """What one run read: ``new`` answers kept for the first time,
    ``duplicates`` already kept, ``unmatched`` new answers that name no
    known order, ``queued`` discount entries created; ``cursor`` is the
    watermark after the run."""

    survey: str
    form_id: str
    since: datetime | None
    pages: int
    fetched: int
    new: int
    duplicates: int
    unmatched: int
    queued: int
    cursor: datetime | None


def cursor_name(survey: SurveySource) -> str:
    return f"fetch-nps-responses:{survey.name}:{survey.form_id}"


@attrs.define
class _Tally:
    pages: int = 0
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    unmatched: int = 0
    queued: int = 0
    newest: datetime | None = None
    seen: set[str] = attrs.field(factory=set)


@attrs.define
class _Run:
    survey: SurveySource
    orders: OrderStore
    nps: NpsStore
    ledger: EffectLedger
    attention: AttentionQueue
    now: datetime


def fetch_nps_responses(
    *,
    survey: SurveySource,
    orders: OrderStore,
    nps: NpsStore,
    cursors: CursorStore,
    ledger: EffectLedger,
    attention: AttentionQueue,
    clock: Clock,
    settings: FetchNpsSettings | None = None,
) -> FetchNpsReport:
    settings = settings or FetchNpsSettings()
    started = clock.now()
    run = _Run(survey, orders, nps, ledger, attention, started)
    watermark = cursors.get(cursor_name(survey))
    since = _since(watermark, started, settings)

    tally = _Tally()
    for page in _pages(survey, since, settings, tally):
        _store_page(run, page.responses, tally)

    cursor = _advance(cursors, cursor_name(survey), watermark, tally.newest, started)
    report = FetchNpsReport(
        survey.name,
        survey.form_id,
        since,
        tally.pages,
        tally.fetched,
        tally.new,
        tally.duplicates,
        tally.unmatched,
        tally.queued,
        cursor,
    )
    log.info(
        "nps.fetched survey=%s form=%s pages=%d fetched=%d new=%d duplicates=%d "
        "unmatched=%d queued=%d",
        survey.name,
        survey.form_id,
        report.pages,
        report.fetched,
        report.new,
        report.duplicates,
        report.unmatched,
        report.queued,
    )
    return report


def _since(
    watermark: datetime | None, started: datetime, settings: FetchNpsSettings
) -> datetime | None:
    if watermark is not None:
        return watermark - settings.overlap
    if settings.first_run_lookback is None:
        return None
    return started - settings.first_run_lookback


def _pages(
    survey: SurveySource,
    since: datetime | None,
    settings: FetchNpsSettings,
    tally: _Tally,
) -> Iterable[SurveyPage]:
    """Every page of the walk, or an error: a walk is read to its end."""
    after: str | None = None
    tokens: set[str] = set()
    while True:
        page = _read(survey, since, after, settings.page_size, tally)
        tally.pages += 1
        tally.fetched += len(page.responses)
        yield page
        if not page.more:
            return
        after = _next_token(survey, page, tokens, tally, settings)


def _read(
    survey: SurveySource,
    since: datetime | None,
    after: str | None,
    page_size: int,
    tally: _Tally,
) -> SurveyPage:
    try:
        return survey.responses(since=since, after=after, page_size=page_size)
    except PartnerError as error:
        if tally.pages == 0:
            raise
        raise IncompleteRead(
            f"{survey.name} form {survey.form_id}: page {tally.pages + 1} failed "
            f"after {tally.fetched} answers ({error}); the watermark stays"
        ) from error


def _next_token(
    survey: SurveySource,
    page: SurveyPage,
    tokens: set[str],
    tally: _Tally,
    settings: FetchNpsSettings,
) -> str:
    where = f"{survey.name} form {survey.form_id}"
    if page.after is None:
        raise IncompleteRead(f"{where}: a page says more follow but gives no token")
    if page.after in tokens:
        raise IncompleteRead(
            f"{where}: token {page.after!r} came back twice; stopping rather "
            "than looping"
        )
    if tally.pages >= settings.max_pages:
        raise IncompleteRead(f"{where}: still more after {tally.pages} pages")
    tokens.add(page.after)
    return page.after


def _store_page(run: _Run, responses: Iterable[NpsResponse], tally: _Tally) -> None:
    fresh: list[NpsResponse] = []
    for response in responses:
        if response.response_id in tally.seen:
            tally.duplicates += 1  # listed twice in one walk
            continue
        tally.seen.add(response.response_id)
        fresh.append(response)
    known = _known_orders(run.orders, fresh)
    for response in fresh:
        _store_one(run, response, known, tally)
        if tally.newest is None or response.submitted_at > tally.newest:
            tally.newest = response.submitted_at


def _known_orders(
    orders: OrderStore, responses: Iterable[NpsResponse]
) -> set[OrderKey]:
    keys = {r.order_key for r in responses if r.order_key is not None}
    return set(orders.get_many(keys)) if keys else set()


def _store_one(
    run: _Run, response: NpsResponse, known: set[OrderKey], tally: _Tally
) -> None:
    stored = run.nps.get_response(response.form_id, response.response_id)
    if stored is None:
        if response.order_key not in known:
            # Raised before the answer is kept: a crash in between raises
            # the same open item again rather than never.
            _raise_unmatched(run, response)
            response = attrs.evolve(response, order_key=None)
        if run.nps.add_response(response):
            tally.new += 1
            tally.unmatched += response.order_key is None
            stored = response
        else:  # kept by someone else in the meantime
            stored = run.nps.get_response(response.form_id, response.response_id)
            tally.duplicates += 1
    else:
        tally.duplicates += 1
    if stored is not None and stored.order_key is not None:
        tally.queued += _queue_discount(run, stored, stored.order_key)


def _raise_unmatched(run: _Run, response: NpsResponse) -> None:
    value = _quoted(response)
    run.attention.raise_item(
        AttentionItem(
            subject=f"nps:{response.form_id}:{response.response_id}",
            reason=NPS_UNMATCHED,
            message=(
                f"answer {response.response_id} to form {response.form_id} "
                f"(score {response.score}) names order {value}, which is not "
                "an order we hold; it is kept without an order and earns no "
                "discount"
            ),
            raised_at=run.now,
        )
    )


def _quoted(response: NpsResponse) -> str:
    """The order the answer names, as read from its link (the hidden
    ``order`` field when it is not an order key at all), shortened; the
    other hidden fields (the customer's name) stay out of the message."""
    if response.order_key is not None:
        return repr(str(response.order_key))
    value = response.hidden.get(ORDER_FIELD)
    if not value:
        return "nothing readable (no order in its link)"
    text = str(value)
    if len(text) > _QUOTE_LIMIT:
        text = text[:_QUOTE_LIMIT] + "..."
    return repr(text)


def _queue_discount(run: _Run, response: NpsResponse, order: OrderKey) -> bool:
    return run.ledger.queue(
        discount_key(response.form_id, response.response_id),
        DISCOUNT,
        str(order),
        run.now,
        payload={"form": response.form_id, "response": response.response_id},
    )


def _advance(
    cursors: CursorStore,
    name: str,
    watermark: datetime | None,
    newest: datetime | None,
    started: datetime,
) -> datetime | None:
    """Move the watermark to the newest answer seen, never back, and never
    past the run's start (an answer stamped in the future by a skewed clock
    would otherwise hide the answers submitted before it)."""
    if newest is None:
        return watermark
    newest = min(newest, started)
    if watermark is not None and newest <= watermark:
        return watermark
    cursors.set(name, newest)
    return newest
