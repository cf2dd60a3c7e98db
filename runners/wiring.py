"""The composition root: the only place that turns configuration into
clients, adapters and stores, and runs workers with them.

Nothing here runs at import time.  :func:`build_app` takes a loaded
:class:`~fulfilment.runners.config.Config` and the plugin registry and
returns an :class:`App` whose methods run the workers by their CLI names.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
import httpx

from fulfilment.adapters.hookspecs import AdapterContext
from fulfilment.adapters.oms.shopify.webhooks import read_delivery
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.clock import SystemClock
from fulfilment.core.domain import Order
from fulfilment.core.errors import FulfilmentError
from fulfilment.core.ports import (
    Clock,
    DeliveryPartner,
    OrderSource,
    RateSource,
    Storage,
    StoreDiscounts,
    StoreFulfilments,
    SurveySource,
    WebhookDelivery,
)
from fulfilment.core.rates import RatePlan
from fulfilment.core.workers.cancel_bookings import cancel_bookings
from fulfilment.core.workers.create_fulfilment_requests import (
    create_fulfilment_requests,
)
from fulfilment.core.workers.discount_codes import create_discount_codes
from fulfilment.core.workers.fetch_fulfilment_status import fetch_fulfilment_status
from fulfilment.core.workers.fetch_fx_rates import fetch_fx_rates, order_stamper
from fulfilment.core.workers.fetch_new_orders import (
    PageRead,
    cursor_name,
    fetch_new_orders,
)
from fulfilment.core.workers.fetch_nps_responses import (
    FetchNpsSettings,
    fetch_nps_responses,
)
from fulfilment.core.workers.notify_customers import StoreVoice, notify_customers
from fulfilment.core.workers.process_webhooks import process_webhooks
from fulfilment.core.workers.send_nps_form import SurveyVoice, send_nps_form
from fulfilment.core.workers.update_store_fulfilments import (
    StoreFulfilmentSettings,
    update_store_fulfilments,
)

from .config import Config
from .heartbeat import Heartbeat
from .plugins import Registry

__all__ = [
    "WORKERS",
    "App",
    "build_app",
    "default_http_client",
    "failed",
    "new_run_id",
]

log = logging.getLogger(__name__)

# fetch-fx-rates comes first so that intake can stamp new orders with the
# day's rates.
WORKERS = (
    "fetch-fx-rates",
    "fetch-new-orders",
    "process-webhooks",
    "cancel-bookings",
    "create-fulfilment-requests",
    "fetch-fulfilment-status",
    "update-store-fulfilments",
    "send-nps-form",
    "fetch-nps-responses",
    "discount-codes",
    "notify-customers",
)


# Workers run once per store, each store under its own lease.
_PER_STORE = frozenset({"fetch-new-orders"})


def failed(result: dict[str, Any]) -> bool:
    """A worker's report says something failed: the whole run, a store or
    a rate source."""
    return bool(
        "error" in result or result.get("failed_stores") or result.get("failed_sources")
    )


def new_run_id() -> str:
    """Twelve characters naming one run in the logs and the run history.
    A letter comes first: log lines mask what reads as a phone number, and
    a hex id opening with "0" and eight digits would read as one."""
    return "r" + uuid.uuid4().hex[:11]


def default_http_client(base_url: str, timeout: float) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        headers={"User-Agent": "fulfilment-connector"},
    )


@attrs.define
class App:
    config: Config
    storage: Storage
    sources: dict[str, OrderSource]
    partners: dict[str, DeliveryPartner]
    clock: Clock
    owner: str
    clients: list[httpx.Client] = attrs.Factory(list)
    voices: dict[str, StoreVoice] = attrs.Factory(dict)
    survey: SurveySource | None = None
    rate_sources: dict[str, RateSource] = attrs.Factory(dict)
    # How often a running worker renews its lease; None: a third of it.
    heartbeat_seconds: float | None = None

    def rate_plan(self) -> RatePlan | None:
        """The plan of the configured rate sources; None without any."""
        if not self.rate_sources:
            return None
        bases = {name: source.base for name, source in self.rate_sources.items()}
        return self.config.rates.plan(bases)

    def run(
        self,
        worker: str,
        *,
        stores: Sequence[str] | None = None,
        since: datetime | None = None,
        progress: Callable[[PageRead], None] | None = None,
        still_due: Callable[[str], bool] | None = None,
    ) -> dict[str, Any]:
        """Run one worker, each of its scopes under its own lease; return
        its report as plain data.  *stores*, *since* and *progress* are for
        the per-store workers (``fetch-new-orders``): the stores to run
        (default all), a backfill's start, a listener to each page read.
        *still_due*, asked with the run name once its lease is held, lets
        a scheduler skip a run another one has just done."""
        if worker in _PER_STORE:
            return self._per_store(worker, stores, since, progress, still_due)
        runner = _RUNNERS.get(worker)
        if runner is None:
            raise KeyError(f"unknown worker {worker!r}; known: {', '.join(WORKERS)}")
        return self._unit(worker, worker, lambda: runner(self), still_due=still_due)

    def _per_store(
        self,
        worker: str,
        stores: Sequence[str] | None,
        since: datetime | None,
        progress: Callable[[PageRead], None] | None,
        still_due: Callable[[str], bool] | None,
    ) -> dict[str, Any]:
        """Intake, one run (lease, record, summary line) per store."""
        names = self.run_names(worker)
        wanted = set(names.values()) if stores is None else set(stores)
        results = {}
        for name, handle in names.items():
            if handle not in wanted:
                continue
            try:
                result = self._unit(
                    worker,
                    name,
                    lambda h=handle: _fetch_store(self, h, since, progress),  # type: ignore[misc]
                    store=handle,
                    still_due=still_due,
                )
            except Exception as error:  # logged by _unit; the next store runs
                result = {"error": str(error)}
            result.pop("worker", None)
            result.pop("store", None)
            results[handle] = result
        failed = sorted(h for h, r in results.items() if "error" in r)
        return {"worker": worker, "stores": results, "failed_stores": failed}

    def run_names(self, worker: str) -> dict[str, str]:
        """The names *worker*'s runs are leased and recorded under, each
        with the store it covers ("" for a worker that covers them all).

        Intake reads each store on its own, so two runners may read two
        stores at once.  The other workers take their work from the whole
        store of orders or answers, each order claimed or each effect
        entered in the ledger before it is acted on, and run as one."""
        if worker in _PER_STORE:
            return {cursor_name(s): handle for handle, s in self.sources.items()}
        return {worker: ""}

    def _unit(
        self,
        worker: str,
        name: str,
        body: Callable[[], dict[str, Any]],
        *,
        store: str = "",
        still_due: Callable[[str], bool] | None = None,
    ) -> dict[str, Any]:
        """One run under lease *name*, recorded in the run history and
        summed up in one log line."""
        where = {"store": store} if store else {}
        started = time.monotonic()
        ttl = self.config.runner.lease_minutes * 60
        leases = self.storage.leases
        if not leases.acquire(name, self.owner, self.clock.now(), ttl):
            log.warning(
                "worker.skipped worker=%s%s reason=lease_held lease_minutes=%g",
                worker,
                f" store={store}" if store else "",
                self.config.runner.lease_minutes,
            )
            return {
                "worker": worker,
                **where,
                "skipped": "another runner holds the lease",
            }
        if still_due is not None and not still_due(name):
            leases.release(name, self.owner)
            return {"worker": worker, **where, "skipped": "another runner just ran it"}
        run_id = new_run_id()
        self.storage.runs.started(name, run_id, self.owner, self.clock.now())
        heartbeat = Heartbeat(
            leases,
            name,
            self.owner,
            clock=self.clock,
            ttl_seconds=ttl,
            every=self.heartbeat_seconds,
        )
        try:
            with heartbeat:
                result = body()
        except Exception as error:
            self._ended(name, run_id, ok=False, summary=f"error={error}")
            log.error(
                "worker.failed worker=%s%s run_id=%s duration_seconds=%s error=%s",
                worker,
                f" store={store}" if store else "",
                run_id,
                round(time.monotonic() - started, 3),
                error,
            )
            raise
        finally:
            leases.release(name, self.owner)
        result = {"worker": worker, **where, "run_id": run_id, **result}
        if heartbeat.lost:
            result["lease_lost"] = True
        result["duration_seconds"] = round(time.monotonic() - started, 3)
        ok = not (heartbeat.lost or failed(result))
        self._ended(name, run_id, ok=ok, summary=_fields(result))
        log.info("worker.finished worker=%s %s", worker, _fields(result))
        return result

    def _ended(self, name: str, run_id: str, *, ok: bool, summary: str) -> None:
        self.storage.runs.finished(name, run_id, self.clock.now(), ok, summary)

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.storage.close()


def _fetch_store(
    app: App,
    handle: str,
    since: datetime | None,
    progress: Callable[[PageRead], None] | None,
) -> dict[str, Any]:
    """One store's intake.  A store that fails keeps its watermark and is
    reported with the error; the other stores run on."""
    plan = app.rate_plan()
    stamp = None if plan is None else order_stamper(plan, app.storage.rates, app.clock)
    try:
        report = fetch_new_orders(
            source=app.sources[handle],
            orders=app.storage.orders,
            cursors=app.storage.cursors,
            attention=app.storage.attention,
            clock=app.clock,
            settings=app.config.intake.settings(),
            stamp=stamp,
            since=since,
            on_page=progress,
        )
    except FulfilmentError as error:
        log.error("orders.fetch_failed store=%s error=%s", handle, error)
        return {"error": str(error)}
    return {
        "pages": report.pages,
        "fetched": report.fetched,
        "ingested": report.ingested,
        **report.outcomes,
    }


def _process_webhooks(app: App) -> dict[str, Any]:
    """Read the kept webhook deliveries into the order store (see
    ``fulfilment.runners.webhooks``); nothing to do without any."""
    plan = app.rate_plan()
    stamp = None if plan is None else order_stamper(plan, app.storage.rates, app.clock)

    def read(delivery: WebhookDelivery) -> Order | str:
        store = app.config.stores.get(delivery.store)
        if store is None:
            return f"store {delivery.store!r} is no longer configured"
        return read_delivery(delivery, country=store.country)

    report = process_webhooks(
        inbox=app.storage.webhooks,
        read=read,
        orders=app.storage.orders,
        attention=app.storage.attention,
        clock=app.clock,
        limit=app.config.webhooks.batch,
        stamp=stamp,
    )
    return {
        "worker": "process-webhooks",
        "processed": report.processed,
        "outcomes": report.outcomes,
        "attention": list(report.attention),
    }


def _fetch_fx_rates(app: App) -> dict[str, Any]:
    """Every configured rate source on its own: one down leaves the others'
    days and its own earlier ones as they are, and is reported."""
    plan = app.rate_plan()
    if plan is None:
        return {"worker": "fetch-fx-rates", "skipped": "no [rates.sources]"}
    report = fetch_fx_rates(
        rates=app.storage.rates,
        sources=app.rate_sources,
        plan=plan,
        orders=app.storage.orders,
        attention=app.storage.attention,
        clock=app.clock,
    )
    for name, error in report.failed_sources.items():
        log.error("rates.fetch_failed source=%s error=%s", name, error)
    return {
        "worker": "fetch-fx-rates",
        "day": report.day.isoformat(),
        "sources": {
            name: {
                "from": outcome.start.isoformat() if outcome.start else None,
                "published_days": outcome.published_days,
                "stored": outcome.stored,
                "carried": outcome.carried,
                **({"missing": list(outcome.missing)} if outcome.missing else {}),
                **({"error": outcome.error} if outcome.error else {}),
            }
            for name, outcome in report.sources.items()
        },
        "orders_stamped": report.stamped,
        "orders_waiting_for_rates": report.waiting,
        "orders_without_rate": report.unstampable,
        "failed_sources": report.failed_sources,
    }


def _cancel_bookings(app: App) -> dict[str, Any]:
    """Parcels of orders cancelled in their store after booking are
    cancelled with the partner where it can; a person hears of the rest."""
    report = cancel_bookings(
        orders=app.storage.orders,
        partners=app.partners,
        ledger=app.storage.ledger,
        attention=app.storage.attention,
        clock=app.clock,
    )
    return {
        "worker": "cancel-bookings",
        "outcomes": dict(report.counts),
        "with_a_person": report.with_a_person,
        "details": [attrs.asdict(o) for o in report.outcomes],
    }


def _create_fulfilment_requests(app: App) -> dict[str, Any]:
    report = create_fulfilment_requests(
        orders=app.storage.orders,
        partners=app.partners,
        routing=app.config.routing_policy(),
        ledger=app.storage.ledger,
        attention=app.storage.attention,
        clock=app.clock,
        owner=app.owner,
        settings=app.config.booking.settings(),
    )
    return {
        "worker": "create-fulfilment-requests",
        "outcomes": report.counts,
        "booked_by_partner": report.booked_by_partner(),
        "details": [attrs.asdict(o) for o in report.outcomes],
    }


def _fetch_fulfilment_status(app: App) -> dict[str, Any]:
    report = fetch_fulfilment_status(
        orders=app.storage.orders,
        partners=app.partners,
        attention=app.storage.attention,
        clock=app.clock,
        ledger=app.storage.ledger,
        settings=attrs.evolve(
            app.config.tracking.settings(),
            # Delivered orders wait in the ledger for their survey.
            survey_after_days=app.config.nps.delay_days
            if app.survey is not None
            else None,
        ),
    )
    return {
        "worker": "fetch-fulfilment-status",
        "polled": report.polled,
        "new_events": report.new_events,
        "moved": dict(report.moved),
        "unknown_codes": list(report.unknown_codes),
        "stale": list(report.stale),
        "failed_partners": dict(report.failed_partners),
    }


def _update_store_fulfilments(app: App) -> dict[str, Any]:
    """Stores whose channel takes reports (Shopify) hear about each parcel
    that left; the carrier is named after the partner's adapter."""
    stores = {
        source.store: source
        for source in app.sources.values()
        if isinstance(source, StoreFulfilments)
    }
    companies = {
        name: partner.adapter.title() for name, partner in app.config.partners.items()
    }
    report = update_store_fulfilments(
        orders=app.storage.orders,
        stores=stores,
        ledger=app.storage.ledger,
        attention=app.storage.attention,
        clock=app.clock,
        settings=StoreFulfilmentSettings(companies=companies),
    )
    return {
        "worker": "update-store-fulfilments",
        "outcomes": dict(report.outcomes),
        "reported": dict(report.reported),
        "failed_stores": dict(report.failed_stores),
    }


