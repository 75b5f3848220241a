"""Turn plain dicts (from TOML) into frozen dataclasses, with one-line errors naming the key.

Kept generic and pure: the allowed values and ranges live beside the config sections in
:mod:`automl.config`; this module only knows how to check a value against a type hint.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

from automl.errors import ConfigError

Choices = Mapping[str, tuple[Any, ...]]
Ranges = Mapping[str, tuple[float | None, float | None]]


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
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
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
            return float(value)
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
    raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")


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
            raise ConfigError(f"{key}: {value!r} is not allowed; choose one of: {allowed}")
        if name in ranges and value is not None:
            lo, hi = ranges[name]
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                bound = (
                    f">= {lo}" if hi is None else f"<= {hi}" if lo is None else f"in [{lo}, {hi}]"
                )
                raise ConfigError(f"{key}: {value!r} is out of range; must be {bound}")
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
