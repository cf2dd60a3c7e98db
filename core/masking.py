"""Masking personal data before it reaches a log line."""

from __future__ import annotations

__all__ = ["mask_email", "mask_phone"]


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
    """``layla.h@example.com`` -> ``l***@example.com``."""
    if not email:
        return "-"
    local, _, domain = email.partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"
