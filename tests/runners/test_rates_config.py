"""The ``[rates]`` section: a good one becomes a plan; every problem in a
bad one is named with its path, all at once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fulfilment.core.rates import RateType, Serving
from fulfilment.runners.config import Adapters, load_config

from .test_config import MINIMAL, adapters, problems_of, write

__all__ = ["adapters"]  # the fixture, shared

GOOD = """
[rates]
reporting_currency = "EUR"
backfill_days = 10

[rates.sources.ecb]
base_url = "http://127.0.0.1:9/stats/eurofxref/"

[rates.sources.oxr]
adapter = "openexchangerates"
base_url = "http://127.0.0.1:9"
app_id = "${OXR_APP_ID}"

[rates.sources.lbp-market]
adapter = "memory"

[rates.serve]
EUR = "ecb"
MAD = "oxr"
LBP = "oxr"

[rates.market]
LBP = "lbp-market"
"""


def test_a_good_section_becomes_a_plan(tmp_path: Path, adapters: Adapters) -> None:
    config = load_config(
        write(tmp_path, MINIMAL + GOOD),
        adapters,
        {"LB_TOKEN": "x", "OXR_APP_ID": "secret-app-id"},
    )
    rates = config.rates
    assert {n: s.adapter for n, s in rates.sources.items()} == {
        "ecb": "ecb",
        "oxr": "openexchangerates",
        "lbp-market": "memory",
    }
    assert "secret-app-id" not in repr(rates.sources["oxr"].settings)
    plan = rates.plan({"ecb": "EUR", "oxr": "USD", "lbp-market": "USD"})
    assert (plan.pivot, plan.reporting_currency, plan.backfill_days) == (
        "USD",
        "EUR",
        10,
    )
    assert set(plan.servings) == {
        Serving("EUR", "ecb"),
        Serving("MAD", "oxr"),
        Serving("LBP", "oxr"),
        Serving("LBP", "lbp-market", RateType.MARKET),
    }
    # The ECB is asked for the dollar too: the link onto the pivot.
    assert plan.quotes("ecb") == {RateType.OFFICIAL: {"USD"}}


def test_without_a_section_nothing_is_fetched(
    tmp_path: Path, adapters: Adapters
) -> None:
    config = load_config(write(tmp_path, MINIMAL), adapters, {"LB_TOKEN": "x"})
    assert config.rates.sources == {}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('[rates]\npivot = "usd"', "rates.pivot: 'usd' is not a currency code"),
        ("[rates]\nbackfill_days = 0", "rates.backfill_days: must be 1 to 3660, not 0"),
        (
            "[rates]\nmax_age_days = 1.5",
            "rates.max_age_days: must be a whole number, not a number",
        ),
        ("[rates]\nfrequency = 1", "rates.frequency: unknown key (known:"),
        (
            '[rates.serve]\nMAD = "oxr"',
            "rates.serve.MAD: 'oxr' is not configured under [rates.sources] "
            "(add a [rates.sources.oxr] table)",
        ),
        (
            '[rates.sources.memory]\n[rates.serve]\nmad = "memory"',
            "rates.serve.mad: 'mad' is not a currency code like 'MAD'",
        ),
        (
            "[rates.sources.memory]\n[rates.market]\nLBP = 1",
            "rates.market.LBP: must name a source, not a whole number",
        ),
        (
            '[rates.sources.fx]\nadapter = "fixer"',
            "rates.sources.fx.adapter: unknown adapter 'fixer' (known: ecb, memory, "
            "metalpriceapi, openexchangerates)",
        ),
        (
            '[rates]\nreporting_currency = "MAD"',
            "rates.reporting_currency: no source serves MAD; add it to [rates.serve] "
            "or make it the pivot",
        ),
        (
            '[rates.sources.oxr]\nadapter = "openexchangerates"\n'
            'base_url = "http://127.0.0.1:9"\napp_id = "abc123"',
            "rates.sources.oxr.app_id: secrets must come from the environment",
        ),
        (
            '[rates.sources.ecb]\nbase_url = "http://127.0.0.1:9/eurofxref-daily.xml"',
            "names a file",
        ),
        ('[rates.sources.Big]\nadapter = "memory"', "rates.sources.Big: a source name"),
        (
            '[rates.sources.memory]\n[rates.serve]\nEUR = "memory"\n'
            '[rates.sources.spare]\nadapter = "memory"',
            "rates.sources.spare: serves no currency; name it in [rates.serve] or "
            "[rates.market], or remove the table",
        ),
        (
            '[rates]\nreporting_currency = "XAU"\n'
            '[rates.sources.memory]\n[rates.serve]\nXAU = "memory"',
            "rates.reporting_currency: XAU is a metal, counted in troy ounces",
        ),
    ],
)
def test_a_bad_section_names_the_path_and_the_problem(
    tmp_path: Path, adapters: Adapters, extra: str, expected: str
) -> None:
    assert expected in problems_of(tmp_path, adapters, MINIMAL + extra)


def test_every_problem_in_the_section_is_reported_at_once(
    tmp_path: Path, adapters: Adapters
) -> None:
    found = problems_of(
        tmp_path,
        adapters,
        MINIMAL
        + '[rates]\npivot = "x"\nbackfill_days = -3\n[rates.serve]\nEUR = "ecb"',
    )
    assert found.count("\n") == 2, found


def test_the_example_in_the_rates_page_is_a_working_section(
    tmp_path: Path, adapters: Adapters
) -> None:
    page = Path(__file__).parents[2] / "docs" / "rates.md"
    (example,) = re.findall(
        r"```toml\n(\[rates\].*?)```", page.read_text(encoding="utf-8"), re.DOTALL
    )
    names = set(re.findall(r"\$\{(\w+)\}", example))

    config = load_config(
        write(tmp_path, MINIMAL + example),
        adapters,
        {"LB_TOKEN": "x"} | {name: "http://127.0.0.1:9/" for name in names},
    )

    assert set(config.rates.serve.values()) | set(config.rates.market.values()) == (
        set(config.rates.sources)
    )
