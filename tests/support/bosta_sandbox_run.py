"""Run by the interpreter of a fresh virtual environment that holds only
the library and the Bosta plugin (tests/test_plugin_distribution.py).

It serves the sandbox world with the plugin's simulator beside the built-in
ones, writes the sandbox configuration with one change, ``shemsi-egypt``
selecting ``bosta``, and runs the ``fulfilment`` console script of that
environment against it.  It prints what happened as JSON.  It imports
nothing from the repository's tests, which that environment cannot see.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fulfilment.runners import plugins as library
from fulfilment.runners.sandbox.seed import seed_orders
from fulfilment.runners.sandbox.world import SANDBOX_PARTNERS, SandboxWorld
from fulfilment.runners.toml_writer import dumps


def console(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("fulfilment")
    return subprocess.run(  # noqa: S603 (the environment's own console script)
        [str(script), *args], capture_output=True, text=True, check=False
    )


def main(folder: Path) -> None:
    world = SandboxWorld(folder / "sandbox", partners=(*SANDBOX_PARTNERS, "bosta"))
    egypt = seed_orders(world.clock.now())["shemsi-egypt"]
    world.shopify.load_orders({"shemsi-egypt": egypt})
    with world:
        data = world.config()
        data["stores"]["shemsi-egypt"]["partner"] = "bosta"
        config = folder / "fulfilment.toml"
        config.write_text(dumps(data))
        run = console(
            "--config",
            str(config),
            "run",
            "fetch-new-orders",
            "create-fulfilment-requests",
            "--json",
        )
        listed = console(
            "--config",
            str(config),
            "orders",
            "list",
            "--store",
            "shemsi-egypt",
            "--json",
        )
    plugins = console("plugins", "--json")
    state = json.loads((folder / "sandbox" / "bosta.json").read_text())
    print(
        json.dumps(
            {
                "library": library.__file__,
                "run": [run.returncode, run.stdout, run.stderr],
                "orders": json.loads(listed.stdout or "[]"),
                "plugins": json.loads(plugins.stdout or "{}"),
                "deliveries": state["deliveries"],
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