def _send_nps_form(app: App) -> dict[str, Any]:
    """Customers whose parcel arrived are asked, about two weeks after they
    ordered, through the store's voice (short link, notices)."""
    if app.survey is None:
        return {"worker": "send-nps-form", "skipped": "no [nps] survey"}
    policy = app.config.nps.policy()
    report = send_nps_form(
        orders=app.storage.orders,
        ledger=app.storage.ledger,
        nps=app.storage.nps,
        attention=app.storage.attention,
        survey=app.survey,
        stores={
            handle: SurveyVoice(
                time_zone=store.timezone,
                policy=policy,
                links=app.voices[handle].links if handle in app.voices else None,
            )
            for handle, store in app.config.stores.items()
        },
        clock=app.clock,
    )
    return {
        "worker": "send-nps-form",
        "outcomes": dict(report.outcomes),
        "queued_by_channel": dict(report.by_channel),
    }


def _fetch_nps_responses(app: App) -> dict[str, Any]:
    """The survey's new answers, kept once each and tied to their orders."""
    if app.survey is None:
        return {"worker": "fetch-nps-responses", "skipped": "no [nps] survey"}
    nps = app.config.nps
    try:
        report = fetch_nps_responses(
            survey=app.survey,
            orders=app.storage.orders,
            nps=app.storage.nps,
            cursors=app.storage.cursors,
            ledger=app.storage.ledger,
            attention=app.storage.attention,
            clock=app.clock,
            settings=FetchNpsSettings(
                overlap=timedelta(minutes=nps.overlap_minutes),
                page_size=nps.page_size,
            ),
        )
    except FulfilmentError as error:
        log.error("nps.fetch_failed survey=%s error=%s", app.survey.name, error)
        return {"worker": "fetch-nps-responses", "error": str(error)}
    return {
        "worker": "fetch-nps-responses",
        "form": report.form_id,
        "pages": report.pages,
        "fetched": report.fetched,
        "new": report.new,
        "duplicates": report.duplicates,
        "unmatched": report.unmatched,
        "queued": report.queued,
    }


