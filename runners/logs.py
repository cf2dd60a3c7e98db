"""Logging set-up for the runners: text or JSON lines, secrets redacted.

Only the runners configure handlers.  Every module logs through
``logging.getLogger(__name__)`` with a stable event name first
(``orders.fetched store=shemsiworld ...``).  The :class:`Redactor` filter
replaces any configured secret value that still slips into a message, and
the value of any credential carried in a URL's query (``api_key=``,
``app_id=``, ``access_key=``: some rate feeds read their key there, so
httpx's request line and the simulators' access lines carry it).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from fulfilment.core.masking import mask_text

__all__ = ["Redactor", "configure_logging", "hide_query_credentials"]


# A credential in a query string, up to the next parameter, quote or space.
_QUERY_SECRET = re.compile(
    r"(?i)(?<![\w-])((?:api_?key|app_id|access_key)=)[^&\s\"'<>#]+"
)


def hide_query_credentials(text: str) -> str:
    """*text* with the value of every credential in a query string
    (``api_key=``, ``app_id=``, ``access_key=``) replaced by ``***``."""
    return _QUERY_SECRET.sub(r"\1***", text)


class Redactor(logging.Filter):
    """Replaces configured secrets and credentials in query strings with
    ``***`` and masks e-mail addresses and phone numbers in every record,
    whatever produced the text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len)[::-1]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for secret in self.secrets:
            message = message.replace(secret, "***")
        message = hide_query_credentials(message)
        message = mask_text(message)
        record.msg, record.args = message, ()
        return True


_EVENT = re.compile(r"[a-z_]+(\.[a-z_]+)+")
_FIELD = re.compile(r"(\w+)=(.*?)(?= \w+=|$)")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: the event name, then each ``key=value``
    field; a value runs up to the next `` key=``, so spaces survive, and
    whole numbers come out as numbers."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        event, _, rest = message.partition(" ")
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = dict(_FIELD.findall(rest))
        if _EVENT.fullmatch(event) and (fields or not rest):
            line["event"] = event
            line |= {key: _value(value) for key, value in fields.items()}
        else:  # a library's own sentence, not one of our events
            line["message"] = message
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _value(text: str) -> Any:
    return int(text) if text.isdigit() and len(text) < 16 else text


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a line is logged, not the
    stream it was when logging was set up: a host program (or a test) that
    swaps standard error keeps getting the lines, and a closed old stream
    is never written to."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        """The stream is always the current standard error."""


def configure_logging(level: str, fmt: str, secrets: Iterable[str] = ()) -> None:
    handler = _StandardError()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
        )
    handler.addFilter(Redactor(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs one line per request at INFO; keep it for DEBUG runs only.
    logging.getLogger("httpx").setLevel(
        logging.INFO if level == "DEBUG" else logging.WARNING
    )
    # The sandbox mail sink (aiosmtpd) writes every line of every message at
    # DEBUG: names, discount codes.  Its commands at INFO are enough.
    logging.getLogger("mail.log").setLevel(max(logging.INFO, root.level))
