"""Configuring the webhook receiver: a store's secrets come from the
environment, a rotation keeps the old one, each shop domain names one
store, and mistakes are named with their path."""

from __future__ import annotations

from pathlib import Path

import pytest

from fulfilment.core.errors import ConfigurationError
from fulfilment.runners.cli import _secrets, main
from fulfilment.runners.config import Adapters, load_config
from fulfilment.runners.plugins import Registry
from fulfilment.runners.webhooks import shop_keys
from tests.runners.test_config import MINIMAL, write

WEBHOOKS = """
[stores.shemsi-lebanon.webhooks]
secret = "${LB_WEBHOOK_SECRET}"
previous_secret = "${LB_WEBHOOK_SECRET_OLD}"
"""
ENV = {
    "LB_TOKEN": "shpat_x",
    "LB_WEBHOOK_SECRET": "shpss_new",
    "LB_WEBHOOK_SECRET_OLD": "shpss_old",
}


@pytest.fixture(scope="module")
def adapters() -> Adapters:
    return Registry.discover().adapters()


def test_a_stores_webhook_secrets_come_from_the_environment(
    tmp_path: Path, adapters: Adapters
) -> None:
    config = load_config(write(tmp_path, MINIMAL + WEBHOOKS), adapters, ENV)

    keys = shop_keys(config)

    assert list(keys) == ["shemsi-lebanon.myshopify.com"]
    assert keys["shemsi-lebanon.myshopify.com"].store == "shemsi-lebanon"
    assert keys["shemsi-lebanon.myshopify.com"].secrets == ("shpss_new", "shpss_old")
    assert "shpss" not in repr(config.stores["shemsi-lebanon"].webhooks)
    assert {"shpss_new", "shpss_old"} <= set(_secrets(config))


def test_the_receiver_section_has_defaults_and_can_be_set(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = MINIMAL + WEBHOOKS + "[webhooks]\nbook_on_receipt = true\n"

    config = load_config(write(tmp_path, text), adapters, ENV)

    assert config.webhooks.book_on_receipt is True
    assert config.webhooks.max_body_bytes == 1_048_576
    assert config.webhooks.path == "/webhooks/shopify"


def test_a_literal_webhook_secret_is_refused_outside_the_sandbox(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = MINIMAL + WEBHOOKS.replace('"${LB_WEBHOOK_SECRET}"', '"shpss_literal"')

    with pytest.raises(ConfigurationError) as error:
        load_config(write(tmp_path, text), adapters, ENV)

    assert "stores.shemsi-lebanon.webhooks.secret: secrets must come from" in str(
        error.value
    )


def test_a_shop_domain_names_one_store(tmp_path: Path, adapters: Adapters) -> None:
    store_two = MINIMAL.split("[stores.", 1)[1].replace("shemsi-lebanon", "shemsi-two")
    text = (
        MINIMAL
        + WEBHOOKS
        + 'shop_domain = "shemsi.example.com"\n'
        + f"[stores.{store_two}"
        + '[stores.shemsi-two.webhooks]\nsecret = "${LB_WEBHOOK_SECRET}"\n'
        + 'shop_domain = "shemsi.example.com"\n'
    )

    with pytest.raises(ConfigurationError) as error:
        load_config(write(tmp_path, text), adapters, ENV)

    assert (
        "stores.shemsi-two.webhooks.shop_domain: shemsi.example.com is already "
        "store 'shemsi-lebanon''s"
    ) in str(error.value)


def test_a_bad_shop_domain_and_an_unknown_key_are_named(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = MINIMAL + WEBHOOKS + 'shop_domain = "not a host"\n[webhooks]\nport = 1\n'

    with pytest.raises(ConfigurationError) as error:
        load_config(write(tmp_path, text), adapters, ENV)

    message = str(error.value)
    assert (
        "stores.shemsi-lebanon.webhooks: shop_domain 'not a host' is not a host name"
    ) in message
    assert "webhooks: unknown keys port" in message


def test_serving_webhooks_without_any_store_secret_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, MINIMAL)
    monkeypatch.setenv("LB_TOKEN", "shpat_x")

    code = main(["--config", str(path), "serve-webhooks", "--port", "0"])

    assert code == 2
    assert "no store has a [stores.<handle>.webhooks] table" in capsys.readouterr().err
