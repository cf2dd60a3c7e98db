"""What the MongoDB store promises beyond the contract: indexed worker
queries, a page in one bulk write, errors translated, secrets kept."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from pymongo import MongoClient, monitoring
from pymongo.errors import PyMongoError

from fulfilment.adapters.storage.documents import bson_converter
from fulfilment.adapters.storage.mongo import MongoSettings, MongoStorage, build
from fulfilment.core.domain import Claim, Money, OrderKey, OrderState, ReportingTotal
from fulfilment.core.errors import ConfigurationError, StorageError
from fulfilment.core.nps import DiscountCode, DiscountKind, NpsCategory, NpsResponse
from fulfilment.core.ports import AttentionItem
from fulfilment.core.rates import FxRate, RateType
from fulfilment.testing.builders import T0, make_order
from tests.support.mongo import MongoServer

WRITE_COMMANDS = {"insert", "update", "delete", "findAndModify"}


class CommandLog(monitoring.CommandListener):
    """Every command a client sends, as (name, command)."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def named(self, *names: str) -> list[dict[str, Any]]:
        return [command for name, command in self.commands if name in names]


@pytest.fixture
def database_name(mongo: MongoServer) -> Iterator[str]:
    name = f"{mongo.database_prefix}_{uuid.uuid4().hex[:12]}"
    yield name
    with mongo.client() as client:
        client.drop_database(name)


@pytest.fixture
def log() -> CommandLog:
    return CommandLog()


@pytest.fixture
def storage(
    mongo: MongoServer, database_name: str, log: CommandLog
) -> Iterator[MongoStorage]:
    client = mongo.client(event_listeners=[log])
    opened = MongoStorage(client, database_name, owns_client=True)
    opened.ensure_indexes()
    yield opened
    opened.close()


def plan_stages(plan: Any) -> list[tuple[str, str | None]]:
    """Every (stage, index name) in an explain plan, however nested."""
    found: list[tuple[str, str | None]] = []
    if isinstance(plan, dict):
        if "stage" in plan:
            found.append((plan["stage"], plan.get("indexName")))
        for value in plan.values():
            found += plan_stages(value)
    elif isinstance(plan, list):
        for value in plan:
            found += plan_stages(value)
    return found


def explain(
    storage: MongoStorage, find: dict[str, Any]
) -> list[tuple[str, str | None]]:
    command = {k: v for k, v in find.items() if not k.startswith(("$", "lsid"))}
    explained = storage.database.command(
        {"explain": command, "verbosity": "queryPlanner"}
    )
    return plan_stages(explained["queryPlanner"]["winningPlan"])


def fill(storage: MongoStorage) -> None:
    claim = Claim("runner-1", T0)
    storage.orders.save_many(
        [make_order(str(i), placed_at=T0 - timedelta(minutes=i)) for i in range(40)]
        + [attrs.evolve(make_order(f"b{i}"), state=OrderState.BOOKING, claim=claim)
           for i in range(10)]
    )  # fmt: skip


def test_due_orders_are_found_through_an_index(
    storage: MongoStorage, log: CommandLog
) -> None:
    fill(storage)
    log.commands.clear()

    due = storage.orders.due([OrderState.NEW, OrderState.ON_HOLD], T0, limit=5)

    finds = log.named("find")
    assert len(due) == 5
    assert len(finds) == 2
    for find in finds:
        stages = explain(storage, find)
        assert ("IXSCAN", "due") in stages, stages
        assert "COLLSCAN" not in [stage for stage, _ in stages], stages


def test_expired_claims_are_found_through_an_index(
    storage: MongoStorage, log: CommandLog
) -> None:
    fill(storage)
    log.commands.clear()

    expired = storage.orders.expired_claims(T0, limit=5)

    (find,) = log.named("find")
    stages = explain(storage, find)
    assert len(expired) == 5
    assert ("IXSCAN", "expired_claims") in stages, stages
    assert "COLLSCAN" not in [stage for stage, _ in stages], stages


