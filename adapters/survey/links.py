"""The hidden fields of a survey link, written the way survey tools read
them.

A survey link carries who it was sent to (the order key, the customer's
first name) so the answer comes back tied to an order.  The values travel
in the URL *fragment* (``#order=...&first_name=...``): browsers never send a
fragment to any server, so the order key stays out of web-server and proxy
logs, and the form's own script reads it.  Each value is percent-encoded as
UTF-8 with nothing left bare (a space is ``%20``, never ``+``, which a
script decoding a fragment would keep as a plus sign).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, unquote, urlsplit

__all__ = ["hidden_fragment", "hidden_of_link"]


def hidden_fragment(hidden: Mapping[str, str]) -> str:
    """``name=value&...`` for every field of *hidden* that has a value, in
    the mapping's order."""
    return "&".join(
        f"{quote(name, safe='')}={quote(value, safe='')}"
        for name, value in hidden.items()
        if value
    )


def hidden_of_link(link: str) -> dict[str, str]:
    """The hidden fields a survey link carries (the inverse of
    :func:`hidden_fragment`)."""
    fields: dict[str, str] = {}
    for pair in urlsplit(link).fragment.split("&"):
        name, sep, value = pair.partition("=")
        if sep:
            fields[unquote(name)] = unquote(value)
    return fields
