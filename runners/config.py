"""Configuration: one TOML file per environment, secrets from the environment.

A file is read, every ``${NAME}`` in a string is replaced with the
environment variable ``NAME``, and the result is structured into the
settings classes below with cattrs.  Adapter tables (a store's ``source``,
each ``[partners.NAME]``, ``[storage]``) are structured into the settings
class the adapter's plugin declares.  Every problem found is collected and
raised as one :class:`~fulfilment.core.errors.ConfigurationError` whose
lines each name the file, the path and what is wrong::

    config/staging.toml: stores.shemsiworld.source.access_token: environment
    variable SHOPIFY_SHEMSIWORLD_TOKEN is not set

Keys that hold secrets (token, password, secret, pin, api key, app id) must be
``${NAME}`` references, except in a file that declares
``environment = "sandbox"``, whose credentials only open the loopback
simulators.
"""

from __future__ import annotations

import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from fulfilment.adapters.hookspecs import Factory
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.adapters.validators import CONFIG_RELATIVE, mail_address, single_line
from fulfilment.core.errors import ConfigurationError
from fulfilment.core.messages import QuietHours
from fulfilment.core.nps import (
    DiscountKind,
    DiscountPolicy,
    DiscountTier,
    NpsCategory,
    SurveyPolicy,
)
from fulfilment.core.rates import METALS, RatePlan, RateType, Serving
from fulfilment.core.routing import RoutingPolicy, RoutingRule
from fulfilment.core.workers.create_fulfilment_requests import BookingSettings
from fulfilment.core.workers.fetch_fulfilment_status import TrackingSettings
from fulfilment.core.workers.fetch_new_orders import IntakeSettings
from fulfilment.core.workers.notify_customers import NotifySettings

from .strict import describe, kind, strict_converter
from .timetable import DEFAULT_SCHEDULE, parse_schedule

__all__ = [
    "Config",
    "StoreConfig",
    "find_config_file",
    "load_config",
]

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CREDENTIALS = re.compile(r"^[a-z+]+://[^/@\s]+:[^/@\s]+@")
_HANDLE = re.compile(r"[a-z0-9][a-z0-9-]*")
_SECRET_KEY = re.compile(r"(token|password|secret|pin|api_key|apikey|app_id)$", re.I)
ENVIRONMENTS = ("ci", "staging", "production", "sandbox")


def _between(low: float, high: float) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
        if not low <= value <= high:
            raise ValueError(
                f"{attribute.name} must be between {low:g} and {high:g}, not {value:g}"
            )

    return check