def test_cancelled_orders_are_found_through_their_partial_index(
    storage: MongoStorage, log: CommandLog
) -> None:
    fill(storage)
    storage.orders.save_many(
        [
            attrs.evolve(make_order(f"c{i}", cancelled=True), state=state)
            for i, state in enumerate([OrderState.BOOKED, OrderState.IN_TRANSIT] * 3)
        ]
    )
    log.commands.clear()

    found = storage.orders.cancelled(
        [OrderState.BOOKED, OrderState.IN_TRANSIT], limit=10
    )

    finds = log.named("find")
    assert len(found) == 6
    assert len(finds) == 2
    for find in finds:
        stages = explain(storage, find)
        assert ("IXSCAN", "cancelled") in stages, stages
        assert "COLLSCAN" not in [stage for stage, _ in stages], stages


STAMP = ReportingTotal(
    Money(Decimal("45.90"), "USD"), Decimal("0.1"), T0.date(), ("ecb",), T0
)


def test_unstamped_orders_are_found_through_their_partial_index(
    storage: MongoStorage, log: CommandLog
) -> None:
    storage.orders.save_many(
        [attrs.evolve(make_order(str(i)), reporting_total=STAMP) for i in range(30)]
        + [
            make_order(f"u{i}", placed_at=T0 + i * timedelta(minutes=1))
            for i in range(3)
        ]
    )
    # An order stored before the stamp existed has no such field at all.
    storage.database["orders"].update_one(
        {"_id": str(make_order("u2").key)}, {"$unset": {"reporting_total": ""}}
    )
    log.commands.clear()

    found = storage.orders.unstamped(limit=10)

    (find,) = log.named("find")
    stages = explain(storage, find)
    assert [o.key.external_id for o in found] == ["u0", "u1", "u2"]
    assert found[2].reporting_total is None
    assert ("IXSCAN", "unstamped") in stages, stages
    assert "COLLSCAN" not in [stage for stage, _ in stages], stages


def test_queued_effects_are_found_through_an_index(
    storage: MongoStorage, log: CommandLog
) -> None:
    minute = timedelta(minutes=1)
    for i in range(30):
        storage.ledger.begin(f"book:{i}", "book", str(i), T0)
        storage.ledger.queue(f"mail:{i}", "mail", str(i), T0, payload={})
        later = T0 + i * minute
        storage.ledger.queue(
            f"sms:{i}", "sms", str(i), later, payload={}, not_before=later
        )
    log.commands.clear()

    queued = storage.ledger.queued("sms", T0 + minute, limit=5)

    (find,) = log.named("find")
    stages = explain(storage, find)
    assert [e.key for e in queued] == ["sms:0", "sms:1"]
    assert ("IXSCAN", "queued") in stages, stages
    assert "COLLSCAN" not in [stage for stage, _ in stages], stages


def test_the_history_of_one_order_is_found_through_an_index(
    storage: MongoStorage, log: CommandLog
) -> None:
    for i in range(30):
        subject = f"shopify:shemsiworld:{i}"
        storage.ledger.begin(f"book:{subject}", "booking", subject, T0)
        storage.ledger.queue(
            f"notice:{subject}:shipped:sms", "notice", subject, T0, payload={}
        )
    log.commands.clear()

    history = storage.ledger.for_subject("shopify:shemsiworld:7")

    (find,) = log.named("find")
    stages = explain(storage, find)
    assert [e.key for e in history] == [
        "book:shopify:shemsiworld:7",
        "notice:shopify:shemsiworld:7:shipped:sms",
    ]
    assert ("IXSCAN", "subject") in stages, stages
    assert "COLLSCAN" not in [stage for stage, _ in stages], stages


def fill_feedback(storage: MongoStorage) -> None:
    """Answers and codes of two stores over half an hour, a third of the
    answers naming no order."""
    for i in range(30):
        key = OrderKey("shopify", ("shemsi-egypt", "shemsiworld")[i % 2], str(i))
        submitted = T0 + timedelta(minutes=i)
        storage.nps.add_response(
            NpsResponse(f"r{i}", "form", i % 11, submitted, key if i % 3 else None)
        )
        storage.nps.add_discount(
            DiscountCode(
                f"CODE-{i}",
                key,
                f"r{i}",
                NpsCategory.PROMOTER,
                DiscountKind.PERCENTAGE,
                Decimal("15"),
                Decimal("68.85"),
                "EGP",
                submitted,
                submitted + timedelta(days=30),
            )
        )
        storage.nps.mark_surveyed([f"+2010012345{i:02d}"], submitted)


