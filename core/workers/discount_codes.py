"""Worker discount-codes: thank each answer with a code of its own.

fetch-nps-responses queues one ledger entry per answer about a known order
(``discount:<form id>:<response id>``, payload ``{"form", "response"}``).
This worker takes each due entry (atomically: QUEUED -> PENDING, so two
runners never reward the same answer), works out what the answer's
category earns, and creates a single-use code for the order's customer in
the store that sold the order; then it keeps the code in the NPS store,
queues the customer's notices (SMS and e-mail: the code, what it is worth,
its last day) and completes the entry.

The code is derived from the answer (:func:`~fulfilment.core.nps.
discount_code_for`), and codes are unique in a store, so one answer can
never become two discounts: a second attempt at a code is answered "taken",
and the store's copy, recognised by its title (``NPS <form>/<response
id>``), is taken as the one made before.  An attempt whose outcome is not
known is never followed by a blind second one: the entry goes back to the
queue and the next attempt starts by asking the store for the code.
Outcomes:

- created, or found (an earlier attempt had made it after all): DONE with
  the store's id of the discount, the code kept, the notices queued;
- no reward for the answer's category, or the order's store cannot create
  codes (a channel without :class:`~fulfilment.core.ports.StoreDiscounts`,
  Amazon here): FAILED with the reason, and nobody is asked to look;
- over budget: the store's codes of this month (in its time zone), with
  this one, would be worth more than its monthly budget: FAILED, and one
  attention item per store and month says so;
- the code is someone else's (the store holds it under another title), or
  the store refused the request: FAILED, with an attention item quoting
  the store;
- nothing happened (throttled, 503): back to QUEUED for the next run, and
  the store's other entries wait for that run too;
- may have happened (timeout, broken reply), or an entry left PENDING by a
  runner that died mid-call (after a grace period): back to QUEUED, looked
  up first on the next attempt;
- credentials or permissions refused: back to QUEUED, the store waits, and
  an attention item says so;
- an unexpected error (a bug, an answer no adapter could read): UNCERTAIN,
  with an attention item, and the batch goes on.

The budget counts the codes the NPS store holds.  A code whose creation was
interrupted is only counted once a later attempt finds it, so a month can
end over its budget by the codes in flight when a runner died (at most one
per runner and crash); a budget is a spending guide, not a ledger.

A discount code is a voucher: it is kept in the ledger entry and the NPS
store, and sent to the customer, but never written to a log line, an
entry's detail or an attention message.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import attrs

from ..domain import Money, Order
from ..errors import (
    DiscountCodeTaken,
    OutcomeUnknown,
    PartnerRejected,
    PermanentPartnerError,
    StorageError,
    TransientPartnerError,
)
from ..messages import NotifyEvent, money_text
from ..notices import NOTICE, notices_for
from ..nps import (
    DISCOUNT,
    DiscountCode,
    DiscountKind,
    DiscountPolicy,
    DiscountTier,
    NpsResponse,
    discount_code_for,
    discount_key,
    discount_value,
)
from ..ports import (
    AttentionItem,
    AttentionQueue,
    Clock,
    DiscountRequest,
    Effect,
    EffectLedger,
    EffectStatus,
    ExistingDiscount,
    NpsStore,
    OrderStore,
    StoreDiscounts,
)
from ._outbox import requeue_abandoned, settle_crashed

__all__ = [
    "DISCOUNT",
    "DISCOUNT_BUDGET",
    "DiscountReport",
    "DiscountSettings",
    "budget_key",
    "create_discount_codes",
    "discount_key",
    "discount_text",
    "discount_title",
]

log = logging.getLogger(__name__)

# The ledger kind of "reward this answer with a code".
# The ledger kind naming the one answer that rewards an order.
REWARD = "reward"
# The ledger kind remembering that a store's budget of a month was told.
DISCOUNT_BUDGET = "discount-budget"


def budget_key(store: str, month: str) -> str:
    """The ledger key remembering that *store* ran over its budget in
    *month* (``YYYY-MM``) and a person was told."""
    return f"{DISCOUNT_BUDGET}:{store}:{month}"


def discount_title(response: NpsResponse) -> str:
    """The title of an answer's discount: how the store's copy is known to
    be ours, and what the shop's staff read in the admin."""
    return f"NPS {response.form_id}/{response.response_id}"


