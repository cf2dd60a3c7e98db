"""Settings of the ECB reference-rate adapter (a ``[rates.sources.ecb]``
table).

The ECB's files are public: there is no credential to configure, only
where they are.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import attrs

from fulfilment.adapters.validators import http_url, positive_seconds

__all__ = ["EcbSettings"]


def _folder(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise ValueError(
            f"{attribute.name} {value!r} must be the folder holding the files, "
            "with no query or fragment (the file names are added to it)"
        )
    if parts.path.endswith(".xml"):
        raise ValueError(
            f"{attribute.name} {value!r} names a file; give the folder that "
            "holds eurofxref-daily.xml and the history files"
        )


@attrs.frozen
class EcbSettings:
    """Where the ECB's euro reference-rate files are, and how long a
    download may take (the full history is a few megabytes)."""

    # No default address: a configuration names the folder it means
    # (https://www.ecb.europa.eu/stats/eurofxref/ in production, the
    # loopback simulator in the sandbox), so nothing reaches the ECB by
    # accident.
    base_url: str = attrs.field(validator=[http_url, _folder])
    timeout: float = attrs.field(default=60.0, validator=positive_seconds)