def _discount_codes(app: App) -> dict[str, Any]:
    """Each new NPS answer earns its code in the store that sold the order,
    by the configured tiers and within the store's monthly budget."""
    report = create_discount_codes(
        orders=app.storage.orders,
        nps=app.storage.nps,
        ledger=app.storage.ledger,
        attention=app.storage.attention,
        stores={
            source.store: source
            for source in app.sources.values()
            if isinstance(source, StoreDiscounts)
        },
        policy=app.config.discount_policy(),
        time_zones={h: s.timezone for h, s in app.config.stores.items()},
        clock=app.clock,
    )
    return {
        "worker": "discount-codes",
        "outcomes": dict(report.outcomes),
        "created": dict(report.created),
        "worth": {store: str(worth) for store, worth in report.worth.items()},
        "failed_stores": dict(report.failed_stores),
    }


def _notify_customers(app: App) -> dict[str, Any]:
    report = notify_customers(
        orders=app.storage.orders,
        ledger=app.storage.ledger,
        attention=app.storage.attention,
        voices=app.voices,
        clock=app.clock,
        settings=app.config.notifications.settings(),
    )
    return {
        "worker": "notify-customers",
        "outcomes": dict(report.outcomes),
        "sent_by_channel": dict(report.by_channel),
    }


_RUNNERS: dict[str, Callable[[App], dict[str, Any]]] = {
    "fetch-fx-rates": _fetch_fx_rates,
    "process-webhooks": _process_webhooks,
    "cancel-bookings": _cancel_bookings,
    "create-fulfilment-requests": _create_fulfilment_requests,
    "fetch-fulfilment-status": _fetch_fulfilment_status,
    "update-store-fulfilments": _update_store_fulfilments,
    "send-nps-form": _send_nps_form,
    "fetch-nps-responses": _fetch_nps_responses,
    "discount-codes": _discount_codes,
    "notify-customers": _notify_customers,
}