def _matches(pattern: str, what: str) -> Any:
    compiled = re.compile(pattern)

    def check(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
        if not compiled.fullmatch(value):
            raise ValueError(f"{attribute.name} {value!r} is not {what}")

    return check


def _time_zone(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{attribute.name} {value!r} is not a time zone (e.g. Africa/Cairo)"
        ) from None


@attrs.frozen
class IntakeConfig:
    overlap_minutes: float = attrs.field(default=10, validator=_between(0, 1440))
    lag_minutes: float = attrs.field(default=2, validator=_between(0, 60))
    first_run_lookback_days: float = attrs.field(
        default=30, validator=_between(1 / 1440, 3650)
    )

    def settings(self) -> IntakeSettings:
        return IntakeSettings(
            overlap=timedelta(minutes=self.overlap_minutes),
            lag=timedelta(minutes=self.lag_minutes),
            first_run_lookback=timedelta(days=self.first_run_lookback_days),
        )


@attrs.frozen
class BookingConfig:
    claim_ttl_minutes: float = attrs.field(default=10, validator=_between(1, 1440))
    hold_recheck_minutes: float = attrs.field(
        default=60, validator=_between(1, 7 * 1440)
    )
    retry_delays_minutes: tuple[float, ...] = attrs.field(
        default=(1, 5, 15, 60, 180),
        validator=[
            attrs.validators.min_len(1),
            attrs.validators.deep_iterable(_between(0, 7 * 1440)),
        ],
    )
    batch_size: int = attrs.field(default=500, validator=_between(1, 100_000))

    def settings(self) -> BookingSettings:
        return BookingSettings(
            claim_ttl=timedelta(minutes=self.claim_ttl_minutes),
            retry_delays=tuple(timedelta(minutes=m) for m in self.retry_delays_minutes),
            hold_recheck=timedelta(minutes=self.hold_recheck_minutes),
            batch_size=self.batch_size,
        )


@attrs.frozen
class TrackingConfig:
    poll_interval_minutes: float = attrs.field(default=30, validator=_between(1, 1440))
    stale_after_days: float = attrs.field(default=5, validator=_between(1, 60))
    concurrency: int = attrs.field(default=1, validator=_between(1, 32))

    def settings(self) -> TrackingSettings:
        return TrackingSettings(
            poll_interval=timedelta(minutes=self.poll_interval_minutes),
            stale_after=timedelta(days=self.stale_after_days),
            concurrency=self.concurrency,
        )


@attrs.frozen
class NotificationsConfig:
    """How customer notices go out, for every store.

    ``quiet_hours`` (``"21:00-09:00"``, local time of each store) is the
    default a store's own ``quiet_hours`` overrides; ``pending_grace_minutes``
    is how long a notice may stay in the hands of a runner before its outcome
    counts as unknown (the runner died mid-send)."""

    quiet_hours: str = attrs.field(
        default="21:00-09:00", validator=lambda _, a, v: _quiet_hours(v, a.name)
    )
    batch_size: int = attrs.field(default=500, validator=_between(1, 100_000))
    pending_grace_minutes: float = attrs.field(default=15, validator=_between(1, 1440))

    def settings(self) -> NotifySettings:
        return NotifySettings(
            batch_size=self.batch_size,
            pending_grace=timedelta(minutes=self.pending_grace_minutes),
        )


def _budget(value: Decimal, where: str) -> None:
    if not value.is_finite() or not 0 <= value <= 10**12:
        raise ValueError(f"{where} must be a sum from 0 to 10^12, not {value}")


def _quiet_hours(value: str, where: str) -> QuietHours:
    """``"21:00-09:00"`` -> QuietHours; a clear error otherwise."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", value)
    hours = [int(g) for g in match.groups()] if match else []
    if not match or hours[0] > 23 or hours[2] > 23 or hours[1] > 59 or hours[3] > 59:
        raise ValueError(
            f"{where} {value!r} is not a range of local times like '21:00-09:00'"
        )
    start, end = time(hours[0], hours[1]), time(hours[2], hours[3])
    if start == end:
        raise ValueError(f"{where} {value!r} starts and ends at the same time")
    return QuietHours(start, end)


@attrs.frozen
class NpsConfig:
    """The feedback loop.  ``survey`` names the ``[surveys.*]`` table (empty:
    no surveys are sent or read); ``delay_days`` after placement, on each
    store's calendar, a delivered order's customer is asked, and at most
    once in ``min_interval_days`` whatever they order; answers are re-read
    ``overlap_minutes`` before the last one seen."""

    survey: str = ""
    delay_days: int = attrs.field(default=14, validator=_between(1, 365))
    min_interval_days: float = attrs.field(default=90, validator=_between(0, 3650))
    overlap_minutes: float = attrs.field(default=60, validator=_between(0, 7 * 1440))
    page_size: int = attrs.field(default=200, validator=_between(1, 1000))

    def policy(self) -> SurveyPolicy:
        return SurveyPolicy(
            delay_days=self.delay_days,
            min_interval=timedelta(days=self.min_interval_days),
        )


@attrs.frozen
class TierConfig:
    """What one NPS category earns: ``percent`` off the next order, valid
    ``valid_days`` days."""

    percent: Decimal = attrs.field(validator=lambda _, a, v: _percent(v, a.name))
    valid_days: int = attrs.field(default=30, validator=_between(1, 3650))


def _percent(value: Decimal, where: str) -> None:
    # Hundredths of a percent are the finest a shop's discount takes.
    if not value.is_finite() or not Decimal("0.01") <= value <= 100:
        raise ValueError(f"{where} must be 0.01 to 100, not {value}")


@attrs.frozen
class DiscountsConfig:
    """Codes by NPS category (a category left out earns nothing) and the
    code prefix; each store's monthly budget is its ``discount_budget``."""

    prefix: str = attrs.field(
        default="MERCI",
        validator=_matches(r"[A-Z0-9]{2,12}", "2 to 12 capitals/digits"),
    )
    promoter: TierConfig | None = None
    passive: TierConfig | None = None
    detractor: TierConfig | None = None

    def policy(self, budgets: Mapping[str, Decimal]) -> DiscountPolicy:
        tiers = {
            category: DiscountTier(
                DiscountKind.PERCENTAGE, tier.percent, tier.valid_days
            )
            for category in NpsCategory
            if (tier := getattr(self, category.value)) is not None
        }
        return DiscountPolicy(tiers, prefix=self.prefix, monthly_budget=budgets)


_CURRENCY = re.compile(r"[A-Z]{3}")


@attrs.frozen
class RatesConfig:
    """Reference rates.  ``sources`` are the ``[rates.sources.NAME]``
    tables; ``serve`` names the source of each currency's official rate
    and ``market`` of its parallel-market rate, where one differs (LBP).
    Cross rates go through ``pivot``; orders are stamped in
    ``reporting_currency``.  A first run reaches back ``backfill_days``, a
    later one fills a gap of up to ``max_gap_days``, and a rate up to
    ``max_age_days`` old stands in for a day without one."""

    pivot: str = "USD"
    reporting_currency: str = "USD"
    backfill_days: int = 31
    max_age_days: int = 7
    max_gap_days: int = 92
    serve: Mapping[str, str] = attrs.field(factory=dict)
    market: Mapping[str, str] = attrs.field(factory=dict)
    sources: Mapping[str, NotifierConfig] = attrs.field(factory=dict)

    def plan(self, bases: Mapping[str, str]) -> RatePlan:
        servings = tuple(
            Serving(currency, source, kind)
            for kind, table in (
                (RateType.OFFICIAL, self.serve),
                (RateType.MARKET, self.market),
            )
            for currency, source in sorted(table.items())
        )
        return RatePlan(
            pivot=self.pivot,
            reporting_currency=self.reporting_currency,
            servings=servings,
            bases=dict(bases),
            backfill_days=self.backfill_days,
            max_age_days=self.max_age_days,
            max_gap_days=self.max_gap_days,
        )


_RATE_NUMBERS = {
    "backfill_days": (1, 3660),
    "max_age_days": (0, 366),
    "max_gap_days": (1, 3660),
}


def _rates(
    data: dict[str, Any], adapters: Adapters, path: Path, problems: list[str]
) -> RatesConfig:
    """The ``[rates]`` section, every problem in it collected."""
    table = _table(data, "rates", problems)
    before = len(problems)
    known = {"pivot", "reporting_currency", "serve", "market", "sources"}
    known |= set(_RATE_NUMBERS)
    problems.extend(
        f"rates.{key}: unknown key (known: {', '.join(sorted(known))})"
        for key in table
        if key not in known
    )
    codes = {
        key: _rate_code(table.get(key, "USD"), f"rates.{key}", problems)
        for key in ("pivot", "reporting_currency")
    }
    numbers = {
        key: _rate_number(table, key, bounds, problems)
        for key, bounds in _RATE_NUMBERS.items()
    }
    source_tables = table.get("sources", {})
    if not isinstance(source_tables, dict):
        problems.append("rates.sources: must be a table")
        source_tables = {}
    sources = {
        name: built
        for name, source_table in source_tables.items()
        if (built := _rate_source(name, source_table, adapters, path, problems))
    }
    serve = _rate_map(table, "serve", source_tables, problems)
    market = _rate_map(table, "market", source_tables, problems)
    problems.extend(_idle_sources(sources, serve, market))
    reporting, pivot = codes["reporting_currency"], codes["pivot"]
    if reporting in METALS:
        # Stamps are money, rounded to a minor unit: in ounces of gold that
        # would round most orders to nothing.
        problems.append(
            f"rates.reporting_currency: {reporting} is a metal, counted in troy "
            "ounces; orders are stamped in a currency (USD, EUR, ...)"
        )
    # A bad pivot is reported once, not again as an unserved currency.
    elif reporting and pivot and reporting != pivot and reporting not in serve:
        problems.append(
            f"rates.reporting_currency: no source serves {reporting}; add it to "
            "[rates.serve] or make it the pivot"
        )
    if len(problems) > before or not (reporting and pivot):
        return RatesConfig()
    return RatesConfig(
        pivot=pivot,
        reporting_currency=reporting,
        serve=serve,
        market=market,
        sources=sources,
        **numbers,
    )


def _idle_sources(
    sources: Mapping[str, Any], serve: Mapping[str, Any], market: Mapping[str, Any]
) -> list[str]:
    """A source no currency names would never be asked for anything, and
    every run would call it up to date."""
    named = {*serve.values(), *market.values()}
    return [
        f"rates.sources.{name}: serves no currency; name it in [rates.serve] "
        "or [rates.market], or remove the table"
        for name in sources
        if name not in named
    ]


def _rate_code(value: Any, where: str, problems: list[str]) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        problems.append(f"{where}: {value!r} is not a currency code like 'USD'")
        return ""
    return value


def _rate_number(
    table: dict[str, Any], key: str, bounds: tuple[int, int], problems: list[str]
) -> int:
    low, high = bounds
    default: int = attrs.fields_dict(RatesConfig)[key].default
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"rates.{key}: must be a whole number, not {kind(value)}")
        return default
    if not low <= value <= high:
        problems.append(f"rates.{key}: must be {low} to {high}, not {value}")
    return value


