"""What customers are told, in their store's language, and when.

Pure functions:

- :func:`render` fills the template of an event (shipped, out for delivery,
  delivered, delivery failed) for a locale (Arabic, French, English), giving
  the SMS text and the e-mail subject, text and HTML.  Arabic is written
  right to left; the HTML says so (``dir="rtl"``) and isolates the
  left-to-right parts (order number, link) with ``<bdi>`` so they do not
  scramble the sentence.  SMS text is left as plain characters: phones lay
  out mixed text themselves, and invisible direction marks would turn a
  GSM-7 message into UCS-2.
- What customers typed is never trusted to behave: direction controls
  (which could turn the rest of a sentence around) are dropped from every
  value, and the first name, isolated in ``<bdi>`` too, is read as one line
  of words and cut to :data:`NAME_LIMIT` characters, so a pasted essay
  cannot push an SMS past what a provider accepts.
- :func:`money_text` writes an amount with the minor units of its currency
  (``570.00 MAD``, ``0.500 KWD``), never as the source happened to send it.
- :func:`sms_segments` says how a text will be encoded (GSM-7 or UCS-2) and
  how many segments it costs, before anything is sent.
- :func:`send_time` moves a message due inside the store's quiet hours to the
  morning, in the store's time zone.
"""

from __future__ import annotations

import enum
import html
import re
import string
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import attrs

from .domain import Money, minor_units

__all__ = [
    "LOCALES",
    "NAME_LIMIT",
    "NotifyEvent",
    "QuietHours",
    "Rendered",
    "SmsEncoding",
    "money_text",
    "render",
    "send_time",
    "sms_segments",
]


class NotifyEvent(enum.StrEnum):
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    # The feedback loop: values ``link`` (the personalised survey) and
    # ``code``, ``discount`` ("15%", "50.00 MAD"), ``expires`` (local date).
    NPS_SURVEY = "nps_survey"
    DISCOUNT = "discount"


@attrs.frozen
class _Template:
    sms: str
    subject: str
    body: str


_EN = {
    NotifyEvent.SHIPPED: _Template(
        "Hello $first_name, your order $order from $store is on its way. "
        "[Track it: $link]",
        "Your order $order is on its way",
        "Hello $first_name,\n\nyour order $order from $store has left our "
        "warehouse with $partner.[ You can follow it here: $link]\n\nThank you!",
    ),
    NotifyEvent.OUT_FOR_DELIVERY: _Template(
        "Hello $first_name, your order $order is out for delivery today. $cod_sentence",
        "Your order $order arrives today",
        "Hello $first_name,\n\nyour order $order is out for delivery today. "
        "$cod_sentence[\n\nTrack it: $link]",
    ),
    NotifyEvent.DELIVERED: _Template(
        "Hello $first_name, your order $order has been delivered. Thank you "
        "for shopping with $store!",
        "Your order $order has been delivered",
        "Hello $first_name,\n\nyour order $order has been delivered. Thank "
        "you for shopping with $store!",
    ),
    NotifyEvent.DELIVERY_FAILED: _Template(
        "Hello $first_name, we could not deliver your order $order today. "
        "The courier will try again.[ Details: $link]",
        "We could not deliver your order $order",
        "Hello $first_name,\n\nthe courier could not deliver your order "
        "$order today and will try again.[ Details: $link]",
    ),
    NotifyEvent.NPS_SURVEY: _Template(
        "Hello $first_name, how was your order $order from $store? Tell us in "
        "one minute: $link",
        "How was your order $order?",
        "Hello $first_name,\n\nhow likely are you to recommend $store to a "
        "friend? One question about your order $order, one minute: $link\n\n"
        "Thank you!",
    ),
    NotifyEvent.DISCOUNT: _Template(
        "Thank you for your answer, $first_name! Your code $code gives you "
        "$discount off at $store until $expires.",
        "A thank-you from $store: $discount off",
        "Hello $first_name,\n\nthank you for telling us about your order "
        "$order. Your personal code $code gives you $discount off your next "
        "order at $store, until $expires.\n\nSee you soon!",
    ),
}

