"""``fulfilment attention``: one queue, acted on by item ID.

Items and orders are stored in a SQLite file that the commands then read
through a configuration, as an operator's would.  Each item is what a
worker raises (the worker-level tests show the workers raise them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest

from fulfilment.adapters.storage.sqlite import SQLiteSettings, SQLiteStorage
from fulfilment.core.domain import OrderKey, OrderState, Problem
from fulfilment.core.ports import AttentionItem, EffectStatus
from fulfilment.runners.cli import main
from fulfilment.testing.builders import T0, make_order
from tests.runners.test_operator_commands import CONFIG

REJECTED = "shopify:shemsiworld:3001"
IN_TRANSIT = "shopify:shemsiworld:3002"
REJECTION = AttentionItem(
    REJECTED,
    "rejected_by_partner",
    "Invalid city 'Casablanka'; phone 0661234567 is not reachable",
    T0 - timedelta(minutes=1),
    (Problem("aramex_err52", "Invalid city 'Casablanka'"),),
)
UNCERTAIN = AttentionItem(
    IN_TRANSIT,
    "notification_uncertain:shipped:sms",
    "sms notice shipped: the provider may have sent it: read timed out; "
    "it is not sent again automatically",
    T0 + timedelta(minutes=5),
    effect=f"notice:{IN_TRANSIT}:shipped:sms",
)
STALE = AttentionItem(IN_TRANSIT, "tracking_stale", "no news for 5 days", T0)
RATES = AttentionItem("rates:metals", "rate_source_failed", "metals: 503", T0)
UNMATCHED = AttentionItem("nps:F1:r9", "nps_unmatched", "names order 77", T0)


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "fulfilment.toml"
    path.write_text(CONFIG, encoding="utf-8")
    with opened(str(path)) as storage:
        storage.orders.save_many(
            [
                attrs.evolve(
                    make_order("3001"),
                    state=OrderState.NEEDS_ATTENTION,
                    problems=REJECTION.problems,
                ),
                attrs.evolve(make_order("3002"), state=OrderState.IN_TRANSIT),
            ]
        )
        storage.ledger.queue(
            str(UNCERTAIN.effect),
            "notice",
            IN_TRANSIT,
            T0,
            payload={"order": IN_TRANSIT, "event": "shipped", "channel": "sms"},
        )
        storage.ledger.take(str(UNCERTAIN.effect), T0)
        storage.ledger.mark(
            str(UNCERTAIN.effect), EffectStatus.UNCERTAIN, "read timed out", T0
        )
        for item in (REJECTION, UNCERTAIN, STALE, RATES, UNMATCHED):
            storage.attention.raise_item(item)
    return str(path)


@pytest.fixture
def opened_config(config: str) -> Iterator[SQLiteStorage]:
    with opened(config) as storage:
        yield storage


class opened:  # noqa: N801 - reads as the with-statement it is used in
    """The configuration's SQLite file, opened for a look."""

    def __init__(self, config: str) -> None:
        path = Path(config).parent / "fulfilment.db"
        self.storage = SQLiteStorage(SQLiteSettings(str(path)))

    def __enter__(self) -> SQLiteStorage:
        return self.storage

    def __exit__(self, *_: object) -> None:
        self.storage.close()


def cli(
    capsys: pytest.CaptureFixture[str], config: str, *args: str
) -> tuple[int, str, str]:
    code = main(["--config", config, "attention", *args])
    out, err = capsys.readouterr()
    return code, out, err


def item(config: str, template: AttentionItem) -> AttentionItem:
    with opened(config) as storage:
        found = storage.attention.get(template.id)
    assert found is not None
    return found


# --- list and show -----------------------------------------------------------


