"""A backfill reads from a given time instead of the watermark: it takes in
what the ordinary windows never read, changes nothing already kept, never
moves the watermark back, and never reads less than an ordinary run."""

from __future__ import annotations

from datetime import timedelta

from fulfilment.adapters.oms.memory import MemoryOrderSource
from fulfilment.adapters.storage.memory import MemoryStorage
from fulfilment.core.clock import ManualClock
from fulfilment.core.workers.fetch_new_orders import (
    IntakeReport,
    PageRead,
    cursor_name,
    fetch_new_orders,
)
from fulfilment.testing.builders import T0, make_order

DAY = timedelta(days=1)


def intake(
    source: MemoryOrderSource,
    storage: MemoryStorage,
    clock: ManualClock,
    **options: object,
) -> IntakeReport:
    return fetch_new_orders(
        source=source,
        orders=storage.orders,
        cursors=storage.cursors,
        attention=storage.attention,
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


def shop_with_old_and_new_orders() -> MemoryOrderSource:
    source = MemoryOrderSource("shemsiworld", page_size=2)
    for day, external_id in [(60, "1"), (50, "2"), (40, "3"), (1, "4"), (1, "5")]:
        moment = T0 - day * DAY
        source.put(make_order(external_id, placed_at=moment, updated_at=moment))
    return source


def test_a_backfill_takes_in_what_the_first_window_left_behind() -> None:
    source, storage, clock = (
        shop_with_old_and_new_orders(),
        MemoryStorage(),
        ManualClock(T0),
    )
    intake(source, storage, clock)  # the first run looks 30 days back
    watermark = storage.cursors.get(cursor_name(source))
    clock.advance(timedelta(minutes=5))
    read: list[PageRead] = []

    report = intake(source, storage, clock, since=T0 - 90 * DAY, on_page=read.append)

    assert sorted(o.key.external_id for o in storage.orders.list()) == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert report.outcomes == {"inserted": 3, "unchanged": 2}
    assert storage.cursors.get(cursor_name(source)) >= watermark  # type: ignore[operator]
    assert [r.pages for r in read] == list(range(1, report.pages + 1))
    assert read[-1].fetched == 5
    assert read[-1].reached == T0 - DAY


def test_a_repeated_backfill_changes_nothing() -> None:
    source, storage, clock = (
        shop_with_old_and_new_orders(),
        MemoryStorage(),
        ManualClock(T0),
    )
    intake(source, storage, clock, since=T0 - 90 * DAY)
    kept = {o.key: o.revision for o in storage.orders.list()}

    again = intake(source, storage, clock, since=T0 - 90 * DAY)

    assert again.ingested == 0
    assert {o.key: o.revision for o in storage.orders.list()} == kept


def test_a_backfill_never_moves_the_watermark_back() -> None:
    source, storage, clock = (
        shop_with_old_and_new_orders(),
        MemoryStorage(),
        ManualClock(T0),
    )
    name = cursor_name(source)
    storage.cursors.set(name, T0 + DAY)  # a runner on a clock ahead

    intake(source, storage, clock, since=T0 - 90 * DAY)

    assert storage.cursors.get(name) == T0 + DAY


def test_a_backfill_from_after_the_watermark_still_reads_from_it() -> None:
    source, storage, clock = (
        shop_with_old_and_new_orders(),
        MemoryStorage(),
        ManualClock(T0),
    )
    storage.cursors.set(cursor_name(source), T0 - 45 * DAY)

    report = intake(source, storage, clock, since=T0 - 2 * DAY)

    assert report.window.since == T0 - 45 * DAY - timedelta(minutes=10)
    assert sorted(o.key.external_id for o in storage.orders.list()) == ["3", "4", "5"]
