"""What an HTTP partner answered, decoded once, for the pure mapping code.

Clients return a :class:`Reply` instead of an ``httpx.Response`` so the
``wire`` modules map plain data (status and JSON body) and never touch the
transport.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import httpx

__all__ = ["Reply", "reply_of"]


@attrs.frozen
class Reply:
    """A status code and the JSON body; ``body`` is None when the answer
    was empty or not JSON (``text`` keeps a short excerpt for messages)."""

    status: int
    body: Any = None
    text: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def reply_of(response: httpx.Response, limit: int = 300) -> Reply:
    text = response.text.strip()[:limit]
    try:
        body = response.json() if response.content else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    return Reply(response.status_code, body, text)
