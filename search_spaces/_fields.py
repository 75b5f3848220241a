"""Checking and coercing the fields of specs and options dataclasses.

Specs and options arrive from JSON, TOML and Optuna, so a field may hold a list where a tuple is
meant or a numpy integer where an int is meant. The coercers below return the canonical value
(tuples, Python scalars) so that equal specs compare and hash equal, and raise
:class:`FieldError` naming the field otherwise.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from search_spaces.registry import FieldError

T = TypeVar("T")


def _name(what: str | None, field: str) -> str:
    return f"{what}.{field}" if what else field


# No size or count in a space or spec needs more; a larger one would overflow the database's
# and torch's integers long after the study started.
INT_MAX = 2**31 - 1


def as_int(what: str | None, field: str, value: Any, lo: int | None = None) -> int:
    """``value`` as an int (not a bool, not a float), at least ``lo`` and at most INT_MAX."""
    try:
        if isinstance(value, bool):
            raise TypeError
        out = operator.index(value)
    except TypeError:
        raise FieldError(_name(what, field), f"need an integer, got {value!r}") from None
    if lo is not None and out < lo:
        raise FieldError(_name(what, field), f"need >= {lo}, got {out}")
    if out > INT_MAX:
        raise FieldError(_name(what, field), f"need <= {INT_MAX}, got {out}")
    return out


def as_float(
    what: str | None,
    field: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    hi_open: bool = False,
) -> float:
    """``value`` as a finite float in ``[lo, hi]`` (``[lo, hi)`` with ``hi_open``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(value)  # numpy scalars
        except (TypeError, ValueError):
            raise FieldError(_name(what, field), f"need a number, got {value!r}") from None
    out = float(value)
    if not math.isfinite(out):
        raise FieldError(_name(what, field), f"need a finite number, got {out}")
    too_high = hi is not None and (out >= hi if hi_open else out > hi)
    if (lo is not None and out < lo) or too_high:
        bracket = ")" if hi_open else "]"
        raise FieldError(_name(what, field), f"need a value in [{lo}, {hi}{bracket}, got {out}")
    return out


def as_bool(what: str | None, field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldError(_name(what, field), f"need true or false, got {value!r}")
    return value


def as_choice(what: str | None, field: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise FieldError(
            _name(what, field), f"{value!r} is not one of {', '.join(map(str, allowed))}"
        )
    return str(value)


def as_tuple(
    what: str | None,
    field: str,
    value: Any,
    item: Callable[[str, Any], T],
    *,
    nonempty: bool = True,
) -> tuple[T, ...]:
    """A list or tuple as a tuple, each element passed through ``item(field[i], element)``."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise FieldError(_name(what, field), f"need a list, got {value!r}")
    out = tuple(item(f"{field}[{i}]", v) for i, v in enumerate(value))
    if nonempty and not out:
        raise FieldError(_name(what, field), "need at least one value")
    return out


def as_range(
    what: str | None, field: str, value: Any, lo: float, hi: float | None = None
) -> tuple[float, float]:
    """A ``(low, high)`` pair with ``lo <= low <= high (<= hi)``."""
    pair = as_tuple(what, field, value, lambda f, v: as_float(what, f, v, lo, hi))
    if len(pair) != 2 or pair[0] > pair[1]:
        raise FieldError(_name(what, field), f"need [low, high] with low <= high, got {value!r}")
    return pair[0], pair[1]


def set_field(obj: object, field: str, value: Any) -> None:
    """Assign to a frozen dataclass inside its ``__post_init__``."""
    object.__setattr__(obj, field, value)


def check_keys(what: str, data: Any, allowed: Iterable[str], required: Iterable[str]) -> None:
    """Raise ValueError naming the first unknown or missing key of ``data``."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{what}: need a mapping, got {type(data).__name__}")
    allowed = set(allowed)
    unknown = sorted(set(data) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed))
        raise ValueError(f"{what}.{unknown[0]}: unknown field; allowed: {known}")
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"{what}.{missing[0]}: missing field")


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def required_fields(cls: type) -> list[str]:
    missing = dataclasses.MISSING
    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is missing and f.default_factory is missing
    ]


def to_jsonable(obj: Any) -> Any:
    """Dataclasses to dicts and tuples to lists, recursively: what ``json.loads`` gives back."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    return obj


def as_choices(
    what: str | None, field: str, value: Any, item: Callable[[str, Any], T]
) -> tuple[T, ...]:
    """A non-empty tuple of distinct choices for ``suggest_categorical``."""
    out = as_tuple(what, field, value, item)
    if len(set(out)) != len(out):
        raise FieldError(_name(what, field), f"has repeated values: {list(out)}")
    return out


def choices_of(allowed: Sequence[str], what: str | None = None) -> Callable[[str, Any], str]:
    """An ``item`` function for :func:`as_choices`: each value must be one of ``allowed``."""
    return lambda f, v: as_choice(what, f, v, allowed)


def bools(what: str | None = None) -> Callable[[str, Any], bool]:
    """An ``item`` function for :func:`as_choices`: each value true or false."""
    return lambda f, v: as_bool(what, f, v)


def ints_from(lo: int, what: str | None = None) -> Callable[[str, Any], int]:
    """An ``item`` function for :func:`as_choices`: each value an int >= ``lo``."""
    return lambda f, v: as_int(what, f, v, lo)
