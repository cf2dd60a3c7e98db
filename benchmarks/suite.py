"""The benchmarks by name, and one run of several of them on the stores."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import idle, intake, memory, tracking
from .harness import Figure, Sizes, StoreMaker, open_stores

__all__ = ["BENCHMARKS", "run"]

Benchmark = Callable[[StoreMaker, Sequence[str], Sizes], list[Figure]]

BENCHMARKS: dict[str, Benchmark] = {
    "api-limit": intake.api_limit,
    "db-floor": intake.db_floor,
    "idle": idle.idle,
    "fan-out": tracking.fan_out,
    "memory": memory.memory,
}


def run(names: Sequence[str], kinds: Sequence[str], sizes: Sizes) -> list[Figure]:
    """Every benchmark of *names* on every store of *kinds*, in one run, so
    their figures are measured side by side."""
    figures: list[Figure] = []
    with open_stores(kinds) as maker:
        for name in names:
            print(f"running {name} …", flush=True)
            figures += BENCHMARKS[name](maker, kinds, sizes)
    return figures
