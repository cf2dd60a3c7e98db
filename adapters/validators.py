"""attrs validators shared by adapter settings, so a bad value is refused
when the configuration is loaded, not on the first call.

A settings field that names a file carries ``metadata={CONFIG_RELATIVE:
True}``: the runner reads a relative path there as relative to the
configuration file, the way it reads the SQLite database's path, so a
configuration means the same files wherever it is run from.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any
from urllib.parse import urlsplit

import attrs

__all__ = [
    "CONFIG_RELATIVE",
    "host_name",
    "http_url",
    "is_http_url",
    "mail_address",
    "mail_address_problem",
    "positive_seconds",
    "readable_file",
    "single_line",
    "tcp_port",
]

CONFIG_RELATIVE = "fulfilment.config_relative"

# What would let a value start a new header or protocol line (CR, LF, the
# other C0 and C1 controls, DEL, the Unicode line and paragraph separators).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# An addr-spec of dot-atoms (RFC 5322 section 3.4.1) whose letters may be
# any script's (RFC 6532), and a domain of at least two labels.
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")
# ``Name <address>``: a quoted name, or one of words (no comma, colon or
# angle bracket, which would make it a list or another address).
_NAMED = re.compile(
    r'(?:"[^"\\]*"|[\w!#$%&\'*+/=?^`{|}~. -]*?)\s*<(?P<address>[^<>]*)>'
)
_HOST = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*"
    r"[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\]"
)


def is_http_url(value: object) -> bool:
    """An ``http`` or ``https`` URL naming a host, nothing else."""
    if not isinstance(value, str) or _CONTROL.search(value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # an unclosed IPv6 bracket
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def http_url(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not is_http_url(value):
        raise ValueError(
            f"{attribute.name} {value!r} is not an http(s) URL with a host"
        )


def positive_seconds(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (math.isfinite(value) and 0 < value <= 600):
        raise ValueError(
            f"{attribute.name} must be above 0 and at most 600 seconds, not {value}"
        )


def tcp_port(_: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValueError(f"{attribute.name} must be 1 to 65535, not {value!r}")


def single_line(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    """Text that ends up in a header or a protocol line (a display name)."""
    if _CONTROL.search(value):
        raise ValueError(
            f"{attribute.name} {value!r} holds a line break or control character"
        )


def host_name(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    """A DNS name or an address literal (``[192.0.2.1]``), as EHLO and the
    right-hand side of a Message-ID carry them."""
    if not isinstance(value, str) or not _HOST.fullmatch(value):
        raise ValueError(f"{attribute.name} {value!r} is not a host name")


def mail_address_problem(value: object, *, display_name: bool = True) -> str | None:
    """What is wrong with *value* as one e-mail address, None if nothing.

    With *display_name*, ``Shemsi <orders@shemsi.example>`` is accepted as
    well as the bare address.  A line break or control character is always
    refused: it would let the value start a header of its own.
    """
    text = value if isinstance(value, str) else ""
    if _CONTROL.search(text):
        return f"{value!r} holds a line break or control character"
    named = _NAMED.fullmatch(text) if display_name else None
    address = named.group("address") if named else text
    if not _ADDRESS.fullmatch(address):
        example = " or 'Shop <orders@shop.example>'" if display_name else ""
        return f"{value!r} is not an e-mail address (like orders@shop.example{example})"
    return None


def mail_address(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    """One address, optionally with a display name (a ``From``, a
    ``Reply-To``)."""
    problem = mail_address_problem(value)
    if problem:
        raise ValueError(f"{attribute.name} {problem}")


def readable_file(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not (os.path.isfile(value) and os.access(value, os.R_OK)):
        raise ValueError(f"{attribute.name} {value!r} is not a file that can be read")
