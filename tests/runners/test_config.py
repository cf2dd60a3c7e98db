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
    values |= {n: "AC" + "0" * 32 for n in names if n.endswith("_ACCOUNT_SID")}
    values |= {n: "MG" + "0" * 32 for n in names if n.endswith("_SERVICE_SID")}
    # A survey's public address ends with its form id.
    values |= {
        n: "https://forms.example/to/value-of-typeform_form_id"
        for n in names
        if n.endswith("_FORM_URL")
    }
    values |= {n: "Shemsi <orders@shemsi.example>" for n in names if "SENDER" in n}
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
        "amazon-ae",
        "amazon-eg",
        "amazon-sa",
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
        # Amazon orders of a country go to the same partner as Shopify ones.
        "amazon-ae": "farfill",
        "amazon-eg": "flextock",
        "amazon-sa": "",
    }
    amazon = {h: s.source for h, s in config.stores.items() if s.channel == "amazon"}
    assert {h: source.marketplace_ids() for h, source in amazon.items()} == {
        "amazon-ae": ("A2VIGQ35RCS4UG",),
        "amazon-eg": ("ARBP9OOSHTCHU",),
        "amazon-sa": ("A17E79C6D8DWNP",),
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
        "stores.shemsi-lebanon.channel: unknown adapter 'woo' (known: amazon, shopify)"
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


def problems_of(tmp_path: Path, adapters: Adapters, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as error:
        load_config(path, adapters, {"LB_TOKEN": "x"})
    lines = str(error.value).splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    return "\n".join(line.removeprefix(f"{path}: ") for line in lines)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "[intake]\noverlap_minutes = nan",
            "intake.overlap_minutes: expected a finite number",
        ),
        (
            "[intake]\nfirst_run_lookback_days = -1",
            "first_run_lookback_days must be between",
        ),
        ("[booking]\nbatch_size = 0", "batch_size must be between 1 and 100000, not 0"),
        (
            "[booking]\nbatch_size = 1.9",
            "booking.batch_size: expected a whole number, not a number",
        ),
        (
            '[booking]\nretry_delays_minutes = "1,5"',
            "retry_delays_minutes: expected a list, not a string",
        ),
        (
            "[booking]\nclaim_ttl_minutes = 1e12",
            "claim_ttl_minutes must be between 1 and 1440",
        ),
        (
            '[logging]\nlevel = "debug"',
            "'level' must be in ('DEBUG', 'INFO', 'WARNING', 'ERROR') (got 'debug')",
        ),
        (
            "[retry]\nattempts = true",
            "retry.attempts: expected a whole number, not true/false",
        ),
    ],
)
def test_a_value_out_of_shape_is_named_with_its_path(
    tmp_path: Path, adapters: Adapters, extra: str, expected: str
) -> None:
    assert expected in problems_of(tmp_path, adapters, MINIMAL + extra)