def discount_text(kind: DiscountKind, value: Decimal, currency: str) -> str:
    """What a code is worth, as the customer reads it: ``15%``,
    ``12.5%``, ``50.00 MAD``."""
    if kind is DiscountKind.PERCENTAGE:
        return f"{value.normalize():f}%"
    return money_text(Money(value, currency))


@attrs.frozen
class DiscountSettings:
    batch_size: int = 200
    # A code still PENDING this long after it was taken was being created
    # by a runner that died; whether the store has it is unknown.  Far
    # longer than any HTTP timeout, so a slow call is never mistaken for a
    # dead one.
    pending_grace: timedelta = timedelta(minutes=15)


@attrs.frozen
class DiscountReport:
    """``outcomes`` counts entries by outcome; ``created`` counts, per
    store, the codes the store now has for this run's answers (created or
    found), and ``worth`` adds up what they are worth, in each store's
    currency; ``failed_stores`` names the stores that failed this run,
    with why."""

    outcomes: Mapping[str, int]
    created: Mapping[str, int]
    worth: Mapping[str, Decimal]
    failed_stores: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class _Plan:
    """The code an answer earns, ready to create and to record."""

    response: NpsResponse
    order: Order
    request: DiscountRequest
    code: DiscountCode


@attrs.frozen
class _Overspend:
    """A store's codes of *month* (``YYYY-MM``, its time zone) are worth
    *spent*; its budget is *budget*."""

    month: str
    spent: Decimal
    budget: Decimal


@attrs.frozen
class _Done:
    outcome: str
    code: DiscountCode | None = None


class _Clash(Exception):
    """The store holds the code under another title (or says it holds it
    and shows nothing): someone else's code."""

    def __init__(self, existing: ExistingDiscount | None) -> None:
        super().__init__("code clash")
        self.existing = existing


@attrs.define
class _Run:
    orders: OrderStore
    nps: NpsStore
    ledger: EffectLedger
    attention: AttentionQueue
    stores: Mapping[str, StoreDiscounts]
    policy: DiscountPolicy
    time_zones: Mapping[str, str]
    clock: Clock
    settings: DiscountSettings
    # Stores that failed this run: their other entries wait for the next.
    down: dict[str, str] = attrs.Factory(dict)

    def zone(self, store: str) -> ZoneInfo:
        return ZoneInfo(self.time_zones.get(store, "UTC"))


def create_discount_codes(
    *,
    orders: OrderStore,
    nps: NpsStore,
    ledger: EffectLedger,
    attention: AttentionQueue,
    stores: Mapping[str, StoreDiscounts],
    policy: DiscountPolicy,
    time_zones: Mapping[str, str],
    clock: Clock,
    settings: DiscountSettings | None = None,
) -> DiscountReport:
    """Reward every due answer.  *stores* holds, by store handle, the
    stores that can create codes; *time_zones* each store's zone (UTC when
    missing), which decides its months and a code's last day."""
    settings = settings or DiscountSettings()
    run = _Run(
        orders, nps, ledger, attention, stores, policy, time_zones, clock, settings
    )
    outcomes: Counter[str] = Counter()
    created: Counter[str] = Counter()
    worth: dict[str, Decimal] = {}

    outcomes.update(_requeue_abandoned(run))
    for entry in ledger.queued(DISCOUNT, clock.now(), settings.batch_size):
        try:
            done = _one(run, entry)
        except StorageError:
            raise
        except Exception as error:  # one bad entry must not stop the batch
            done = _crashed(run, entry, error)
        outcomes[done.outcome] += 1
        if done.code is not None:
            created[done.code.store] += 1
            worth[done.code.store] = (
                worth.get(done.code.store, Decimal(0)) + done.code.worth
            )

    log.info(
        "discounts.run %s failed_stores=%d",
        " ".join(f"{k}={v}" for k, v in sorted(outcomes.items())) or "nothing=0",
        len(run.down),
    )
    return DiscountReport(dict(outcomes), dict(created), worth, dict(run.down))


