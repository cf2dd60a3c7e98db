"""Errors in what a person asked the runner to do (exit status 2)."""

from __future__ import annotations

from fulfilment.core.errors import FulfilmentError

__all__ = ["UsageError"]


class UsageError(FulfilmentError):
    """An argument, input file or data folder that cannot be used; the
    message says which and why."""
