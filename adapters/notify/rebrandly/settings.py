"""Settings of the Rebrandly short-link adapter.

The API key arrives from a ``${ENV_VAR}`` reference and is kept out of
``repr``.
"""

from __future__ import annotations

import attrs

from fulfilment.adapters.pacing import positive_rate
from fulfilment.adapters.validators import http_url, positive_seconds

from .._settings import not_blank, optional_not_blank

__all__ = ["RebrandlySettings"]


@attrs.frozen
class RebrandlySettings:
    """One Rebrandly account.

    ``workspace`` (an id) acts in a workspace other than the default one;
    ``domain`` is the branded domain's full name (``go.shemsi.example``),
    Rebrandly's own ``rebrand.ly`` when absent.  ``requests_per_second``
    is the account's limit (Rebrandly documents about 10), which runners
    sharing a database keep together.
    """

    # No default address: a configuration names the API host it means (the
    # loopback simulator in the sandbox), so nothing reaches Rebrandly by
    # accident.
    base_url: str = attrs.field(validator=http_url)
    api_key: str = attrs.field(repr=False, validator=not_blank)
    workspace: str | None = attrs.field(default=None, validator=optional_not_blank)
    domain: str | None = attrs.field(default=None, validator=optional_not_blank)
    timeout: float = attrs.field(default=30.0, validator=positive_seconds)
    requests_per_second: float = attrs.field(default=10.0, validator=positive_rate)