_FR = {
    NotifyEvent.SHIPPED: _Template(
        "Bonjour $first_name, votre commande $order de $store est en route. "
        "[Suivi : $link]",
        "Votre commande $order est en route",
        "Bonjour $first_name,\n\nvotre commande $order de $store a quitté "
        "notre entrepôt avec $partner.[ Suivez-la ici : $link]\n\nMerci !",
    ),
    NotifyEvent.OUT_FOR_DELIVERY: _Template(
        "Bonjour $first_name, votre commande $order sera livrée aujourd'hui. "
        "$cod_sentence",
        "Votre commande $order arrive aujourd'hui",
        "Bonjour $first_name,\n\nvotre commande $order est en cours de "
        "livraison aujourd'hui. $cod_sentence[\n\nSuivi : $link]",
    ),
    NotifyEvent.DELIVERED: _Template(
        "Bonjour $first_name, votre commande $order a été livrée. Merci "
        "d'avoir choisi $store !",
        "Votre commande $order a été livrée",
        "Bonjour $first_name,\n\nvotre commande $order a été livrée. Merci "
        "d'avoir choisi $store !",
    ),
    NotifyEvent.DELIVERY_FAILED: _Template(
        "Bonjour $first_name, la livraison de votre commande $order n'a pas "
        "pu avoir lieu. Le livreur repassera.[ Détails : $link]",
        "La livraison de votre commande $order n'a pas pu avoir lieu",
        "Bonjour $first_name,\n\nle livreur n'a pas pu livrer votre commande "
        "$order aujourd'hui et repassera.[ Détails : $link]",
    ),
    NotifyEvent.NPS_SURVEY: _Template(
        "Bonjour $first_name, comment s'est passée votre commande $order de "
        "$store ? Dites-le-nous en une minute : $link",
        "Comment s'est passée votre commande $order ?",
        "Bonjour $first_name,\n\nrecommanderiez-vous $store à un proche ? "
        "Une question sur votre commande $order, une minute : $link\n\nMerci !",
    ),
    NotifyEvent.DISCOUNT: _Template(
        "Merci pour votre réponse, $first_name ! Votre code $code vous offre "
        "$discount chez $store jusqu'au $expires.",
        "Un merci de $store : $discount offerts",
        "Bonjour $first_name,\n\nmerci de nous avoir parlé de votre commande "
        "$order. Votre code personnel $code vous offre $discount sur votre "
        "prochaine commande chez $store, jusqu'au $expires.\n\nÀ bientôt !",
    ),
}

_AR = {
    NotifyEvent.SHIPPED: _Template(
        "مرحبا $first_name، طلبك $order من $store في الطريق إليك.[ تتبع الشحنة: $link]",
        "طلبك $order في الطريق إليك",
        "مرحبا $first_name،\n\nغادر طلبك $order من $store مستودعنا مع "
        "$partner.[ يمكنك تتبعه هنا: $link]\n\nشكرا لك!",
    ),
    NotifyEvent.OUT_FOR_DELIVERY: _Template(
        "مرحبا $first_name، سيصلك طلبك $order اليوم. $cod_sentence",
        "طلبك $order يصل اليوم",
        "مرحبا $first_name،\n\nطلبك $order في طريقه إليك اليوم. "
        "$cod_sentence[\n\nتتبع الشحنة: $link]",
    ),
    NotifyEvent.DELIVERED: _Template(
        "مرحبا $first_name، تم تسليم طلبك $order. شكرا لتسوقك من $store!",
        "تم تسليم طلبك $order",
        "مرحبا $first_name،\n\nتم تسليم طلبك $order. شكرا لتسوقك من $store!",
    ),
    NotifyEvent.DELIVERY_FAILED: _Template(
        "مرحبا $first_name، تعذر تسليم طلبك $order اليوم. سيحاول المندوب "
        "مرة أخرى.[ التفاصيل: $link]",
        "تعذر تسليم طلبك $order",
        "مرحبا $first_name،\n\nتعذر على المندوب تسليم طلبك $order اليوم "
        "وسيحاول مرة أخرى.[ التفاصيل: $link]",
    ),
    NotifyEvent.NPS_SURVEY: _Template(
        "مرحبا $first_name، كيف كانت تجربتك مع طلبك $order من $store؟ "
        "أخبرنا في دقيقة واحدة: $link",
        "كيف كانت تجربتك مع طلبك $order؟",
        "مرحبا $first_name،\n\nما مدى احتمال أن توصي بـ $store لصديق؟ "
        "سؤال واحد عن طلبك $order، دقيقة واحدة: $link\n\nشكرا لك!",
    ),
    NotifyEvent.DISCOUNT: _Template(
        "شكرا على ردك يا $first_name! رمزك $code يمنحك خصم $discount لدى "
        "$store حتى $expires.",
        "شكر من $store: خصم $discount",
        "مرحبا $first_name،\n\nشكرا لأنك أخبرتنا عن طلبك $order. رمزك "
        "الشخصي $code يمنحك خصم $discount على طلبك القادم لدى $store حتى "
        "$expires.\n\nإلى اللقاء قريبا!",
    ),
}

