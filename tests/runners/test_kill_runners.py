"""Three runner processes over one backlog, one of them killed mid-run.

The real thing end to end: the loopback simulators of every partner (in
this process, so the test can read what each one received), a MongoDB
wire-protocol server, and three ``python -m fulfilment.runners.cli run all``
processes sharing them.  One runner gets SIGKILL at a random instant of its
run (a run that ends first is started again until one is cut short); a
replacement starts, and the runners keep going until the backlog has
drained.  Then the simulators are asked what happened: every
shippable order reached its partner exactly once (Aramex does not
deduplicate references, so a second booking would show as a second
shipment), no order of the shop is missing from the store, and no customer
got the same message twice.

The runners' clock is the wall clock, and leases and claims last at least
a minute, so a runner killed while holding one delays the others by up to
that much: the test takes under a minute, or up to a minute more.
Parcels move on the simulators' clock, which the test moves six days on
once the bookings are in, so the tracking and notice steps have news to
act on in the same run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from fulfilment.core.domain import OrderKey
from fulfilment.core.notices import NOTICE
from fulfilment.runners.sandbox.seed import seed_orders
from fulfilment.runners.sandbox.world import SandboxWorld
from fulfilment.runners.toml_writer import dumps
from tests.support.mongo import MongoServer

PARTNERS = ("aramex", "flextock", "farfill")
BOOKED_STATES = {
    "booked",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "delivery_failed",
    "returned",
}
DEADLINE_SECONDS = 300


class MovableClock:
    """The wall clock, plus a jump the test decides: the simulators'
    shared time."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def now(self) -> datetime:
        return datetime.now().astimezone() + self.ahead


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SandboxWorld]:
    with SandboxWorld(tmp_path / "sandbox", clock=MovableClock()) as sandbox:
        yield sandbox


def runner_config(world: SandboxWorld, mongo: MongoServer, folder: Path) -> Path:
    config = world.config()
    config["storage"] = {
        "backend": "mongodb",
        "uri": mongo.uri,
        "database": f"{mongo.database_prefix}_kill",
    }
    # A dead runner's lease and claims lapse after the shortest time the
    # configuration allows; a quiet window far from now lets every notice
    # go out whatever the hour.
    far = (datetime.now().astimezone() + timedelta(hours=12)).strftime("%H:%M")
    later = (datetime.now().astimezone() + timedelta(hours=12, minutes=1)).strftime(
        "%H:%M"
    )
    # Amazon's order API grants one call a minute once the burst is spent,
    # and the runners share that budget through the database: runners
    # started back to back, as here, would spend most of the test waiting
    # for it.  The backlog is the Shopify stores'.
    config["stores"] = {
        handle: store
        for handle, store in config["stores"].items()
        if store.get("channel") != "amazon"
    }
    config["runner"] = {"lease_minutes": 1}
    config["booking"] = {"claim_ttl_minutes": 1, "retry_delays_minutes": [0, 0, 0]}
    config["tracking"] = {"poll_interval_minutes": 1}
    config["notifications"] = {"quiet_hours": f"{far}-{later}"}
    path = folder / "runner.toml"
    path.write_text(dumps(config))
    return path


