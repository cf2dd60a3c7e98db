"""The ``fulfilment`` command.

::

    fulfilment [--config FILE] [--log-format text|json] COMMAND ...

    demo [--orders FILE] [--data-dir DIR] [--json]
    run WORKER... | all
    run fetch-new-orders --since DATE [--store HANDLE]
    schedule [WORKER...] [--every SECONDS] [--times N] [--tick SECONDS]
    serve-webhooks [--host 127.0.0.1] [--port N]
    orders list [--state S] [--store H] [--json]
    orders show KEY [--json]
    explain-route KEY [--json]
    attention list [--reason CODE] [--store H] [--json]
    attention show ID [--json]
    attention retry ID [--resend] | attention retry KEY
    attention resolve ID --note TEXT
    attention record KEY PARTNER REFERENCE [--label-url URL]
    customers opt-out ADDRESS [--reason TEXT] | customers opt-in ADDRESS
    report [--store H] [--month YYYY-MM] [--json]
    status [--json]
    check-config
    plugins [--json]
    sandbox serve [--data-dir DIR]

Exit codes: 0 success, 1 a worker or command failed (or what an operator
named is missing or cannot be acted on), 2 bad usage or configuration,
3 ``status`` found an overdue worker.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import math
import os
import re
import signal
import sys
import threading
import tomllib
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import phonenumbers

from fulfilment.adapters.validators import mail_address_problem
from fulfilment.core.attention import REASONS, InvalidNote, check_note, is_attention_id
from fulfilment.core.domain import OrderKey, OrderState
from fulfilment.core.errors import ConfigurationError, FulfilmentError
from fulfilment.core.masking import mask_email, mask_phone
from fulfilment.core.notices import record_opt_out, withdraw_opt_out
from fulfilment.core.nps import monthly_report
from fulfilment.core.operations import (
    InvalidRecord,
    NotRetryable,
    check_record,
    record_booking,
    resolve_item,
    retry_item,
    retry_order,
)
from fulfilment.core.ports import EffectStatus
from fulfilment.core.rates import (
    METALS,
    RatePlan,
    RateType,
    commodity_price,
    rate_board,
)

from . import plugin_report, views
from .config import Config, find_config_file, load_config
from .logs import LEVELS, configure_logging
from .plugins import Registry
from .progress import Progress
from .scheduling import run_schedule, run_table
from .usage import UsageError
from .wiring import WORKERS, App, build_app, failed

__all__ = ["main"]

log = logging.getLogger(__name__)

# A line break or another control character in what an operator typed.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except ConfigurationError as error:
        print(f"configuration error:\n{error}", file=sys.stderr)
        return 2
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (head, less) went away; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except FulfilmentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fulfilment",
        description="Shopify orders in, deliveries booked with the right partner.",
    )
    parser.add_argument(
        "--config", help="TOML file (default: config/$FULFILMENT_ENV.toml)"
    )
    parser.add_argument("--log-format", choices=("text", "json"), default=None)
    parser.add_argument("--log-level", type=str.upper, choices=LEVELS, default=None)
    commands = parser.add_subparsers(metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="run the whole pipeline on loopback simulators"
    )
    demo.add_argument(
        "--orders", type=Path, help="JSON: store handle -> Shopify order nodes"
    )
    demo.add_argument(
        "--data-dir", type=Path, help="where the store, config and simulator state live"
    )
    demo.add_argument("--json", action="store_true", help="print the summary as JSON")
    demo.set_defaults(handler=_demo)

    run = commands.add_parser("run", help="run workers once")
    run.add_argument(
        "workers", nargs="+", metavar="WORKER", help=f"{', '.join(WORKERS)} or all"
    )
    run.add_argument("--json", action="store_true")
    run.add_argument(
        "--since",
        type=_moment,
        help="fetch-new-orders only: read orders changed since this day or "
        "time (UTC) instead of since the watermark (a backfill)",
    )
    run.add_argument(
        "--store",
        action="append",
        help="fetch-new-orders only: this store (repeat for several)",
    )
    run.set_defaults(handler=_run)

    schedule = commands.add_parser(
        "schedule", help="run each worker when it is due, until stopped"
    )
    schedule.add_argument("workers", nargs="*", metavar="WORKER", help="default: all")
    schedule.add_argument(
        "--every",
        type=_positive,
        default=None,
        help="seconds between runs of every worker, instead of [runner.schedule]",
    )
    schedule.add_argument(
        "--times",
        type=_count,
        default=0,
        help="stop after this many rounds that ran something (0: never)",
    )
    schedule.add_argument(
        "--tick",
        type=_positive,
        default=60.0,
        help="longest sleep between two looks at what is due (60)",
    )
    schedule.set_defaults(handler=_schedule)

    webhooks = commands.add_parser(
        "serve-webhooks", help="receive Shopify webhooks until stopped"
    )
    webhooks.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (127.0.0.1)"
    )
    webhooks.add_argument(
        "--port", type=_port, default=8088, help="port to listen on (8088; 0: any)"
    )
    webhooks.set_defaults(handler=_serve_webhooks)

    _inspection_commands(commands)
    return parser


def _inspection_commands(commands: Any) -> None:
    """The commands that look at (and nudge) what is stored."""
    orders = _group(commands, "orders", "look at orders")
    listing = orders.add_parser("list", help="list orders")
    listing.add_argument("--state", choices=[s.value for s in OrderState])
    listing.add_argument("--store")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_orders_list)
    show = orders.add_parser("show", help="one order in full")
    show.add_argument(
        "key", help="channel:store:id, e.g. shopify:shemsi-egypt:5551234567890"
    )
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_orders_show)

    route = commands.add_parser(
        "explain-route", help="which partner an order goes to, and why"
    )
    route.add_argument("key")
    route.add_argument("--json", action="store_true")
    route.set_defaults(handler=_explain_route)

    _attention_commands(commands)

    _customer_commands(commands)

    status = commands.add_parser(
        "status", help="cursors, queues, counts and each worker's last runs"
    )
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_status)

    check = commands.add_parser(
        "check-config", help="load and validate the configuration"
    )
    check.set_defaults(handler=_check_config)

    plugins = commands.add_parser(
        "plugins", help="every adapter the plugins register, and where it came from"
    )
    plugins.add_argument("--json", action="store_true")
    plugins.set_defaults(handler=_plugins)

    sandbox = _group(commands, "sandbox", "loopback simulators")
    serve = sandbox.add_parser("serve", help="serve the simulators until interrupted")
    serve.add_argument(
        "--data-dir", type=Path, help="simulator state (default: from the config)"
    )
    serve.set_defaults(handler=_sandbox_serve)


def _attention_commands(commands: Any) -> None:
    """The one queue of what needs a person, acted on by item ID."""
    attention = _group(commands, "attention", "what needs a person")
    att_list = attention.add_parser("list", help="open attention items, oldest first")
    att_list.add_argument(
        "--reason", metavar="CODE", help="one reason code (see docs/attention.md)"
    )
    att_list.add_argument("--store", help="one store handle")
    att_list.add_argument(
        "--limit", type=_at_least_one, default=500, help="at most this many (500)"
    )
    att_list.add_argument("--json", action="store_true")
    att_list.set_defaults(handler=_attention_list)
    show = attention.add_parser("show", help="one item in full, open or resolved")
    show.add_argument("id", help="the item's ID, as attention list shows it")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_attention_show)
    retry = attention.add_parser(
        "retry", help="do what retry means for the item's reason"
    )
    retry.add_argument(
        "target", metavar="ID", help="an item ID (or an order key: retry its booking)"
    )
    retry.add_argument(
        "--resend",
        action="store_true",
        help="queue an uncertain message or report again, after checking it "
        "did not happen",
    )
    retry.add_argument("--by", help="who acts (default: the login name)")
    retry.add_argument("--json", action="store_true")
    retry.set_defaults(handler=_attention_retry)
    record = attention.add_parser(
        "record", help="record a parcel found at the partner for an order"
    )
    record.add_argument("key")
    record.add_argument("partner", help="partner name as configured, e.g. aramex")
    record.add_argument("reference", help="the partner's reference (AWB)")
    record.add_argument("--label-url")
    record.set_defaults(handler=_attention_record)
    resolve = attention.add_parser(
        "resolve", help="close an item with a note, without touching anything else"
    )
    resolve.add_argument(
        "target", nargs="+", metavar="ID", help="an item ID (or SUBJECT REASON)"
    )
    resolve.add_argument(
        "--note", required=True, help="what was done, or why nothing needs doing"
    )
    resolve.add_argument("--by", help="who acts (default: the login name)")
    resolve.add_argument("--json", action="store_true")
    resolve.set_defaults(handler=_attention_resolve)


def _customer_commands(commands: Any) -> None:
    """Customers' messaging choices, and what the feedback loop says."""
    customers = _group(commands, "customers", "customers' messaging choices")
    opt_out = customers.add_parser(
        "opt-out", help="send no more messages to a phone number or e-mail address"
    )
    opt_out.add_argument("address", help="+E.164 phone number or e-mail address")
    opt_out.add_argument("--reason", default="asked the shop")
    opt_out.set_defaults(handler=_customers_opt_out)
    opt_in = customers.add_parser(
        "opt-in", help="lift an opt-out (the customer asked for messages again)"
    )
    opt_in.add_argument("address")
    opt_in.add_argument("--reason", default="asked the shop")
    opt_in.set_defaults(handler=_customers_opt_in)

    rates = _group(commands, "rates", "daily FX rates and metal prices kept")
    board = rates.add_parser(
        "show", help="a day's rates against the reporting currency"
    )
    board.add_argument("--date", type=_day, help="the day, YYYY-MM-DD (default: today)")
    board.add_argument("--json", action="store_true")
    board.set_defaults(handler=_rates_show)
    export = rates.add_parser(
        "export", help="one currency's daily history as CSV, for a plot"
    )
    export.add_argument("currency", type=_currency, help="e.g. MAD, LBP, XAU")
    export.add_argument(
        "--from", dest="start", type=_day, help="first day (default: 30 days back)"
    )
    export.add_argument("--to", dest="end", type=_day, help="last day (default: today)")
    export.add_argument(
        "--against",
        type=_currency,
        help="the other currency (default: the reporting one)",
    )
    export.add_argument(
        "--market",
        action="store_true",
        help="the parallel-market rate where one is kept",
    )
    export.add_argument(
        "--output", help="write to this file instead of standard output"
    )
    export.set_defaults(handler=_rates_export)

    report = commands.add_parser(
        "report", help="NPS per store and month, codes issued and their worth"
    )
    report.add_argument("--store", help="one store's rows")
    report.add_argument("--month", type=_month, help="one month, YYYY-MM")
    report.add_argument("--json", action="store_true")
    report.set_defaults(handler=_report)