def _rate_source(
    name: str, table: Any, adapters: Adapters, path: Path, problems: list[str]
) -> NotifierConfig | None:
    """One ``[rates.sources.NAME]`` table; its adapter defaults to NAME."""
    if not _HANDLE.fullmatch(name):
        problems.append(
            f"rates.sources.{name}: a source name is lower-case letters, digits and '-'"
        )
        return None
    return _notifier(
        f"rates.sources.{name}", table, adapters.rate_sources, path, problems
    )


def _rate_map(
    table: dict[str, Any], key: str, sources: Mapping[str, Any], problems: list[str]
) -> dict[str, str]:
    """``[rates.serve]`` or ``[rates.market]``: CURRENCY = "source"."""
    mapping = table.get(key, {})
    if not isinstance(mapping, dict):
        problems.append(f'rates.{key}: must be a table of CURRENCY = "source"')
        return {}
    for currency, source in mapping.items():
        where = f"rates.{key}.{currency}"
        if not _CURRENCY.fullmatch(currency):
            problems.append(f"{where}: {currency!r} is not a currency code like 'MAD'")
        elif not isinstance(source, str):
            problems.append(f"{where}: must name a source, not {kind(source)}")
        elif source not in sources:
            problems.append(
                f"{where}: {source!r} is not configured under [rates.sources] "
                f"(add a [rates.sources.{source}] table)"
            )
    return dict(mapping)


def _default_schedule() -> dict[str, Any]:
    return {w: parse_schedule(text) for w, text in DEFAULT_SCHEDULE.items()}


