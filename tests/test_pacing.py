"""Partners with a plain requests-a-second limit (Rebrandly, Typeform)
wait their turn in a shared rate budget when the runner has one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from fulfilment.adapters.hookspecs import AdapterContext
from fulfilment.adapters.notify.rebrandly import RebrandlySettings
from fulfilment.adapters.notify.rebrandly import plugin as rebrandly_plugin
from fulfilment.adapters.pacing import SharedPace
from fulfilment.adapters.retry import RetryPolicy
from fulfilment.adapters.storage.memory import MemoryRateBudget
from fulfilment.adapters.survey.typeform import TypeformSettings
from fulfilment.adapters.survey.typeform import plugin as typeform_plugin
from fulfilment.core.clock import SystemClock
from fulfilment.core.rate_budgets import budget_key

KEY = "typeform:0123456789abcdef"


class FakeWall:
    """A wall clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def pace(budget: MemoryRateBudget, wall: FakeWall, per_second: float) -> SharedPace:
    return SharedPace(budget, KEY, per_second, wall=wall.time, sleep=wall.sleep)


def test_calls_spend_a_seconds_burst_then_wait_their_turn() -> None:
    wall, budget = FakeWall(), MemoryRateBudget()
    typeform = pace(budget, wall, 2)

    waits = [typeform.wait_turn() for _ in range(4)]

    assert waits == [0, 0, pytest.approx(0.5), pytest.approx(0.5)]


def test_runners_on_one_budget_share_one_rate() -> None:
    wall, budget = FakeWall(), MemoryRateBudget()
    one, other = pace(budget, wall, 2), pace(budget, wall, 2)

    one.wait_turn()
    one.wait_turn()
    other.wait_turn()

    assert wall.sleeps == [pytest.approx(0.5)]


def test_a_sleeper_that_lets_no_time_pass_does_not_wait_for_ever() -> None:
    budget = MemoryRateBudget()
    stuck = SharedPace(budget, KEY, 1, wall=lambda: 100.0, sleep=lambda _: None)

    waits = [stuck.wait_turn() for _ in range(3)]

    assert waits == [0, pytest.approx(1.0), pytest.approx(1.0)]


@pytest.mark.parametrize("rate", [0, -2, float("nan"), float("inf"), True])
def test_a_rate_that_is_not_a_positive_number_is_refused(rate: Any) -> None:
    with pytest.raises(ValueError, match="requests_per_second must be a number"):
        RebrandlySettings(
            base_url="https://api.rebrandly.test",
            api_key="rb-key",
            requests_per_second=rate,
        )


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as mock:
        yield mock


def context(budget: MemoryRateBudget | None) -> AdapterContext:
    return AdapterContext(
        clock=SystemClock(),
        retry=RetryPolicy.for_tests(),
        http_client=lambda url, timeout: httpx.Client(base_url=url, timeout=timeout),
        rate_budget=budget,
    )


def spent(budget: MemoryRateBudget, key: str, burst: float) -> bool:
    """Whether the bucket under *key* is no longer full."""
    return budget.take(key, burst, burst, burst, time.time()) > 0


def test_the_rebrandly_plugin_takes_its_calls_from_the_runners_budget(
    router: respx.MockRouter,
) -> None:
    budget = MemoryRateBudget()
    settings = RebrandlySettings(
        base_url="https://api.rebrandly.test", api_key="rb-key", workspace="ws-1"
    )
    link = {"shortUrl": "rebrand.ly/ma10482", "slashtag": "ma10482"}
    router.post("https://api.rebrandly.test/v1/links").respond(200, json=link)

    shortener = rebrandly_plugin.build(settings, context(budget))
    shortener.shorten("https://shop.example/orders/10482", "ma10482")

    key = budget_key("rebrandly", "https://api.rebrandly.test", "ws-1")
    assert spent(budget, key, 10)


def test_the_typeform_plugin_takes_its_calls_from_the_runners_budget(
    router: respx.MockRouter,
) -> None:
    budget = MemoryRateBudget()
    settings = TypeformSettings(
        base_url="https://api.typeform.test",
        token="tfp_not_a_real_token",
        form_id="Xq7LmN2p",
        form_url="https://zellige.typeform.test/to/Xq7LmN2p",
    )
    router.get("https://api.typeform.test/forms/Xq7LmN2p/responses").respond(
        200, json={"total_items": 0, "page_count": 1, "items": []}
    )

    survey = typeform_plugin.build(settings, context(budget))
    survey.responses(since=None, after=None, page_size=10)

    assert spent(budget, budget_key("typeform", "https://api.typeform.test"), 2)


def test_without_a_budget_the_plugins_call_as_they_always_have(
    router: respx.MockRouter,
) -> None:
    route = router.get("https://api.typeform.test/forms/Xq7LmN2p/responses")
    route.respond(200, json={"total_items": 0, "page_count": 1, "items": []})
    settings = TypeformSettings(
        base_url="https://api.typeform.test",
        token="tfp_not_a_real_token",
        form_id="Xq7LmN2p",
        form_url="https://zellige.typeform.test/to/Xq7LmN2p",
        requests_per_second=0.001,
    )

    survey = typeform_plugin.build(settings, context(None))
    for _ in range(3):
        survey.responses(since=None, after=None, page_size=10)

    assert route.call_count == 3
