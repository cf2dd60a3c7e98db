"""The distribution: every package listed, data files shipped, the
namespace mapping intact in a built wheel."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAPPING = {
    "core": "fulfilment.core",
    "adapters": "fulfilment.adapters",
    "runners": "fulfilment.runners",
    "testing": "fulfilment.testing",
}


def declared_packages() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(data["tool"]["setuptools"]["packages"])


def package_folders() -> set[str]:
    found = set()
    for folder, name in MAPPING.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *relative.parts]))
    return found


def test_every_package_folder_is_declared() -> None:
    assert package_folders() == declared_packages()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(  # noqa: S603 (our own interpreter, our own repository)
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
    )
    (built,) = out.glob("fulfilment_connector-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_imports_under_one_namespace(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())

    assert "fulfilment/core/domain.py" in names
    assert "fulfilment/adapters/hookspecs.py" in names
    assert "fulfilment/runners/cli.py" in names
    assert not any(
        n.startswith(("core/", "adapters/", "runners/", "testing/")) for n in names
    )


def test_the_wheel_ships_the_contract_suites_plugin_authors_use(
    wheel: zipfile.ZipFile,
) -> None:
    names = set(wheel.namelist())

    assert "fulfilment/testing/delivery_partners.py" in names
    assert "fulfilment/testing/builders.py" in names
    assert "fulfilment/testing/twins.py" in names


def test_the_wheel_ships_graphql_documents_and_type_markers(
    wheel: zipfile.ZipFile,
) -> None:
    names = set(wheel.namelist())

    assert "fulfilment/adapters/oms/shopify/orders.graphql" in names
    assert "fulfilment/runners/sandbox/shopify_schema.graphql" in names
    assert "fulfilment/core/py.typed" in names


def test_the_console_script_is_declared(wheel: zipfile.ZipFile) -> None:
    entry_points = next(n for n in wheel.namelist() if n.endswith("entry_points.txt"))

    assert (
        "fulfilment = fulfilment.runners.cli:main" in wheel.read(entry_points).decode()
    )