def build_app(
    config: Config,
    registry: Registry,
    *,
    clock: Clock | None = None,
    http_client: Callable[[str, float], httpx.Client] | None = None,
    retry: RetryPolicy | None = None,
) -> App:
    clients: list[httpx.Client] = []
    make_client = http_client or default_http_client

    def tracked_client(base_url: str, timeout: float) -> httpx.Client:
        client = make_client(base_url, timeout)
        clients.append(client)
        return client

    context = AdapterContext(
        clock=clock or SystemClock(),
        retry=retry or config.retry.policy(),
        http_client=tracked_client,
        data_dir=str(config.path.parent),
    )
    storage = registry.storages()[config.storage.backend].build(
        config.storage.settings, context
    )
    if config.rate_budgets.shared:
        # A storage plugin written before rate budgets has none: its
        # runners pace each in its own process, as with shared = false.
        context = attrs.evolve(
            context, rate_budget=getattr(storage, "rate_budgets", None)
        )
    factories = registry.order_sources()
    sources = {
        handle: factories[store.channel].build(store.source, context)
        for handle, store in config.stores.items()
    }
    partner_factories = registry.delivery_partners()
    partners = {
        name: _named(partner_factories[p.adapter].build(p.settings, context), name)
        for name, p in config.partners.items()
    }
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    voices = _voices(config, registry, context)
    survey = None
    if config.nps.survey:
        table = config.surveys[config.nps.survey]
        survey = registry.surveys()[table.adapter].build(table.settings, context)
    rate_factories = registry.rate_sources()
    rate_sources = {
        name: rate_factories[table.adapter].build(table.settings, context)
        for name, table in config.rates.sources.items()
    }
    return App(
        config,
        storage,
        sources,
        partners,
        context.clock,
        owner,
        clients,
        voices,
        survey,
        rate_sources,
    )


