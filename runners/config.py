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

Keys that hold secrets (token, password, secret, pin, api key) must be
``${NAME}`` references, except in a file that declares
``environment = "sandbox"``, whose credentials only open the loopback
simulators.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)

from fulfilment.adapters.hookspecs import Factory
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.errors import ConfigurationError
from fulfilment.core.routing import RoutingPolicy, RoutingRule
from fulfilment.core.workers.create_fulfilment_requests import BookingSettings
from fulfilment.core.workers.fetch_new_orders import IntakeSettings

__all__ = [
    "Config",
    "StoreConfig",
    "find_config_file",
    "load_config",
]

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_KEY = re.compile(r"(token|password|secret|pin|api_key|apikey)$", re.I)
ENVIRONMENTS = ("ci", "staging", "production", "sandbox")


@attrs.frozen
class IntakeConfig:
    overlap_minutes: float = 10
    lag_minutes: float = 2
    first_run_lookback_days: float = 30

    def settings(self) -> IntakeSettings:
        return IntakeSettings(
            overlap=timedelta(minutes=self.overlap_minutes),
            lag=timedelta(minutes=self.lag_minutes),
            first_run_lookback=timedelta(days=self.first_run_lookback_days),
        )


@attrs.frozen
class BookingConfig:
    claim_ttl_minutes: float = 10
    hold_recheck_minutes: float = 60
    retry_delays_minutes: tuple[float, ...] = (1, 5, 15, 60, 180)
    batch_size: int = 500

    def settings(self) -> BookingSettings:
        return BookingSettings(
            claim_ttl=timedelta(minutes=self.claim_ttl_minutes),
            retry_delays=tuple(timedelta(minutes=m) for m in self.retry_delays_minutes),
            hold_recheck=timedelta(minutes=self.hold_recheck_minutes),
            batch_size=self.batch_size,
        )


@attrs.frozen
class RetryConfig:
    """The one retry policy of every adapter call (see adapters/retry.py)."""

    attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    initial_wait_seconds: float = 0.5
    max_wait_seconds: float = 20.0
    max_elapsed_seconds: float = 60.0

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
    country: str | None = None
    cash_on_delivery: bool | None = None
    max_weight_grams: int | None = None
    hold_reason: str = "no_partner_for_store"


@attrs.frozen
class StoreConfig:
    """One shop.  ``partner`` is the delivery partner for all its orders
    unless ``routing`` rules say more; an empty partner means none yet."""

    channel: str
    country: str
    currency: str
    timezone: str = "UTC"
    locale: str = "en"
    partner: str = ""
    routing: tuple[RuleConfig, ...] = ()
    source: Any = None


@attrs.frozen
class PartnerConfig:
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
    sandbox: Mapping[str, Any] = attrs.field(factory=dict)

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
    problems: list[str] = []
    sandbox = raw.get("environment") == "sandbox"
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
    if isinstance(value, dict):
        return {
            k: _interpolate(v, environ, sandbox, (*where, k), problems)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            _interpolate(v, environ, sandbox, (*where, str(i)), problems)
            for i, v in enumerate(value)
        ]
    if not isinstance(value, str):
        return value
    dotted = ".".join(where)
    literal_secret = not _REFERENCE.fullmatch(value.strip())
    if where and _SECRET_KEY.search(where[-1]) and not sandbox and literal_secret:
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


_converter = cattrs.Converter(forbid_extra_keys=True)


_SECTIONS: dict[str, type[Any]] = {
    "intake": IntakeConfig,
    "booking": BookingConfig,
    "logging": LoggingConfig,
    "retry": RetryConfig,
}


def _structure(
    path: Path, data: dict[str, Any], adapters: Adapters, problems: list[str]
) -> Config | None:
    known = {"environment", "storage", "stores", "partners", "sandbox", *_SECTIONS}
    for key in data:
        if key not in known:
            problems.append(
                f"{key}: unknown section (known: {', '.join(sorted(known))})"
            )
    environment = data.get("environment", "production")
    if environment not in ENVIRONMENTS:
        problems.append(
            f"environment: {environment!r} is not one of {', '.join(ENVIRONMENTS)}"
        )
    storage = _storage(
        data.get("storage", {"backend": "sqlite"}), adapters, path, problems
    )
    partners = {
        name: p
        for name, table in _table(data, "partners", problems).items()
        if (p := _partner(name, table, adapters, problems)) is not None
    }
    stores = {
        handle: s
        for handle, table in _table(data, "stores", problems).items()
        if (s := _store(handle, table, adapters, partners, problems)) is not None
    }
    sections = {
        name: _plain(data.get(name, {}), cls, name, problems)
        for name, cls in _SECTIONS.items()
    }
    if problems or storage is None or any(v is None for v in sections.values()):
        return None
    return Config(
        path=path,
        environment=environment,
        storage=storage,
        stores=stores,
        partners=partners,
        sandbox=data.get("sandbox", {}),
        **sections,
    )


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
    if backend == "sqlite" and "path" in options:
        # A relative database path is relative to the config file.
        options["path"] = str((path.parent / options["path"]).resolve())
    settings = _plain(options, factory.settings_type, "storage", problems)
    return None if settings is None else StorageConfig(backend, settings)


def _partner(
    name: str, table: Any, adapters: Adapters, problems: list[str]
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
    settings = _plain(options, factory.settings_type, f"partners.{name}", problems)
    return None if settings is None else PartnerConfig(adapter, settings)


def _store(
    handle: str,
    table: Any,
    adapters: Adapters,
    partners: Mapping[str, PartnerConfig],
    problems: list[str],
) -> StoreConfig | None:
    where = f"stores.{handle}"
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
    source = _plain(source_table, factory.settings_type, f"{where}.source", problems)
    return None if source is None else attrs.evolve(store, source=source)


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
    except (ClassValidationError, IterableValidationError) as error:
        problems.extend(f"{where}{line}" for line in _describe(error))
    except ForbiddenExtraKeysError as error:
        problems.append(
            f"{where}: unknown keys {', '.join(sorted(error.extra_fields))}"
        )
    except (TypeError, ValueError) as error:
        problems.append(f"{where}: {error}")
    return None


def _describe(error: BaseException, path: str = "") -> list[str]:
    """One line per leaf of a cattrs validation error, with its path."""
    if isinstance(error, ForbiddenExtraKeysError):
        return [f"{path}: unknown keys {', '.join(sorted(error.extra_fields))}"]
    if isinstance(error, (ClassValidationError, IterableValidationError)):
        lines = []
        for sub in error.exceptions:
            note = _note(sub)
            lines += _describe(sub, f"{path}{note}")
        return lines
    if isinstance(error, KeyError):
        return [f"{path}: required key is missing"]
    return [f"{path}: {error}"]


def _note(error: BaseException) -> str:
    for note in getattr(error, "__notes__", []):
        name = getattr(note, "name", None)
        if name is not None:
            return f".{name}"
        index = getattr(note, "index", None)
        if index is not None:
            return f"[{index}]"
    return ""