def _group(commands: Any, name: str, text: str) -> Any:
    """A command with actions; without one it prints its own help."""
    parser = commands.add_parser(name, help=text)
    parser.set_defaults(handler=lambda _: parser.print_help() or 2)
    return parser.add_subparsers(metavar="ACTION")


def _positive(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {text}")
    return value


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


# --- helpers -----------------------------------------------------------------


def _config(args: argparse.Namespace, registry: Registry) -> Config:
    path = find_config_file(args.config, os.environ)
    try:
        config = load_config(path, registry.adapters())
    except ConfigurationError as error:
        if not registry.failures:
            raise
        # An "unknown adapter" is often a plugin that did not load.
        raise ConfigurationError(
            f"{error}\nplugins that failed to load: {registry.describe_failures()}"
        ) from error
    configure_logging(
        args.log_level or config.logging.level,
        args.log_format or config.logging.format,
        _secrets(config),
    )
    return config


def _with_app(args: argparse.Namespace, body: Callable[[App], int]) -> int:
    registry = Registry.discover()
    app = build_app(_config(args, registry), registry)
    try:
        return body(app)
    finally:
        app.close()


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _secrets(config: Config) -> list[str]:
    found = []
    tables = [config.storage.settings] + [p.settings for p in config.partners.values()]
    tables += [s.source for s in config.stores.values()]
    tables += [s.webhooks for s in config.stores.values() if s.webhooks]
    notifiers = (
        *config.sms.values(),
        *config.mail.values(),
        *config.links.values(),
        *config.surveys.values(),
        *config.rates.sources.values(),
    )
    tables += [n.settings for n in notifiers]
    words = ("token", "password", "secret", "pin", "key", "app_id")
    for settings in tables:
        for name in dir(settings):
            if any(w in name for w in words):
                value = getattr(settings, name, None)
                if isinstance(value, str):
                    found.append(value)
    return found


# --- commands ----------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from .demo import print_summary, run_demo

    configure_logging(args.log_level or "WARNING", args.log_format or "text")
    summary = run_demo(data_dir=args.data_dir, orders_file=args.orders)
    if args.json:
        _print_json(summary)
    else:
        print_summary(summary)
    return 1 if summary["orders"]["failed_stores"] else 0


def _run(args: argparse.Namespace) -> int:
    workers = list(WORKERS) if args.workers == ["all"] else args.workers
    unknown = [w for w in workers if w not in WORKERS]
    if unknown:
        print(
            f"unknown worker {', '.join(unknown)}; known: {', '.join(WORKERS)}",
            file=sys.stderr,
        )
        return 2
    backfill = args.since is not None or args.store is not None
    if backfill and workers != ["fetch-new-orders"]:
        raise UsageError("--since and --store go with fetch-new-orders alone")

    def body(app: App) -> int:
        for handle in args.store or ():
            _known_store(app, handle)
        if args.since is not None and args.since > app.clock.now():
            # A mistyped year would read nothing and look like a quiet shop.
            raise UsageError(
                f"--since {args.since.isoformat()} is in the future; "
                "a backfill reads orders changed since a past day"
            )
        results = []
        for worker in workers:
            try:
                results.append(_run_one(app, worker, args))
            except FulfilmentError as error:
                results.append({"worker": worker, "error": str(error)})
        if args.json:
            _print_json(results)
        else:
            for result in results:
                print(_one_line(result))
        return 1 if any(failed(r) for r in results) else 0

    return _with_app(args, body)


def _run_one(app: App, worker: str, args: argparse.Namespace) -> dict[str, Any]:
    """One worker; a backfill shows its progress on standard error."""
    if args.since is None and args.store is None:
        return app.run(worker)
    stores = None if args.store is None else list(dict.fromkeys(args.store))
    progress = Progress(sys.stderr) if args.since is not None else None
    try:
        return app.run(worker, stores=stores, since=args.since, progress=progress)
    finally:
        if progress is not None:
            progress.done()


def _moment(text: str) -> datetime:
    """A day (its midnight) or an ISO time, in UTC unless it says."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a day like 2026-11-01 or a time like 2026-11-01T08:00, "
            f"not {text}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _schedule(args: argparse.Namespace) -> int:
    """Run what the shared timetable says is due until told to stop.
    SIGTERM or SIGINT ends it after the current run, with status 0."""
    workers = list(WORKERS) if args.workers in ([], ["all"]) else args.workers
    unknown = [w for w in workers if w not in WORKERS]
    if unknown:
        print(f"unknown worker {', '.join(unknown)}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    before = {
        signum: signal.signal(signum, lambda *_: stop.set()) for signum in signals
    }

    def emit(result: dict[str, Any]) -> None:
        print(_one_line(result), flush=True)

    def body(app: App) -> int:
        done = run_schedule(
            app,
            workers,
            stop=stop,
            emit=emit,
            every=args.every,
            times=args.times,
            tick=args.tick,
        )
        log.info(
            "schedule.stopped runs=%d failures=%d signalled=%s",
            done.runs,
            done.failures,
            stop.is_set(),
        )
        # Stopped by a signal, the loop ends as asked: status 0.  Rounds
        # counted by --times report whether any run failed.
        return 1 if done.failures and not stop.is_set() else 0

    try:
        return _with_app(args, body)
    finally:
        # A host program (or a test) gets its own handlers back.
        for signum, handler in before.items():
            signal.signal(signum, handler)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535)")
    return int(text)


def _serve_webhooks(args: argparse.Namespace) -> int:
    """Serve the webhook receiver until interrupted (SIGINT or SIGTERM,
    which uvicorn handles: it finishes the requests in flight and the
    processing under way)."""
    from .webhooks import bind, processor, receiver_for, serve

    def body(app: App) -> int:
        receiver = receiver_for(
            app.config, app.storage.webhooks, app.clock, processor(app)
        )
        server = serve(receiver)
        try:
            sock = bind(args.host, args.port)
        except OSError as error:
            raise UsageError(
                f"cannot listen on {args.host}:{args.port}: {error.strerror}"
            ) from error
        host, port = sock.getsockname()[:2]
        print(
            f"receiving webhooks on http://{host}:{port}{app.config.webhooks.path}",
            flush=True,
        )
        server.run(sockets=[sock])
        return 0

    return _with_app(args, body)


def _one_line(result: dict[str, Any]) -> str:
    parts = [result["worker"]]
    if "skipped" in result:
        return f"{result['worker']}: skipped ({result['skipped']})"
    if "error" in result:
        return f"{result['worker']}: FAILED: {result['error']}"
    for handle, counts in result.get("stores", {}).items():
        parts.append(f"{handle}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    if "polled" in result:
        moved = ", ".join(f"{k}={v}" for k, v in sorted(result["moved"].items()))
        parts.append(
            f"polled={result['polled']}, new_events={result['new_events']}"
            + (f", now {moved}" if moved else "")
        )
    if "outcomes" in result:
        parts.append(
            ", ".join(f"{k}={v}" for k, v in sorted(result["outcomes"].items()))
            or "nothing due"
        )
    if result["worker"] == "fetch-fx-rates":
        parts += [_rate_source_line(n, s) for n, s in result["sources"].items()]
        parts.append(f"orders_stamped={result['orders_stamped']}")
    return " | ".join(parts)


def _rate_source_line(name: str, outcome: dict[str, Any]) -> str:
    if "error" in outcome:
        return f"{name}: FAILED: {outcome['error']}"
    if outcome["from"] is None:
        return f"{name}: up to date"
    return (
        f"{name}: from={outcome['from']}, days={outcome['published_days']}, "
        f"stored={outcome['stored']}, carried={outcome['carried']}"
        + (f", missing={','.join(outcome['missing'])}" if "missing" in outcome else "")
    )


def _orders_list(args: argparse.Namespace) -> int:
    def body(app: App) -> int:
        _known_store(app, args.store)
        state = OrderState(args.state) if args.state else None
        orders = app.storage.orders.list(state=state, store=args.store)
        if args.json:
            _print_json([views.order_json(o) for o in orders])
        else:
            print(views.order_table(orders))
        return 0

    return _with_app(args, body)


def _orders_show(args: argparse.Namespace) -> int:
    def body(app: App) -> int:
        order = app.storage.orders.get(_key(args.key))
        if order is None:
            print(f"no order {args.key}", file=sys.stderr)
            return 1
        view = views.order_show_json(
            order,
            app.storage.ledger.for_subject(str(order.key)),
            app.storage.attention.open_items(subject=str(order.key)),
        )
        if args.json:
            _print_json(view)
        else:
            print(views.order_show_text(view))
        return 0

    return _with_app(args, body)


def _key(text: str) -> OrderKey:
    try:
        return OrderKey.parse(text)
    except ValueError as error:
        raise UsageError(str(error)) from error


def _explain_route(args: argparse.Namespace) -> int:
    def body(app: App) -> int:
        order = app.storage.orders.get(_key(args.key))
        if order is None:
            print(f"no order {args.key}", file=sys.stderr)
            return 1
        capabilities = {n: p.capabilities for n, p in app.partners.items()}
        route = app.config.routing_policy().route(order, capabilities)
        data = {
            "key": args.key,
            "partner": route.partner,
            "reason": route.reason,
            "explanation": list(route.explanation),
        }
        if args.json:
            _print_json(data)
        else:
            print(f"{args.key} -> {route.partner or 'held: ' + route.reason}")
            for line in route.explanation:
                print(f"  {line}")
        return 0

    return _with_app(args, body)


def _plugins(args: argparse.Namespace) -> int:
    """Needs no configuration: what is installed, not what is configured.
    Exit status 1 when a plugin failed to load."""
    configure_logging(args.log_level or "ERROR", args.log_format or "text")
    registry = Registry.discover()
    entries = registry.entries()
    if args.json:
        _print_json(plugin_report.report_json(entries, registry.failures))
    else:
        print(plugin_report.plugins_text(entries, registry.failures))
    return 1 if registry.failures else 0


def _attention_list(args: argparse.Namespace) -> int:
    if args.reason is not None and args.reason not in REASONS:
        raise UsageError(
            f"no reason code {args.reason!r}; the codes are: {', '.join(REASONS)}"
        )

    def body(app: App) -> int:
        _known_store(app, args.store)
        items = app.storage.attention.open_items(
            reason=args.reason, store=args.store, limit=args.limit
        )
        now = app.clock.now()
        shown = [views.attention_json(i, now) for i in items]
        if args.json:
            _print_json(shown)
        else:
            print(views.attention_list_text(shown))
        return 0

    return _with_app(args, body)


def _attention_show(args: argparse.Namespace) -> int:
    def body(app: App) -> int:
        item = app.storage.attention.get(args.id.strip().lower())
        if item is None:
            print(f"no attention item {args.id}", file=sys.stderr)
            return 1
        view = views.attention_show_json(item, app.clock.now())
        if args.json:
            _print_json(view)
        else:
            print(views.attention_show_text(view))
        return 0

    return _with_app(args, body)


def _attention_retry(args: argparse.Namespace) -> int:
    by = _who(args.by)

    def act(app: App) -> str:
        if not is_attention_id(args.target.strip().lower()):
            # An order key, as before items had IDs: retry its booking.
            order = retry_order(
                key=_key(args.target),
                orders=app.storage.orders,
                ledger=app.storage.ledger,
                attention=app.storage.attention,
                now=app.clock.now(),
                by=by,
            )
            return f"{order.key}: back to {order.state}; the next booking run takes it"
        return retry_item(
            item_id=args.target,
            orders=app.storage.orders,
            ledger=app.storage.ledger,
            attention=app.storage.attention,
            now=app.clock.now(),
            resend=args.resend,
            by=by,
        )

    return _operator_action(args, act)


def _attention_record(args: argparse.Namespace) -> int:
    try:
        check_record(args.reference, args.label_url)
    except InvalidRecord as error:
        raise UsageError(str(error)) from None

    def act(app: App) -> str:
        partner = app.partners.get(args.partner)
        if partner is None:
            known = ", ".join(sorted(app.partners))
            raise UsageError(f"no partner {args.partner!r} is configured ({known})")
        order = app.storage.orders.get(_key(args.key))
        country = (
            order.shipping_address.country_code
            if order and order.shipping_address
            else None
        )
        served = partner.capabilities.countries
        if served and country not in served:
            raise UsageError(
                f"{args.partner} does not deliver to "
                f"{country or 'an unknown country'}; record the parcel with the "
                "partner that has it"
            )
        order = record_booking(
            key=_key(args.key),
            partner=args.partner,
            reference=args.reference,
            label_url=args.label_url,
            orders=app.storage.orders,
            ledger=app.storage.ledger,
            attention=app.storage.attention,
            now=app.clock.now(),
        )
        reference = order.shipment.reference if order.shipment else args.reference
        return f"{order.key}: booked with {args.partner} as {reference}"

    return _operator_action(args, act)


def _operator_action(args: argparse.Namespace, act: Callable[[App], str]) -> int:
    """Run an operator's change; an order or item that is missing or in the
    wrong state is a plain message and exit status 1."""

    def body(app: App) -> int:
        try:
            done = act(app)
        except (LookupError, NotRetryable) as error:
            print(str(error).strip("'\""), file=sys.stderr)
            return 1
        if getattr(args, "json", False):
            _print_json({"done": done})
        else:
            print(done)
        return 0

    return _with_app(args, body)


def _attention_resolve(args: argparse.Namespace) -> int:
    if len(args.target) > 2:
        raise UsageError("resolve takes an item ID (or a subject and a reason)")
    try:
        note = check_note(args.note)
    except InvalidNote as error:
        raise UsageError(str(error)) from None
    by = _who(args.by)

    def act(app: App) -> str:
        item_id = args.target[0]
        if len(args.target) == 2:
            subject, reason = args.target
            found = [
                i
                for i in app.storage.attention.open_items(subject=subject)
                if i.reason == reason
            ]
            if not found:
                raise LookupError(f"no open item {subject} {reason}")
            item_id = found[0].id
        closed = resolve_item(
            item_id=item_id,
            note=note,
            attention=app.storage.attention,
            now=app.clock.now(),
            by=by,
        )
        return f"{closed.id} resolved: {closed.subject} {closed.reason}"

    return _operator_action(args, act)


def _who(by: str | None) -> str | None:
    """``--by``, or the login name; kept with the item and shown by
    ``attention show``, so one short line like the note."""
    if by is None:
        return _login()
    if _CONTROL.search(by) or not by.strip() or len(by) > 200:
        raise UsageError(
            "--by must be a name on one line (at most 200 characters), "
            "without control characters"
        )
    return by.strip()


def _login() -> str | None:
    """Who runs the command, for the item's history; None when the system
    cannot say (no login name in a container)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _month(text: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"expected a month like 2026-11, not {text}")
    return text


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a day like 2026-12-04, not {text}"
        ) from None


