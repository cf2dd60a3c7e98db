"""The attention vocabulary: IDs, reason codes and the catalogue.

The catalogue test reads the core's source: every reason a worker raises an
item with (a literal, an f-string's leading code, or a module constant) must
be a code the catalogue explains to an operator."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.core import intake
from fulfilment.core.attention import (
    REASONS,
    InvalidNote,
    Retry,
    attention_id,
    check_note,
    describe,
    is_attention_id,
    reason_code,
    subject_store,
)
from fulfilment.core.ports import AttentionItem
from fulfilment.testing.builders import T0

CORE = Path(__file__).resolve().parents[2] / "core"
# The calls whose argument at this position (or keyword) is a reason.
REASON_ARGUMENTS = {
    "AttentionItem": (1, "reason"),
    "_needs_attention": (3, "reason"),
    "settle_crashed": (None, "reason"),
}


def test_an_id_is_ten_base32_characters_and_the_occurrence() -> None:
    first = attention_id("shopify:shemsi-egypt:5551234567890", "tracking_stale", 1)
    second = attention_id("shopify:shemsi-egypt:5551234567890", "tracking_stale", 2)

    assert is_attention_id(first)
    assert first.endswith("-1")
    assert second == first.removesuffix("-1") + "-2"


def test_an_id_is_the_same_on_every_machine() -> None:
    # Pinned: an ID in a ticket must still find its item after an upgrade.
    assert (
        attention_id("shopify:shemsi-egypt:5551234567890", "rejected_by_partner", 1)
        == "rr4lrugit5-1"
    )


@given(
    st.text(min_size=1, max_size=30),
    st.text(min_size=1, max_size=30),
    st.text(min_size=1, max_size=30),
)
def test_different_pairs_get_different_ids(a: str, b: str, c: str) -> None:
    if (a, b) != (a, c):
        assert attention_id(a, b, 1) != attention_id(a, c, 1)


@pytest.mark.parametrize(
    "text", ["", "rr4lrugit5", "rr4lrugit5-0", "RR4LRUGIT5-1", "rr4lrugit51-1"]
)
def test_what_is_not_an_id(text: str) -> None:
    assert not is_attention_id(text)


@pytest.mark.parametrize(
    ("subject", "store"),
    [
        ("shopify:shemsi-egypt:5551234567890", "shemsi-egypt"),
        ("amazon:amazon-ae:402-1234567-1234567", "amazon-ae"),
        ("store:shemsi-uae", "shemsi-uae"),
        ("discounts:shemsiworld", "shemsiworld"),
        ("partner:flextock", None),
        ("rates:ecb:USD", None),
        ("nps:Xq7LmN2p:r9", None),
        ("provider:sms", None),
    ],
)
def test_the_store_an_item_is_about(subject: str, store: str | None) -> None:
    assert subject_store(subject) == store
    assert AttentionItem(subject, "x", "m", T0).store == store


def test_a_reason_code_drops_the_detail() -> None:
    assert reason_code("notification_uncertain:shipped:sms") == "notification_uncertain"
    assert reason_code("tracking_stale") == "tracking_stale"
    described = describe("unknown_tracking_code:90")
    assert described is not None
    assert described.retry is Retry.REPOLL
    assert describe("a_plugins_own_code") is None


@pytest.mark.parametrize("note", ["", "  ", "\n\t"])
def test_a_blank_note_is_refused(note: str) -> None:
    with pytest.raises(InvalidNote, match="a note is required"):
        check_note(note)


@pytest.mark.parametrize(
    ("note", "says"),
    [
        ("done\x1b[31m", "one line, without control characters"),
        ("line\nline", "one line, without control characters"),
        ("a" * 2001, "at most 2000 characters"),
    ],
)
def test_a_note_that_cannot_be_shown_as_one_line_is_refused(
    note: str, says: str
) -> None:
    with pytest.raises(InvalidNote, match=says):
        check_note(note)


def test_a_long_note_within_the_limit_is_kept() -> None:
    assert check_note(" " + "a" * 2000 + " ") == "a" * 2000


def test_every_entry_says_what_to_do() -> None:
    for code, reason in REASONS.items():
        assert reason.code == code
        assert reason.happened
        assert reason.action


def raised_reasons() -> Iterator[tuple[str, str]]:
    """(file, code) for each reason the core raises an item with."""
    for path in sorted(CORE.rglob("*.py")):
        module = importlib.import_module(
            "fulfilment.core." + ".".join(path.relative_to(CORE).with_suffix("").parts)
        )
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            if name not in REASON_ARGUMENTS:
                continue
            code = _reason_value(node, name, module)
            if code is not None:
                yield path.name, code


def _reason_value(node: ast.Call, name: str, module: object) -> str | None:
    position, keyword = REASON_ARGUMENTS[name]
    found: ast.expr | None = None
    if position is not None and len(node.args) > position:
        found = node.args[position]
    for kw in node.keywords:
        if kw.arg == keyword:
            found = kw.value
    if isinstance(found, ast.Constant) and isinstance(found.value, str):
        return reason_code(found.value)
    if isinstance(found, ast.JoinedStr) and isinstance(found.values[0], ast.Constant):
        return reason_code(str(found.values[0].value))
    if isinstance(found, ast.Name) and isinstance(getattr(module, found.id, None), str):
        return reason_code(getattr(module, found.id))
    return None  # a variable: its values are checked where they are made


def test_every_reason_raised_is_in_the_catalogue() -> None:
    raised = set(raised_reasons())

    missing = sorted((f, c) for f, c in raised if c not in REASONS)

    assert len(raised) > 20  # the scan found the workers' items
    assert missing == []


def test_the_reasons_intake_and_booking_hand_on_are_in_the_catalogue() -> None:
    handed_on = {
        intake.CANCELLED_AFTER_BOOKING,
        intake.CANCELLED_AFTER_DELIVERY,
        intake.CANCELLED_AFTER_RETURN,
        intake.EDITED_AFTER_BOOKING,
        intake.FULFILLER_CHANGED,
        intake.MALFORMED_ORDER,
        "booking_failed_repeatedly",
        "booking_outcome_unknown",
        "booking_crashed",
    }

    assert handed_on - set(REASONS) == set()


def test_the_docs_list_every_reason_code() -> None:
    page = (CORE.parent / "docs" / "attention.md").read_text(encoding="utf-8")

    missing = [code for code in REASONS if f"| `{code}` |" not in page]

    assert missing == []
