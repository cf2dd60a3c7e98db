"""How orders, reports and summaries look to a person or a script.

Plain data for ``--json`` (stable keys, decimal strings, ISO times) and the
text tables the CLI prints otherwise.  The text of ``orders show`` is drawn
from its JSON view, so the two always say the same thing.

Phone numbers and e-mail addresses are masked in every view of an order,
in free text too (a provider's refusal, a problem, an attention message):
operators paste these views into tickets and chats.  The masked forms
(``+212******567``, ``f***@example.com``) still tell two customers apart.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TextIO

from fulfilment.core.attention import describe
from fulfilment.core.domain import Order, OrderState, Shipment
from fulfilment.core.masking import mask_email, mask_phone, mask_text
from fulfilment.core.notices import NOTICE
from fulfilment.core.nps import MonthlyNps
from fulfilment.core.ports import AttentionItem, Effect
from fulfilment.core.rates import (
    BoardRow,
    CommodityPrice,
    Lookup,
    RatePlan,
    RateType,
    board_row,
)
from fulfilment.core.states import ACTIVE_DELIVERY

__all__ = [
    "age_text",
    "attention_json",
    "attention_list_text",
    "attention_show_json",
    "attention_show_text",
    "order_json",
    "order_show_json",
    "order_show_text",
    "order_table",
    "orders_summary",
]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def order_json(order: Order, *, detail: bool = False) -> dict[str, Any]:
    collect = order.payment.collect
    phone = order.phone
    shipment = order.shipment
    view: dict[str, Any] = {
        "key": str(order.key),
        "store": order.key.store,
        "channel": order.key.channel,
        "name": order.name,
        "state": order.state.value,
        "placed_at": _iso(order.placed_at),
        "payment": order.payment.method.value,
        "paid": order.payment.paid,
        "cod_amount": str(collect.amount) if collect else None,
        "currency": order.currency,
        "total": str(order.total.amount),
        "reporting_total": _reporting(order),
        "phone": _phone(phone.e164 if phone else None),
        "partner": order.partner,
        "partner_reference": shipment.reference if shipment else None,
        "hold_reason": order.hold_reason,
        "problems": [
            {"code": p.code, "message": mask_text(p.message), "field": p.field}
            for p in order.all_problems
        ],
    }
    if detail:
        view |= _detail(order)
    return view


def _reporting(order: Order) -> dict[str, Any] | None:
    stamp = order.reporting_total
    if stamp is None:
        return None
    return {
        "amount": None if stamp.amount is None else str(stamp.amount.amount),
        "currency": None if stamp.amount is None else stamp.amount.currency,
        "rate": None if stamp.rate is None else str(stamp.rate),
        "rate_day": None if stamp.rate_day is None else stamp.rate_day.isoformat(),
        "sources": list(stamp.sources),
        "stamped_at": _iso(stamp.stamped_at),
        "missing": stamp.missing,
    }


def _reporting_text(stamp: Mapping[str, Any] | None) -> str | None:
    if stamp is None:
        return "not stamped yet (no rate kept for its day)"
    if stamp["missing"]:
        return f"none: {stamp['missing']}"
    return (
        f"{stamp['amount']} {stamp['currency']} (at {stamp['rate']}, rates of "
        f"{stamp['rate_day']} from {', '.join(stamp['sources']) or '-'})"
    )


def _detail(order: Order) -> dict[str, Any]:
    address = order.shipping_address
    shipment = order.shipment
    return {
        "source_updated_at": _iso(order.source_updated_at),
        "cancelled_at": _iso(order.cancelled_at),
        "financial_status": order.financial_status,
        "customer": order.customer.full_name if order.customer else None,
        "phone_original": _phone(order.phone.original if order.phone else None),
        "email": _email(order.customer.email if order.customer else None),
        "address": {
            "line1": address.line1,
            "line2": address.line2,
            "city": address.city,
            "country": address.country_code,
        }
        if address
        else None,
        "lines": [
            {
                "sku": line.product.sku,
                "title": line.product.title,
                "quantity": line.quantity,
                "ordered_quantity": line.ordered_quantity,
                "unit_price": str(line.unit_price.amount),
            }
            for line in order.lines
        ],
        "shipment": {
            "partner": shipment.partner,
            "reference": shipment.reference,
            "merchant_reference": shipment.merchant_reference,
            "label_url": shipment.label_url,
            "tracking_url": shipment.tracking_url,
            "status": shipment.status.value,
            "booked_at": _iso(shipment.booked_at),
        }
        if shipment
        else None,
        "attempts": order.attempts,
        "next_attempt_at": _iso(order.next_attempt_at),
        # Set aside without stopping the order (an unusable e-mail).
        "warnings": [
            {"code": p.code, "message": mask_text(p.message), "field": p.field}
            for p in order.source_warnings
        ],
    }


def order_table(orders: Iterable[Order]) -> str:
    rows = [("KEY", "NAME", "STATE", "PAYMENT", "PARTNER", "REFERENCE", "PROBLEM")]
    for o in orders:
        problem = o.all_problems[0].code if o.all_problems else ""
        rows.append(
            (
                str(o.key),
                o.name,
                o.state.value,
                "COD" if o.payment.is_cod else "prepaid",
                o.partner or "-",
                o.shipment.reference if o.shipment else "-",
                problem,
            )
        )
    return "\n".join(_aligned(rows))


def _aligned(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """*rows* as lines of left-aligned columns two spaces apart."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        indent
        + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def orders_summary(orders: list[Order]) -> dict[str, Any]:
    booked_states = {
        OrderState.BOOKED,
        OrderState.IN_TRANSIT,
        OrderState.OUT_FOR_DELIVERY,
        OrderState.DELIVERED,
        OrderState.DELIVERY_FAILED,
        OrderState.RETURNED,
    }
    return {
        "total": len(orders),
        "by_state": dict(sorted(Counter(o.state.value for o in orders).items())),
        "by_store": dict(sorted(Counter(o.key.store for o in orders).items())),
        "booked_by_partner": dict(
            sorted(
                Counter(
                    o.shipment.partner
                    for o in orders
                    if o.shipment and o.state in booked_states
                ).items()
            )
        ),
    }