_COD = {
    "en": "Please have $amount ready for the courier.",
    "fr": "Merci de préparer $amount pour le livreur.",
    "ar": "يرجى تجهيز مبلغ $amount للمندوب.",
}

_TEMPLATES: Mapping[str, Mapping[NotifyEvent, _Template]] = {
    "en": _EN,
    "fr": _FR,
    "ar": _AR,
}
LOCALES = frozenset(_TEMPLATES)
_RTL = frozenset({"ar"})
# Values isolated from the sentence around them: left-to-right parts of an
# Arabic sentence, and the name, which may be in either direction.
_ISOLATED = (
    "first_name",
    "order",
    "link",
    "amount",
    "partner",
    "store",
    "code",
    "discount",
    "expires",
)


@attrs.frozen
class Rendered:
    language: str
    direction: str
    sms: str
    subject: str
    text: str
    html: str


def render(event: NotifyEvent, locale: str, values: Mapping[str, str]) -> Rendered:
    """The messages for *event* in *locale* (its language part; English when
    the store's language has no templates).  *values*: ``first_name``,
    ``order``, ``store``, ``partner``, ``link``, for cash on delivery
    ``amount``, and for a discount ``code``, ``discount`` and ``expires``;
    a missing value renders as an empty string."""
    language = locale.split("-", maxsplit=1)[0].lower()
    language = language if language in _TEMPLATES else "en"
    template = _TEMPLATES[language][event]
    filled = dict.fromkeys(
        ("first_name", "order", "store", "partner", "link", "code", "discount"), ""
    )
    filled["expires"] = ""
    filled |= {k: _undirected(v) for k, v in values.items() if v is not None}
    filled["first_name"] = _name(filled["first_name"])
    amount = filled.get("amount")
    filled["cod_sentence"] = (
        string.Template(_COD[language]).safe_substitute(amount=amount) if amount else ""
    )
    direction = "rtl" if language in _RTL else "ltr"
    body = _optional(template.body, filled)
    return Rendered(
        language=language,
        direction=direction,
        sms=_tidy(_fill(_optional(template.sms, filled), filled)),
        subject=_tidy(_fill(_optional(template.subject, filled), filled)),
        text=_fill(body, filled),
        html=_html(body, filled, language, direction),
    )


def money_text(money: Money) -> str:
    """*money* as customers read it: the digits of its currency's minor
    units (rounded half up), then the currency code."""
    places = Decimal(1).scaleb(-minor_units(money.currency))
    amount = money.amount.quantize(places, rounding=ROUND_HALF_UP)
    return f"{amount:f} {money.currency}"


NAME_LIMIT = 40
"""The most characters of a customer's name a message carries."""

