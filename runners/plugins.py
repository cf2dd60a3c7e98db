"""The plugin manager and the typed façade the rest of the runners call.

Built on demand (never at import time): the hook specifications from
``fulfilment.adapters.hookspecs``, the built-in adapters, then every
installed package's entry points in the ``fulfilment`` group.

One broken third-party plugin must not take the others down: a plugin that
cannot be imported, that pluggy refuses, or whose hook raises or answers
something other than a mapping is left out, logged once
(``plugins.failed``) and kept in :attr:`Registry.failures`, which
``fulfilment plugins`` lists and a configuration error about an unknown
adapter repeats.  Everything else loads as usual.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import pluggy

from fulfilment.adapters import builtin, hookspecs
from fulfilment.adapters.hookspecs import Factory
from fulfilment.core.errors import ConfigurationError

from .config import Adapters
from .sandbox import plugin as sandbox_plugin

__all__ = [
    "BUILT_IN",
    "PluginFailure",
    "Registry",
    "load_entry_points",
    "make_plugin_manager",
]

log = logging.getLogger(__name__)

BUILT_IN = "built-in"

# What each hook registers, in the words ``fulfilment plugins`` prints.
KINDS: Mapping[str, str] = {
    "fulfilment_register_order_sources": "order source",
    "fulfilment_register_delivery_partners": "delivery partner",
    "fulfilment_register_storages": "storage",
    "fulfilment_register_simulators": "simulator",
    "fulfilment_register_sms_senders": "SMS sender",
    "fulfilment_register_mail_senders": "mail sender",
    "fulfilment_register_link_shorteners": "link shortener",
    "fulfilment_register_survey_sources": "survey",
    "fulfilment_register_rate_sources": "rate source",
}


@attrs.frozen
class PluginFailure:
    """A plugin left out: its entry-point (or plugin) name, where it comes
    from, the hook that failed (None when it could not even be loaded) and
    the error in one line."""

    name: str
    source: str
    error: str
    hook: str | None = None


@attrs.frozen
class Loaded:
    """What loading the entry points gave: each registered plugin's
    distribution (``name version``), and the plugins left out."""

    origins: dict[str, str] = attrs.field(factory=dict)
    failures: list[PluginFailure] = attrs.field(factory=list)


def make_plugin_manager(*, entry_points: bool = True) -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs.FulfilmentHookSpecs)
    for plugin in (*builtin.PLUGINS, sandbox_plugin):
        manager.register(plugin)
    if entry_points:
        load_entry_points(manager)
    return manager


def load_entry_points(manager: pluggy.PluginManager) -> Loaded:
    """Register every installed ``fulfilment`` plugin that loads; one that
    does not is logged and reported, never raised."""
    loaded = Loaded()
    for entry in importlib.metadata.entry_points(group=hookspecs.PROJECT):
        if manager.get_plugin(entry.name) is not None:
            continue
        source = _distribution(entry)
        try:
            manager.register(entry.load(), name=entry.name)
        except Exception as error:  # a third party's import or hook is broken
            loaded.failures.append(_failed(entry.name, source, error))
            continue
        loaded.origins[entry.name] = source
    return loaded


def _distribution(entry: importlib.metadata.EntryPoint) -> str:
    dist = entry.dist
    if dist is None:
        return entry.value
    return f"{dist.metadata['Name']} {dist.version}"


def _failed(
    name: str, source: str, error: BaseException, hook: str | None = None
) -> PluginFailure:
    failure = PluginFailure(name, source, f"{type(error).__name__}: {error}", hook)
    log.warning(
        "plugins.failed plugin=%s source=%s hook=%s error=%s",
        name,
        source,
        hook or "-",
        failure.error,
    )
    return failure


@attrs.frozen
class Registry:
    """What the installed plugins offer, merged, by adapter name."""

    manager: pluggy.PluginManager
    origins: dict[str, str] = attrs.field(factory=dict)
    failures: list[PluginFailure] = attrs.field(factory=list)

    @classmethod
    def discover(cls, *, entry_points: bool = True) -> Registry:
        manager = make_plugin_manager(entry_points=False)
        loaded = load_entry_points(manager) if entry_points else Loaded()
        return cls(manager, loaded.origins, loaded.failures)

    def order_sources(self) -> dict[str, Factory[Any]]:
        return self.collect("fulfilment_register_order_sources")

    def delivery_partners(self) -> dict[str, Factory[Any]]:
        return self.collect("fulfilment_register_delivery_partners")

    def storages(self) -> dict[str, Factory[Any]]:
        return self.collect("fulfilment_register_storages")

    def simulators(self) -> dict[str, Callable[..., Any]]:
        return self.collect("fulfilment_register_simulators")

    def adapters(self) -> Adapters:
        return Adapters(
            self.order_sources(),
            self.delivery_partners(),
            self.storages(),
            sms_senders=self.sms_senders(),
            mail_senders=self.mail_senders(),
            link_shorteners=self.link_shorteners(),
            survey_sources=self.surveys(),
            rate_sources=self.rate_sources(),
        )

    def sms_senders(self) -> dict[str, Factory[Any]]:
        return self.collect("fulfilment_register_sms_senders")

    def mail_senders(self) -> dict[str, Factory[Any]]:
        return self.collect("fulfilment_register_mail_senders")

    def link_shorteners(self) -> dict[str, Factory[Any]]:
        return self.collect("fulfilment_register_link_shorteners")

    def surveys(self) -> dict[str, Factory[Any]]:
        return self.collect("fulfilment_register_survey_sources")

    def rate_sources(self) -> dict[str, Factory[Any]]:
        return self.collect("fulfilment_register_rate_sources")

    def plugin_names(self) -> list[str]:
        return sorted(
            name
            for name, plugin in self.manager.list_name_plugin()
            if plugin is not None
        )

    def source_of(self, plugin: str) -> str:
        """``built-in``, or the distribution and version a plugin came from."""
        return self.origins.get(plugin, BUILT_IN)

    def entries(self) -> list[dict[str, Any]]:
        """Every registered adapter of every hook: its kind, name, the
        plugin and distribution it came from, and what its factory says."""
        rows = []
        for hook, kind in KINDS.items():
            for plugin, offered in self._answers(hook):
                for name, value in sorted(offered.items()):
                    rows.append(
                        {
                            "kind": kind,
                            "name": name,
                            "plugin": plugin,
                            "source": self.source_of(plugin),
                            "description": getattr(value, "description", ""),
                            "capabilities": getattr(value, "capabilities", None),
                        }
                    )
        return rows

    def describe_failures(self) -> str:
        """One line per plugin left out, for an error message."""
        return "; ".join(f"{f.name} ({f.source}): {f.error}" for f in self.failures)

    # --- calling the hooks one plugin at a time --------------------------

    def collect(self, hook: str) -> dict[str, Any]:
        """Every plugin's answer to *hook* (a ``fulfilment_register_*``
        name), merged by adapter name; two plugins claiming one name is a
        configuration error."""
        kind = KINDS[hook]
        merged: dict[str, Any] = {}
        for _, offered in self._answers(hook):
            for name, factory in offered.items():
                if name in merged:
                    raise ConfigurationError(
                        f"two plugins register a {kind} named {name!r}"
                    )
                merged[name] = factory
        return merged

    def _answers(self, hook: str) -> Iterable[tuple[str, Mapping[str, Any]]]:
        """Each plugin's answer to *hook*, first registered first.  A plugin
        installed from a distribution whose hook raises or answers no
        mapping is left out and reported (once per plugin and hook)."""
        implementations = getattr(self.manager.hook, hook).get_hookimpls()
        for impl in implementations:
            try:
                offered = impl.function()
                if not isinstance(offered, Mapping):
                    raise TypeError(
                        f"{hook} returned {type(offered).__name__}, not a mapping"
                    )
            except Exception as error:  # a third party's hook is broken
                if impl.plugin_name not in self.origins:
                    raise  # our own adapters' hooks fail loudly, in tests
                self._hook_failed(impl.plugin_name, hook, error)
                continue
            yield impl.plugin_name, offered

    def _hook_failed(self, plugin: str, hook: str, error: BaseException) -> None:
        if any(f.name == plugin and f.hook == hook for f in self.failures):
            return
        self.failures.append(_failed(plugin, self.source_of(plugin), error, hook))
