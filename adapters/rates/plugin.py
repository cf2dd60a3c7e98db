"""Registers the in-memory rate source under the name ``memory``, for dry
runs: it publishes only what a test gives it."""

from __future__ import annotations

from collections.abc import Mapping

from fulfilment.adapters.hookspecs import AdapterContext, Factory, hookimpl
from fulfilment.core.ports import RateSource

from .memory import MemoryRateSettings, MemoryRateSource

__all__ = ["fulfilment_register_rate_sources"]


def _build(settings: MemoryRateSettings, _: AdapterContext) -> MemoryRateSource:
    return MemoryRateSource(settings.base)


@hookimpl
def fulfilment_register_rate_sources() -> Mapping[str, Factory[RateSource]]:
    return {
        "memory": Factory(
            MemoryRateSettings,
            _build,
            "in memory: publishes only the rates a test gives it",
        )
    }