def _one(run: _Run, entry: Effect) -> _Done:
    now = run.clock.now()
    loaded = _load(run, entry)
    if isinstance(loaded, str):
        return _fail(run, entry, loaded, "dropped")
    response, order = loaded
    store = run.stores.get(order.key.store)
    if store is None:
        return _fail(run, entry, "store cannot create codes", "unsupported")
    tier = run.policy.tiers.get(response.category)
    if tier is None:
        return _fail(run, entry, f"no reward for {response.category}", "no_reward")
    if not _first_for_order(run, response, order, now):
        return _fail(
            run,
            entry,
            "the customer answered again about the same order; the first "
            "answer earned its code",
            "answered_again",
        )
    if order.key.store in run.down:
        return _Done("store_down")
    taken = run.ledger.take(entry.key, now)
    if taken is None:
        return _Done("taken_elsewhere")

    plan = _plan(run, response, order, tier, now)
    try:
        return _reward(run, store, taken, plan)
    except _Clash as clash:
        _clashed(run, taken, plan, clash.existing)
        return _Done("clash")
    except PartnerRejected as refused:
        _refused(run, taken, plan, refused)
        return _Done("refused")
    except OutcomeUnknown as unknown:
        _back_to_queue(run, order, taken, f"outcome unknown: {unknown}")
        return _Done("uncertain")
    except PermanentPartnerError as broken:
        _back_to_queue(run, order, taken, str(broken))
        _store_unavailable(run, order.key.store, broken)
        return _Done("store_failed")
    except TransientPartnerError as transient:
        _back_to_queue(run, order, taken, str(transient))
        return _Done("retry_later")


def _first_for_order(
    run: _Run, response: NpsResponse, order: Order, now: datetime
) -> bool:
    """Whether *response* is the answer that rewards *order*: a customer
    may send the survey twice, and one order earns one code.  The first
    answer to get here claims the order in the ledger (``reward:<order>``);
    a claim left without its answer by a runner that died in between is
    taken by whichever answer comes next."""
    key = f"{REWARD}:{order.key}"
    claim, fresh = run.ledger.begin(key, REWARD, str(order.key), now)
    mine = {"form": response.form_id, "response": response.response_id}
    if fresh or not claim.result:
        run.ledger.complete(key, mine, now)
        return True
    return dict(claim.result) == mine


def _load(run: _Run, entry: Effect) -> tuple[NpsResponse, Order] | str:
    """The answer and its order, or why there is nothing to reward."""
    response = run.nps.get_response(
        str(entry.result.get("form")), str(entry.result.get("response"))
    )
    if response is None:
        return "the answer is gone"
    if response.order_key is None:
        return "the answer names no order"
    order = run.orders.get(response.order_key)
    if order is None:
        return "the order is gone"
    return response, order


def _plan(
    run: _Run, response: NpsResponse, order: Order, tier: DiscountTier, now: datetime
) -> _Plan:
    """The code *response* earns: it starts now and ends at the close of
    the store's day ``valid_days`` from today."""
    ends = _end_of_day(now, run.zone(order.key.store), tier.valid_days)
    code = discount_code_for(response, run.policy.prefix)
    customer = order.customer.external_id if order.customer else None
    request = DiscountRequest(
        code=code,
        title=discount_title(response),
        kind=tier.kind,
        value=tier.value,
        currency=order.currency,
        starts_at=now,
        ends_at=ends,
        customer_id=customer,
    )
    record = DiscountCode(
        code=code,
        order_key=order.key,
        response_id=response.response_id,
        category=response.category,
        kind=tier.kind,
        value=tier.value,
        worth=discount_value(tier, order),
        currency=order.currency,
        starts_at=now,
        ends_at=ends,
    )
    return _Plan(response, order, request, record)


def _end_of_day(now: datetime, zone: ZoneInfo, days: int) -> datetime:
    """The last second of the local day *days* after *now*'s, in UTC."""
    day = now.astimezone(zone).date() + timedelta(days=days)
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone).astimezone(UTC)