def _currency(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", text):
        raise argparse.ArgumentTypeError(
            f"expected a three-letter currency code like MAD, not {text}"
        )
    return text.upper()


def _rate_plan(app: App) -> RatePlan:
    plan = app.rate_plan()
    if plan is None:
        raise UsageError(
            "no rate source is configured; add [rates.sources.NAME] tables "
            "and [rates.serve] (see docs/rates.md)"
        )
    return plan


def _rates_show(args: argparse.Namespace) -> int:
    def body(app: App) -> int:
        plan = _rate_plan(app)
        day = args.date or app.clock.now().date()
        lookup = app.storage.rates.latest
        rows = rate_board(plan, lookup, day)
        metals = [
            commodity_price(plan, lookup, row.currency, plan.reporting_currency, day)
            for row in rows
            if row.currency in METALS and row.problem is None
        ]
        if args.json:
            _print_json(
                views.rate_board_json(rows, plan.reporting_currency, day, metals)
            )
        else:
            print(views.rate_board_table(rows, plan.reporting_currency, day, metals))
        return 0

    return _with_app(args, body)


def _rates_export(args: argparse.Namespace) -> int:
    """One line per day: the value of one CURRENCY in the other currency,
    the day the rate was published and whether it was carried.  Days
    without a rate are left out (and counted on standard error)."""

    def body(app: App) -> int:
        plan = _rate_plan(app)
        end = args.end or app.clock.now().date()
        start = args.start or end - timedelta(days=30)
        if start > end:
            raise UsageError(f"--from {start} is after --to {end}")
        against = args.against or plan.reporting_currency
        for code in (args.currency, against):
            _served(plan, code)
        kind = _export_type(plan, args.currency, against, market=args.market)
        with contextlib.ExitStack() as stack:
            out: TextIO = sys.stdout
            if args.output:
                out = stack.enter_context(_output(args.output))
            skipped = views.write_rate_history(
                out,
                plan,
                app.storage.rates.latest,
                currency=args.currency,
                against=against,
                start=start,
                end=end,
                rate_type=kind,
            )
        if skipped:
            print(f"{skipped} day(s) without a rate left out", file=sys.stderr)
        return 0

    return _with_app(args, body)


def _served(plan: RatePlan, currency: str) -> None:
    """A currency no source serves would export an empty file that reads
    as "no rates yet"; say so instead."""
    if currency == plan.pivot or any(s.currency == currency for s in plan.servings):
        return
    raise UsageError(
        f"no source serves {currency}; the rates kept are of "
        f"{', '.join(plan.currencies())} (see [rates.serve])"
    )


def _export_type(
    plan: RatePlan, currency: str, against: str, *, market: bool
) -> RateType:
    """The market rate where ``--market`` asks for it and one is kept for
    either currency; otherwise, and said so, the official one."""
    if not market:
        return RateType.OFFICIAL
    if any(plan.serving(c, RateType.MARKET) for c in (currency, against)):
        return RateType.MARKET
    print(
        f"no market rate is kept for {currency} or {against}; official rates exported",
        file=sys.stderr,
    )
    return RateType.OFFICIAL


def _output(path: str) -> TextIO:
    try:
        return Path(path).open("w", newline="", encoding="utf-8")
    except OSError as error:
        raise UsageError(
            f"--output {path}: cannot write there ({error.strerror or error})"
        ) from None


def _known_store(app: App, handle: str | None) -> None:
    """A ``--store`` that names no configured store is a usage error: an
    empty answer would read as "nothing there"."""
    if handle is not None and handle not in app.config.stores:
        raise UsageError(f"no store {handle!r}; known: {', '.join(app.config.stores)}")


def _report(args: argparse.Namespace) -> int:
    def body(app: App) -> int:
        _known_store(app, args.store)
        zones = {h: s.timezone for h, s in app.config.stores.items()}
        rows = [
            row
            for row in monthly_report(
                app.storage.nps.responses(store=args.store),
                app.storage.nps.discounts(store=args.store),
                zones,
            )
            if args.month in (None, row.month)
        ]
        unmatched = len(app.storage.nps.responses(unmatched=True))
        if args.json:
            _print_json(
                {
                    "months": [views.monthly_nps_json(row) for row in rows],
                    "unmatched_responses": unmatched,
                }
            )
        else:
            print(views.monthly_nps_table(rows))
            if unmatched:
                print(f"\n{unmatched} answer(s) match no order; see attention list")
        return 0

    return _with_app(args, body)


def _contact(address: str) -> tuple[str, str]:
    """(channel, address as notices carry it) for what an operator typed.

    A refusal shows the address masked, as every other output does: the
    terminal's scrollback and pasted tickets are no place for it either.
    """
    text = address.strip(" ")
    if "@" in text:
        if mail_address_problem(text, display_name=False):
            raise UsageError(
                f"{mask_email(text)!r} is not an e-mail address "
                "(like name@example.com, without mailto: or spaces)"
            )
        return "email", text
    try:
        number = None if _CONTROL.search(text) else phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise UsageError(
            f"{mask_phone(text)!r} is neither an e-mail address nor a phone "
            "number in international form (+212612345678)"
        )
    return "sms", phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.E164
    )