def attention_json(item: AttentionItem, now: datetime | None = None) -> dict[str, Any]:
    """One attention item; with *now*, its age in whole seconds.  Words
    are masked: a partner's refusal may quote a customer's phone."""
    view: dict[str, Any] = {
        "id": item.id,
        "subject": item.subject,
        "reason": item.reason,
        "code": item.code,
        "store": item.store,
        "message": mask_text(item.message),
        "raised_at": _iso(item.raised_at),
        "problems": [
            {"code": p.code, "message": mask_text(p.message)} for p in item.problems
        ],
        "effect": item.effect,
        "open": item.is_open,
        "resolved_at": _iso(item.resolved_at),
        "resolved_by": item.resolved_by,
        "note": _text(item.note),
    }
    if now is not None:
        view["age_seconds"] = max(0, int((now - item.raised_at).total_seconds()))
    return view


def attention_show_json(item: AttentionItem, now: datetime) -> dict[str, Any]:
    """An item in full: :func:`attention_json` and what its reason means
    for the operator (from the catalogue; null for a code it lacks)."""
    reason = describe(item.reason)
    return attention_json(item, now) | {
        "happened": reason.happened if reason else None,
        "action": reason.action if reason else None,
        "retry": reason.retry.value if reason else None,
    }


def attention_list_text(views: Sequence[Mapping[str, Any]]) -> str:
    """One line per item (ID, age, subject, reason), its message under it."""
    if not views:
        return "nothing needs attention"
    lines = []
    for view in views:
        age = age_text(view["age_seconds"])
        lines.append(f"{view['id']}  {age:>4}  {view['subject']}  {view['reason']}")
        lines.append(f"    {view['message']}")
    return "\n".join(lines)