@attrs.frozen
class RunnerConfig:
    """``lease_minutes``: how long a worker's run is reserved for the runner
    that started it; a crashed runner's lease lapses after this (a live
    one renews it).  ``schedule``: each worker's interval or time of day
    (``[runner.schedule]``, over :data:`DEFAULT_SCHEDULE`); a failed run is
    tried again after ``retry_minutes``.  A worker is overdue when its last
    success is older than its period times ``overdue_factor`` plus
    ``overdue_grace_minutes`` (see :mod:`~fulfilment.runners.timetable`)."""

    lease_minutes: float = attrs.field(default=15, validator=_between(1, 1440))
    retry_minutes: float = attrs.field(default=1, validator=_between(0, 1440))
    overdue_factor: float = attrs.field(default=2, validator=_between(1, 100))
    overdue_grace_minutes: float = attrs.field(default=10, validator=_between(0, 10080))
    # Worker name -> Every | Daily, read by _runner_schedule (not cattrs).
    schedule: Mapping[str, Any] = attrs.field(factory=_default_schedule)

    @property
    def retry(self) -> timedelta:
        return timedelta(minutes=self.retry_minutes)

    @property
    def overdue_grace(self) -> timedelta:
        return timedelta(minutes=self.overdue_grace_minutes)


@attrs.frozen
class RateBudgetsConfig:
    """``shared``: the adapters of partners that limit calls per credential
    (Shopify's cost bucket, Amazon's usage plans) take from rate budgets
    kept in the store, so every runner on the database stays inside one
    limit together.  Off, each runner process paces on its own."""

    shared: bool = True


@attrs.frozen
class RetryConfig:
    """The one retry policy of every adapter call (see adapters/retry.py)."""

    attempts: int = attrs.field(default=5, validator=_between(1, 20))
    initial_wait_seconds: float = attrs.field(default=0.5, validator=_between(0, 60))
    max_wait_seconds: float = attrs.field(default=20.0, validator=_between(0, 600))
    max_elapsed_seconds: float = attrs.field(default=60.0, validator=_between(0, 3600))

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=self.attempts,
            initial_wait=self.initial_wait_seconds,
            max_wait=self.max_wait_seconds,
            max_elapsed=self.max_elapsed_seconds,
        )


@attrs.frozen
class LoggingConfig:
    level: str = attrs.field(
        default="INFO",
        validator=attrs.validators.in_(("DEBUG", "INFO", "WARNING", "ERROR")),
    )
    format: str = attrs.field(
        default="text", validator=attrs.validators.in_(("text", "json"))
    )


@attrs.frozen
class RuleConfig:
    partner: str | None = None
    country: str | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(
            _matches(r"[A-Z]{2}", "an ISO country code")
        ),
    )
    cash_on_delivery: bool | None = None
    max_weight_grams: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(_between(1, 10**7))
    )
    hold_reason: str = "no_partner_for_store"


def _shop_domain(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*\.[a-z]{2,}", value):
        raise ValueError(
            f"{attribute.name} {value!r} is not a host name such as "
            "shemsiworld.myshopify.com"
        )


@attrs.frozen
class StoreWebhooks:
    """A store's ``[stores.<handle>.webhooks]`` table: how its pushed
    deliveries are verified.  ``secret`` is the app's client secret (a
    ``${ENV_VAR}``); during a rotation ``previous_secret`` is the old one,
    still accepted until it is removed.  ``shop_domain`` is the
    ``X-Shopify-Shop-Domain`` the store's deliveries carry (default:
    ``<handle>.myshopify.com``)."""

    secret: str = attrs.field(repr=False, validator=attrs.validators.min_len(1))
    previous_secret: str | None = attrs.field(default=None, repr=False)
    shop_domain: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(_shop_domain)
    )

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.secret, self.previous_secret) if s)


@attrs.frozen
class WebhooksConfig:
    """The ``[webhooks]`` table of the receiver (``serve-webhooks``).
    ``max_body_bytes`` refuses larger bodies with 413 before reading on;
    ``book_on_receipt`` runs create-fulfilment-requests right after a
    delivery brought a new or changed order in; ``batch`` is how many kept
    deliveries one processing run reads."""

    path: str = attrs.field(
        default="/webhooks/shopify", validator=_matches(r"/[A-Za-z0-9/_-]*", "a path")
    )
    max_body_bytes: int = attrs.field(
        default=1_048_576, validator=_between(1024, 2**26)
    )
    book_on_receipt: bool = False
    batch: int = attrs.field(default=500, validator=_between(1, 10_000))


