"""Settings of the Typeform survey adapter (a ``[survey.typeform]``-style
table).

The personal access token (scope ``responses:read``) arrives from a
``${ENV_VAR}`` reference resolved by the runner and is kept out of
``repr``.  ``form_url`` is the form's public address, the one customers
open (``https://<account>.typeform.com/to/<form_id>``, or the account's
own domain); it must end with the form id, so a link can never lead to a
form whose answers the connector does not read.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import attrs

from fulfilment.adapters.pacing import positive_rate
from fulfilment.adapters.validators import http_url, positive_seconds

__all__ = ["MAX_PAGE_SIZE", "TypeformSettings"]

MAX_PAGE_SIZE = 1000  # Typeform's largest page

_FORM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Typeform keeps hidden field names in lower case.
_HIDDEN_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _form_id(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not _FORM_ID.fullmatch(value):
        raise ValueError(
            f"{attribute.name} {value!r} must be a Typeform form id "
            "(letters, digits, '_' and '-')"
        )


def _hidden_name(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not _HIDDEN_NAME.fullmatch(value):
        raise ValueError(
            f"{attribute.name} {value!r} must be a hidden field name "
            "(lower-case letters, digits and '_', starting with a letter)"
        )


def _token(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{attribute.name} must not be blank")


def _optional_ref(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValueError(f"{attribute.name} must be a field ref or absent")


def _page_size(_: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{attribute.name} must be a whole number, not {value!r}")
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValueError(
            f"{attribute.name} must be 1 to {MAX_PAGE_SIZE} (Typeform's "
            f"largest page), not {value}"
        )


@attrs.frozen
class TypeformSettings:
    """One Typeform form.

    ``score_field_ref`` names the question holding the 0-10 answer (its
    ``ref``, which the form's author sets and which survives edits); without
    it, the first answer to an ``nps`` or ``opinion_scale`` question is the
    score.  ``comment_field_ref`` likewise, else the first ``long_text`` or
    ``short_text`` answer.  ``order_field`` and ``first_name_field`` are the
    form's hidden fields the link fills with the order key and the
    customer's first name.  ``page_size`` is the largest page asked for.
    ``requests_per_second`` is the account's limit (Typeform documents
    about 2), which runners sharing a database keep together.
    """

    # No default address: a configuration names the API host it means
    # (https://api.typeform.com, https://api.eu.typeform.com, or the
    # loopback simulator in the sandbox), so nothing reaches Typeform by
    # accident.
    base_url: str = attrs.field(validator=http_url)
    token: str = attrs.field(repr=False, validator=_token)
    form_id: str = attrs.field(validator=_form_id)
    form_url: str = attrs.field(validator=http_url)
    score_field_ref: str | None = attrs.field(default=None, validator=_optional_ref)
    comment_field_ref: str | None = attrs.field(default=None, validator=_optional_ref)
    order_field: str = attrs.field(default="order", validator=_hidden_name)
    first_name_field: str = attrs.field(default="first_name", validator=_hidden_name)
    page_size: int = attrs.field(default=MAX_PAGE_SIZE, validator=_page_size)
    timeout: float = attrs.field(default=30.0, validator=positive_seconds)
    requests_per_second: float = attrs.field(default=2.0, validator=positive_rate)

    def __attrs_post_init__(self) -> None:
        parts = urlsplit(self.form_url)
        if parts.query or parts.fragment:
            raise ValueError(
                f"form_url {self.form_url!r} must be the form's address alone: "
                "the hidden fields are added to it"
            )
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                f"form_url {self.form_url!r} carries a user name before its host; "
                "customers would be sent somewhere else than it seems"
            )
        if parts.path.rstrip("/").rsplit("/", 1)[-1] != self.form_id:
            raise ValueError(
                f"form_url {self.form_url!r} does not lead to form {self.form_id!r}"
            )
        if self.order_field == self.first_name_field:
            raise ValueError("order_field and first_name_field must differ")
        if self.score_field_ref and self.score_field_ref == self.comment_field_ref:
            raise ValueError("score_field_ref and comment_field_ref must differ")
