"""Turn plain dicts (from TOML) into frozen dataclasses, with one-line errors naming the key.

Kept generic and pure: the allowed values and ranges live beside the config sections in
:mod:`automl.config`; this module only knows how to check a value against a type hint.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from automl.errors import ConfigError

# Every integer setting must fit the database's (and numpy's) signed 64-bit integers.
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Bound:
    """The allowed values of a number setting: ``lo <= v <= hi`` (``lo < v`` with ``lo_open``).

    Floats must also be finite: NaN compares false with every bound, so without that check a
    ``nan`` fraction or timeout would slip through every range.
    """

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False

    def allows(self, value: float) -> bool:
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or value <= self.hi

    def describe(self) -> str:
        low = None if self.lo is None else f"{'>' if self.lo_open else '>='} {_num(self.lo)}"
        high = None if self.hi is None else f"<= {_num(self.hi)}"
        return " and ".join(b for b in (low, high) if b)


def _num(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


Choices = Mapping[str, tuple[Any, ...]]
Ranges = Mapping[str, Bound]


def check_number(key: str, value: Any, bound: Bound | None = None) -> None:
    """Raise ConfigError naming ``key`` for a non-finite float, an int beyond int64, or a
    value outside ``bound``; tuples are checked element by element."""
    if isinstance(value, tuple):
        for i, v in enumerate(value):
            check_number(f"{key}[{i}]", v, bound)
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}: {value} is not a finite number")
    if bound is not None and not bound.allows(value):
        raise ConfigError(f"{key}: {_short(value)} is out of range; must be {bound.describe()}")
    if isinstance(value, int) and abs(value) > INT64_MAX:
        raise ConfigError(f"{key}: {_short(value)} is too large; must be <= {INT64_MAX}")


def _short(value: Any) -> str:
    """A value for a message, cut short: a 10**100 literal is not worth 101 digits."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} chars)"


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "none"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        return getattr(origin, "__name__", str(origin))
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Return ``value`` converted to ``tp`` or raise ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {_short(value)}")
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:  # an int literal beyond any float
                raise ConfigError(f"{key}: {_short(value)} is too large") from None
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin in (dict, Mapping) or tp is dict:
        if isinstance(value, Mapping):
            return dict(value)
    elif origin in (tuple, list) or tp in (tuple, list):
        if isinstance(value, (list, tuple)):
            args = typing.get_args(tp)
            inner = args[0] if args else Any
            return tuple(_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value))
    else:  # pragma: no cover - a programming error in a section definition
        raise TypeError(f"unsupported config type {tp!r} for {key}")
    raise ConfigError(f"{key}: expected {_type_name(tp)}, got {_short(value)}")


def build(
    cls: type,
    data: Mapping[str, Any],
    where: str,
    choices: Choices | None = None,
    ranges: Ranges | None = None,
) -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys, bad types, values and ranges fail."""
    choices = choices or {}
    ranges = ranges or {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}.{unknown[0]}: unknown key; allowed: {', '.join(sorted(fields))}"
        )
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{where}.{name}"
        value = _coerce(value, hints[name], key)
        if name in choices and value not in choices[name]:
            allowed = ", ".join(str(c) for c in choices[name])
            raise ConfigError(f"{key}: {_short(value)} is not allowed; choose one of: {allowed}")
        check_number(key, value, ranges.get(name))
        if isinstance(value, str) and "\x00" in value:
            raise ConfigError(f"{key}: contains a NUL character")
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