@attrs.frozen
class StoreConfig:
    """One shop.  ``partner`` is the delivery partner for all its orders
    unless ``routing`` rules say more; an empty partner means none yet."""

    channel: str
    country: str = attrs.field(validator=_matches(r"[A-Z]{2}", "an ISO country code"))
    currency: str = attrs.field(
        validator=_matches(r"[A-Z]{3}", "an ISO 4217 currency code")
    )
    timezone: str = attrs.field(default="UTC", validator=_time_zone)
    locale: str = attrs.field(
        default="en", validator=_matches(r"[a-z]{2}(-[A-Z]{2})?", "a locale like fr")
    )
    partner: str = ""
    routing: tuple[RuleConfig, ...] = ()
    # How the store speaks to its customers: its name in messages, the
    # [sms.*], [mail.*] and [links.*] tables it uses (none: no such
    # messages), its own quiet hours and sender address.
    name: str = attrs.field(default="", validator=single_line)
    sms: str = ""
    mail: str = ""
    links: str = ""
    quiet_hours: str | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(lambda _, a, v: _quiet_hours(v, a.name)),
    )
    mail_from: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(mail_address)
    )
    # The most the store's discount codes may be worth in one month, in its
    # currency; none: no cap.
    discount_budget: Decimal | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(lambda _, a, v: _budget(v, a.name)),
    )
    source: Any = None
    webhooks: StoreWebhooks | None = None

    def shop_domain(self, handle: str) -> str:
        """The ``X-Shopify-Shop-Domain`` of this store's deliveries."""
        configured = self.webhooks.shop_domain if self.webhooks else None
        return configured or f"{handle}.myshopify.com"


@attrs.frozen
class PartnerConfig:
    adapter: str
    settings: Any


@attrs.frozen
class NotifierConfig:
    """One ``[sms.NAME]``, ``[mail.NAME]`` or ``[links.NAME]`` table."""

    adapter: str
    settings: Any


@attrs.frozen
class StorageConfig:
    backend: str
    settings: Any


@attrs.frozen
class Config:
    path: Path
    environment: str
    storage: StorageConfig
    stores: Mapping[str, StoreConfig]
    partners: Mapping[str, PartnerConfig]
    intake: IntakeConfig = IntakeConfig()
    booking: BookingConfig = BookingConfig()
    logging: LoggingConfig = LoggingConfig()
    retry: RetryConfig = RetryConfig()
    rate_budgets: RateBudgetsConfig = RateBudgetsConfig()
    runner: RunnerConfig = RunnerConfig()
    tracking: TrackingConfig = TrackingConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    nps: NpsConfig = NpsConfig()
    discounts: DiscountsConfig = DiscountsConfig()
    surveys: Mapping[str, NotifierConfig] = attrs.field(factory=dict)
    sms: Mapping[str, NotifierConfig] = attrs.field(factory=dict)
    mail: Mapping[str, NotifierConfig] = attrs.field(factory=dict)
    links: Mapping[str, NotifierConfig] = attrs.field(factory=dict)
    rates: RatesConfig = RatesConfig()
    sandbox: Mapping[str, Any] = attrs.field(factory=dict)
    webhooks: WebhooksConfig = WebhooksConfig()

    def discount_policy(self) -> DiscountPolicy:
        budgets = {
            handle: store.discount_budget
            for handle, store in self.stores.items()
            if store.discount_budget is not None
        }
        return self.discounts.policy(budgets)

    def quiet_hours(self, handle: str) -> QuietHours:
        store = self.stores[handle]
        text = store.quiet_hours or self.notifications.quiet_hours
        return _quiet_hours(text, f"stores.{handle}.quiet_hours")

    def routing_policy(self) -> RoutingPolicy:
        rules = {}
        for handle, store in self.stores.items():
            if store.routing:
                rules[handle] = tuple(
                    RoutingRule(**attrs.asdict(rule)) for rule in store.routing
                )
            else:
                rules[handle] = (RoutingRule(store.partner or None),)
        return RoutingPolicy(rules)


@attrs.frozen
class Adapters:
    """The settings types the plugins declared, by adapter name."""

    order_sources: Mapping[str, Factory[Any]]
    delivery_partners: Mapping[str, Factory[Any]]
    storages: Mapping[str, Factory[Any]]
    sms_senders: Mapping[str, Factory[Any]] = attrs.field(factory=dict)
    mail_senders: Mapping[str, Factory[Any]] = attrs.field(factory=dict)
    link_shorteners: Mapping[str, Factory[Any]] = attrs.field(factory=dict)
    survey_sources: Mapping[str, Factory[Any]] = attrs.field(factory=dict)
    rate_sources: Mapping[str, Factory[Any]] = attrs.field(factory=dict)

    def notifiers(self, section: str) -> Mapping[str, Factory[Any]]:
        return {
            "sms": self.sms_senders,
            "mail": self.mail_senders,
            "links": self.link_shorteners,
            "surveys": self.survey_sources,
        }[section]


def find_config_file(explicit: str | None, environ: Mapping[str, str]) -> Path:
    """``--config`` wins; else ``FULFILMENT_CONFIG``; else
    ``config/<FULFILMENT_ENV>.toml`` (default ``sandbox``)."""
    if explicit:
        return Path(explicit)
    if environ.get("FULFILMENT_CONFIG"):
        return Path(environ["FULFILMENT_CONFIG"])
    env = environ.get("FULFILMENT_ENV", "sandbox")
    if env not in ENVIRONMENTS:
        raise ConfigurationError(
            f"FULFILMENT_ENV={env!r} is not one of {', '.join(ENVIRONMENTS)}"
        )
    return Path("config") / f"{env}.toml"


