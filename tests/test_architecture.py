"""The dependency rule: the core knows no adapter, runner or I/O library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "core"
ADAPTERS = ROOT / "adapters"

IO_LIBRARIES = {
    "httpx",
    "pymongo",
    "bson",
    "pluggy",
    "smtplib",
    "sqlite3",
    "socket",
    "requests",
    "urllib",
    "http",
    "aiosmtpd",
    "tenacity",
    "phonenumbers",
    "graphql",
    "subprocess",
    "asyncio",
    "ssl",
    "email",
}
FORBIDDEN_IN_CORE = {"fulfilment.adapters", "fulfilment.runners"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # Relative imports stay inside their own package by construction.
            found.add(node.module)
    return found


def violations(
    path: Path, forbidden_roots: set[str], forbidden_prefixes: set[str]
) -> list[str]:
    bad = []
    for module in imported_modules(path):
        if module.split(".")[0] in forbidden_roots:
            bad.append(module)
        if any(module.startswith(p) for p in forbidden_prefixes):
            bad.append(module)
    return bad


@pytest.mark.parametrize(
    "path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_core_imports_no_io_library_and_no_outer_layer(path: Path) -> None:
    assert violations(path, IO_LIBRARIES, FORBIDDEN_IN_CORE) == []


@pytest.mark.parametrize(
    "path", sorted(ADAPTERS.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_adapters_never_import_the_runners(path: Path) -> None:
    assert violations(path, set(), {"fulfilment.runners"}) == []


def test_the_rule_catches_a_forbidden_import(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("import httpx\nfrom fulfilment.adapters import http\n")

    found = violations(sneaky, IO_LIBRARIES, FORBIDDEN_IN_CORE)

    assert sorted(found) == ["fulfilment.adapters", "httpx"]
