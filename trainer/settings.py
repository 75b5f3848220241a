"""Declare each setting once: its type (the annotation), default, allowed values, range and help.

A config dataclass declares its fields with :func:`setting`; one generic checker reads those
declarations for every use: :func:`build` turns a study file's table into the dataclass (the
CLI's TOML and ``--set`` path), :func:`check` re-checks an instance made in Python (the
trainer's own ``validate_config``), and the README's table of keys is generated from them.
Stdlib only, so validating a config never imports torch.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import numbers
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Every integer setting must fit the database's (and numpy's) signed 64-bit integers.
INT64_MAX = 2**63 - 1
# Upper bounds: every count must fit a 32-bit database column, every seed numpy's and Optuna's
# RNGs, every duration the timers (threading, timedelta) without overflowing.
COUNT_MAX = 2**31 - 1
SEED_MAX = 2**31 - 1  # trial seeds are study.seed + trial number: room to count up
SECONDS_MAX = 1e8  # about three years
_META = "setting"


class SettingError(ValueError):
    """A bad value for a declared setting; the message is one line and starts with its key."""


@dataclass(frozen=True)
class Ref:
    """Allowed values owned by a heavier module (``module``'s ``name``), imported on first use:
    the checkpointing modes live beside the torch code that runs them."""

    module: str
    name: str

    def resolve(self) -> tuple[Any, ...]:
        return tuple(getattr(importlib.import_module(self.module), self.name))


@dataclass(frozen=True)
class Setting:
    """What a field allows besides its type: ``choices``, or ``lo <= v <= hi`` (``lo < v`` with
    ``lo_open``). Floats must also be finite: NaN compares false with every bound, so without
    that check a ``nan`` fraction or timeout would slip through every range."""

    choices: tuple[Any, ...] | Ref | None = None
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    help: str = ""
    # A plug-in registry the value names (an architecture space...): checked when the search
    # starts, since a plug-in may register after the config is read; listed in the docs.
    registry: Ref | None = None

    def allowed(self) -> tuple[Any, ...] | None:
        return self.choices.resolve() if isinstance(self.choices, Ref) else self.choices

    def allows(self, value: float) -> bool:
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or value <= self.hi

    def describe_range(self) -> str:
        sign = ">" if self.lo_open else ">="
        low = None if self.lo is None else f"{sign} {format_number(self.lo)}"
        high = None if self.hi is None else f"<= {format_number(self.hi)}"
        return " and ".join(b for b in (low, high) if b)


def setting(
    default: Any = dataclasses.MISSING,
    *,
    factory: Any = dataclasses.MISSING,
    choices: Iterable[Any] | Ref | None = None,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    help: str = "",  # noqa: A002 - the word every CLI library uses for it
    registry: Ref | None = None,
) -> Any:
    """A dataclass field carrying its :class:`Setting` (``factory``: a default factory)."""
    allowed = choices if choices is None or isinstance(choices, Ref) else tuple(choices)
    meta = {_META: Setting(allowed, lo, hi, lo_open, help, registry)}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def settings_of(cls: type) -> dict[str, Setting]:
    """Each init field of dataclass ``cls`` and its declaration (an empty one if undeclared)."""
    return {f.name: f.metadata.get(_META, Setting()) for f in dataclasses.fields(cls) if f.init}


def short(value: Any) -> str:
    """A value for a message, cut short: a 10**100 literal is not worth 101 digits."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} chars)"


def format_number(x: float) -> str:
    """``1``, ``0.15``, ``1e+08``: a bound as messages and the README show it."""
    return str(x) if isinstance(x, int) else f"{x:g}"


def check_number(key: str, value: Any, rule: Setting | None = None) -> None:
    """Raise naming ``key`` for a non-finite float, an int beyond int64, or a value outside
    ``rule``'s range; tuples are checked element by element."""
    if isinstance(value, tuple):
        for i, v in enumerate(value):
            check_number(f"{key}[{i}]", v, rule)
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise SettingError(f"{key}: {value} is not a finite number")
    if rule is not None and not rule.allows(value):
        raise SettingError(
            f"{key}: {short(value)} is out of range; must be {rule.describe_range()}"
        )
    if isinstance(value, int) and abs(value) > INT64_MAX:
        raise SettingError(f"{key}: {short(value)} is too large; must be <= {INT64_MAX}")


def check_value(key: str, value: Any, rule: Setting) -> None:
    """Raise SettingError naming ``key`` when ``value`` breaks ``rule`` (type already checked)."""
    allowed = rule.allowed()
    if allowed is not None and value not in allowed:
        choose = ", ".join(str(c) for c in allowed)
        raise SettingError(f"{key}: {short(value)} is not allowed; choose one of: {choose}")
    check_number(key, value, rule)
    if isinstance(value, str) and "\x00" in value:
        raise SettingError(f"{key}: contains a NUL character")


def type_name(tp: Any) -> str:
    """``int``, ``float or none``, ``tuple``...: a type hint as a message or the README says it."""
    if tp is type(None):
        return "none"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        return getattr(origin, "__name__", str(origin))
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Return ``value`` converted to ``tp`` (an int for a float, a list for a tuple) or raise
    SettingError naming ``key``. A bool is never an int, a string never a number."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, key)
            except SettingError:
                continue
    elif tp is Any:
        return value
    elif tp is bool or tp is str:
        if isinstance(value, tp):
            return value
    # numbers.*: a numpy scalar is as good as a Python number to a caller of the trainer.
    elif tp is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
    elif tp is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:  # an int literal beyond any float
                raise SettingError(f"{key}: {short(value)} is too large") from None
    elif origin in (dict, Mapping) or tp is dict:
        if isinstance(value, Mapping):
            return dict(value)
    elif origin in (tuple, list) or tp in (tuple, list):
        if isinstance(value, list | tuple):
            args = typing.get_args(tp)
            inner = args[0] if args else Any
            return tuple(coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value))
    else:  # pragma: no cover - a programming error in a section definition
        raise TypeError(f"unsupported setting type {tp!r} for {key}")
    raise SettingError(f"{key}: expected {type_name(tp)}, got {short(value)}")


def build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    """Dataclass ``cls`` from a table; unknown keys, bad types, values and ranges raise
    SettingError naming ``where.key``. Keys left out keep their defaults."""
    if not isinstance(data, Mapping):
        raise SettingError(f"{where}: expected a table, got {short(data)}")
    hints = typing.get_type_hints(cls)
    rules = settings_of(cls)
    unknown = sorted(set(data) - set(rules))
    if unknown:
        allowed = ", ".join(sorted(rules))
        raise SettingError(f"{where}.{unknown[0]}: unknown key; allowed: {allowed}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{where}.{name}"
        kwargs[name] = coerce(value, hints[name], key)
        check_value(key, kwargs[name], rules[name])
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise SettingError(f"{where}: {exc}") from None


def check(obj: Any, where: str) -> None:
    """Check every field of a dataclass instance made in Python against its declaration, with
    the same messages as :func:`build` (which checks a table before the instance exists)."""
    hints = typing.get_type_hints(type(obj))
    for name, rule in settings_of(type(obj)).items():
        key = f"{where}.{name}"
        check_value(key, coerce(getattr(obj, name), hints[name], key), rule)