def start_runner(config: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "fulfilment.runners.cli", "--config"]
    return subprocess.Popen(  # noqa: S603 (our own interpreter and config file)
        [*command, str(config), "--log-level", "INFO", "run", "all"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def parcels(world: SandboxWorld) -> dict[str, Counter[str]]:
    """Every parcel each partner simulator holds, by the merchant reference
    it was booked under (each partner's own field for it)."""
    aramex = world.simulators["aramex"].state["shipments"].values()
    flextock = world.simulators["flextock"].state["orders"].values()
    return {
        "aramex": Counter(s["reference1"] for s in aramex),
        "flextock": Counter(r["order"]["order_code"] for r in flextock),
        "farfill": Counter(list(world.simulators["farfill"].state["ids"])),
    }


def messages(world: SandboxWorld) -> Counter[tuple[str, ...]]:
    """Every SMS and e-mail the simulators accepted, by recipient and text."""
    sent: Counter[tuple[str, ...]] = Counter()
    for name in ("twilio", "infobip"):
        for to, records in world.simulators[name].state["messages"].items():
            sent.update((name, to, _text(r)) for r in records)
    assert world.mail is not None
    for message in world.mail.messages:
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        sent[("smtp", str(message["To"]), str(message["Subject"]), text)] += 1
    return sent


def _text(record: dict[str, Any]) -> str:
    return str(record.get("body") or record.get("text") or record)


def stored_orders(client: MongoClient[dict[str, Any]], database: str) -> list[Any]:
    return list(client[database]["orders"].find({}, {"raw": 0}))


def drained(client: MongoClient[dict[str, Any]], database: str, shop: int) -> bool:
    orders = stored_orders(client, database)
    busy = {"new", "booking"}
    return len(orders) >= shop and not any(o.get("state") in busy for o in orders)


def test_a_killed_runner_loses_nothing_and_books_nothing_twice(
    world: SandboxWorld,
    mongo: MongoServer,
    mongo_client: MongoClient[dict[str, Any]],
    tmp_path: Path,
) -> None:
    config = runner_config(world, mongo, tmp_path)
    database = f"{mongo.database_prefix}_kill"
    shop = _seed_backlog(world)
    logs = [tmp_path / f"runner-{n}.log" for n in range(4)]
    started = time.monotonic()

    runners = [start_runner(config, logs[n]) for n in range(3)]
    runners[0] = _kill_mid_run(runners[0], config, logs[0])
    runners.append(start_runner(config, logs[3]))
    moved = False
    while time.monotonic() - started < DEADLINE_SECONDS:
        for n, runner in enumerate(runners):
            if runner.poll() is not None:
                assert runner.returncode == 0, logs[n].read_text()[-3000:]
                runners[n] = start_runner(config, logs[n])
        if drained(mongo_client, database, len(shop)):
            if moved:
                break
            # Bookings are in: six days pass for the parcels.
            world.clock.ahead = timedelta(days=6)  # type: ignore[attr-defined]
            moved = True
            _finish(runners)
            for _ in range(2):
                _tracking_due_now(mongo_client, database)
                runners = [start_runner(config, logs[n]) for n in range(2)]
                _finish(runners)
            runners = []
        time.sleep(0.5)
    _finish(runners)

    orders = stored_orders(mongo_client, database)
    keys = {o["_id"] for o in orders}
    assert shop <= keys, f"lost: {sorted(shop - keys)}"
    assert drained(mongo_client, database, len(shop)), "the backlog did not drain"
    held = parcels(world)
    twice = {p: {r: n for r, n in c.items() if n > 1} for p, c in held.items()}
    assert not any(twice.values()), f"booked more than once: {twice}"
    booked = Counter(
        o["shipment"]["partner"] for o in orders if o["state"] in BOOKED_STATES
    )
    assert booked == {p: sum(c.values()) for p, c in held.items()}
    assert sum(booked.values()) >= 10
    sent = messages(world)
    repeated = {m: n for m, n in sent.items() if n > 1}
    assert not repeated, f"sent more than once: {repeated}"
    # Each notice the ledger says went out reached its provider once; one a
    # killed runner may have sent is marked uncertain for a person, never
    # sent again.
    notices = Counter(
        e["status"] for e in mongo_client[database]["effects"].find({"kind": NOTICE})
    )
    assert notices["done"] > 0, "the parcels' news reached nobody"
    assert notices["done"] <= len(sent) <= notices["done"] + notices["uncertain"]


def _kill_mid_run(
    runner: subprocess.Popen[bytes], config: Path, log: Path
) -> subprocess.Popen[bytes]:
    """SIGKILL *runner* at a random instant of its run.  A run that ends
    before the instant comes is run again, and the kill tried again, so
    the test never passes without a kill however fast the machine is;
    the runner that replaces the killed one is returned."""
    for _ in range(20):
        time.sleep(random.uniform(0.2, 3.0))
        if runner.poll() is None:
            runner.send_signal(signal.SIGKILL)
            assert runner.wait() == -signal.SIGKILL
            return start_runner(config, log)
        assert runner.returncode == 0, log.read_text()[-3000:]
        runner = start_runner(config, log)
    raise AssertionError("every run ended before the kill came")


def _tracking_due_now(client: MongoClient[dict[str, Any]], database: str) -> None:
    """The runners keep the wall clock, on which a parcel polled a moment
    ago is next due a minute later.  Make every open parcel due now, as if
    that minute had passed, so the news the simulators' jump made is read
    by the next runners rather than a minute on."""
    client[database]["orders"].update_many(
        {"state": {"$in": sorted(BOOKED_STATES)}},
        {"$set": {"due_at": datetime(1, 1, 1, tzinfo=UTC), "next_attempt_at": None}},
    )


def _finish(runners: list[subprocess.Popen[bytes]]) -> None:
    for runner in runners:
        runner.wait(timeout=120)


def _seed_backlog(world: SandboxWorld) -> set[str]:
    """Load the sandbox's seeded orders into the Shopify simulator; their
    keys as the store will know them."""
    nodes = seed_orders(world.clock.now())
    world.shopify.load_orders(nodes)
    return {
        str(OrderKey("shopify", handle, str(node["legacyResourceId"])))
        for handle, listed in nodes.items()
        for node in listed
    }
