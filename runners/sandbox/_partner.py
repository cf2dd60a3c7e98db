"""Helpers the 3PL simulators share: bearer tokens kept in state, and
reading a JSON object body.

Tokens live in a ``{token: expiry ISO time}`` dict inside the simulator's
persisted state, so a second run of the sandbox still honours tokens the
first run issued until they expire on the shared clock.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from .server import SimRequest

__all__ = ["bearer_is_valid", "issue_token", "json_object"]


def issue_token(tokens: dict[str, str], now: datetime, ttl: timedelta) -> str:
    """A new random token valid for *ttl*; expired ones are forgotten."""
    for stale in [t for t, expiry in tokens.items() if _expired(expiry, now)]:
        del tokens[stale]
    token = secrets.token_urlsafe(24)
    tokens[token] = (now + ttl).isoformat()
    return token


def bearer_is_valid(tokens: dict[str, str], request: SimRequest, now: datetime) -> bool:
    """Whether the request carries ``Authorization: Bearer <live token>``."""
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    expiry = tokens.get(token) if scheme == "Bearer" else None
    return expiry is not None and not _expired(expiry, now)


def json_object(request: SimRequest) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        body = request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _expired(expiry: str, now: datetime) -> bool:
    return datetime.fromisoformat(expiry) <= now