def _customers_opt_out(args: argparse.Namespace) -> int:
    channel, address = _contact(args.address)

    def body(app: App) -> int:
        new = record_opt_out(
            app.storage.ledger,
            channel=channel,
            address=address,
            subject="operator",
            reason=f"operator: {args.reason}",
            now=app.clock.now(),
        )
        shown = mask_email(address) if channel == "email" else mask_phone(address)
        print(f"{shown}: no more {channel} messages" + ("" if new else " (already)"))
        return 0

    return _with_app(args, body)


def _customers_opt_in(args: argparse.Namespace) -> int:
    channel, address = _contact(args.address)

    def body(app: App) -> int:
        lifted = withdraw_opt_out(
            app.storage.ledger,
            channel=channel,
            address=address,
            reason=f"operator: {args.reason}",
            now=app.clock.now(),
        )
        shown = mask_email(address) if channel == "email" else mask_phone(address)
        print(
            f"{shown}: {channel} messages "
            + ("allowed again" if lifted else "were not stopped")
        )
        return 0 if lifted else 1

    return _with_app(args, body)


def _status(args: argparse.Namespace) -> int:
    def body(app: App) -> int:
        now = app.clock.now()
        cursors = {}
        for handle, source in app.sources.items():
            mark = app.storage.cursors.get(
                f"fetch-new-orders:{source.channel}:{source.store}"
            )
            cursors[handle] = {
                "watermark": mark.isoformat() if mark else None,
                "lag_seconds": round((now - mark).total_seconds()) if mark else None,
            }
        data = {
            "cursors": cursors,
            "orders": views.orders_summary(app.storage.orders.list()),
            "attention_open": len(app.storage.attention.open_items()),
            "effects_pending": len(
                app.storage.ledger.with_status(EffectStatus.PENDING, 10_000)
            ),
            "effects_uncertain": len(
                app.storage.ledger.with_status(EffectStatus.UNCERTAIN, 10_000)
            ),
            "rates": _rate_freshness(app),
        }
        runs = run_table(app, WORKERS, now)
        overdue = [row["name"] for row in runs if row["overdue"]]
        data |= {"runs": runs, "overdue": overdue}
        if args.json:
            _print_json(data)
        else:
            for name, value in data.items():
                if name not in ("runs", "overdue"):
                    print(f"{name}: {json.dumps(value)}")
            print(views.run_table_text(runs))
        # Monitoring reads the status: 3 when a worker is overdue.
        return 3 if overdue else 0

    return _with_app(args, body)