def _reward(run: _Run, store: StoreDiscounts, entry: Effect, plan: _Plan) -> _Done:
    """Find or create the code, then record it; an over-budget answer gets
    nothing."""
    earlier = _earlier(store, entry, plan)
    if earlier is not None:
        return _record(run, entry, plan, earlier, "found")
    over = _over_budget(run, plan)
    if over is not None:
        _refuse_over_budget(run, entry, plan, over)
        return _Done("over_budget")
    try:
        store_id = store.create_discount(plan.request)
    except DiscountCodeTaken:
        return _record(run, entry, plan, _ours(store, plan), "found")
    made = ExistingDiscount(store_id, plan.request.title)
    return _record(run, entry, plan, made, "created")


def _earlier(
    store: StoreDiscounts, entry: Effect, plan: _Plan
) -> ExistingDiscount | None:
    """The store's copy of an earlier attempt, asked for only when there
    was one: every way back to the queue leaves a ``detail`` on the entry,
    and a first attempt has none."""
    if entry.detail is None:
        return None
    found = store.find_discount(plan.request.code)
    if found is not None and found.title != plan.request.title:
        raise _Clash(found)
    return found


def _ours(store: StoreDiscounts, plan: _Plan) -> ExistingDiscount:
    """The store's copy of a code it says is taken, when it is ours."""
    found = store.find_discount(plan.request.code)
    if found is None or found.title != plan.request.title:
        raise _Clash(found)
    return found


def _record(
    run: _Run, entry: Effect, plan: _Plan, made: ExistingDiscount, outcome: str
) -> _Done:
    """Keep the code, queue its notices, complete the entry.  A code found
    in the store keeps the store's dates, which are the ones it runs
    between."""
    now = run.clock.now()
    code = attrs.evolve(
        plan.code,
        store_id=made.store_id,
        starts_at=made.starts_at or plan.code.starts_at,
        ends_at=made.ends_at or plan.code.ends_at,
    )
    run.nps.add_discount(code)
    _queue_notices(run, plan.order, code, now)
    run.ledger.complete(
        entry.key,
        {
            **entry.result,
            "code": code.code,
            "store_id": code.store_id,
            "category": code.category.value,
            "worth": str(code.worth),
            "currency": code.currency,
            "ends_at": code.ends_at.isoformat(),
        },
        now,
    )
    log.info(
        "discounts.rewarded store=%s order=%s outcome=%s",
        code.store,
        plan.order.key.external_id,
        outcome,
    )
    return _Done(outcome, code)


def _queue_notices(run: _Run, order: Order, code: DiscountCode, now: datetime) -> None:
    zone = run.zone(order.key.store)
    values = {
        "code": code.code,
        "discount": discount_text(code.kind, code.value, code.currency),
        "expires": code.ends_at.astimezone(zone).date().isoformat(),
    }
    for notice in notices_for(order, [NotifyEvent.DISCOUNT], values):
        run.ledger.queue(
            notice.key, NOTICE, notice.order_key, now, payload=notice.payload()
        )


# --- the budget ------------------------------------------------------------------


def _over_budget(run: _Run, plan: _Plan) -> _Overspend | None:
    """How the store stands when *plan*'s code would take its codes of
    this month past its budget; None when it fits or there is no budget."""
    store = plan.order.key.store
    budget = run.policy.monthly_budget.get(store)
    if budget is None:
        return None
    local = run.clock.now().astimezone(run.zone(store))
    first = datetime(local.year, local.month, 1, tzinfo=local.tzinfo)
    codes = run.nps.discounts(store=store, since=first.astimezone(UTC))
    spent = sum((c.worth for c in codes), Decimal(0))
    if spent + plan.code.worth <= budget:
        return None
    return _Overspend(f"{local:%Y-%m}", spent, budget)


def _refuse_over_budget(
    run: _Run, entry: Effect, plan: _Plan, over: _Overspend
) -> None:
    """FAILED, once a person has been told (once per store and month).
    Each step comes before the one that records it: the item before the
    month is marked told, both before the entry fails, so a runner dying
    anywhere between leaves the entry to be refused again, and the item
    raised (idempotently) again at worst."""
    _tell_over_budget(run, plan, over)
    run.ledger.mark(entry.key, EffectStatus.FAILED, "over budget", run.clock.now())