FEEDBACK_QUERIES = {
    "answers of a store": (
        lambda nps: nps.responses(store="shemsi-egypt", since=T0),
        "store",
        10,
    ),
    "unmatched answers": (lambda nps: nps.responses(unmatched=True), "unmatched", 10),
    "answers since": (
        lambda nps: nps.responses(since=T0 + timedelta(minutes=20)),
        "time",
        10,
    ),
    "codes of a store": (
        lambda nps: nps.discounts(store="shemsiworld", since=T0),
        "store",
        15,
    ),
    "codes since": (
        lambda nps: nps.discounts(since=T0 + timedelta(minutes=25)),
        "time",
        5,
    ),
    "last surveyed": (
        lambda nps: [nps.last_surveyed("+201001234507")],
        "_id_",
        1,
    ),
}


@pytest.mark.parametrize("query", list(FEEDBACK_QUERIES))
def test_feedback_queries_are_found_through_an_index(
    storage: MongoStorage, log: CommandLog, query: str
) -> None:
    ask, index, expected = FEEDBACK_QUERIES[query]
    fill_feedback(storage)
    log.commands.clear()

    found = ask(storage.nps)

    (find,) = log.named("find")
    stages = explain(storage, find)
    assert len(found) == expected
    assert ("IXSCAN", index) in stages, stages
    assert "COLLSCAN" not in [stage for stage, _ in stages], stages


FIRST = date(2026, 11, 1)


def rates_of_a_month(day: date = FIRST) -> list[FxRate]:
    """A month of eight quotes of one source, official and market: 496."""
    return [
        FxRate(day + timedelta(days=n), "USD", quote, Decimal("1.5"), "oxr", T0, kind)
        for n in range(31)
        for quote in ("MAD", "EGP", "AED", "LBP", "EUR", "SAR", "XAU", "XAG")
        for kind in RateType
    ]


RATE_QUERIES = {
    "latest": (
        lambda rates: [rates.latest("oxr", "USD", "MAD", RateType.OFFICIAL, FIRST)],
        "key",
        1,
    ),
    "a currency's days": (
        lambda rates: rates.history(quote="MAD", start=FIRST, end=FIRST),
        "quote",
        2,
    ),
    "a source's days": (
        lambda rates: rates.history(source="oxr", start=FIRST, end=FIRST),
        "source",
        16,
    ),
    "one series": (
        lambda rates: rates.history(
            source="oxr", quote="MAD", rate_type=RateType.MARKET, start=FIRST
        ),
        "series",
        31,
    ),
    "days": (
        lambda rates: rates.history(start=FIRST + timedelta(days=30)),
        "time",
        16,
    ),
}


@pytest.mark.parametrize("query", list(RATE_QUERIES))
def test_rate_queries_are_found_through_an_index(
    storage: MongoStorage, log: CommandLog, query: str
) -> None:
    ask, index, expected = RATE_QUERIES[query]
    storage.rates.add(rates_of_a_month(FIRST - timedelta(days=31)))
    storage.rates.add(rates_of_a_month())
    log.commands.clear()

    found = ask(storage.rates)

    (find,) = log.named("find")
    stages = explain(storage, find)
    assert len(found) == expected
    assert ("IXSCAN", index) in stages, stages
    assert "COLLSCAN" not in [stage for stage, _ in stages], stages


def test_a_month_of_rates_is_one_bulk_insert(
    storage: MongoStorage, log: CommandLog
) -> None:
    month = rates_of_a_month()

    added = storage.rates.add(month)
    again = storage.rates.add([*month[:10], *rates_of_a_month(date(2027, 1, 1))[:4]])

    inserts = log.named("insert")
    writes = [name for name, _ in log.commands if name in WRITE_COMMANDS]
    assert (added, again) == (496, 4)
    assert writes == ["insert", "insert"]
    assert [len(insert["documents"]) for insert in inserts] == [496, 14]
    assert all(insert["ordered"] is False for insert in inserts)