def attention_show_text(view: Mapping[str, Any]) -> str:
    state = "open" if view["open"] else "resolved"
    lines = [
        f"{view['id']}  {state}, raised {view['raised_at']} "
        f"({age_text(view['age_seconds'])} ago)",
        f"subject   {view['subject']}",
        f"reason    {view['reason']}",
        f"message   {view['message']}",
    ]
    lines += [f"problem   {p['code']}: {p['message']}" for p in view["problems"]]
    if view["effect"]:
        lines.append(f"effect    {view['effect']}")
    if view["happened"]:
        lines.append(f"what      {view['happened']}")
        lines.append(f"to do     {view['action']}")
    if view["open"]:
        lines.append(f"retry     {_RETRY_TEXT.get(view['retry'], _BY_HAND)}")
    else:
        by = view["resolved_by"] or "the connector (the condition cleared)"
        lines.append(f"resolved  {view['resolved_at']} by {by}")
        if view["note"]:
            lines.append(f"note      {view['note']}")
    return "\n".join(lines)


_BY_HAND = "nothing to retry: do what it says, then resolve it with a note"
_RETRY_TEXT = {
    "booking": "sends the order back to booking",
    "resend": "refused unless --resend: check it did not happen first",
    "repoll": "polls the parcel again at the next tracking run",
    "by_itself": "nothing to retry: the next run tries again by itself",
    "by_hand": _BY_HAND,
}


def age_text(seconds: int) -> str:
    """``45s``, ``12m``, ``5h``, ``3d``: the largest unit, rounded down."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _phone(number: str | None) -> str | None:
    return mask_phone(number) if number else None


def _email(address: str | None) -> str | None:
    return mask_email(address) if address else None


def _text(words: str | None) -> str | None:
    return mask_text(words) if words else None


# --- orders show -------------------------------------------------------------


def order_show_json(
    order: Order, effects: Iterable[Effect], attention: Iterable[AttentionItem]
) -> dict[str, Any]:
    """Everything known about one order: the order in detail, its tracking
    history oldest first, its customer notices, every other side effect
    recorded for it and the open attention items about it.  *effects* are
    the ledger's entries for the order (``EffectLedger.for_subject``);
    of *attention*, the items whose subject is the order are kept."""
    recorded = list(effects)
    about = [i for i in attention if i.subject == str(order.key)]
    return order_json(order, detail=True) | {
        "tracking": _tracking(order, order.shipment) if order.shipment else None,
        "notifications": [_notice(e) for e in recorded if e.kind == NOTICE],
        "effects": [_effect(e) for e in recorded if e.kind != NOTICE],
        "attention": [_attention(i) for i in about],
    }


def _tracking(order: Order, shipment: Shipment) -> dict[str, Any]:
    polling = order.state in ACTIVE_DELIVERY
    events = sorted(shipment.events, key=lambda e: e.occurred_at)
    return {
        "partner": shipment.partner,
        "reference": shipment.reference,
        "status": shipment.status.value,
        "incident": _text(shipment.incident),
        "tracking_url": shipment.tracking_url,
        "last_polled_at": _iso(shipment.last_polled_at),
        # Null for a parcel still followed means due at the next run.
        "next_poll_at": _iso(order.next_attempt_at) if polling else None,
        "polling": polling,
        "events": [
            {
                "at": _iso(e.occurred_at),
                "status": e.status.value,
                "code": e.code,
                "description": mask_text(e.description),
                "location": _text(e.location),
            }
            for e in events
        ],
    }


def _attention(item: AttentionItem) -> dict[str, Any]:
    return attention_json(item)


def _notice(effect: Effect) -> dict[str, Any]:
    """A customer notice: the payload the tracking worker queued (order,
    event, channel, to) and, once sent, the provider's receipt."""
    payload = effect.result
    channel = payload.get("channel")
    to = str(payload.get("to") or "")
    masked = {"sms": _phone, "email": _email}.get(str(channel), _text)(to)
    return {
        "key": effect.key,
        "event": payload.get("event"),
        "channel": channel,
        "to": masked,
        "status": effect.status.value,
        "attempts": effect.attempts,
        "provider": payload.get("provider"),
        "message_id": payload.get("message_id"),
        "provider_status": payload.get("status"),
        "segments": payload.get("segments"),
        "detail": _text(effect.detail),
        "created_at": _iso(effect.created_at),
        "updated_at": _iso(effect.updated_at),
        "not_before": _iso(effect.not_before),
    }


