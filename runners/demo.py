"""``fulfilment demo``: the whole pipeline on loopback simulators.

Starts the sandbox world in the data folder, seeds the four Shopify stores
(or loads ``--orders FILE``), writes a ready configuration to
``<data dir>/fulfilment.toml``, and runs the workers through the same
loader, plugin registry and composition root an operator uses.

The world and the connector share one :class:`ManualClock`.  After the
first intake and booking, the demo moves it forward in steps over
simulated days (:data:`TIMELINE`) and runs every worker at each step, the
way a scheduler would: parcels move through their partners' tracking
codes, the store hears when they are picked up, customers get their SMS
and e-mails (held back during the night in each store's time zone), and one
order cancelled in the store after booking is cancelled with its partner.

Running it again over the same folder continues the same world from the
simulated time where the last run stopped: the SQLite store, the ledger,
the simulators' state and the clock are all there, so nothing is booked or
sent twice.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from fulfilment.adapters.survey.links import hidden_of_link
from fulfilment.core.clock import ManualClock, SystemClock
from fulfilment.core.domain import Order, OrderState, TrackingStatus
from fulfilment.core.notices import NOTICE
from fulfilment.core.nps import NPS_SURVEY, first_answers, nps_score
from fulfilment.core.ports import EffectStatus
from fulfilment.core.rates import METALS, RateType, rate_board
from fulfilment.core.store_reports import STORE_FULFILMENT

from . import views
from .config import load_config
from .plugins import Registry
from .sandbox.amazon_orders import seed_amazon_orders
from .sandbox.seed import seed_orders
from .sandbox.server import Fault
from .sandbox.world import STORES, SandboxWorld
from .toml_writer import dumps
from .usage import UsageError
from .wiring import WORKERS, App, build_app

__all__ = ["TICK", "TIMELINE", "print_summary", "run_demo"]

STORE_HANDLES = ("shemsiworld", "shemsi-egypt", "shemsi-uae", "shemsi-lebanon")
# Eight busy days of parcels at three-hour steps, then ten quieter ones at
# six: long enough for customers to be asked about their order two weeks
# after placing it, to answer, and to receive their code.
TIMELINE = timedelta(days=18)
BUSY = timedelta(days=8)
TICK = timedelta(hours=3)
QUIET_TICK = timedelta(hours=6)
# The first run cancels one booked order in its store shortly after booking,
# while the parcel still waits at the partner's warehouse.
CANCEL_AFTER = timedelta(hours=1)


def run_demo(
    *, data_dir: Path | None = None, orders_file: Path | None = None
) -> dict[str, Any]:
    created = data_dir is None
    folder = Path(data_dir or tempfile.mkdtemp(prefix="fulfilment-demo-")).resolve()
    registry = Registry.discover()
    clock = _load_clock(folder / "sandbox")
    world = SandboxWorld(folder / "sandbox", registry=registry, clock=clock)
    world.lock()
    started = clock.now()
    fresh = not world.shopify.has_orders()
    if orders_file is not None:
        orders = _read_orders(orders_file)
        _refuse_out_of_window(orders_file, orders, clock.now())
        try:
            world.shopify.load_orders(orders)
        except ValueError as error:
            raise UsageError(
                f"{orders_file}: orders Shopify could not serve:\n{error}"
            ) from error
    elif fresh:
        world.shopify.load_orders(seed_orders(clock.now()))
    if not world.amazon.has_orders() and orders_file is None:
        world.amazon.load_orders(seed_amazon_orders(clock.now()))

    with world:
        if fresh:
            _inject_first_run_faults(world)
        config_path = folder / "fulfilment.toml"
        config_path.write_text(_config_text(world), encoding="utf-8")
        config = load_config(config_path, registry.adapters())
        app = build_app(config, registry, clock=clock)
        try:
            # Rates first, so that intake stamps each new order at once.
            app.run("fetch-fx-rates")
            intake = app.run("fetch-new-orders")
            booking = app.run("create-fulfilment-requests")
            cancelled = _cancel_one_booked_order(app, world) if fresh else None
            runs = _timeline(app, clock, world)
            _save_clock(folder / "sandbox", clock)
            orders = app.storage.orders.list()
            attention = app.storage.attention.open_items()
            notices = _notices(app)
            delivered = _delivered_to_sandbox(world)
            reports = _store_reports(app, world)
            feedback = _feedback(app, world)
            rates = _rates(app)
        finally:
            app.close()

    return _summary(
        folder,
        created=created,
        config_path=config_path,
        reports=(intake, booking),
        orders=orders,
        attention=attention,
        timeline={
            "from": _iso(started),
            "to": _iso(clock.now()),
            "steps": runs,
            "cancelled_in_store": cancelled,
        },
        notices=notices,
        delivered=delivered,
        mail_folder=str(folder / "sandbox" / "mail"),
        store_reports=reports,
        feedback=feedback,
        rates=rates,
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _load_clock(folder: Path) -> ManualClock:
    """The simulated time where the last run over *folder* stopped; a new
    world starts at 08:00 UTC today, so that what happens at night (notices
    held until morning) is the same whatever the hour the demo is run."""
    path = folder / "clock.json"
    now = SystemClock().now()
    if not path.is_file():
        return ManualClock(now.replace(hour=8, minute=0, second=0, microsecond=0))
    try:
        saved = datetime.fromisoformat(json.loads(path.read_text())["now"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(
            f"{path}: the simulated clock cannot be read ({error}); "
            "delete the file to start the clock from now"
        ) from error
    return ManualClock(max(saved, now))


def _save_clock(folder: Path, clock: ManualClock) -> None:
    (folder / "clock.json").write_text(json.dumps({"now": clock.now().isoformat()}))


def _cancel_one_booked_order(app: App, world: SandboxWorld) -> str | None:
    """A customer changes their mind an hour after ordering: the first
    booked order of a partner that takes cancellations is cancelled in its
    Shopify store, for the workers to notice."""
    for order in app.storage.orders.list(state=OrderState.BOOKED):
        partner = app.partners.get(order.partner or "")
        if order.key.channel == "shopify" and partner and partner.capabilities.cancel:
            app.clock.advance(CANCEL_AFTER)  # type: ignore[attr-defined]
            world.shopify.cancel_order(order.key.store, order.key.external_id)
            return str(order.key)
    return None


def _timeline(app: App, clock: ManualClock, world: SandboxWorld) -> int:
    """Every worker at every step of the simulated days, in the order a
    scheduler would run them; between steps, customers who got a survey
    link open it, and some answer."""
    steps = 0
    start = clock.now()
    end = start + TIMELINE
    opened: set[str] = set()
    while clock.now() < end:
        clock.advance(TICK if clock.now() - start < BUSY else QUIET_TICK)
        for worker in WORKERS:
            app.run(worker)
        _customers_answer(world, opened)
        # Kept at every step: a demo stopped half way resumes from here.
        _save_clock(world.data_dir, clock)
        steps += 1
    return steps


_SHORT_LINK = re.compile(r"https://[\w.-]+/[\w-]+")


def _customers_answer(world: SandboxWorld, opened: set[str]) -> None:
    """Each customer opens the survey link in the SMS or e-mail they got
    (the sandbox's providers kept it); the Typeform simulator decides, from
    the order, whether and how they answer, in their store's language."""
    texts = [
        str(message.get("body") or message.get("text") or "")
        for name in ("twilio", "infobip")
        for messages in world.simulators[name].state["messages"].values()
        for message in messages
    ]
    if world.mail is not None:
        texts += [_plain(message) for message in world.mail.messages]
    form = world.typeform.form_url
    for link in {m for text in texts for m in _SHORT_LINK.findall(text)} - opened:
        opened.add(link)
        target = world.simulators["rebrandly"].destination_of(link) or link
        if not target.startswith(form):
            continue  # a tracking link
        hidden = hidden_of_link(target)
        store = hidden.get("order", "::").split(":")[1]
        language = STORES[store][3] if store in STORES else None
        world.typeform.answer(hidden, world.clock.now(), language=language)


def _plain(message: Any) -> str:
    body = message.get_body(("plain",))
    return str(body.get_content()) if body is not None else ""


def _notices(app: App) -> dict[str, Any]:
    by_channel: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    by_event: Counter[str] = Counter()
    for status in EffectStatus:
        for effect in app.storage.ledger.with_status(status, 100_000):
            if effect.kind != NOTICE:
                continue
            by_status[status.value] += 1
            if status is EffectStatus.DONE:
                by_channel[str(effect.result.get("channel"))] += 1
                by_event[str(effect.result.get("event"))] += 1
    return {
        "by_channel": dict(sorted(by_channel.items())),
        "by_event": dict(sorted(by_event.items())),
        "by_status": dict(sorted(by_status.items())),
    }


def _store_reports(app: App, world: SandboxWorld) -> dict[str, Any]:
    """Parcels reported to their store, as the ledger and Shopify see it."""
    done = [
        e
        for e in app.storage.ledger.with_status(EffectStatus.DONE, 100_000)
        if e.kind == STORE_FULFILMENT
    ]
    shops = world.shopify.state["stores"]
    return {
        "reported": len(done),
        "fulfilments_in_shopify": {
            handle: len(shop["fulfillments"]) for handle, shop in shops.items()
        },
    }


def _feedback(app: App, world: SandboxWorld) -> dict[str, Any]:
    """The loop as the connector's stores and the sandbox see it."""
    asked = [
        e
        for e in app.storage.ledger.with_status(EffectStatus.DONE, 100_000)
        if e.kind == NPS_SURVEY
    ]
    answers = first_answers(app.storage.nps.responses())
    codes = app.storage.nps.discounts()
    by_store: dict[str, list[Any]] = {}
    for answer in answers:
        if answer.store is not None:
            by_store.setdefault(answer.store, []).append(answer)
    worth: dict[str, Decimal] = {}
    for code in codes:
        worth[code.store] = worth.get(code.store, Decimal(0)) + code.worth
    currencies = {code.store: code.currency for code in codes}
    return {
        "nps": {
            "sent": len(asked),
            "responses": len(answers),
            "unmatched": sum(1 for a in answers if a.order_key is None),
            "by_category": dict(
                sorted(Counter(a.category.value for a in answers).items())
            ),
            "score_by_store": {
                store: nps_score(these) for store, these in sorted(by_store.items())
            },
            "answered_in_typeform": len(world.typeform.completed()),
        },
        "discounts": {
            "created": len(codes),
            "by_store": dict(sorted(Counter(c.store for c in codes).items())),
            "worth_by_store": {
                store: f"{amount} {currencies[store]}"
                for store, amount in sorted(worth.items())
            },
            "in_shopify": sum(
                len(world.shopify.discounts(handle)) for handle in STORES
            ),
        },
    }


def _delivered_to_sandbox(world: SandboxWorld) -> dict[str, int]:
    """What the simulated providers received, counted on their side."""
    sms = 0
    for name in ("twilio", "infobip"):
        messages = world.simulators[name].state["messages"]
        sms += sum(len(by_number) for by_number in messages.values())
    mail = len(world.mail.messages) if world.mail else 0
    return {"sms": sms, "email": mail}


def _read_orders(path: Path) -> dict[str, list[dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: cannot read orders: {error}") from error
    if not isinstance(data, dict):
        raise UsageError(
            f"{path}: expected a JSON object mapping store handles to order lists"
        )
    unknown = sorted(set(data) - set(STORE_HANDLES))
    if unknown:
        raise UsageError(
            f"{path}: unknown store handle(s) {', '.join(unknown)}; "
            f"known: {', '.join(STORE_HANDLES)}"
        )
    for handle, nodes in data.items():
        if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
            raise UsageError(
                f"{path}: {handle}: expected a list of Shopify Order objects"
            )
    return data


# How far back the demo's configuration reads (its first_run_lookback_days).
LOOKBACK = timedelta(days=3650)


def _refuse_out_of_window(
    path: Path, orders: dict[str, list[dict[str, Any]]], now: datetime
) -> None:
    """Orders last updated in the future or more than ten years ago would
    never be fetched; say so instead of leaving them out silently."""
    problems = []
    for handle, nodes in orders.items():
        for index, node in enumerate(nodes):
            text = node.get("updatedAt") or node.get("createdAt")
            try:
                moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
            except ValueError:
                continue  # the Shopify simulator names malformed times
            if moment.tzinfo is None:
                continue
            if moment > now or moment < now - LOOKBACK:
                problems.append(
                    f"{handle}[{index}]: updatedAt {text} is outside the demo's "
                    f"window ({(now - LOOKBACK):%Y-%m-%d} to now)"
                )
    if problems:
        raise UsageError(
            f"{path}: orders the demo would never fetch:\n" + "\n".join(problems)
        )


def _inject_first_run_faults(world: SandboxWorld) -> None:
    """Partners fail now and then; the demo shows the adapters riding it out."""
    world.simulators["farfill"].faults.add(
        "create-order", Fault(status=503, retry_after=0.1)
    )
    world.simulators["aramex"].faults.add(
        "CreateShipments", Fault(status=429, retry_after=0.1)
    )


def _config_text(world: SandboxWorld) -> str:
    header = (
        "# Written by `fulfilment demo` for its sandbox world.  Start the\n"
        "# simulators again with `fulfilment --config <this file> sandbox serve`\n"
        "# and use this file with `fulfilment --config <this file> ...`.\n\n"
    )
    data = world.config()
    # Relative to this file, so a copied demo folder serves its own world.
    data["sandbox"]["data_dir"] = world.data_dir.name
    return header + dumps(data)


def _summary(
    folder: Path,
    *,
    created: bool,
    config_path: Path,
    reports: tuple[dict[str, Any], dict[str, Any]],
    orders: list[Order],
    attention: list[Any],
    timeline: dict[str, Any],
    notices: dict[str, Any],
    delivered: dict[str, int],
    mail_folder: str,
    store_reports: dict[str, Any],
    feedback: dict[str, Any],
    rates: dict[str, Any],
) -> dict[str, Any]:
    intake, booking = reports
    overview = views.orders_summary(orders)
    ingested = sum(s.get("ingested", 0) for s in intake.get("stores", {}).values())
    failed = {
        handle: counts["error"]
        for handle, counts in intake.get("stores", {}).items()
        if "error" in counts
    }
    return {
        "data_dir": str(folder),
        "data_dir_created": created,
        "config": str(config_path),
        "orders": {
            "ingested": ingested,
            "failed_stores": failed,
            "total": overview["total"],
            "by_state": overview["by_state"],
            "by_store": overview["by_store"],
        },
        "bookings": {
            "by_partner": overview["booked_by_partner"],
            "this_run": booking.get("outcomes", {}),
        },
        "held": [
            {"key": str(o.key), "reason": o.hold_reason}
            for o in orders
            if o.hold_reason
        ],
        "timeline": timeline,
        "tracking": _tracking(orders),
        "store_fulfilments": store_reports,
        **feedback,
        "rates": rates,
        "notifications": {
            **notices,
            "received_by_sandbox": delivered,
            "mail_folder": mail_folder,
        },
        "attention": [views.attention_json(item) for item in attention],
    }


def _rates(app: App) -> dict[str, Any]:
    """What the rate sources gave over the run, the day's board against
    the reporting currency, and the orders' totals in it."""
    plan = app.rate_plan()
    if plan is None:
        return {}
    kept = app.storage.rates.history()
    by_source: dict[str, dict[str, Any]] = {}
    for rate in kept:
        seen = by_source.setdefault(
            rate.source, {"rates": 0, "carried": 0, "from": None, "to": None}
        )
        seen["rates"] += 1
        seen["carried"] += rate.carried
        day = rate.day.isoformat()
        seen["from"] = min(seen["from"] or day, day)
        seen["to"] = max(seen["to"] or day, day)
    today = app.clock.now().date()
    board: dict[str, str | None] = {}
    for row in rate_board(plan, app.storage.rates.latest, today):
        if row.currency in METALS:
            # A metal reads better as its price: reporting units an ounce.
            value = row.in_reporting
            label = f"{row.currency}/oz"
        else:
            value = row.per_reporting
            market = row.rate_type is RateType.MARKET
            label = f"{row.currency}{' (market)' if market else ''}"
        # Six significant digits read well in a summary line.
        board[label] = (
            None if value is None else f"{Decimal(f'{value:.6g}').normalize():f}"
        )
    orders = app.storage.orders.list()
    totals: dict[str, Decimal] = {}
    stamped = 0
    for order in orders:
        stamp = order.reporting_total
        if stamp is not None and stamp.amount is not None:
            stamped += 1
            totals[order.store] = (
                totals.get(order.store, Decimal(0)) + stamp.amount.amount
            )
    return {
        "reporting_currency": plan.reporting_currency,
        "day": today.isoformat(),
        "by_source": dict(sorted(by_source.items())),
        "board": board,
        "orders_stamped": stamped,
        "orders": len(orders),
        "totals_by_store": {h: str(t) for h, t in sorted(totals.items())},
    }


def _tracking(orders: list[Order]) -> dict[str, Any]:
    shipments = [o.shipment for o in orders if o.shipment is not None]
    by_partner: dict[str, Counter[str]] = {}
    for shipment in shipments:
        by_partner.setdefault(shipment.partner, Counter())[shipment.status.value] += 1
    failed_attempts = sum(
        1
        for s in shipments
        if any(e.status is TrackingStatus.DELIVERY_FAILED for e in s.events)
    )
    return {
        "by_status": dict(sorted(Counter(s.status.value for s in shipments).items())),
        "by_partner": {
            p: dict(sorted(c.items())) for p, c in sorted(by_partner.items())
        },
        "with_failed_attempt": failed_attempts,
        "events": sum(len(s.events) for s in shipments),
    }


def print_summary(summary: dict[str, Any]) -> None:
    orders, bookings = summary["orders"], summary["bookings"]
    print(f"data folder: {summary['data_dir']}")
    print(f"config:      {summary['config']}")
    print(
        f"orders:      {orders['ingested']} ingested this run, "
        f"{orders['total']} in store"
    )
    print(f"  by store:  {_pairs(orders['by_store'])}")
    print(f"  by state:  {_pairs(orders['by_state'])}")
    print(f"bookings:    {_pairs(bookings['by_partner']) or 'none'}")
    print(f"  this run:  {_pairs(bookings['this_run']) or 'nothing due'}")
    timeline, tracking = summary["timeline"], summary["tracking"]
    notices = summary["notifications"]
    print(
        f"timeline:    {timeline['from'][:16]} -> {timeline['to'][:16]} "
        f"(simulated, {timeline['steps']} steps)"
    )
    if timeline["cancelled_in_store"]:
        print(f"  cancelled: {timeline['cancelled_in_store']} (in its store)")
    print(f"tracking:    {_pairs(tracking['by_status']) or 'nothing booked'}")
    for partner, counts in tracking["by_partner"].items():
        print(f"  {partner + ':':10} {_pairs(counts)}")
    print(f"  with a failed attempt: {tracking['with_failed_attempt']}")
    reported = summary["store_fulfilments"]
    print(
        f"stores told: {reported['reported']} parcels "
        f"(Shopify fulfilments: {_pairs(reported['fulfilments_in_shopify'])})"
    )
    nps, codes = summary["nps"], summary["discounts"]
    print(
        f"nps:         {nps['sent']} asked, {nps['responses']} answered "
        f"({_pairs(nps['by_category']) or 'none'})"
    )
    scores = {
        s: "-" if v is None else f"{v:+d}" for s, v in nps["score_by_store"].items()
    }
    print(f"  score:     {_pairs(scores) or 'no answers yet'}")
    worth = ", ".join(codes["worth_by_store"].values()) or "nothing"
    print(
        f"discounts:   {codes['created']} codes "
        f"({_pairs(codes['by_store']) or 'none'}), worth {worth}"
    )
    rates = summary["rates"]
    if rates:
        reporting = rates["reporting_currency"]
        for source, seen in rates["by_source"].items():
            print(
                f"rates:       {source}: {seen['rates']} kept, {seen['from']} to "
                f"{seen['to']} ({seen['carried']} carried)"
            )
        board = {k: v for k, v in rates["board"].items() if v is not None}
        print(f"  1 {reporting} on {rates['day']}: {_pairs(board)}")
        print(
            f"  orders in {reporting}: {rates['orders_stamped']} of "
            f"{rates['orders']} stamped, {_pairs(rates['totals_by_store'])}"
        )
    print(f"notices:     sent {_pairs(notices['by_channel']) or 'none'}")
    print(f"  by event:  {_pairs(notices['by_event']) or 'none'}")
    print(f"  received:  {_pairs(notices['received_by_sandbox'])} (by the sandbox)")
    dropped = notices["by_status"].get("failed", 0)
    if dropped:
        print(f"  dropped:   {dropped} held at night, no longer true by morning")
    print(f"  e-mails:   {notices['mail_folder']}/*.eml")
    for handle, error in orders.get("failed_stores", {}).items():
        print(f"FAILED:      {handle}: {error}")
    for held in summary["held"]:
        print(f"held:        {held['key']} ({held['reason']})")
    for item in summary["attention"]:
        print(f"attention:   {item['id']}  {item['subject']} [{item['reason']}]")
        print(f"             {item['message']}")
    program = sys.argv[0] if sys.argv[0].endswith("fulfilment") else "fulfilment"
    print(
        f"\nnext: {program} --config {summary['config']} orders list\n"
        f"      {program} --config {summary['config']} attention list"
    )


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in counts.items())
