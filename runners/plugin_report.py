"""What ``fulfilment plugins`` prints: every adapter of every hook, where
it came from, a delivery partner's declared capabilities, and the plugins
left out with their error.  The text is built from the same rows as the
JSON, so the two always say the same thing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from fulfilment.core.ports import Capabilities

from .plugins import PluginFailure

__all__ = ["capabilities_json", "failure_json", "plugins_text", "report_json"]


def capabilities_json(capabilities: Capabilities | None) -> dict[str, Any] | None:
    """Capabilities as JSON: sets become sorted lists, empty ones ``[]``
    (meaning "any")."""
    if capabilities is None:
        return None
    return {
        name: sorted(value) if isinstance(value, frozenset) else value
        for name, value in attrs.asdict(capabilities, recurse=False).items()
    }


def failure_json(failure: PluginFailure) -> dict[str, Any]:
    return attrs.asdict(failure)


def report_json(
    entries: Iterable[Mapping[str, Any]], failures: Iterable[PluginFailure]
) -> dict[str, Any]:
    return {
        "adapters": [
            {**entry, "capabilities": capabilities_json(entry["capabilities"])}
            for entry in entries
        ],
        "failures": [failure_json(f) for f in failures],
    }


def plugins_text(
    entries: Sequence[Mapping[str, Any]], failures: Sequence[PluginFailure]
) -> str:
    rows = [
        (e["kind"], e["name"], e["source"], e["description"] or "") for e in entries
    ]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
    lines = []
    for entry, row in zip(entries, rows, strict=True):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[3]]).rstrip())
        summary = _capabilities_line(entry["capabilities"])
        if summary:
            lines.append(" " * (sum(widths) + 6) + summary)
    if failures:
        lines += ["", "plugins that failed to load (left out):"]
        lines += [
            f"  {f.name} ({f.source})"
            + (f" in {f.hook}" if f.hook else "")
            + f": {f.error}"
            for f in failures
        ]
    return "\n".join(lines)


def _capabilities_line(capabilities: Capabilities | None) -> str:
    if capabilities is None:
        return ""
    cod = (
        "cod " + (",".join(sorted(capabilities.cod_currencies)) or "any currency")
        if capabilities.cash_on_delivery
        else "no cod"
    )
    words = [
        cod,
        "countries " + (",".join(sorted(capabilities.countries)) or "any"),
        "currencies " + (",".join(sorted(capabilities.currencies)) or "any"),
        "cancel" if capabilities.cancel else "no cancel",
        "lookup" if capabilities.lookup_by_reference else "no lookup",
        f"track {capabilities.max_tracking_batch} a call",
        "labels" if capabilities.label_documents else "no labels",
    ]
    return "; ".join(words)
