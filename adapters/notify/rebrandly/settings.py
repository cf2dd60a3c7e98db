"""Settings of the Rebrandly short-link adapter.

The API key arrives from a ``${ENV_VAR}`` reference and is kept out of
``repr``.
"""

from __future__ import annotations

import attrs

from .._settings import not_blank, optional_not_blank

__all__ = ["RebrandlySettings"]


@attrs.frozen
class RebrandlySettings:
    """One Rebrandly account.

    ``workspace`` (an id) acts in a workspace other than the default one;
    ``domain`` is the branded domain's full name (``go.shemsi.example``),
    Rebrandly's own ``rebrand.ly`` when absent.
    """

    api_key: str = attrs.field(repr=False, validator=not_blank)
    base_url: str = attrs.field(
        default="https://api.rebrandly.com", validator=not_blank
    )
    workspace: str | None = attrs.field(default=None, validator=optional_not_blank)
    domain: str | None = attrs.field(default=None, validator=optional_not_blank)
    timeout: float = 30.0