def _rate_freshness(app: App) -> dict[str, Any]:
    """Per rate source, the newest day kept of its stalest currency (a
    carried day counts as the day it repeats) and how many days old that
    is; None for a source nothing was kept from yet."""
    plan = app.rate_plan()
    if plan is None:
        return {}
    today = app.clock.now().date()
    fresh: dict[str, Any] = {}
    for name, source in sorted(app.rate_sources.items()):
        days = []
        for kind, quotes in plan.quotes(name).items():
            for quote in quotes:
                kept = app.storage.rates.latest(name, source.base, quote, kind, today)
                days.append(None if kept is None else kept.published_on or kept.day)
        if not days or None in days:
            fresh[name] = {"newest_day": None, "age_days": None}
            continue
        oldest = min(d for d in days if d is not None)
        fresh[name] = {
            "newest_day": oldest.isoformat(),
            "age_days": (today - oldest).days,
        }
    return fresh


def _check_config(args: argparse.Namespace) -> int:
    registry = Registry.discover()
    config = _config(args, registry)
    print(
        f"{config.path}: ok ({config.environment}; {len(config.stores)} stores, "
        f"{len(config.partners)} partners, storage {config.storage.backend}; "
        f"plugins: {', '.join(registry.plugin_names())})"
    )
    return 0


def _sandbox_serve(args: argparse.Namespace) -> int:
    """Serve the simulators.  With a sandbox configuration (``--config`` or
    ``config/sandbox.toml``), bind the ports its ``[sandbox]`` table names
    and keep state where it says, so that file works against them."""
    from .sandbox.world import ports_of, serve_forever

    path = find_config_file(args.config, os.environ)
    table: dict[str, Any] = {}
    if path.exists():
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8")).get("sandbox", {})
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise ConfigurationError(f"{path}: not valid TOML: {error}") from error
        if not isinstance(table, dict):
            raise ConfigurationError(f"{path}: sandbox: must be a table")
    configured = table.get("data_dir")
    if configured is not None and not isinstance(configured, str):
        raise ConfigurationError(f"{path}: sandbox.data_dir: expected a string")
    data_dir = args.data_dir or Path(configured or "sandbox-data")
    if not data_dir.is_absolute() and path.exists() and "data_dir" in table:
        data_dir = path.parent / data_dir
    configure_logging(args.log_level or "WARNING", args.log_format or "text")
    serve_forever(data_dir, ports_of(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