def test_list_shows_id_age_subject_reason_and_the_masked_message(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, _ = cli(capsys, config, "list")

    assert code == 0
    first, message = out.splitlines()[:2]
    assert first.split()[0] == REJECTION.id
    assert first.split()[2:] == [REJECTED, "rejected_by_partner"]
    assert first.split()[1].endswith("d")  # raised days before now
    assert "Invalid city 'Casablanka'" in message
    assert "0661234567" not in out
    assert len(out.splitlines()) == 2 * 5


def test_list_as_json_carries_what_a_script_needs(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, _ = cli(capsys, config, "list", "--json")

    rows = json.loads(out)
    assert code == 0
    assert [r["id"] for r in rows][:1] == [REJECTION.id]
    rejected = rows[0]
    assert rejected["code"] == "rejected_by_partner"
    assert rejected["store"] == "shemsiworld"
    assert rejected["open"] is True
    assert rejected["age_seconds"] > 0
    assert rejected["problems"] == [
        {"code": "aramex_err52", "message": "Invalid city 'Casablanka'"}
    ]


def test_list_filters_by_reason_code_and_store(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    _, by_code, _ = cli(
        capsys, config, "list", "--reason", "notification_uncertain", "--json"
    )
    _, by_store, _ = cli(capsys, config, "list", "--store", "shemsiworld", "--json")

    assert [r["id"] for r in json.loads(by_code)] == [UNCERTAIN.id]
    assert {r["subject"] for r in json.loads(by_store)} == {REJECTED, IN_TRANSIT}


def test_an_unknown_reason_code_or_store_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, err = cli(capsys, config, "list", "--reason", "rejected")
    store_code, _, store_err = cli(capsys, config, "list", "--store", "nope")

    assert (code, out) == (2, "")
    assert err.startswith("error: no reason code 'rejected'; the codes are: ")
    assert "rejected_by_partner" in err
    assert store_code == 2
    assert "no store 'nope'" in store_err


def test_show_tells_what_happened_and_what_to_do(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, _ = cli(capsys, config, "show", REJECTION.id)

    assert code == 0
    assert out.startswith(f"{REJECTION.id}  open, raised 2026-")
    assert "problem   aramex_err52: Invalid city 'Casablanka'" in out
    assert "to do     fix what the partner names" in out
    assert "retry     sends the order back to booking" in out
    assert "0661234567" not in out


def test_show_of_an_unknown_id_is_exit_1(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, err = cli(capsys, config, "show", "aaaaaaaaaa-1")

    assert (code, out, err) == (1, "", "no attention item aaaaaaaaaa-1\n")


# --- retry -------------------------------------------------------------------


def test_retrying_a_rejection_sends_the_order_back_to_booking(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, _ = cli(capsys, config, "retry", REJECTION.id, "--by", "amina")

    assert (code, out) == (
        0,
        f"{REJECTED}: back to new; the next booking run takes it\n",
    )
    with opened(config) as storage:
        order = storage.orders.get(OrderKey.parse(REJECTED))
        closed = storage.attention.get(REJECTION.id)
    assert order is not None
    assert order.state is OrderState.NEW
    assert closed is not None
    assert (closed.note, closed.resolved_by) == ("sent back to booking", "amina")


def test_retrying_by_order_key_still_works(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, _ = cli(capsys, config, "retry", REJECTED)

    assert code == 0
    assert out.startswith(f"{REJECTED}: back to new")
    assert not item(config, REJECTION).is_open


def test_an_uncertain_notice_is_not_resent_on_a_plain_retry(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, err = cli(capsys, config, "retry", UNCERTAIN.id)

    assert (code, out) == (1, "")
    assert "never redone blindly" in err
    assert f"fulfilment attention retry {UNCERTAIN.id} --resend" in err
    assert f"fulfilment attention resolve {UNCERTAIN.id} --note" in err
    with opened(config) as storage:
        effect = storage.ledger.get(str(UNCERTAIN.effect))
    assert effect is not None
    assert effect.status is EffectStatus.UNCERTAIN


def test_an_uncertain_notice_is_queued_again_with_resend(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, _ = cli(capsys, config, "retry", UNCERTAIN.id, "--resend", "--json")

    assert code == 0
    assert json.loads(out) == {
        "done": f"{UNCERTAIN.effect}: queued again; the next run sends it"
    }
    with opened(config) as storage:
        effect = storage.ledger.get(str(UNCERTAIN.effect))
        queued = storage.ledger.queued("notice", T0 + timedelta(days=30), 10)
    assert effect is not None
    assert effect.status is EffectStatus.QUEUED
    assert [e.key for e in queued] == [UNCERTAIN.effect]
    assert not item(config, UNCERTAIN).is_open
    again, _, err = cli(capsys, config, "retry", UNCERTAIN.id, "--resend")
    assert again == 1
    assert "was resolved at" in err


def test_retrying_a_stale_parcel_polls_it_at_the_next_run(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    with opened(config) as storage:
        order = storage.orders.get(OrderKey.parse(IN_TRANSIT))
        assert order is not None
        storage.orders.save(attrs.evolve(order, next_attempt_at=T0 + timedelta(days=9)))

    code, out, _ = cli(capsys, config, "retry", STALE.id)

    assert (code, out) == (0, f"{IN_TRANSIT}: polled at the next tracking run\n")
    with opened(config) as storage:
        polled = storage.orders.get(OrderKey.parse(IN_TRANSIT))
    assert polled is not None
    assert polled.next_attempt_at is None
    assert not item(config, STALE).is_open


@pytest.mark.parametrize(
    ("template", "says"),
    [
        (RATES, "retried by the next run by itself"),
        (UNMATCHED, "nothing the connector can retry"),
    ],
)
def test_what_only_a_person_or_the_next_run_can_do_is_refused_plainly(
    capsys: pytest.CaptureFixture[str],
    config: str,
    template: AttentionItem,
    says: str,
) -> None:
    code, out, err = cli(capsys, config, "retry", template.id)

    assert (code, out) == (1, "")
    assert says in err
    assert len(err.splitlines()) == 1
    assert item(config, template).is_open


def test_retrying_an_unknown_id_is_exit_1(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, _, err = cli(capsys, config, "retry", "aaaaaaaaaa-7")

    assert (code, err) == (1, "no attention item aaaaaaaaaa-7\n")


# --- resolve -----------------------------------------------------------------


def test_resolve_keeps_the_note_and_show_reads_it_back(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, _ = cli(
        capsys, config, "resolve", UNMATCHED.id, "--note", "order 77 is #1077",
        "--by", "amina",
    )  # fmt: skip

    assert (code, out) == (0, f"{UNMATCHED.id} resolved: nps:F1:r9 nps_unmatched\n")
    _, shown, _ = cli(capsys, config, "show", UNMATCHED.id)
    assert "resolved  " in shown
    assert "by amina" in shown
    assert "note      order 77 is #1077" in shown
    _, listed, _ = cli(capsys, config, "list", "--json")
    assert UNMATCHED.id not in [r["id"] for r in json.loads(listed)]


def test_resolving_twice_or_an_unknown_id_is_exit_1(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    cli(capsys, config, "resolve", RATES.id, "--note", "outage over")

    twice, _, err = cli(capsys, config, "resolve", RATES.id, "--note", "again")
    unknown, _, unknown_err = cli(capsys, config, "resolve", "zz", "--note", "x")

    assert twice == 1
    assert "was resolved at" in err
    assert (unknown, unknown_err) == (1, "no attention item zz\n")


@pytest.mark.parametrize("note", ["", "   ", "two\nlines"])
def test_a_blank_or_broken_note_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], config: str, note: str
) -> None:
    code, _, err = cli(capsys, config, "resolve", RATES.id, "--note", note)

    assert code == 2
    assert err.startswith("error: ")
    assert item(config, RATES).is_open


def test_a_huge_note_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, _, err = cli(capsys, config, "resolve", RATES.id, "--note", "a" * 5000)

    assert code == 2
    assert "at most 2000 characters" in err
    assert item(config, RATES).is_open


@pytest.mark.parametrize("by", ["amina\x1b[2J", "two\nlines", "a" * 300])
@pytest.mark.parametrize("command", ["resolve", "retry"])
def test_a_who_with_control_characters_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], config: str, by: str, command: str
) -> None:
    # Shown by attention show on an operator's terminal: an escape sequence
    # in it would act on that terminal.
    note = ["--note", "outage over"] if command == "resolve" else []
    code, _, err = cli(capsys, config, command, REJECTION.id, *note, "--by", by)

    assert code == 2
    assert "--by" in err
    assert item(config, REJECTION).is_open


def test_resolve_without_a_note_is_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli(capsys, config, "resolve", RATES.id)

    assert exit_.value.code == 2
    assert "--note" in capsys.readouterr().err


def test_resolve_by_subject_and_reason_still_works(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, _, _ = cli(
        capsys, config, "resolve", "rates:metals", "rate_source_failed",
        "--note", "outage over",
    )  # fmt: skip

    assert code == 0
    assert item(config, RATES).note == "outage over"