def _tell_over_budget(run: _Run, plan: _Plan, over: _Overspend) -> None:
    now = run.clock.now()
    store, currency, month = plan.order.key.store, plan.code.currency, over.month
    marker = budget_key(store, month)
    told = run.ledger.get(marker)
    if told is not None and told.status is EffectStatus.DONE:
        return
    run.attention.raise_item(
        AttentionItem(
            f"discounts:{store}",
            f"discount_budget:{month}",
            f"store {store} has given {over.spent} {currency} of its discount "
            f"budget of {over.budget} {currency} for {month}, and a code worth "
            f"{plan.code.worth} {currency} would go over it: answers that would "
            "take it over get no code this month; raise the budget, or thank "
            "them by hand",
            now,
        )
    )
    if told is None:
        run.ledger.begin(marker, DISCOUNT_BUDGET, f"discounts:{store}", now)
    run.ledger.complete(marker, {"store": store, "month": month}, now)


# --- failures ----------------------------------------------------------------------


def _fail(run: _Run, entry: Effect, why: str, outcome: str) -> _Done:
    run.ledger.mark(entry.key, EffectStatus.FAILED, why, run.clock.now())
    return _Done(outcome)


def _clashed(
    run: _Run, entry: Effect, plan: _Plan, existing: ExistingDiscount | None
) -> None:
    now = run.clock.now()
    holder = (
        f"another discount ({existing.title!r}, {existing.store_id})"
        if existing
        else "a discount it does not show"
    )
    run.ledger.mark(entry.key, EffectStatus.FAILED, f"code clash: {holder}", now)
    run.attention.raise_item(
        AttentionItem(
            str(plan.order.key),
            "discount_code_clash",
            f"the code for answer {_answer(plan)} on order {plan.order.name} is "
            f"already used in store {plan.order.key.store} by {holder}; thank "
            "the customer with a code made by hand",
            now,
        )
    )


def _refused(run: _Run, entry: Effect, plan: _Plan, refused: PartnerRejected) -> None:
    now = run.clock.now()
    run.ledger.mark(entry.key, EffectStatus.FAILED, str(refused), now)
    run.attention.raise_item(
        AttentionItem(
            str(plan.order.key),
            "discount_refused",
            f"store {plan.order.key.store} refused the discount code for answer "
            f"{_answer(plan)} on order {plan.order.name}: {refused.message}; "
            "thank the customer with a code made by hand",
            now,
        )
    )


def _answer(plan: _Plan) -> str:
    response = plan.response
    return f"{response.form_id}/{response.response_id} ({response.category})"


def _back_to_queue(run: _Run, order: Order, entry: Effect, why: str) -> None:
    """Queue the entry again (its ``detail`` makes the next attempt look
    first) and leave the store alone for the rest of the run."""
    run.ledger.mark(entry.key, EffectStatus.QUEUED, why, run.clock.now())
    run.down[order.key.store] = why
    log.warning("discounts.store_failed store=%s error=%s", order.key.store, why)


def _store_unavailable(run: _Run, store: str, error: PermanentPartnerError) -> None:
    run.attention.raise_item(
        AttentionItem(
            f"store:{store}",
            "discounts_unavailable",
            f"{error}; discount codes for this store wait until it is fixed",
            run.clock.now(),
        )
    )


def _crashed(run: _Run, entry: Effect, error: Exception) -> _Done:
    log.exception("discounts.entry_failed entry=%s", entry.key)
    form, response = entry.result.get("form"), entry.result.get("response")
    settle_crashed(
        run.ledger,
        run.attention,
        entry,
        error,
        run.clock.now(),
        reason="discount_crashed",
        what_to_do=lambda why: (
            f"the discount code for answer {form}/{response} stopped on an "
            f"unexpected error ({why}); look the answer's code up in the store "
            "and send it by hand, or make one"
        ),
    )
    return _Done("crashed")


def _requeue_abandoned(run: _Run) -> Counter[str]:
    settled = requeue_abandoned(
        run.ledger,
        DISCOUNT,
        run.clock.now(),
        grace=run.settings.pending_grace,
        limit=run.settings.batch_size,
        why="a runner stopped while creating it; looked up before another try",
    )
    return Counter({"abandoned": settled} if settled else {})