def load_config(
    path: Path, adapters: Adapters, environ: Mapping[str, str] | None = None
) -> Config:
    environ = os.environ if environ is None else environ
    raw = _read(path)
    environment = raw.get("environment", "production")
    if environment not in ENVIRONMENTS:
        raise ConfigurationError(
            f"{path}: environment: {environment!r} is not one of "
            f"{', '.join(repr(e) for e in ENVIRONMENTS)}"
        )
    problems: list[str] = []
    sandbox = environment == "sandbox"
    data = _interpolate(raw, environ, sandbox, (), problems)
    # A missing variable leaves an empty value that would also fail the
    # field's own checks; report the cause alone.
    config = None if problems else _structure(path, data, adapters, problems)
    if problems or config is None:
        raise ConfigurationError(
            "\n".join(f"{path}: {problem}" for problem in problems)
        )
    return config


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"{path}: cannot read: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise ConfigurationError(
            f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8"
        ) from error
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{path}: not valid TOML: {error}") from error


def _interpolate(
    value: Any,
    environ: Mapping[str, str],
    sandbox: bool,
    where: tuple[str, ...],
    problems: list[str],
) -> Any:
    dotted = ".".join(where)
    secret = bool(where) and _SECRET_KEY.search(where[-1]) is not None
    if isinstance(value, dict):
        return {
            k: _interpolate(v, environ, sandbox, (*where, k), problems)
            for k, v in value.items()
        }
    if isinstance(value, list) and not secret:
        return [
            _interpolate(v, environ, sandbox, (*where, str(i)), problems)
            for i, v in enumerate(value)
        ]
    if not isinstance(value, str):
        if secret and not sandbox:
            problems.append(
                f'{dotted}: a secret must be a "${{VARIABLE}}" reference, '
                f"not {kind(value)}"
            )
        return value
    if where and where[-1] == "uri" and _CREDENTIALS.search(value) and not sandbox:
        problems.append(
            f"{dotted}: the URI holds a password; put the whole URI in an "
            'environment variable and write "${MONGODB_URI}"'
        )
        return value
    literal_secret = not _REFERENCE.fullmatch(value.strip())
    if secret and not sandbox and literal_secret:
        problems.append(
            f"{dotted}: secrets must come from the environment; "
            f'write "${{SOME_VARIABLE}}" instead of a literal value'
        )
        return value

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            problems.append(f"{dotted}: environment variable {name} is not set")
            return ""
        return environ[name]

    return _REFERENCE.sub(replace, value)


_converter = strict_converter()


_SECTIONS: dict[str, type[Any]] = {
    "intake": IntakeConfig,
    "booking": BookingConfig,
    "logging": LoggingConfig,
    "retry": RetryConfig,
    "rate_budgets": RateBudgetsConfig,
    "runner": RunnerConfig,
    "tracking": TrackingConfig,
    "notifications": NotificationsConfig,
    "nps": NpsConfig,
    "discounts": DiscountsConfig,
    "webhooks": WebhooksConfig,
}
_NOTIFIERS = ("sms", "mail", "links", "surveys")


def _structure(
    path: Path, data: dict[str, Any], adapters: Adapters, problems: list[str]
) -> Config | None:
    known = {
        "environment",
        "storage",
        "stores",
        "partners",
        "sandbox",
        "rates",
        *_SECTIONS,
        *_NOTIFIERS,
    }
    for key in data:
        if key not in known:
            problems.append(
                f"{key}: unknown section (known: {', '.join(sorted(known))})"
            )
    environment = data.get("environment", "production")
    if not isinstance(data.get("sandbox", {}), dict):
        problems.append("sandbox: must be a table")
    storage = _storage(
        data.get("storage", {"backend": "sqlite"}), adapters, path, problems
    )
    partner_tables = _table(data, "partners", problems)
    partners = {
        name: p
        for name, table in partner_tables.items()
        if (p := _partner(name, table, adapters, path, problems)) is not None
    }
    notifiers = {
        section: _notifiers(section, data, adapters, path, problems)
        for section in _NOTIFIERS
    }
    stores = _stores(data, adapters, partner_tables, path, problems)
    survey = (
        data.get("nps", {}).get("survey") if isinstance(data.get("nps"), dict) else None
    )
    # A survey that is not a string is NpsConfig's to report, with its shape.
    if isinstance(survey, str) and survey and survey not in _table(data, "surveys", []):
        problems.append(
            f"nps.survey: {survey!r} is not configured under [surveys] "
            f"(add a [surveys.{survey}] table)"
        )
    for handle, store in stores.items():
        for table in ("sms", "mail", "links"):
            name = getattr(store, table)
            if name and name not in _table(data, table, []):
                problems.append(
                    f"stores.{handle}.{table}: {name!r} is not configured under "
                    f"[{table}] (add a [{table}.{name}] table)"
                )
    _check_marketplaces(stores, problems)
    _check_webhooks(stores, problems)
    rates = _rates(data, adapters, path, problems)
    data, schedule = _runner_schedule(data, problems)
    sections = {
        name: _plain(data.get(name, {}), cls, name, problems)
        for name, cls in _SECTIONS.items()
    }
    if sections["runner"] is not None:
        sections["runner"] = attrs.evolve(sections["runner"], schedule=schedule)
    if problems or storage is None or any(v is None for v in sections.values()):
        return None
    return Config(
        path=path,
        environment=environment,
        storage=storage,
        stores=stores,
        partners=partners,
        sandbox=data.get("sandbox", {}),
        rates=rates,
        **notifiers,
        **sections,
    )