def _voices(
    config: Config, registry: Registry, context: AdapterContext
) -> dict[str, StoreVoice]:
    """Each store's way of speaking to customers.  A sender configured once
    (``[sms.twilio]``) is built once and shared by the stores naming it."""
    factories = {
        "sms": registry.sms_senders(),
        "mail": registry.mail_senders(),
        "links": registry.link_shorteners(),
    }
    tables = {"sms": config.sms, "mail": config.mail, "links": config.links}
    built: dict[tuple[str, str], Any] = {}

    def adapter(kind: str, name: str) -> Any:
        if not name:
            return None
        if (kind, name) not in built:
            table = tables[kind][name]
            built[kind, name] = factories[kind][table.adapter].build(
                table.settings, context
            )
        return built[kind, name]

    return {
        handle: StoreVoice(
            name=store.name or handle.replace("-", " ").title(),
            locale=store.locale,
            time_zone=store.timezone,
            quiet=config.quiet_hours(handle),
            sms=adapter("sms", store.sms),
            mail=adapter("mail", store.mail),
            mail_from=store.mail_from,
            links=adapter("links", store.links),
        )
        for handle, store in config.stores.items()
    }


def _named(partner: DeliveryPartner, name: str) -> DeliveryPartner:
    """The partner under the name its configuration table gives it
    (``[partners.aramex-ma]`` with ``adapter = "aramex"``), which is how
    orders, tracking and operators refer to it."""
    if partner.name != name:
        partner.name = name
    return partner


def _fields(result: dict[str, Any]) -> str:
    """The report's counts as ``key=value`` fields (the store and run id
    first, to find a run's line by eye), a table of counts one
    level down as ``table.key=value``; lists and deeper tables stay out."""
    flat: dict[str, Any] = {}
    for key, value in result.items():
        if key == "worker":
            continue
        if isinstance(value, dict):
            flat.update(
                (f"{key}_{k}", v)
                for k, v in value.items()
                if isinstance(v, int | float | str)
            )
        elif isinstance(value, int | float | str):
            flat[key] = value
    first = [k for k in ("store", "run_id") if k in flat]
    rest = sorted(k for k in flat if k not in first)
    return " ".join(f"{k}={flat[k]}" for k in first + rest)
