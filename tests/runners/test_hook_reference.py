"""Meta-tests: every hook in ``adapters/hookspecs.py`` is documented in the
hook reference (docs/plugins.md) and exercised through the registry and
``fulfilment plugins``; a hook added without either fails here."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from fulfilment.runners.cli import main
from fulfilment.runners.plugins import KINDS, Registry

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "adapters" / "hookspecs.py"
REFERENCE = ROOT / "docs" / "plugins.md"


def hook_names() -> list[str]:
    """The hooks, read from the spec module's source: every method of
    ``FulfilmentHookSpecs`` decorated with ``@hookspec``."""
    tree = ast.parse(SPECS.read_text(encoding="utf-8"))
    (specs,) = [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and node.name == "FulfilmentHookSpecs"
    ]
    return [
        node.name
        for node in specs.body
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(d, ast.Name) and d.id == "hookspec" for d in node.decorator_list
        )
    ]


def reference_section(hook: str) -> str:
    """The text under the hook's ``### `name` `` heading, up to the next
    heading."""
    text = REFERENCE.read_text(encoding="utf-8")
    match = re.search(
        rf"^### `{hook}`\n(.*?)(?=^#{{1,3}} |\Z)", text, re.MULTILINE | re.DOTALL
    )
    return match.group(1).strip() if match else ""


HOOKS = hook_names()


def test_the_spec_module_declares_hooks() -> None:
    assert len(HOOKS) >= 9
    assert all(name.startswith("fulfilment_register_") for name in HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_the_hook_reference(hook: str) -> None:
    section = reference_section(hook)

    assert section, f"docs/plugins.md has no '### `{hook}`' section"
    assert "Returns" in section, f"the {hook} section does not say what it returns"


def test_the_reference_documents_no_hook_that_does_not_exist() -> None:
    documented = re.findall(
        r"^### `(fulfilment_\w+)`", REFERENCE.read_text(), re.MULTILINE
    )

    assert sorted(documented) == sorted(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_called_through_the_registry_and_answers(hook: str) -> None:
    registry = Registry.discover(entry_points=False)

    offered = registry.collect(hook)

    assert hook in KINDS, f"fulfilment plugins does not know {hook}"
    assert offered, f"no built-in adapter answers {hook}"


def test_the_plugins_command_lists_an_adapter_of_every_hook(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["plugins", "--json"])

    kinds = {row["kind"] for row in json.loads(capsys.readouterr().out)["adapters"]}
    assert kinds == {KINDS[hook] for hook in HOOKS}
