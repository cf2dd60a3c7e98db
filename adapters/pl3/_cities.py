"""City names as the partners spell them.

Customers type a city in Arabic, French or English, sometimes with
invisible direction marks around it; partners check the name against their
own list (Aramex answers ERR52).  :func:`canonical_city` maps the spellings
we know onto the list's and leaves any other name, tidied, for the partner
to judge.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

__all__ = ["CITY_ALIASES", "canonical_city"]

# Spellings customers type (French, Arabic, English variants) for the names
# on the partners' city lists.  Keys are compared casefolded, NFC-normalised.
CITY_ALIASES: Mapping[str, str] = {
    "casa": "Casablanca",
    "dar el beida": "Casablanca",
    "الدار البيضاء": "Casablanca",
    "الرباط": "Rabat",
    "marrakesh": "Marrakech",
    "مراكش": "Marrakech",
    "fès": "Fes",
    "fez": "Fes",
    "فاس": "Fes",
    "tanger": "Tangier",
    "طنجة": "Tangier",
    "أكادير": "Agadir",
    "meknès": "Meknes",
    "مكناس": "Meknes",
    "وجدة": "Oujda",
    "kénitra": "Kenitra",
    "القنيطرة": "Kenitra",
    "tétouan": "Tetouan",
    "تطوان": "Tetouan",
    "القاهرة": "Cairo",
    "الجيزة": "Giza",
    "الإسكندرية": "Alexandria",
    "alexandrie": "Alexandria",
    "le caire": "Cairo",
    "dubaï": "Dubai",
    "دبي": "Dubai",
    "أبوظبي": "Abu Dhabi",
    "الشارقة": "Sharjah",
    "بيروت": "Beirut",
}

# Left-to-right / right-to-left marks, the Arabic letter mark and isolates.
_BIDI_MARKS = re.compile("[\u200e\u200f\u061c\u2066-\u2069\u202a-\u202e]")


def canonical_city(name: str | None) -> str:
    """The partners' spelling for *name*; an unknown name is returned with
    its spacing tidied and direction marks removed."""
    if not name:
        return ""
    cleaned = unicodedata.normalize("NFC", " ".join(_BIDI_MARKS.sub("", name).split()))
    return CITY_ALIASES.get(cleaned.casefold(), cleaned)
