"""What the HTTP partners that key parcels on our merchant reference share.

Flextock and Farfill both take the merchant reference as their own unique
order id, so a lost answer or a duplicate can be settled by asking for that
reference instead of risking a second parcel.  The partner adapters keep
their own wire knowledge; this module holds the steps that read the same for
both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from fulfilment.adapters.retry import RetryPolicy
from fulfilment.core.domain import Booking
from fulfilment.core.errors import OutcomeUnknown, PartnerError, PartnerRejected

from ._bearer import BearerSession

__all__ = ["authorised", "rejected", "settle_unknown"]

log = logging.getLogger(__name__)
T = TypeVar("T")


def authorised(
    retry: RetryPolicy,
    session: BearerSession,
    operation: Callable[[str], T],
    *,
    idempotent: bool,
    what: str,
) -> T:
    """Run ``operation(access_token)`` under the retry policy.  A 401 is
    handled inside one attempt by the session (renew once); transient
    failures are retried by the policy, a lost answer only if *idempotent*."""
    return retry.call(lambda: session.call(operation), idempotent=idempotent, what=what)


def settle_unknown(
    partner: str,
    find: Callable[[str], Booking | None],
    reference: str,
    unknown: OutcomeUnknown,
) -> Booking:
    """After a create call got no answer, ask once whether *reference*
    exists.  Found: that is the booking.  Not found, or the lookup failed:
    *unknown* is raised as it was, so the caller still knows the outcome is
    open and looks again before any new attempt."""
    try:
        found = find(reference)
    except PartnerError as lookup_failed:
        log.warning(
            "booking.outcome_unsettled partner=%s reference=%s error=%s",
            partner,
            reference,
            lookup_failed,
        )
        found = None
    if found is None:
        raise unknown
    log.info("booking.outcome_settled partner=%s reference=%s", partner, reference)
    return found


def rejected(
    partner: str, problems: Sequence[tuple[str, str]], status: int | None
) -> PartnerRejected:
    """A rejection quoting each of the partner's ``(field, message)`` pairs."""
    message = "; ".join(f"{field}: {text}" for field, text in problems)
    return PartnerRejected(
        message, partner=partner, problems=tuple(problems), status=status
    )


def existing_booking(
    partner: str,
    find: Callable[[str], Booking | None],
    reference: str,
    problems: Sequence[tuple[str, str]],
    status: int | None,
) -> Booking:
    """The parcel already booked under *reference*, after the partner
    refused a second one as a duplicate.  If the partner says the reference
    is taken but cannot show it, a person must look: ``PartnerRejected``
    with the partner's words, never a second booking."""
    existing = find(reference)
    if existing is None:
        raise rejected(partner, problems, status)
    log.info("booking.already_booked partner=%s reference=%s", partner, reference)
    return existing