def test_a_rate_refused_for_more_than_its_key_is_a_storage_error(
    storage: MongoStorage,
) -> None:
    # The server refuses a rate kept as a string from now on, as a
    # validation rule added by hand to the collection would.
    storage.database.command(
        "collMod", "rates", validator={"rate": {"$type": "double"}}
    )

    with pytest.raises(StorageError, match="Document failed validation") as failure:
        storage.rates.add(rates_of_a_month()[:2])

    assert isinstance(failure.value.__cause__, PyMongoError)


def test_a_day_is_stored_as_its_iso_string(storage: MongoStorage) -> None:
    carried = FxRate(
        date(2026, 11, 7), "USD", "EGP", Decimal("48.6532"), "oxr", T0,
        published_on=date(2026, 11, 6),
    )  # fmt: skip

    storage.rates.add([carried])

    stored = storage.database["rates"].find_one({}, {"_id": False})
    assert stored is not None
    assert (stored["day"], stored["published_on"]) == ("2026-11-07", "2026-11-06")
    assert (stored["rate"], stored["rate_type"]) == ("48.6532", "official")


def test_not_before_is_kept_to_the_millisecond(storage: MongoStorage) -> None:
    precise = T0 + timedelta(microseconds=123_456)
    storage.ledger.queue("sms:1", "sms", "1", T0, payload={}, not_before=precise)

    entry = storage.ledger.get("sms:1")

    assert entry is not None
    assert entry.not_before == T0 + timedelta(microseconds=123_000)
    assert storage.ledger.queued("sms", T0 + timedelta(microseconds=123_000), 1)


def test_a_page_is_one_bulk_write(storage: MongoStorage, log: CommandLog) -> None:
    storage.orders.save_many([make_order(str(i)) for i in range(25)])
    updates = [attrs.evolve(make_order(str(i)), revision=1) for i in range(25)]
    page = updates + [make_order(str(i)) for i in range(25, 50)]
    log.commands.clear()

    lost = storage.orders.save_many(page)

    writes = [name for name, _ in log.commands if name in WRITE_COMMANDS]
    assert lost == []
    assert writes == ["update"]
    assert len(log.named("update")[0]["updates"]) == 50


def test_marking_contacts_surveyed_is_one_bulk_write(
    storage: MongoStorage, log: CommandLog
) -> None:
    contacts = ["+201001234567", "fatima@example.com", "+201001234567"]

    storage.nps.mark_surveyed(contacts, T0)

    writes = [name for name, _ in log.commands if name in WRITE_COMMANDS]
    assert writes == ["update"]
    assert len(log.named("update")[0]["updates"]) == 2
    assert storage.nps.last_surveyed("fatima@example.com") == T0


def test_ensure_indexes_makes_keys_unique_and_is_idempotent(
    storage: MongoStorage,
) -> None:
    storage.ensure_indexes()

    attention = storage.database["attention"].index_information()
    orders = storage.database["orders"].index_information()
    effects = storage.database["effects"].index_information()

    assert attention["occurrence"].get("unique") is True
    assert "subject_reason" not in attention
    assert {"open", "open_code", "open_store", "open_subject"} <= set(attention)
    assert {"due", "expired_claims", "store_state", "cancelled"} <= set(orders)
    assert "cancelled_at" in orders["cancelled"]["partialFilterExpression"]
    assert {"status", "queued", "subject"} <= set(effects)
    responses = storage.database["nps_responses"].index_information()
    discounts = storage.database["nps_discounts"].index_information()
    assert responses["form_response"].get("unique") is True
    assert {"store", "unmatched", "time"} <= set(responses)
    assert {"store", "time"} <= set(discounts)
    assert orders["unstamped"]["partialFilterExpression"] == {"reporting_total": None}
    rates = storage.database["rates"].index_information()
    assert rates["key"].get("unique") is True
    assert [field for field, _ in rates["key"]["key"]] == [
        "source",
        "base",
        "quote",
        "rate_type",
        "day",
    ]
    assert {"series", "source", "quote", "time"} <= set(rates)


