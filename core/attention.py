"""The attention queue's vocabulary: item IDs, reason codes, and what an
operator does about each.

Everything that needs a person is one kind of item
(:class:`~fulfilment.core.ports.AttentionItem`): a subject (an order key,
``partner:flextock``, ``rates:ecb``), a reason, the words to show (the
partner's own, where a partner spoke), and an ID to act on it by.

An ID is the item's (subject, reason) hashed to ten base-32 characters,
then a dash and which time that pair was raised: ``rr4lrugit5-1``.  The
same open problem raised again keeps its ID (its message is refreshed);
raised again after it was resolved, it is a new item, ``rr4lrugit5-2``, and
the old one stays in the history with its note.  The ID is the same on
every store and every machine, so it can be pasted into a ticket, a chat or
a shell.  Fifty bits keep two pairs from sharing a prefix in practice (one
chance in a few thousand at a million pairs).

A reason is a code from :data:`REASONS`, sometimes followed by a detail
that keeps items apart (``unknown_tracking_code:90``,
``notification_uncertain:shipped:sms``).  The code says what happened, what
the operator should do, and what ``attention retry`` means for it.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import re
from collections.abc import Mapping

import attrs

__all__ = [
    "NOTE_LIMIT",
    "NOT_ORDER_SUBJECTS",
    "REASONS",
    "InvalidNote",
    "Reason",
    "Retry",
    "attention_id",
    "check_note",
    "describe",
    "is_attention_id",
    "reason_code",
    "subject_store",
]

_ID = re.compile(r"[a-z2-7]{10}-[1-9][0-9]*")
# Subjects that are not order keys, by their first part.  Those naming a
# store carry it second (``store:shemsi-egypt``, ``discounts:shemsiworld``).
NOT_ORDER_SUBJECTS = frozenset(
    {
        "partner",
        "provider",
        "shortener",
        "rates",
        "nps",
        "store",
        "discounts",
        "webhook",
    }
)
_STORE_SUBJECTS = frozenset({"store", "discounts"})


def attention_id(subject: str, reason: str, occurrence: int) -> str:
    """The ID of the *occurrence*-th item raised for (subject, reason)."""
    digest = hashlib.blake2b(f"{subject}\x00{reason}".encode(), digest_size=8).digest()
    stem = base64.b32encode(digest).decode("ascii").lower()[:10]
    return f"{stem}-{occurrence}"


def is_attention_id(text: str) -> bool:
    return _ID.fullmatch(text) is not None


def reason_code(reason: str) -> str:
    """The catalogue code of *reason* (what comes before its detail)."""
    return reason.partition(":")[0]


def subject_store(subject: str) -> str | None:
    """The store an item is about: an order key's, or the one a store-wide
    subject names; None for a partner, a provider or a rate source."""
    head, _, rest = subject.partition(":")
    if head in _STORE_SUBJECTS:
        return rest or None
    if head == "webhook":  # webhook:<store>:<delivery id>
        return rest.partition(":")[0] or None
    if head in NOT_ORDER_SUBJECTS:
        return None
    store, sep, external_id = rest.partition(":")
    return store if sep and store and external_id else None


class InvalidNote(ValueError):
    """A resolution note that says nothing, or cannot be shown as a line."""


# A note is shown on an operator's terminal and in tickets as one line: a
# line break would forge another field of ``attention show``, and an escape
# sequence would act on the terminal that shows it.
NOTE_LIMIT = 2000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_note(note: str) -> str:
    """*note* stripped; raises :class:`InvalidNote` when it is blank, holds
    control characters or is longer than :data:`NOTE_LIMIT`.  A person
    closing an item says why, for whoever reads the history."""
    stripped = note.strip()
    if not stripped:
        raise InvalidNote(
            "a note is required to resolve an item: say what was done "
            "or why nothing needs doing"
        )
    if _CONTROL.search(stripped):
        raise InvalidNote("the note must be one line, without control characters")
    if len(stripped) > NOTE_LIMIT:
        raise InvalidNote(
            f"the note has {len(stripped)} characters; write at most "
            f"{NOTE_LIMIT} characters (a ticket can hold the rest)"
        )
    return stripped


class Retry(enum.StrEnum):
    """What ``attention retry ID`` does for an item of a reason."""

    BOOKING = "booking"
    """Send the order back to ``new`` for the next booking run."""
    RESEND = "resend"
    """The effect may have happened: never redone blindly.  With
    ``--resend``, after the operator checked, it is queued again."""
    REPOLL = "repoll"
    """Ask the partner again at the next tracking run."""
    BY_ITSELF = "by_itself"
    """The next run tries again by itself; nothing to retry by hand."""
    BY_HAND = "by_hand"
    """Only a person can do it (in a store, at a partner, in the config)."""


@attrs.frozen
class Reason:
    code: str
    happened: str
    action: str
    retry: Retry


def _catalogue(*reasons: Reason) -> Mapping[str, Reason]:
    return {r.code: r for r in reasons}


REASONS: Mapping[str, Reason] = _catalogue(
    # --- orders and bookings
    Reason(
        "malformed_order",
        "the order could not be read in full from its store",
        "fix the order in the store; the next fetch reads it again",
        Retry.BY_HAND,
    ),
    Reason(
        "unreadable_webhook",
        "a webhook delivery was kept but holds no order that can be read",
        "read the delivery's message; polling still brings the order in, "
        "so resolve it once the order is in the store",
        Retry.BY_HAND,
    ),
    Reason(
        "order_not_bookable",
        "the order cannot be booked as it is (bad data, an amount no "
        "courier can collect, a partner that cannot take it)",
        "fix the order or the config, then retry it",
        Retry.BOOKING,
    ),
    Reason(
        "rejected_by_partner",
        "the partner refused the booking; its words are in the message",
        "fix what the partner names (address, phone, city), then retry",
        Retry.BOOKING,
    ),
    Reason(
        "booking_failed_repeatedly",
        "the partner failed every attempt to book the order",
        "check the partner is up, then retry",
        Retry.BOOKING,
    ),
    Reason(
        "booking_outcome_unknown",
        "a booking got no answer: a parcel may exist at the partner",
        "look in the partner's portal: record the parcel "
        "(attention record) if it is there, else retry",
        Retry.BOOKING,
    ),
    Reason(
        "booking_crashed",
        "booking stopped on an unexpected error: a parcel may exist",
        "look in the partner's portal, then record the parcel or retry",
        Retry.BOOKING,
    ),
    Reason(
        "no_partner_for_store",
        "a store has orders but no delivery partner is configured for it; "
        "they are held",
        "configure a partner for the store, or resolve with a note while "
        "its orders are meant to wait",
        Retry.BY_HAND,
    ),
    Reason(
        "partner_not_configured",
        "parcels or orders name a partner the config no longer has",
        "configure the partner again, or record the parcels by hand",
        Retry.BY_HAND,
    ),
    Reason(
        "partner_unavailable",
        "the partner refused our credentials or contract; work with it "
        "paused for the run",
        "fix the credentials; work resumes by itself",
        Retry.BY_ITSELF,
    ),
    Reason(
        "edited_after_booking",
        "the order changed in the store after it was booked",
        "change the parcel at the partner to match, then resolve",
        Retry.BY_HAND,
    ),
    Reason(
        "fulfiller_changed",
        "the store says another fulfiller now ships the order",
        "check no parcel is sent twice, then resolve",
        Retry.BY_HAND,
    ),
    Reason(
        "cancelled_after_booking",
        "the order was cancelled after it was booked and the partner "
        "could not cancel the parcel",
        "cancel the parcel at the partner, then resolve",
        Retry.BY_HAND,
    ),
    Reason(
        "cancelled_after_delivery",
        "the order was cancelled after it was delivered",
        "arrange the return or refund with the customer, then resolve",
        Retry.BY_HAND,
    ),
    Reason(
        "cancelled_after_return",
        "the order was cancelled after its parcel came back",
        "check the stock came back, then resolve",
        Retry.BY_HAND,
    ),
    # --- tracking
    Reason(
        "unknown_tracking_code",
        "a partner reported a status code its table does not know",
        "add the code to the partner's status table; retry re-polls",
        Retry.REPOLL,
    ),
    Reason(
        "tracking_stale",
        "no news from the partner about a parcel for days",
        "ask the partner about the parcel; retry re-polls it next run",
        Retry.REPOLL,
    ),
    # --- customer messages, store reports, the feedback loop
    Reason(
        "notification_uncertain",
        "an SMS or e-mail may or may not have gone out",
        "check with the provider or the customer; resend only if it "
        "did not arrive (retry --resend), else resolve",
        Retry.RESEND,
    ),
    Reason(
        "provider_unavailable",
        "the SMS or e-mail provider refused our credentials or account",
        "fix the provider's settings; notices wait and go out by themselves",
        Retry.BY_ITSELF,
    ),
    Reason(
        "short_links_unavailable",
        "the link shortener failed; messages carry the long link",
        "fix the shortener's settings or quota",
        Retry.BY_ITSELF,
    ),
    Reason(
        "store_fulfilment_refused",
        "the store refused to record a parcel's tracking number",
        "record the tracking number in the store by hand, then resolve",
        Retry.BY_HAND,
    ),
    Reason(
        "store_fulfilment_crashed",
        "reporting a parcel to the store stopped on an unexpected error",
        "check the order in the store; retry --resend if the tracking "
        "number is missing there, else resolve",
        Retry.RESEND,
    ),
    Reason(
        "store_unavailable",
        "the store refused our credentials or access",
        "fix the store's token or scopes; reports wait and go out by themselves",
        Retry.BY_ITSELF,
    ),
    Reason(
        "nps_unmatched",
        "a survey answer names no order we know",
        "find the order by hand if you can, then resolve",
        Retry.BY_HAND,
    ),
    Reason(
        "discount_budget",
        "a store's monthly discount budget would be exceeded",
        "raise the budget in the config, or thank customers by hand",
        Retry.BY_HAND,
    ),
    Reason(
        "discount_code_clash",
        "a discount code is already used in the store",
        "thank the customer with a code made by hand, then resolve",
        Retry.BY_HAND,
    ),
    Reason(
        "discount_refused",
        "the store refused a discount code; its words are in the message",
        "thank the customer with a code made by hand, then resolve",
        Retry.BY_HAND,
    ),
    Reason(
        "discount_crashed",
        "creating a discount code stopped on an unexpected error",
        "check the store's discounts; retry --resend if the code is "
        "missing there, else resolve",
        Retry.RESEND,
    ),
    Reason(
        "discounts_unavailable",
        "the store refused our credentials for discount codes",
        "fix the store's token or scopes; codes wait and are made by themselves",
        Retry.BY_ITSELF,
    ),
    # --- reference rates
    Reason(
        "rate_source_failed",
        "a rate source could not be read",
        "nothing, if it is a passing outage; the next run asks again",
        Retry.BY_ITSELF,
    ),
    Reason(
        "rate_not_published",
        "a rate source published no rate for a currency",
        "check the currency is one the source carries, or add a source",
        Retry.BY_HAND,
    ),
)


def describe(reason: str) -> Reason | None:
    """The catalogue entry of *reason*'s code; None for a code it lacks
    (a plugin's own)."""
    return REASONS.get(reason_code(reason))