def test_a_routing_flag_must_be_a_real_boolean(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = MINIMAL.replace(
        "[stores.shemsi-lebanon.source]",
        '[[stores.shemsi-lebanon.routing]]\ncash_on_delivery = "no"\n'
        "[stores.shemsi-lebanon.source]",
    )

    found = problems_of(tmp_path, adapters, text)

    assert (
        "stores.shemsi-lebanon.routing[0].cash_on_delivery: expected true or false"
        in found
    )


def test_store_codes_and_time_zone_are_checked(
    tmp_path: Path, adapters: Adapters
) -> None:
    bad_country = MINIMAL.replace('country = "LB"', 'country = "XX1"')
    bad_zone = MINIMAL.replace('country = "LB"', 'country = "LB"\ntimezone = "Mars/X"')

    country = problems_of(tmp_path, adapters, bad_country)
    zone = problems_of(tmp_path, adapters, bad_zone)

    assert "country 'XX1' is not an ISO country code" in country
    assert "timezone 'Mars/X' is not a time zone" in zone


def test_a_store_handle_with_a_colon_is_refused(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = MINIMAL.replace("stores.shemsi-lebanon", 'stores."shemsi:lebanon"')

    assert "a store handle is lower-case letters" in problems_of(
        tmp_path, adapters, text
    )


def test_a_source_store_other_than_the_handle_is_refused(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = MINIMAL.replace(
        'access_token = "${LB_TOKEN}"',
        'access_token = "${LB_TOKEN}"\nstore = "shemsiworld"',
    )

    found = problems_of(tmp_path, adapters, text)

    assert "stores.shemsi-lebanon.source.store: 'shemsiworld' differs" in found


def test_a_file_with_no_store_is_refused(tmp_path: Path, adapters: Adapters) -> None:
    found = problems_of(
        tmp_path, adapters, 'environment = "staging"\n[storage]\npath = "x.db"\n'
    )

    assert found == "stores: no store is configured; add a [stores.<handle>]"


@pytest.mark.parametrize("value", ["482913", '["hunter2"]', "true"])
def test_a_secret_that_is_not_a_reference_is_refused_whatever_its_type(
    tmp_path: Path, adapters: Adapters, value: str
) -> None:
    text = MINIMAL.replace('"${LB_TOKEN}"', value)

    found = problems_of(tmp_path, adapters, text)

    assert found.startswith("stores.shemsi-lebanon.source.access_token: a secret")


def test_a_uri_with_a_password_must_come_from_the_environment(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = MINIMAL.replace(
        'backend = "sqlite"\npath = "db.sqlite3"',
        'backend = "mongodb"\nuri = "mongodb://admin:Sup3r@127.0.0.1:1/x"',
    )

    assert "storage.uri: the URI holds a password" in problems_of(
        tmp_path, adapters, text
    )


def test_an_unknown_environment_is_reported_before_anything_else(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = MINIMAL.replace('"staging"', '"prod"').replace('"${LB_TOKEN}"', '"literal"')

    found = problems_of(tmp_path, adapters, text)

    assert found == (
        "environment: 'prod' is not one of 'ci', 'staging', 'production', 'sandbox'"
    )


def test_a_broken_partner_table_is_not_also_called_missing(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = MINIMAL.replace('currency = "USD"', 'currency = "USD"\npartner = "aramex"')
    text += '[partners.aramex]\nbase_url = "http://127.0.0.1:9"\n'

    found = problems_of(tmp_path, adapters, text)

    assert "partners.aramex.username: required key is missing" in found
    assert "is not configured under [partners]" not in found


def test_a_file_that_is_not_utf8_is_one_readable_message(
    tmp_path: Path, adapters: Adapters
) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('environment = "staging" # é'.encode("latin-1"))

    with pytest.raises(ConfigurationError, match="not UTF-8 text"):
        load_config(path, adapters, {})


def test_a_table_given_as_a_string_says_a_table_is_expected(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = MINIMAL.replace(
        "[stores.shemsi-lebanon.source]",
        'routing = ["aramex"]\n[stores.shemsi-lebanon.source]',
    )

    found = problems_of(tmp_path, adapters, text)

    assert "stores.shemsi-lebanon.routing[0]: expected a table, not a string" in found


@pytest.mark.parametrize(
    ("value", "shown"), [('["typeform"]', "a list"), ("{a = 1}", "a table")]
)
def test_a_survey_name_that_is_not_a_string_is_a_plain_shape_error(
    tmp_path: Path, adapters: Adapters, value: str, shown: str
) -> None:
    found = problems_of(tmp_path, adapters, MINIMAL + f"[nps]\nsurvey = {value}\n")

    assert found == f"nps.survey: expected a string, not {shown}"


def _amazon_store(handle: str, marketplaces: str) -> str:
    return f"""
[stores.{handle}]
channel = "amazon"
country = "AE"
currency = "AED"
[stores.{handle}.source]
base_url = "http://127.0.0.1:9"
lwa_url = "http://127.0.0.1:9/auth/o2/token"
client_id = "${{AMZ_ID}}"
client_secret = "${{AMZ_SECRET}}"
refresh_token = "${{AMZ_TOKEN}}"
marketplaces = {marketplaces}
"""


AMAZON_HEAD = """
environment = "staging"
[storage]
backend = "sqlite"
path = "db.sqlite3"
"""
AMAZON_ENV = {"AMZ_ID": "id", "AMZ_SECRET": "secret", "AMZ_TOKEN": "Atzr|token"}


def test_an_amazon_marketplace_mapped_to_no_configured_store_is_refused(
    tmp_path: Path, adapters: Adapters
) -> None:
    # amazon.sa's orders would never be read by anyone.
    text = AMAZON_HEAD + _amazon_store(
        "amazon-ae", '{ A2VIGQ35RCS4UG = "amazon-ae", A17E79C6D8DWNP = "amazon-sa" }'
    )

    with pytest.raises(ConfigurationError) as raised:
        load_config(write(tmp_path, text), adapters, AMAZON_ENV)

    assert (
        "stores.amazon-ae.source.marketplaces.A17E79C6D8DWNP: store 'amazon-sa' "
        "is not configured" in str(raised.value)
    )


def test_two_stores_reading_one_marketplace_of_one_account_are_refused(
    tmp_path: Path, adapters: Adapters
) -> None:
    # Each would ingest the same Amazon orders under its own key, and each
    # copy would be booked.
    text = (
        AMAZON_HEAD
        + _amazon_store("amazon-ae", '{ A2VIGQ35RCS4UG = "amazon-ae" }')
        + _amazon_store("amazon-uae", '{ A2VIGQ35RCS4UG = "amazon-uae" }')
    )

    with pytest.raises(ConfigurationError) as raised:
        load_config(write(tmp_path, text), adapters, AMAZON_ENV)

    assert (
        "stores.amazon-uae.source.marketplaces.A2VIGQ35RCS4UG: store 'amazon-ae' "
        "already reads this marketplace of the same account" in str(raised.value)
    )
    assert "Atzr|token" not in str(raised.value)


def test_two_seller_accounts_may_sell_in_one_marketplace(
    tmp_path: Path, adapters: Adapters
) -> None:
    text = (
        AMAZON_HEAD
        + _amazon_store("amazon-ae", '{ A2VIGQ35RCS4UG = "amazon-ae" }')
        + _amazon_store("brand-ae", '{ A2VIGQ35RCS4UG = "brand-ae" }').replace(
            "AMZ_TOKEN", "BRAND_TOKEN"
        )
    )

    config = load_config(
        write(tmp_path, text), adapters, AMAZON_ENV | {"BRAND_TOKEN": "Atzr|other"}
    )

    assert set(config.stores) == {"amazon-ae", "brand-ae"}


def test_tracking_concurrency_reaches_the_worker_settings(
    tmp_path: Path, adapters: Adapters
) -> None:
    path = write(tmp_path, MINIMAL + "[tracking]\nconcurrency = 4\n")

    config = load_config(path, adapters, {"LB_TOKEN": "x"})

    assert config.tracking.settings().concurrency == 4


def test_a_tracking_concurrency_of_zero_is_refused_naming_the_key(
    tmp_path: Path, adapters: Adapters
) -> None:
    path = write(tmp_path, MINIMAL + "[tracking]\nconcurrency = 0\n")

    with pytest.raises(ConfigurationError) as error:
        load_config(path, adapters, {"LB_TOKEN": "x"})

    assert str(error.value) == (
        f"{path}: tracking: concurrency must be between 1 and 32, not 0"
    )
