"""Steps every partner's ``track`` shares: batching references and putting
the answers of several calls back together.

The port asks for at most ``capabilities.max_tracking_batch`` references a
call, but an adapter does not rely on its caller for that: it splits what it
is given into partner-sized chunks itself and merges the answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from fulfilment.core.domain import TrackingEvent
from fulfilment.core.ports import TrackingBatch

__all__ = ["chunked", "distinct", "merge", "oldest_first"]


def distinct(references: Iterable[str]) -> list[str]:
    """*references* as strings, each once, in their first order."""
    return list(dict.fromkeys(str(reference) for reference in references))


def chunked(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Consecutive slices of at most *size* items (size below 1 counts as 1)."""
    step = max(1, size)
    for start in range(0, len(items), step):
        yield items[start : start + step]


def merge(batches: Iterable[TrackingBatch]) -> TrackingBatch:
    """One batch holding every event and every missing reference of
    *batches*; a reference answered in one batch is not missing."""
    events: dict[str, tuple[TrackingEvent, ...]] = {}
    missing: set[str] = set()
    links: dict[str, str] = {}
    for batch in batches:
        for reference, found in batch.events.items():
            events[reference] = events.get(reference, ()) + tuple(found)
        missing |= batch.missing
        links |= batch.links
    return TrackingBatch(events, frozenset(missing - events.keys()), links)


def oldest_first(events: Iterable[TrackingEvent]) -> tuple[TrackingEvent, ...]:
    """*events* sorted by time; events of the same instant keep their order."""
    return tuple(sorted(events, key=lambda event: event.occurred_at))
