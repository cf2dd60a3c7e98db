"""A strict cattrs converter for configuration, and readable errors.

cattrs' default structuring is forgiving in ways a configuration must not
be: it turns ``"no"`` into ``True``, ``1.9`` into ``1``, a list into its
``str()``, iterates a string into its letters (``cod_currencies =
"MAD"`` becoming ``{"M", "A", "D"}``), and asks a list for the ``items()``
of a table.  This converter accepts only the TOML
type a field asks for, refuses NaN and infinities, and :func:`describe`
turns a failure into one line per problem, each with its path.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, get_args, get_origin

import attrs
import cattrs
from cattrs.cols import is_any_set, is_mapping, is_sequence, mapping_structure_factory
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn

__all__ = ["describe", "strict_converter"]

_KINDS = {
    bool: "true/false",
    int: "a whole number",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a table",
}


def kind(value: Any) -> str:
    return next(
        (name for t, name in _KINDS.items() if type(value) is t),
        type(value).__name__,
    )


def _string(value: Any, _: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, not {kind(value)}")
    return value


def _whole(value: Any, _: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a whole number, not {kind(value)}")
    return value


def _number(value: Any, _: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, not {kind(value)}")
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, not {value}")
    return float(value)


def _decimal(value: Any, _: Any) -> Decimal:
    """A sum or a percentage: a TOML number, or a string holding one
    (``"12.50"``, which keeps its decimals exactly)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"expected a number, not {kind(value)}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"expected a number, not {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"expected a finite number, not {value}")
    return number


def _flag(value: Any, _: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, not {kind(value)}")
    return value


def _collection(type_: Any, converter: cattrs.Converter) -> Callable[..., Any]:
    args = [a for a in get_args(type_) if a is not Ellipsis]
    element = args[0] if args else Any
    origin = get_origin(type_) or type_
    build: Callable[[list[Any]], Any] = {
        tuple: tuple,
        frozenset: frozenset,
        set: set,
    }.get(origin, list)

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise TypeError(f"expected a list, not {kind(value)}")
        items, errors = [], []
        for index, item in enumerate(value):
            try:
                items.append(converter.structure(item, element))
            except Exception as error:  # gathered and re-raised as one
                note = IterableValidationNote(f"index {index}", index, element)
                error.__notes__ = [*getattr(error, "__notes__", []), note]
                errors.append(error)
        if errors:
            raise IterableValidationError(f"in {type_}", errors, type_)
        return build(items)

    return structure


def _mapping(type_: Any, converter: cattrs.Converter) -> Callable[..., Any]:
    inner = mapping_structure_factory(type_, converter)

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a table, not {kind(value)}")
        return inner(value, type_)

    return structure


def _table(cls: type[Any], converter: cattrs.Converter) -> Callable[..., Any]:
    inner = make_dict_structure_fn(cls, converter)

    def structure(value: Any, type_: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a table, not {kind(value)}")
        return inner(value, type_)

    return structure


def strict_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(str, _string)
    converter.register_structure_hook(int, _whole)
    converter.register_structure_hook(float, _number)
    converter.register_structure_hook(bool, _flag)
    converter.register_structure_hook(Decimal, _decimal)
    converter.register_structure_hook_factory(
        lambda t: is_sequence(t) or is_any_set(t),
        lambda t: _collection(t, converter),
    )
    converter.register_structure_hook_factory(
        is_mapping, lambda t: _mapping(t, converter)
    )
    converter.register_structure_hook_factory(
        attrs.has, lambda cls: _table(cls, converter)
    )
    return converter


def describe(error: BaseException, path: str = "") -> list[str]:
    """One line per leaf of a structuring error, each with its path."""
    if isinstance(error, ForbiddenExtraKeysError):
        return [f"{path}: {_unknown_keys(error)}"]
    if isinstance(error, ClassValidationError | IterableValidationError):
        lines = []
        for sub in error.exceptions:
            lines += describe(sub, f"{path}{_step(sub)}")
        return lines
    if isinstance(error, KeyError):
        return [f"{path}: required key is missing"]
    # attrs validators raise (message, attribute, validator, value): keep
    # the message, which names the field.
    message = error.args[0] if error.args else error
    return [f"{path}: {message}"]


def _unknown_keys(error: ForbiddenExtraKeysError) -> str:
    """Which keys are unknown, the likely intended one for a typo, and the
    keys the table takes: the fix is usually a spelling."""
    known = (
        sorted(field.alias or field.name for field in attrs.fields(error.cl))
        if attrs.has(error.cl)
        else []
    )
    hints = []
    for key in sorted(error.extra_fields):
        close = difflib.get_close_matches(key, known, n=1)
        hints.append(f"{key} (did you mean {close[0]}?)" if close else key)
    known_part = f"; known keys: {', '.join(known)}" if known else ""
    return f"unknown keys {', '.join(hints)}{known_part}"


def _step(error: BaseException) -> str:
    for note in getattr(error, "__notes__", []):
        name = getattr(note, "name", None)
        if name is not None:
            return f".{name}"
        index = getattr(note, "index", None)
        if index is not None:
            return f"[{index}]"
    return ""