def _effect(effect: Effect) -> dict[str, Any]:
    # The result is left out: future kinds may carry what an operator's
    # ticket must not (a discount code, a recipient).
    return {
        "key": effect.key,
        "kind": effect.kind,
        "status": effect.status.value,
        "attempts": effect.attempts,
        "detail": _text(effect.detail),
        "created_at": _iso(effect.created_at),
        "updated_at": _iso(effect.updated_at),
        "not_before": _iso(effect.not_before),
    }


def order_show_text(view: Mapping[str, Any]) -> str:
    """The view of :func:`order_show_json` as sections a person reads: the
    order, then tracking, notifications, effects and attention."""
    sections = [
        _header(view),
        _tracking_text(view["tracking"]),
        _section("notifications", _notices_text(view["notifications"])),
        _section("effects", _effects_text(view["effects"])),
        _section("attention", _attention_text(view["attention"])),
    ]
    return "\n\n".join(sections)


def _header(view: Mapping[str, Any]) -> str:
    collect = view["cod_amount"]
    total = f"{view['total']} {view['currency']}"
    payment = (
        f"cash on delivery, collect {collect} {view['currency']} of {total}"
        if collect
        else f"prepaid, {total}, {'paid' if view['paid'] else 'not paid'}"
    )
    reference = view["partner_reference"]
    pairs = [
        ("order", f"{view['key']}  {view['name']}"),
        ("state", view["state"]),
        ("partner", _joined(view["partner"], reference and f"reference {reference}")),
        ("placed", view["placed_at"]),
        ("changed", f"{view['source_updated_at']} (last change in the store)"),
        (
            "customer",
            _joined(
                view["customer"], view["phone"] or view["phone_original"], view["email"]
            ),
        ),
        ("address", _address(view["address"])),
        ("payment", payment),
        ("reported", _reporting_text(view["reporting_total"])),
    ]
    pairs += [("line", _line(line, view["currency"])) for line in view["lines"]]
    if view["hold_reason"]:
        pairs.append(("held", view["hold_reason"]))
    if view["cancelled_at"]:
        pairs.append(("cancelled", view["cancelled_at"]))
    if view["attempts"]:
        when = view["next_attempt_at"]
        pairs.append(
            ("attempts", _joined(str(view["attempts"]), when and f"next {when}"))
        )
    pairs += [("problem", f"{p['code']}: {p['message']}") for p in view["problems"]]
    pairs += [("warning", f"{p['code']}: {p['message']}") for p in view["warnings"]]
    return "\n".join(_aligned([(label, value or "-") for label, value in pairs]))


def _tracking_text(tracking: Mapping[str, Any] | None) -> str:
    if tracking is None:
        return _section("tracking", ["not booked"])
    if tracking["polling"]:
        next_poll = tracking["next_poll_at"] or "at the next run"
    else:
        next_poll = "no longer polled"
    pairs = [
        ("partner", tracking["partner"]),
        ("reference", tracking["reference"]),
        ("status", tracking["status"]),
        ("link", tracking["tracking_url"] or "-"),
        ("last poll", tracking["last_polled_at"] or "never"),
        ("next poll", next_poll),
    ]
    if tracking["incident"]:
        pairs.append(("incident", tracking["incident"]))
    rows = [("TIME", "STATUS", "CODE", "DESCRIPTION", "LOCATION")]
    rows += [
        (e["at"], e["status"], e["code"], e["description"], e["location"] or "-")
        for e in tracking["events"]
    ]
    events = _aligned(rows) if tracking["events"] else ["no events yet"]
    return _section("tracking", [*_aligned(pairs), "", *events])


