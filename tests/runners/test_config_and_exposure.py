"""A configuration mistake is one message that says where and how to fix
it; the simulators are reachable from this machine only.

Each broken file below must fail with exactly one line that starts with the
file's path, names the key (or the TOML position) and says what would be
right.  The simulators' listening sockets are read from the kernel's table,
not from the objects that opened them."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fulfilment.core.errors import ConfigurationError
from fulfilment.runners.config import load_config
from fulfilment.runners.plugins import Registry
from fulfilment.runners.sandbox.world import SandboxWorld, ports_of
from tests.runners.test_config import MINIMAL

TOKEN = {"LB_TOKEN": "shpat_test"}


@pytest.mark.parametrize(
    ("text", "environment", "where", "fix"),
    [
        pytest.param(
            "[storage\nbackend = 1",
            TOKEN,
            "not valid TOML",
            "at line 1, column 9",
            id="malformed-toml",
        ),
        pytest.param(
            MINIMAL + "\n[storage]\nbackend = 'x'\n",
            TOKEN,
            "not valid TOML",
            "twice",
            id="table-declared-twice",
        ),
        pytest.param(
            MINIMAL + "\n[booking]\nclaim_ttl_minute = 5\n",
            TOKEN,
            "booking: unknown keys claim_ttl_minute",
            "did you mean claim_ttl_minutes?",
            id="unknown-key-typo",
        ),
        pytest.param(
            MINIMAL.replace('currency = "USD"', 'currency = "USD"\ncurency = "USD"'),
            TOKEN,
            "stores.shemsi-lebanon: unknown keys curency",
            "did you mean currency?",
            id="unknown-store-key",
        ),
        pytest.param(
            MINIMAL + "\n[bookings]\nbatch_size = 5\n",
            TOKEN,
            "bookings: unknown section",
            "known: booking,",
            id="unknown-section",
        ),
        pytest.param(
            MINIMAL,
            {},
            "stores.shemsi-lebanon.source.access_token",
            "environment variable LB_TOKEN is not set",
            id="missing-secret",
        ),
        pytest.param(
            MINIMAL + "\n[booking]\nbatch_size = 'many'\n",
            TOKEN,
            "booking.batch_size",
            "expected a whole number, not a string",
            id="wrong-type",
        ),
        pytest.param(
            MINIMAL.replace('country = "LB"', "country = 961"),
            TOKEN,
            "stores.shemsi-lebanon.country",
            "expected a string, not a whole number",
            id="wrong-type-in-a-store",
        ),
    ],
)
def test_a_broken_configuration_is_one_line_naming_file_key_and_fix(
    tmp_path: Path, text: str, environment: dict[str, str], where: str, fix: str
) -> None:
    path = tmp_path / "fulfilment.toml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigurationError) as error:
        load_config(path, Registry.discover().adapters(), environment)

    message = str(error.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"{path}: "), message
    assert where in message
    assert fix in message
    assert "shpat_test" not in message


def listening(table: Path) -> dict[int, set[str]]:
    """Listening TCP sockets in a /proc/net table: port -> local addresses."""
    found: dict[int, set[str]] = {}
    for row in table.read_text().splitlines()[1:]:
        local, _, state = row.split()[1:4]
        if state != "0A":  # TCP_LISTEN
            continue
        address, port = local.split(":")
        found.setdefault(int(port, 16), set()).add(address)
    return found


def ipv4(hex_address: str) -> str:
    return socket.inet_ntoa(int(hex_address, 16).to_bytes(4, "little"))


def test_every_simulator_listens_on_loopback_only(tmp_path: Path) -> None:
    with SandboxWorld(tmp_path / "sandbox") as world:
        ports = ports_of(world.urls)
        v4 = listening(Path("/proc/net/tcp"))
        v6 = listening(Path("/proc/net/tcp6"))

    assert len(ports) >= 10
    for name, port in ports.items():
        assert {ipv4(a) for a in v4.get(port, set())} == {"127.0.0.1"}, name
        assert port not in v6, f"{name} listens on IPv6 too"
