"""The ``automl search`` command line that reproduces a config: what the worker processes and
launcher jobs of a search started from Python run (from the CLI they rerun its own arguments).
Pure.

Every setting that differs from its default becomes one ``--set key=value`` with a TOML literal,
so :func:`automl.config.load` reads back the same :class:`~automl.config.StudyConfig`. How the
run is spread (``study.workers``, ``[cluster]``) is left out: the workers append their own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automl.config import StudyConfig

# Keys a worker must not inherit: it would spawn (or launch) workers of its own.
SPREAD = ("study.workers", "cluster.")


def toml_literal(value: Any) -> str:
    """``value`` as a TOML literal (inline tables and arrays nested as needed)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        # A JSON string is a TOML basic string, except that TOML wants DEL escaped too.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, Mapping):
        items = ", ".join(f"{toml_literal(str(k))} = {toml_literal(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML: {value!r:.40}")


def _leaves(d: Mapping[str, Any], defaults: Mapping[str, Any], prefix: str = ""
            ) -> Iterator[tuple[str, Any]]:
    for key, value in d.items():
        dotted, default = f"{prefix}{key}", defaults.get(key)
        if isinstance(value, Mapping) and isinstance(default, Mapping) and not prefix:
            yield from _leaves(value, default, f"{dotted}.")  # a section: its settings
        elif value is not None and value != default:  # None is a default TOML cannot write
            yield dotted, value


def search_argv(cfg: StudyConfig) -> list[str]:
    """``["search", "--set", "study.name=\\"x\\"", ...]``: ``cfg`` as ``automl search``
    arguments (without ``--workers``, ``--launcher`` and ``--quiet``)."""
    from automl.config import StudyConfig

    args = ["search"]
    for key, value in _leaves(cfg.to_dict(), StudyConfig().to_dict()):
        if not key.startswith(SPREAD):
            args += ["--set", f"{key}={toml_literal(value)}"]
    return args