def _notices_text(notices: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = [
        ("EVENT", "CHANNEL", "TO", "STATUS", "TRIES", "PROVIDER", "MESSAGE", "UPDATED")
    ]
    rows += [
        (
            n["event"] or "-",
            n["channel"] or "-",
            n["to"] or "-",
            n["status"],
            str(n["attempts"]),
            _joined(n["provider"], _segments(n["segments"])) or "-",
            n["message_id"] or "-",
            n["updated_at"],
        )
        for n in notices
    ]
    return _with_details(_aligned(rows), notices)


def _effects_text(effects: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = [("KEY", "KIND", "STATUS", "TRIES", "CREATED", "UPDATED")]
    rows += [
        (
            e["key"],
            e["kind"],
            e["status"],
            str(e["attempts"]),
            e["created_at"],
            e["updated_at"],
        )
        for e in effects
    ]
    return _with_details(_aligned(rows), effects)


def _attention_text(items: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for item in items:
        lines.append(f"{item['reason']}  raised {item['raised_at']}  id {item['id']}")
        lines.append(f"    {item['message']}")
    return lines


def _with_details(lines: list[str], entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The table's lines, each entry's detail (a provider's refusal, an
    error) on an indented line under it; no lines at all for no entries."""
    if not entries:
        return []
    out = lines[:1]
    for line, entry in zip(lines[1:], entries, strict=True):
        out.append(line)
        if entry["detail"]:
            out.append(f"    {entry['detail']}")
    return out


def _section(title: str, lines: Sequence[str]) -> str:
    body = lines or ["none"]
    return "\n".join([title, *(f"  {line}".rstrip() for line in body)])


def _joined(*parts: str | None) -> str:
    return ", ".join(p for p in parts if p)


def _segments(count: int | None) -> str | None:
    if count is None:
        return None
    return f"{count} segment{'s' if count != 1 else ''}"


def _address(address: Mapping[str, Any] | None) -> str:
    if address is None:
        return "-"
    parts = (address["line1"], address["line2"], address["city"], address["country"])
    return _joined(*parts) or "-"


def _line(line: Mapping[str, Any], currency: str) -> str:
    return (
        f"{line['quantity']} x {line['sku'] or '-'} {line['title']} "
        f"at {line['unit_price']} {currency}"
    )


def monthly_nps_json(row: MonthlyNps) -> dict[str, Any]:
    return {
        "store": row.store,
        "month": row.month,
        "responses": row.responses,
        "promoters": row.promoters,
        "passives": row.passives,
        "detractors": row.detractors,
        "nps": row.score,
        "codes": row.codes,
        "worth": str(row.worth),
        "currency": row.currency,
    }


def monthly_nps_table(rows: list[MonthlyNps]) -> str:
    """One line per store and month; NPS is promoters minus detractors."""
    if not rows:
        return "no answers or codes yet"
    header = ("store", "month", "answers", "P/P/D", "NPS", "codes", "worth")
    lines = [header] + [
        (
            r.store,
            r.month,
            str(r.responses),
            f"{r.promoters}/{r.passives}/{r.detractors}",
            "-" if r.score is None else f"{r.score:+d}",
            str(r.codes),
            f"{r.worth} {r.currency}" if r.currency else "-",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def rate_board_table(
    rows: list[BoardRow], reporting: str, day: date, metals: list[CommodityPrice]
) -> str:
    """A day's rates against the reporting currency, then metal prices."""
    header = ("currency", "type", f"per 1 {reporting}", f"1 in {reporting}", "from")
    lines = [header] + [
        (
            r.currency,
            r.rate_type.value,
            _figure(r.per_reporting),
            _figure(r.in_reporting),
            _rate_origin(r),
        )
        for r in rows
        if r.currency not in {m.metal for m in metals}
    ]
    text = [f"rates on {day.isoformat()}", _columns(lines)]
    if metals:
        metal_lines = [("metal", f"{reporting}/oz", f"{reporting}/g", "from")] + [
            (
                m.metal,
                _figure(m.per_ounce),
                _figure(m.per_gram),
                f"{m.source} {m.rate_day.isoformat()}",
            )
            for m in metals
        ]
        text += ["", _columns(metal_lines)]
    problems = [f"{r.currency} ({r.rate_type}): {r.problem}" for r in rows if r.problem]
    if problems:
        text += ["", *problems]
    return "\n".join(text)


def rate_board_json(
    rows: list[BoardRow], reporting: str, day: date, metals: list[CommodityPrice]
) -> dict[str, Any]:
    return {
        "day": day.isoformat(),
        "reporting_currency": reporting,
        "rates": [
            {
                "currency": r.currency,
                "rate_type": r.rate_type.value,
                "per_reporting": _figure(r.per_reporting, None),
                "in_reporting": _figure(r.in_reporting, None),
                "rate_day": None if r.rate_day is None else r.rate_day.isoformat(),
                "sources": list(r.sources),
                "carried": r.carried,
                "problem": r.problem,
            }
            for r in rows
        ],
        "metals": [
            {
                "metal": m.metal,
                "currency": m.currency,
                "per_ounce": _figure(m.per_ounce),
                "per_gram": _figure(m.per_gram),
                "rate_day": m.rate_day.isoformat(),
                "source": m.source,
            }
            for m in metals
        ],
    }


def _figure(value: Decimal | None, absent: Any = "-") -> Any:
    """A rate as plain digits without trailing zeros (``89500``, not
    ``8.95E+4`` nor ``89500.00000``)."""
    if value is None:
        return absent
    return f"{value.normalize():f}"


def _rate_origin(row: BoardRow) -> str:
    if row.problem:
        return "no rate (see below)"
    day = row.rate_day.isoformat() if row.rate_day else "?"
    carried = ", carried" if row.carried else ""
    return f"{','.join(row.sources)} {day}{carried}"


def _columns(lines: list[tuple[str, ...]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def write_rate_history(
    out: TextIO,
    plan: RatePlan,
    lookup: Lookup,
    *,
    currency: str,
    against: str,
    start: date,
    end: date,
    rate_type: RateType,
) -> int:
    """CSV, one line per day from *start* to *end*: what one *currency* is
    worth in *against* (ten significant digits), the publication day the
    figure rests on, whether it was carried, and its sources.  Days without
    a rate are left out; returns how many."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ("day", "currency", "against", "rate", "rate_day", "carried", "sources", "type")
    )
    skipped = 0
    day = start
    while day <= end:
        row = board_row(
            plan, lookup, currency, day, against=against, rate_type=rate_type
        )
        if row.in_reporting is None or row.rate_day is None:
            skipped += 1
        else:
            writer.writerow(
                (
                    day.isoformat(),
                    currency,
                    against,
                    _figure(row.in_reporting),
                    row.rate_day.isoformat(),
                    "yes" if row.carried else "no",
                    " ".join(row.sources),
                    rate_type.value,
                )
            )
        day += timedelta(days=1)
    return skipped


def run_table_text(rows: list[dict[str, Any]]) -> str:
    """``status``'s run table: one line per worker (and store), times in
    UTC to the second, the overdue ones marked."""
    lines = ["runs (UTC):"]
    for row in rows:
        name = row["worker"] + (f" {row['store']}" if row["store"] else "")
        ok = {True: "ok", False: "FAILED", None: "running"}[row["last_ok"]]
        last = (
            f"last {_second(row['last_started_at'])} {ok}"
            if row["last_started_at"]
            else "never ran"
        )
        success = _second(row["last_success_at"]) or "never"
        mark = "  OVERDUE" if row["overdue"] else ""
        lines.append(
            f"  {name:<40} {row['schedule']:<22} {last}; "
            f"last success {success}; next {_second(row['next_due_at'])}{mark}"
        )
    return "\n".join(lines)


def _second(iso: str | None) -> str | None:
    if iso is None:
        return None
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S")
