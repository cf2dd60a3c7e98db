"""The plugin manager and the typed façade the rest of the runners call.

Built on demand (never at import time): the hook specifications from
``fulfilment.adapters.hookspecs``, the built-in adapters, then every
installed package's entry points in the ``fulfilment`` group.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import pluggy

from fulfilment.adapters import builtin, hookspecs
from fulfilment.adapters.hookspecs import Factory
from fulfilment.core.errors import ConfigurationError

from .config import Adapters
from .sandbox import plugin as sandbox_plugin

__all__ = ["Registry", "make_plugin_manager"]


def make_plugin_manager(*, entry_points: bool = True) -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs.FulfilmentHookSpecs)
    for plugin in (*builtin.PLUGINS, sandbox_plugin):
        manager.register(plugin)
    if entry_points:
        _load_entry_points(manager)
    return manager


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    """Register every installed ``fulfilment`` plugin; one that cannot be
    imported is a configuration error naming it, not a traceback."""
    for entry in importlib.metadata.entry_points(group=hookspecs.PROJECT):
        if manager.get_plugin(entry.name) is not None:
            continue
        try:
            plugin = entry.load()
        except Exception as error:  # any import failure of a third party
            raise ConfigurationError(
                f"plugin {entry.name!r} ({entry.value}) cannot be loaded: "
                f"{type(error).__name__}: {error}"
            ) from error
        manager.register(plugin, name=entry.name)


@attrs.frozen
class Registry:
    """What the installed plugins offer, merged, by adapter name."""

    manager: pluggy.PluginManager

    @classmethod
    def discover(cls, *, entry_points: bool = True) -> Registry:
        return cls(make_plugin_manager(entry_points=entry_points))

    def order_sources(self) -> dict[str, Factory[Any]]:
        return self._merge(
            "order source", self.manager.hook.fulfilment_register_order_sources()
        )

    def delivery_partners(self) -> dict[str, Factory[Any]]:
        return self._merge(
            "delivery partner",
            self.manager.hook.fulfilment_register_delivery_partners(),
        )

    def storages(self) -> dict[str, Factory[Any]]:
        return self._merge("storage", self.manager.hook.fulfilment_register_storages())

    def simulators(self) -> dict[str, Callable[..., Any]]:
        return self._merge(
            "simulator", self.manager.hook.fulfilment_register_simulators()
        )

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
        return self._merge(
            "SMS sender", self.manager.hook.fulfilment_register_sms_senders()
        )

    def mail_senders(self) -> dict[str, Factory[Any]]:
        return self._merge(
            "mail sender", self.manager.hook.fulfilment_register_mail_senders()
        )

    def link_shorteners(self) -> dict[str, Factory[Any]]:
        return self._merge(
            "link shortener", self.manager.hook.fulfilment_register_link_shorteners()
        )

    def surveys(self) -> dict[str, Factory[Any]]:
        return self._merge(
            "survey", self.manager.hook.fulfilment_register_survey_sources()
        )

    def rate_sources(self) -> dict[str, Factory[Any]]:
        return self._merge(
            "rate source", self.manager.hook.fulfilment_register_rate_sources()
        )

    def plugin_names(self) -> list[str]:
        return sorted(
            name
            for name, plugin in self.manager.list_name_plugin()
            if plugin is not None
        )

    @staticmethod
    def _merge(kind: str, results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for result in results:
            for name, factory in result.items():
                if name in merged:
                    raise ConfigurationError(
                        f"two plugins register a {kind} named {name!r}"
                    )
                merged[name] = factory
        return merged
