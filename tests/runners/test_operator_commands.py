"""An operator's commands refuse what they cannot act on as a usage error
(exit 2, one line, no traceback) and never echo a customer's address in
clear.

Orders are stored in a SQLite file that the commands then read through a
configuration, as an operator's would."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from fulfilment.adapters.storage.sqlite import SQLiteSettings, SQLiteStorage
from fulfilment.core.domain import Order, OrderKey, OrderState
from fulfilment.runners.cli import main
from fulfilment.testing.builders import make_order

CONFIG = """\
environment = "sandbox"

[storage]
backend = "sqlite"
path = "fulfilment.db"

[stores.shemsiworld]
channel = "shopify"
country = "MA"
currency = "MAD"
partner = "aramex"

[stores.shemsiworld.source]
base_url = "http://127.0.0.1:9/shops/shemsiworld"
access_token = "shpat_operator_commands"

[stores.shemsi-lebanon]
channel = "shopify"
country = "LB"
currency = "USD"

[stores.shemsi-lebanon.source]
base_url = "http://127.0.0.1:9/shops/shemsi-lebanon"
access_token = "shpat_operator_commands"

[partners.aramex]
base_url = "http://127.0.0.1:9"
username = "api@shemsi.example"
password = "sandbox"
account_number = "60012345"
account_pin = "482913"
account_entity = "CAS"
account_country_code = "MA"

[partners.aramex.shipper]
warehouse = "WH-CASA-01"
company = "Shemsi World SARL"
phone = "+212522987654"
cell_phone = "+212661000111"
email = "ops@shemsi.example"
line1 = "Lot 27, Zone Industrielle Sidi Maarouf"
city = "Casablanca"
country_code = "MA"
"""
WAITING = "shopify:shemsiworld:2001"
UNPAID = "shopify:shemsiworld:2002"


@pytest.fixture
def config(tmp_path: Path) -> str:
    storage = SQLiteStorage(SQLiteSettings(str(tmp_path / "fulfilment.db")))
    storage.orders.save_many(
        [
            in_state(make_order("2001"), OrderState.NEEDS_ATTENTION),
            in_state(make_order("2002"), OrderState.ON_HOLD, "awaiting_payment"),
        ]
    )
    storage.close()
    path = tmp_path / "fulfilment.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return str(path)


def in_state(order: Order, state: OrderState, hold: str | None = None) -> Order:
    return attrs.evolve(order, state=state, hold_reason=hold)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def stored(config: str, key: str) -> Order:
    storage = SQLiteStorage(SQLiteSettings(str(Path(config).parent / "fulfilment.db")))
    try:
        order = storage.orders.get(OrderKey.parse(key))
    finally:
        storage.close()
    assert order is not None
    return order


def test_an_order_waiting_for_attention_can_have_its_parcel_recorded(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, _ = cli(
        capsys,
        *("--config", config, "attention", "record", WAITING, "aramex", "AWB1"),
        *("--label-url", "https://labels.aramex.test/AWB1.pdf"),
    )

    assert (code, out) == (0, f"{WAITING}: booked with aramex as AWB1\n")
    order = stored(config, WAITING)
    assert order.state is OrderState.BOOKED
    assert order.shipment is not None
    assert order.shipment.label_url == "https://labels.aramex.test/AWB1.pdf"


def test_an_order_on_hold_is_not_recorded_as_booked(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, _, err = cli(
        capsys, "--config", config, "attention", "record", UNPAID, "aramex", "AWB2"
    )

    assert code == 1
    assert err == (
        f"order {UNPAID} is on_hold; only an order waiting for attention "
        "(needs_attention) can have a booking recorded\n"
    )
    assert stored(config, UNPAID).state is OrderState.ON_HOLD


@pytest.mark.parametrize("reference", ["", "   ", "AWB\n1", "AWB\x001"])
def test_a_blank_or_broken_reference_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], config: str, reference: str
) -> None:
    code, out, err = cli(
        capsys, "--config", config, "attention", "record", WAITING, "aramex", reference
    )

    assert (code, out) == (2, "")
    assert err.startswith("error: the partner's reference ")
    assert len(err.splitlines()) == 1
    assert stored(config, WAITING).state is OrderState.NEEDS_ATTENTION


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "labels.aramex.test/1.pdf",
        "https://",
    ],
)
def test_a_label_url_that_is_not_a_web_address_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], config: str, url: str
) -> None:
    code, _, err = cli(
        capsys,
        *("--config", config, "attention", "record", WAITING, "aramex", "AWB1"),
        *("--label-url", url),
    )

    assert code == 2
    assert err == f"error: the label URL {url!r} is not an http(s) URL with a host\n"
    assert stored(config, WAITING).state is OrderState.NEEDS_ATTENTION


def test_orders_list_for_an_unknown_store_names_the_known_ones(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, err = cli(
        capsys, "--config", config, "orders", "list", "--store", "nope"
    )

    assert (code, out) == (2, "")
    assert err == "error: no store 'nope'; known: shemsiworld, shemsi-lebanon\n"


def test_orders_list_for_a_known_store_lists_its_orders(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, _ = cli(
        capsys, "--config", config, "orders", "list", "--store", "shemsiworld"
    )

    assert code == 0
    assert WAITING in out
    assert UNPAID in out


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("0661234567", "661234"),
        ("+2126612\n34567", "6612"),
        ("mailto:fatima@example.com", "fatima"),
        ("fatima@example.com\r\nBcc: x@y.example", "fatima"),
        ("fatima @example.com", "fatima"),
        ("fatima@exam\x00ple.com", "fatima"),
        ("fatima@example", "fatima"),
        ("a@b@c.example", "a@b"),
    ],
)
@pytest.mark.parametrize("command", ["opt-out", "opt-in"])
def test_an_address_that_cannot_be_used_is_refused_without_showing_it(
    capsys: pytest.CaptureFixture[str],
    config: str,
    command: str,
    address: str,
    private: str,
) -> None:
    code, out, err = cli(capsys, "--config", config, "customers", command, address)

    assert (code, out) == (2, "")
    assert err.startswith("error: ")
    assert private not in err
    assert len(err.splitlines()) == 1
