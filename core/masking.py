"""Masking personal data before it reaches a log line or an operator's
screen (``fulfilment orders show``, whose output ends up pasted into
tickets)."""

from __future__ import annotations

import re

__all__ = ["mask_email", "mask_phone", "mask_text"]

# Personal data that may arrive inside free text (a provider's refusal, an
# upstream error, a library's protocol trace): e-mail addresses, international
# phone numbers, and local mobile formats of the four markets (a trunk 0 and
# 8 to 10 digits).  Order ids and AWBs do not start with + or 0, so they stay
# readable.
#
# An address may be written in any script (letters and their marks:
# ``أَحمد@مثال.مصر``), have a quoted local part (``"Ali Baba"@example.com``),
# or reach a log as a bytes repr, where every non-ASCII byte is an escape
# (``b'RCPT TO:<\xd8\xa3...@...>'``, as aiosmtpd logs each command).
_BYTE = r"\\x[0-9a-fA-F]{2}"
_NON_ASCII = r"[^\x00-\x7f\s]"
# Each run is read possessively (``++``): a letter is both a word character
# and, outside ASCII, a non-ASCII one, and a run that could be split
# between the two in every way took exponential time to give up on.  An
# unquoted local part starts only where its run starts: a scan from inside
# a run ends where the scan from its start ended, so skipping those starts
# loses no address and keeps a long run without one (a header an unknown
# client sent, logged as it came) linear.  An address may still begin
# right after a backslash that starts no byte escape.
_RUN_START = r"(?<![\w.+-])(?<![^\x00-\x7f\s])(?!(?<=\\)x[0-9a-fA-F]{2})"
_QUOTED = r"\"(?:[^\"\\\r\n]|\\.)*+\""
_LOCAL = rf"(?:{_QUOTED}|{_RUN_START}(?:[\w.+-]|{_NON_ASCII}|{_BYTE})++)"
_LABEL = rf"(?:[\w-]|{_NON_ASCII}|{_BYTE})++"
_EMAIL = re.compile(rf"{_LOCAL}@{_LABEL}(?:\.{_LABEL})+")
_PHONE = re.compile(r"(?<![\w+])(?:\+|00|0|[٠-٩])[0-9٠-٩][0-9٠-٩ .-]{5,18}[0-9٠-٩]")


def mask_phone(phone: str | None) -> str:
    """``+212661234567`` -> ``+212******567``: the country code and the last
    three digits are enough to tell numbers apart in a log."""
    if not phone:
        return "-"
    digits = phone.strip()
    if len(digits) <= 6:
        return "*" * len(digits)
    head = 4 if digits.startswith("+") else 2
    return digits[:head] + "*" * (len(digits) - head - 3) + digits[-3:]


def mask_email(email: str | None) -> str:
    """``layla.h@example.com`` -> ``l***@example.com``; of a local part
    only its first letter or digit is kept (``"Ali Baba"@example.com`` ->
    ``A***@example.com``), and none when it starts otherwise."""
    if not email:
        return "-"
    local, _, domain = email.rpartition("@")
    if not local or not domain:
        return "***"
    first = local.lstrip('"')[:1]
    return f"{first if first.isalnum() else ''}***@{domain}"


def mask_text(text: str) -> str:
    """*text* with every e-mail address and phone number in it masked, the
    rest left as it was written."""
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(_mask_number, text)


def _mask_number(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"[ .-]", "", text)
    if sum(c.isdigit() for c in digits) < 8:
        return text  # too short to be a phone number: a time, a count
    return mask_phone(digits)
