"""The exceptions the library raises, split by what the caller does next.

::

    FulfilmentError
     ├── ConfigurationError          fix the configuration; retrying won't help
     ├── PartnerError                a remote service failed (carries partner, status)
     │    ├── TransientPartnerError  retry later: timeouts, 5xx, 429, throttling
     │    │    └── OutcomeUnknown    the request may have been acted on; look
     │    │                          it up before trying again
     │    ├── PartnerRejected        the partner said no to this payload;
     │    │    │                     a person must fix the order
     │    │    └── DiscountCodeTaken the store already has that discount code
     │    └── PermanentPartnerError  credentials, permissions, a bad contract;
     │                               stop and fix the setup
     ├── IncompleteRead              a paged read stopped before its end
     └── StorageError                the store failed; the run stops
          └── ConflictError          someone else wrote the record first

Adapters translate transport and driver errors (httpx, pymongo, sqlite3)
into these at the boundary and chain the original with ``raise ... from``.
Expected business outcomes ("already booked", "no partner for this store")
are values in worker reports, not exceptions.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "ConflictError",
    "DiscountCodeTaken",
    "FulfilmentError",
    "IncompleteRead",
    "OutcomeUnknown",
    "PartnerError",
    "PartnerRejected",
    "PermanentPartnerError",
    "StorageError",
    "TransientPartnerError",
]


class FulfilmentError(Exception):
    """Base of every error this library raises on purpose."""


class ConfigurationError(FulfilmentError):
    """The configuration is wrong; the message names the file, path and
    problem."""


class PartnerError(FulfilmentError):
    """A remote service (shop, logistics partner, provider) failed.

    ``partner`` names the adapter, ``status`` is the HTTP status when there
    was one, ``code`` the partner's own error code, ``retry_after`` the
    seconds the partner asked us to wait.
    """

    def __init__(
        self,
        message: str,
        *,
        partner: str,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.partner = partner
        self.status = status
        self.code = code
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f"{self.partner}"
        if self.status is not None:
            where += f" HTTP {self.status}"
        if self.code:
            where += f" {self.code}"
        return f"{where}: {self.message}"


class TransientPartnerError(PartnerError):
    """Worth retrying later: the request was not acted on."""


class OutcomeUnknown(TransientPartnerError):
    """The request may or may not have been acted on (a read timeout, a
    500 after the body was sent).  Never repeat a non-idempotent call after
    this without first asking the partner."""


class PartnerRejected(PartnerError):
    """The partner refused this payload for a business reason (invalid
    city, missing phone, unsupported COD currency).  ``problems`` carries
    each of the partner's messages."""

    def __init__(
        self,
        message: str,
        *,
        partner: str,
        problems: tuple[tuple[str, str], ...] = (),
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, partner=partner, status=status, code=code)
        self.problems = problems or ((code or "rejected", message),)


class DiscountCodeTaken(PartnerRejected):
    """The store already holds a discount under this code (Shopify's
    ``TAKEN``): ours from an earlier attempt, or someone else's."""


class PermanentPartnerError(PartnerError):
    """Authentication, permission or contract failure: retrying cannot help
    until someone fixes the setup."""


class IncompleteRead(FulfilmentError):
    """A paged read ended before its last page; nothing after the last
    stored page may be assumed."""


class StorageError(FulfilmentError):
    """The store failed."""


class ConflictError(StorageError):
    """A compare-and-set write lost: the record changed since it was read."""
