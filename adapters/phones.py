"""Reading the phone numbers customers type into E.164.

Shops in Morocco, Egypt, the UAE and Lebanon receive numbers in every local
habit: with the trunk ``0`` (``0661234567``), spaced (``03 123 456``), in
Arabic-Indic digits (``٠٦٦١٢٣٤٥٦٧``), with a stray trunk ``0`` after the
country code (``+971 0551234567``) or with the ``00`` international prefix.
:func:`normalise_phone` reads them all with ``phonenumbers``, using the
country of the address (or store) as the region, and always keeps the
original text beside the result.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import (
    NumberParseException,
    PhoneNumberFormat,
    PhoneNumberType,
    ValidationResult,
)

from fulfilment.core.domain import Phone

__all__ = ["normalise_phone"]

# Arabic-Indic (U+0660..) and Extended Arabic-Indic, as typed on Persian and
# Urdu keyboards (U+06F0..).  phonenumbers reads both, but translating first
# keeps the checks below (letters, "00" prefix) simple.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
# Vanity numbers are not used in these countries: a letter means the field
# holds something other than a phone ("N/A", "call me"), which phonenumbers
# would otherwise turn into keypad digits.
_LETTER = re.compile(r"[^\W\d_]")
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalise_phone(raw: str | None, country: str | None) -> Phone | None:
    """Read *raw* as a phone number of *country* (ISO 3166 alpha-2).

    Returns None when there is no text at all.  Otherwise returns a
    :class:`Phone` keeping *raw* as ``original``; ``e164`` is None when the
    text cannot be a number.  A number that is possible but not valid in
    the (often lagging) numbering metadata is accepted with ``is_mobile``
    None rather than rejected, because new MENA mobile ranges reach the
    metadata late; one of a wrong length, or only dialable locally, is not.
    """
    if raw is None or not raw.strip():
        return None
    text = raw.strip().translate(_DIGITS)
    if _LETTER.search(text):
        return Phone(raw)
    number = _parse(text, country)
    if number is None or not _possible(number):
        return Phone(raw)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if not phonenumbers.is_valid_number(number):
        return Phone(raw, e164, None)
    is_mobile = phonenumbers.number_type(number) in _MOBILE_TYPES
    return Phone(raw, e164, is_mobile)


def _possible(number: phonenumbers.PhoneNumber) -> bool:
    # A number only dialable inside its area ("IS_POSSIBLE_LOCAL_ONLY") is a
    # truncated one in practice: couriers and SMS need the whole number.
    reason = phonenumbers.is_possible_number_with_reason(number)
    return bool(reason == ValidationResult.IS_POSSIBLE)


def _parse(text: str, country: str | None) -> phonenumbers.PhoneNumber | None:
    region = country.upper() if country else None
    if region is None and text.startswith("00"):
        # Without a region phonenumbers cannot know "00" is the
        # international prefix; in all four countries it is.
        text = "+" + text[2:]
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None
