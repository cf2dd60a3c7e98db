"""Loading configuration: secrets from the environment, one clear error
per problem, every shipped file valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fulfilment.core.errors import ConfigurationError
from fulfilment.runners.config import Adapters, find_config_file, load_config
from fulfilment.runners.plugins import Registry

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "config").glob("*.toml"))


@pytest.fixture(scope="module")
def adapters() -> Adapters:
    return Registry.discover().adapters()


def environment_for(path: Path) -> dict[str, str]:
    names = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", path.read_text()))
    values = {name: f"value-of-{name.lower()}" for name in names}
    values |= {
        n: "http://127.0.0.1:9" for n in names if n.endswith(("_URL", "_BASE_URL"))
    }
    values["MONGODB_URI"] = "mongodb://127.0.0.1:9/?directConnection=true"
    values["FULFILMENT_SQLITE_PATH"] = "ci.sqlite3"
    return values


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fulfilment.toml"
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """
environment = "staging"
[storage]
backend = "sqlite"
path = "db.sqlite3"
[stores.shemsi-lebanon]
channel = "shopify"
country = "LB"
currency = "USD"
[stores.shemsi-lebanon.source]
base_url = "http://127.0.0.1:9/shops/shemsi-lebanon"
access_token = "${LB_TOKEN}"
"""


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_configuration_loads(path: Path, adapters: Adapters) -> None:
    config = load_config(path, adapters, environment_for(path))

    assert config.environment == path.stem
    assert set(config.stores) == {
        "shemsiworld",
        "shemsi-egypt",
        "shemsi-uae",
        "shemsi-lebanon",
    }


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_files_route_lebanon_nowhere_and_the_rest_to_their_partner(
    path: Path, adapters: Adapters
) -> None:
    config = load_config(path, adapters, environment_for(path))

    partners = {h: s.partner for h, s in config.stores.items()}

    assert partners == {
        "shemsiworld": "aramex",
        "shemsi-egypt": "flextock",
        "shemsi-uae": "farfill",
        "shemsi-lebanon": "",
    }


def test_secrets_come_from_the_environment(tmp_path: Path, adapters: Adapters) -> None:
    path = write(tmp_path, MINIMAL)

    config = load_config(path, adapters, {"LB_TOKEN": "shpat_from_env"})

    assert config.stores["shemsi-lebanon"].source.access_token == "shpat_from_env"


def test_the_store_handle_fills_the_source_store(
    tmp_path: Path, adapters: Adapters
) -> None:
    config = load_config(write(tmp_path, MINIMAL), adapters, {"LB_TOKEN": "x"})

    assert config.stores["shemsi-lebanon"].source.store == "shemsi-lebanon"


def test_a_relative_sqlite_path_is_relative_to_the_file(
    tmp_path: Path, adapters: Adapters
) -> None:
    config = load_config(write(tmp_path, MINIMAL), adapters, {"LB_TOKEN": "x"})

    assert Path(config.storage.settings.path) == tmp_path / "db.sqlite3"


def test_a_missing_variable_names_the_file_path_and_variable(
    tmp_path: Path, adapters: Adapters
) -> None:
    path = write(tmp_path, MINIMAL)

    with pytest.raises(ConfigurationError) as error:
        load_config(path, adapters, {})

    assert str(error.value) == (
        f"{path}: stores.shemsi-lebanon.source.access_token: "
        "environment variable LB_TOKEN is not set"
    )


def test_a_literal_secret_is_refused_outside_the_sandbox(
    tmp_path: Path, adapters: Adapters
) -> None:
    path = write(tmp_path, MINIMAL.replace('"${LB_TOKEN}"', '"shpat_literal"'))

    with pytest.raises(ConfigurationError) as error:
        load_config(path, adapters, {})

    assert "stores.shemsi-lebanon.source.access_token: secrets must come from" in str(
        error.value
    )


def test_a_literal_secret_is_allowed_in_a_sandbox_file(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = MINIMAL.replace('"staging"', '"sandbox"').replace(
        '"${LB_TOKEN}"', '"shpat_sandbox"'
    )

    config = load_config(write(tmp_path, text), adapters, {})

    assert config.stores["shemsi-lebanon"].source.access_token == "shpat_sandbox"


def test_every_problem_is_reported_at_once(tmp_path: Path, adapters: Adapters) -> None:
    text = (
        MINIMAL
        + """
partner = "libanpost"
colour = "blue"
[partners.aramex]
base_url = "http://127.0.0.1:9"
[intake]
overlap_minutes = "ten"
"""
    )
    text = text.replace('currency = "USD"\n', 'currency = "USD"\n')
    path = write(tmp_path, text.replace("[stores.shemsi-lebanon.source]", "[x]", 0))

    with pytest.raises(ConfigurationError) as error:
        load_config(path, adapters, {"LB_TOKEN": "x"})

    lines = str(error.value).splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    text = "\n".join(lines)
    assert "partners.aramex.username: required key is missing" in text
    assert "partners.aramex.shipper: required key is missing" in text
    assert "intake.overlap_minutes" in text
    assert len(lines) >= 4


def test_an_unknown_adapter_lists_the_known_ones(
    tmp_path: Path, adapters: Adapters
) -> None:
    path = write(tmp_path, MINIMAL.replace('channel = "shopify"', 'channel = "woo"'))

    with pytest.raises(ConfigurationError) as error:
        load_config(path, adapters, {"LB_TOKEN": "x"})

    assert (
        "stores.shemsi-lebanon.channel: unknown adapter 'woo' (known: shopify)"
        in str(error.value)
    )


def test_a_partner_that_is_not_configured_is_named(
    tmp_path: Path, adapters: Adapters
) -> None:
    path = write(
        tmp_path,
        MINIMAL.replace('currency = "USD"', 'currency = "USD"\npartner = "libanpost"'),
    )

    with pytest.raises(ConfigurationError) as error:
        load_config(path, adapters, {"LB_TOKEN": "x"})

    assert "stores.shemsi-lebanon: partner 'libanpost' is not configured" in str(
        error.value
    )


def test_broken_toml_is_one_readable_message(
    tmp_path: Path, adapters: Adapters
) -> None:
    path = write(tmp_path, "[storage\nbackend = 1")

    with pytest.raises(ConfigurationError) as error:
        load_config(path, adapters, {})

    assert str(error.value).startswith(f"{path}: not valid TOML:")
    assert len(str(error.value).splitlines()) == 1


def test_an_unknown_environment_name_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="FULFILMENT_ENV='prod' is not one of"):
        find_config_file(None, {"FULFILMENT_ENV": "prod"})


def test_fulfilment_env_picks_the_file() -> None:
    assert find_config_file(None, {"FULFILMENT_ENV": "staging"}) == Path(
        "config/staging.toml"
    )