def _runner_schedule(
    data: dict[str, Any], problems: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``[runner.schedule]`` checked key by key over the defaults, and the
    data without it for the rest of ``[runner]``."""
    runner = data.get("runner")
    schedule = _default_schedule()
    if not isinstance(runner, dict) or "schedule" not in runner:
        return data, schedule
    table = runner["schedule"]
    rest = {**data, "runner": {k: v for k, v in runner.items() if k != "schedule"}}
    if not isinstance(table, dict):
        problems.append(
            'runner.schedule: must be a table of WORKER = "5m" or "daily 16:30"'
        )
        return rest, schedule
    for worker, text in table.items():
        where = f"runner.schedule.{worker}"
        if worker not in DEFAULT_SCHEDULE:
            problems.append(
                f"{where}: unknown worker (known: {', '.join(DEFAULT_SCHEDULE)})"
            )
        elif not isinstance(text, str):
            problems.append(
                f'{where}: expected a string like "5m" or "daily 16:30", '
                f"not {kind(text)}"
            )
        else:
            try:
                schedule[worker] = parse_schedule(text)
            except ValueError as error:
                problems.append(f"{where}: {error}")
    return rest, schedule


def _table(data: dict[str, Any], name: str, problems: list[str]) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        problems.append(f"{name}: must be a table")
        return {}
    return table


def _storage(
    table: Any, adapters: Adapters, path: Path, problems: list[str]
) -> StorageConfig | None:
    if not isinstance(table, dict):
        problems.append("storage: must be a table")
        return None
    options = dict(table)
    backend = options.pop("backend", "sqlite")
    factory = _factory(adapters.storages, backend, "storage.backend", problems)
    if factory is None:
        return None
    if backend == "sqlite" and isinstance(options.get("path"), str):
        # A relative database path is relative to the config file.
        database = (path.parent / options["path"]).resolve()
        if database.is_dir():
            problems.append(f"storage.path: {database} is a folder, not a file")
            return None
        options["path"] = str(database)
    settings = _plain(options, factory.settings_type, "storage", problems)
    return None if settings is None else StorageConfig(backend, settings)


def _partner(
    name: str, table: Any, adapters: Adapters, path: Path, problems: list[str]
) -> PartnerConfig | None:
    if not isinstance(table, dict):
        problems.append(f"partners.{name}: must be a table")
        return None
    options = dict(table)
    adapter = options.pop("adapter", name)
    factory = _factory(
        adapters.delivery_partners, adapter, f"partners.{name}.adapter", problems
    )
    if factory is None:
        return None
    options = _beside(path, options, factory.settings_type)
    settings = _plain(options, factory.settings_type, f"partners.{name}", problems)
    return None if settings is None else PartnerConfig(adapter, settings)


def _notifiers(
    section: str,
    data: dict[str, Any],
    adapters: Adapters,
    path: Path,
    problems: list[str],
) -> dict[str, NotifierConfig]:
    built = {}
    for name, table in _table(data, section, problems).items():
        factories = adapters.notifiers(section)
        notifier = _notifier(f"{section}.{name}", table, factories, path, problems)
        if notifier is not None:
            built[name] = notifier
    return built


def _notifier(
    where: str,
    table: Any,
    factories: Mapping[str, Factory[Any]],
    path: Path,
    problems: list[str],
) -> NotifierConfig | None:
    """The ``[sms.NAME]``-style table at *where*; its adapter defaults to
    NAME."""
    if not isinstance(table, dict):
        problems.append(f"{where}: must be a table")
        return None
    options = dict(table)
    adapter = options.pop("adapter", where.rpartition(".")[2])
    factory = _factory(factories, adapter, f"{where}.adapter", problems)
    if factory is None:
        return None
    options = _beside(path, options, factory.settings_type)
    settings = _plain(options, factory.settings_type, where, problems)
    return None if settings is None else NotifierConfig(adapter, settings)


def _stores(
    data: dict[str, Any],
    adapters: Adapters,
    partners: Mapping[str, Any],
    path: Path,
    problems: list[str],
) -> dict[str, StoreConfig]:
    tables = _table(data, "stores", problems)
    if not tables:
        problems.append("stores: no store is configured; add a [stores.<handle>]")
    built = {}
    for handle, table in tables.items():
        store = _store(handle, table, adapters, partners, path=path, problems=problems)
        if store is not None:
            built[handle] = store
    return built


def _store(
    handle: str,
    table: Any,
    adapters: Adapters,
    partners: Mapping[str, Any],
    *,
    path: Path,
    problems: list[str],
) -> StoreConfig | None:
    where = f"stores.{handle}"
    if not _HANDLE.fullmatch(handle):
        problems.append(
            f"{where}: a store handle is lower-case letters, digits and '-' "
            "(it is part of every order key)"
        )
        return None
    if not isinstance(table, dict):
        problems.append(f"{where}: must be a table")
        return None
    options = dict(table)
    source_table = options.pop("source", None)
    store = _plain(options, StoreConfig, where, problems)
    if store is None:
        return None
    for target in [store.partner] + [r.partner for r in store.routing]:
        if target and target not in partners:
            problems.append(
                f"{where}: partner {target!r} is not configured under [partners]"
            )
    factory = _factory(
        adapters.order_sources, store.channel, f"{where}.channel", problems
    )
    if factory is None:
        return None
    if not isinstance(source_table, dict):
        problems.append(
            f"{where}.source: missing; the {store.channel} settings go here"
        )
        return None
    source_table = _defaults_from_store(source_table, factory, handle, store)
    if source_table.get("store", handle) != handle:
        problems.append(
            f"{where}.source.store: {source_table['store']!r} differs from the "
            f"store's handle {handle!r}; leave it out or make them equal"
        )
        return None
    source_table = _beside(path, source_table, factory.settings_type)
    source = _plain(source_table, factory.settings_type, f"{where}.source", problems)
    return None if source is None else attrs.evolve(store, source=source)


def _check_marketplaces(stores: Mapping[str, Any], problems: list[str]) -> None:
    """Sources that read marketplaces of a seller account (Amazon) name, in
    ``marketplaces``, the store each marketplace belongs to.  A marketplace
    that names a store which is not configured is never read; one that two
    stores of the same account read is ingested, and booked, twice."""
    readers: dict[tuple[Any, ...], str] = {}
    for handle, store in stores.items():
        source = store.source
        marketplaces = getattr(source, "marketplaces", None)
        if not isinstance(marketplaces, Mapping) or not hasattr(
            source, "marketplace_ids"
        ):
            continue
        where = f"stores.{handle}.source.marketplaces"
        for marketplace, owner in sorted(marketplaces.items()):
            if owner not in stores:
                problems.append(
                    f"{where}.{marketplace}: store {owner!r} is not configured; "
                    "its orders would never be read (add the store or map the "
                    "marketplace to one that is)"
                )
        # The account is its host and the seller's authorisation; the
        # secret is compared, never shown.
        account = (
            getattr(source, "base_url", None),
            getattr(source, "client_id", None),
            getattr(source, "refresh_token", None),
        )
        for marketplace in source.marketplace_ids():
            first = readers.setdefault((*account, marketplace), handle)
            if first != handle:
                problems.append(
                    f"{where}.{marketplace}: store {first!r} already reads this "
                    "marketplace of the same account; its orders would be "
                    "booked twice"
                )


def _check_webhooks(stores: Mapping[str, StoreConfig], problems: list[str]) -> None:
    """Webhooks are Shopify's, and each shop domain names one store: a
    delivery is filed under the store its domain names."""
    owners: dict[str, str] = {}
    for handle, store in stores.items():
        if store.webhooks is None:
            continue
        where = f"stores.{handle}.webhooks"
        if store.channel != "shopify":
            problems.append(
                f"{where}: only shopify stores push webhooks, not {store.channel}"
            )
        domain = store.shop_domain(handle)
        first = owners.setdefault(domain, handle)
        if first != handle:
            problems.append(
                f"{where}.shop_domain: {domain} is already store {first!r}'s; "
                "each shop domain names one store"
            )


def _beside(path: Path, options: dict[str, Any], cls: type[Any]) -> dict[str, Any]:
    """*options* with each relative path in a field that names a file (see
    :data:`~fulfilment.adapters.validators.CONFIG_RELATIVE`) made relative
    to the configuration file."""
    files = {
        field.name
        for field in (attrs.fields(cls) if attrs.has(cls) else ())
        if field.metadata.get(CONFIG_RELATIVE)
    }
    return {
        key: str((path.parent / value).resolve())
        if key in files and isinstance(value, str) and value
        else value
        for key, value in options.items()
    }


def _defaults_from_store(
    table: dict[str, Any], factory: Factory[Any], handle: str, store: StoreConfig
) -> dict[str, Any]:
    """Fill a source's ``store`` and ``country`` from the store table when
    the adapter's settings have such fields and the file leaves them out."""
    fields = attrs.fields_dict(factory.settings_type)
    defaults = {"store": handle, "country": store.country}
    return {k: v for k, v in defaults.items() if k in fields} | table


def _factory(
    factories: Mapping[str, Factory[Any]], name: Any, where: str, problems: list[str]
) -> Factory[Any] | None:
    factory = factories.get(name) if isinstance(name, str) else None
    if factory is None:
        known = ", ".join(sorted(factories)) or "none installed"
        problems.append(f"{where}: unknown adapter {name!r} (known: {known})")
    return factory


def _plain(table: Any, cls: type[Any], where: str, problems: list[str]) -> Any:
    try:
        return _converter.structure(table, cls)
    except Exception as error:  # every structuring failure becomes a line
        problems.extend(f"{where}{line}" for line in describe(error))
    return None