def test_times_are_kept_to_the_millisecond(storage: MongoStorage) -> None:
    precise = make_order(placed_at=T0 + timedelta(microseconds=123_456))

    stored = storage.orders.save(precise)

    assert stored.placed_at == T0 + timedelta(microseconds=123_000)
    assert storage.orders.get(precise.key) == stored


def test_an_unreadable_document_is_a_storage_error(storage: MongoStorage) -> None:
    order = storage.orders.save(make_order())
    storage.database["orders"].update_one(
        {"_id": str(order.key)}, {"$set": {"total.amount": 459.0}}
    )

    with pytest.raises(StorageError, match=r"total\.amount"):
        storage.orders.get(order.key)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_unreachable_server_is_a_storage_error() -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(
        f"mongodb://127.0.0.1:{closed_port()}/", serverSelectionTimeoutMS=100
    )
    storage = MongoStorage(client, owns_client=True)

    with pytest.raises(StorageError) as failure:
        storage.orders.get(make_order().key)

    assert isinstance(failure.value.__cause__, PyMongoError)
    storage.close()


def test_build_connects_creates_indexes_and_close_closes(
    mongo: MongoServer, database_name: str
) -> None:
    storage = build(MongoSettings(mongo.uri, database=database_name))
    storage.orders.save(make_order())

    assert "due" in storage.database["orders"].index_information()
    storage.close()
    with pytest.raises(StorageError):
        storage.orders.get(make_order().key)


def test_the_settings_never_show_the_password() -> None:
    settings = MongoSettings("mongodb://fulfilment:hunter2@db.internal:27017/")

    assert "hunter2" not in repr(settings)
    assert "fulfilment:***@db.internal" in repr(settings)


def test_an_unusable_uri_is_a_configuration_error_without_the_password() -> None:
    settings = MongoSettings("mongodb://fulfilment:hunter2@db.internal:notaport/")

    with pytest.raises(ConfigurationError) as failure:
        build(settings)

    assert "hunter2" not in str(failure.value)


# --- attention ---------------------------------------------------------------


def fill_attention(storage: MongoStorage) -> None:
    for i in range(30):
        store = ("shemsi-egypt", "shemsi-uae", "shemsiworld")[i % 3]
        reason = ("tracking_stale", "rejected_by_partner")[i % 2]
        at = T0 + timedelta(minutes=i)
        item = AttentionItem(f"shopify:{store}:{i}", reason, "look", at)
        storage.attention.raise_item(item)
        if i % 4 == 0:
            storage.attention.resolve(item.subject, item.reason, at)


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({}, "open"),
        ({"reason": "tracking_stale"}, "open_code"),
        ({"store": "shemsi-uae"}, "open_store"),
        ({"subject": "shopify:shemsi-uae:7"}, "open_subject"),
    ],
)
def test_open_attention_items_are_listed_through_an_index(
    storage: MongoStorage, log: CommandLog, filters: dict[str, str], index: str
) -> None:
    fill_attention(storage)
    log.commands.clear()

    found = storage.attention.open_items(limit=50, **filters)  # type: ignore[arg-type]

    (find,) = log.named("find")
    stages = explain(storage, find)
    assert found
    assert all(i.is_open for i in found)
    assert ("IXSCAN", index) in stages, stages
    assert "COLLSCAN" not in [stage for stage, _ in stages], stages


def test_items_stored_before_ids_get_theirs(storage: MongoStorage) -> None:
    old = AttentionItem("shopify:shemsi-lebanon:1", "no_partner_for_store", "x", T0)
    collection = storage.database["attention"]
    collection.drop_indexes()
    collection.create_index(
        [("subject", 1), ("reason", 1)], name="subject_reason", unique=True
    )
    document = {
        k: v
        for k, v in bson_converter().unstructure(old).items()
        if k not in {"occurrence", "effect", "note", "resolved_by"}
    }
    collection.insert_one(document)

    storage.ensure_indexes()

    assert storage.attention.get(old.id) == old
    assert [d["_id"] for d in collection.find()] == [old.id]
    again = storage.attention.raise_item(old)
    assert again.id == old.id
