"""Partner status tables, kept as data: raw partner codes → ``TrackingStatus``.

Each partner package ships a ``statuses.toml`` beside its code.  Every TOML
table in the file is one vocabulary (Aramex has one, ``update_code``;
Flextock two, ``order_status`` and ``order_sub_status``), mapping a raw code
to the value of a :class:`~fulfilment.core.domain.TrackingStatus`, or to
``"keep"`` for a code the partner uses that carries no status of its own
(a Flextock sub-status such as ``rescheduled``).  Codes are compared with
their case folded and their spacing collapsed, so ``"SH014"``, ``"sh014"``
and ``" In  Transit "`` all find their row.

The file is read once per process, on first use, and checked whole: a value
that is not a known status names the file, the table and the code.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterator, Mapping
from importlib import resources

import attrs

from fulfilment.core.domain import TrackingStatus

__all__ = ["KEEP", "StatusTable", "load_status_tables", "normalise_code"]

KEEP = "keep"
FILE_NAME = "statuses.toml"


def normalise_code(code: str | None) -> str:
    """The form codes are compared in: case folded, spacing collapsed."""
    return " ".join((code or "").casefold().split())


@attrs.frozen
class StatusTable:
    """One vocabulary of a partner.  ``rows`` maps each code as written in
    the file to its status, None for a ``keep`` row."""

    source: str
    rows: Mapping[str, TrackingStatus | None]
    _index: Mapping[str, TrackingStatus | None] = attrs.field(
        init=False, repr=False, eq=False
    )

    @_index.default
    def _by_normalised_code(self) -> Mapping[str, TrackingStatus | None]:
        return {normalise_code(code): status for code, status in self.rows.items()}

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and normalise_code(code) in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, code: str | None) -> TrackingStatus | None:
        """The status of *code*; None when the code is unknown or a
        ``keep`` row (use ``in`` to tell the two apart)."""
        return self._index.get(normalise_code(code))

    def status(self, code: str | None) -> TrackingStatus:
        """The status of *code*, ``unknown`` when the table has none."""
        return self.get(code) or TrackingStatus.UNKNOWN


@functools.cache
def load_status_tables(package: str) -> Mapping[str, StatusTable]:
    """The tables of ``<package>/statuses.toml``, by TOML table name.

    Raises ValueError naming the file, table and code for a value that is
    neither a ``TrackingStatus`` value nor ``"keep"``.
    """
    text = resources.files(package).joinpath(FILE_NAME).read_text("utf-8")
    source = f"{package.rsplit('.', 1)[-1]}/{FILE_NAME}"
    data = tomllib.loads(text)
    return {
        name: _table(f"{source} [{name}]", rows)
        for name, rows in data.items()
        if isinstance(rows, dict)
    }


def _table(source: str, rows: Mapping[str, object]) -> StatusTable:
    statuses = {code: _status(source, code, value) for code, value in rows.items()}
    return StatusTable(source, statuses)


def _status(source: str, code: str, value: object) -> TrackingStatus | None:
    if value == KEEP:
        return None
    try:
        return TrackingStatus(str(value))
    except ValueError:
        allowed = ", ".join([*TrackingStatus, KEEP])
        raise ValueError(
            f"{source} {code} = {value!r}: not a status (one of {allowed})"
        ) from None