# Explicit direction marks, embeddings, overrides and isolates (and the
# Arabic letter mark): in a value they would reorder the text after it.
_DIRECTION_CONTROLS = dict.fromkeys(
    map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
_ZWJ = "\u200d"


def _undirected(value: str) -> str:
    return value.translate(_DIRECTION_CONTROLS)


def _name(value: str) -> str:
    """A name as one line: controls and line breaks become spaces, runs of
    spaces one, and it is cut to :data:`NAME_LIMIT` characters."""
    spaced = "".join(" " if unicodedata.category(c) == "Cc" else c for c in value)
    return _cut(" ".join(spaced.split()), NAME_LIMIT)


def _cut(text: str, limit: int) -> str:
    """*text* cut to at most *limit* code points, before any character that
    would lose a part: a letter and its marks, an emoji and what joins or
    modifies it, the two halves of a flag."""
    if len(text) <= limit:
        return text
    end = limit
    while end > 0 and _inside_character(text, end):
        end -= 1
    return text[:end].rstrip()


def _inside_character(text: str, index: int) -> bool:
    """Whether a cut before ``text[index]`` splits one visible character."""
    after, before = text[index], text[index - 1]
    if _ZWJ in (after, before) or unicodedata.category(after) in ("Mn", "Mc", "Me"):
        return True
    if "\ufe00" <= after <= "\ufe0f" or "\U0001f3fb" <= after <= "\U0001f3ff":
        return True  # a variation selector, a skin tone
    flags = 0
    while index - flags > 0 and _is_flag_half(text[index - flags - 1]):
        flags += 1
    return flags % 2 == 1 and _is_flag_half(after)


def _is_flag_half(character: str) -> bool:
    return "\U0001f1e6" <= character <= "\U0001f1ff"


_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_PLACEHOLDER = re.compile(r"\$(\w+)")


def _optional(template: str, values: Mapping[str, str]) -> str:
    """Templates put a clause that needs a value in brackets
    (``[ Track it: $link]``): it is kept, without the brackets, when every
    value it names is there, and left out otherwise, so a parcel without a
    tracking link gets no dangling "Track it:"."""

    def keep(match: re.Match[str]) -> str:
        inner = match.group(1)
        names = _PLACEHOLDER.findall(inner)
        return inner if all(values.get(name) for name in names) else ""

    return _OPTIONAL.sub(keep, template)


def _fill(template: str, values: Mapping[str, str]) -> str:
    return string.Template(template).safe_substitute(values)


def _tidy(text: str) -> str:
    return " ".join(text.split())


def _html(
    template: str, values: Mapping[str, str], language: str, direction: str
) -> str:
    escaped = {k: html.escape(v) for k, v in values.items()}
    for name in _ISOLATED:
        if escaped.get(name):
            escaped[name] = f"<bdi>{escaped[name]}</bdi>"
    if escaped.get("cod_sentence"):
        # Filled again here so the amount in it is isolated too.
        escaped["cod_sentence"] = _fill(
            html.escape(_COD[language], quote=False), escaped
        )
    if escaped.get("link"):
        link = html.escape(values["link"], quote=True)
        escaped["link"] = (
            f'<a href="{link}"><bdi>{html.escape(values["link"])}</bdi></a>'
        )
    paragraphs = _fill(html.escape(template, quote=False), escaped).split("\n\n")
    body = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return (
        f'<!doctype html><html lang="{language}" dir="{direction}">'
        f'<meta charset="utf-8"><body dir="{direction}">{body}</body></html>'
    )


# --- SMS encoding ------------------------------------------------------------

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters of the GSM-7 extension table cost two septets (an escape).
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


@attrs.frozen
class SmsEncoding:
    encoding: str
    units: int
    segments: int


def sms_segments(text: str) -> SmsEncoding:
    """How *text* will be sent: GSM-7 when every character is in the GSM
    alphabet (extension characters count twice), else UCS-2 (UTF-16 code
    units, so an emoji counts twice).  One segment holds 160 / 70 units;
    a concatenated message 153 / 67 per segment."""
    if all(c in _GSM7_BASIC or c in _GSM7_EXTENDED for c in text):
        units = sum(2 if c in _GSM7_EXTENDED else 1 for c in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else -(-units // multi)
    return SmsEncoding(encoding, units, segments)


# --- quiet hours -------------------------------------------------------------


@attrs.frozen
class QuietHours:
    """No messages from ``start`` to ``end`` local time (over midnight when
    start is after end)."""

    start: time = time(21, 0)
    end: time = time(9, 0)

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


def send_time(due: datetime, time_zone: str, quiet: QuietHours) -> datetime:
    """When a message due at *due* may go out: *due* itself outside quiet
    hours, else the end of the quiet hours that morning, in UTC."""
    zone = ZoneInfo(time_zone)
    local = due.astimezone(zone)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return due.astimezone(UTC)
    morning = datetime.combine(local.date(), quiet.end, tzinfo=zone)
    if morning <= local:
        morning = datetime.combine(
            local.date() + timedelta(days=1), quiet.end, tzinfo=zone
        )
    return morning.astimezone(UTC)
