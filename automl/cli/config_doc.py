"""The README's table of study-file keys, generated from the settings' declarations.

``python -m automl.cli.config_doc`` rewrites the table between the markers in README.md;
``python -m automl.cli.config_doc --check`` exits 1 when the README is stale (as the test does).
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path
from typing import Any

from automl.config import SECTIONS
from trainer.settings import Setting, format_number, settings_of, type_name

START = "<!-- config-keys:start -->"
END = "<!-- config-keys:end -->"
README = Path(__file__).resolve().parents[2] / "README.md"
COMMAND = "python -m automl.cli.config_doc"


def _literal(value: Any) -> str:
    """A default as the study file writes it (TOML), or ``none``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{}" if not value else str(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)


def _allowed(rule: Setting) -> str:
    choices = rule.allowed()
    if choices is not None:
        return ", ".join(f"`{c}`" for c in choices)
    if rule.registry is not None:
        return "registered: " + ", ".join(f"`{n}`" for n in rule.registry.resolve())
    if rule.lo is None:
        return "" if rule.hi is None else f"≤ {format_number(rule.hi)}"
    if rule.hi is None:
        return f"{'>' if rule.lo_open else '≥'} {format_number(rule.lo)}"
    return f"{'(' if rule.lo_open else '['}{format_number(rule.lo)}, {format_number(rule.hi)}]"


def _type(tp: Any) -> str:
    """The type as a study file writes it: a table, a list."""
    return type_name(tp).replace("dict", "table").replace("tuple", "list")


def _default(cls: type, name: str) -> Any:
    return getattr(cls(), name)


def rows() -> list[tuple[str, str, str, str, str]]:
    """``(section.key, type, default, allowed values or range, help)`` of every key."""
    out = []
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for name, rule in settings_of(cls).items():
            out.append((f"{section}.{name}", _type(hints[name]),
                        _literal(_default(cls, name)), _allowed(rule), rule.help))
    return out


def table() -> str:
    """The Markdown table, markers excluded."""
    lines = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for key, tp, default, allowed, text in rows():
        cells = (f"`{key}`", tp, f"`{default}`", allowed, text.replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(readme: str) -> str:
    """``readme`` with the text between the markers replaced by :func:`table`."""
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"README.md: markers {START} ... {END} not found")
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if "--check" in argv:
        if new != text:
            print(f"README.md: the table of config keys is stale; run `{COMMAND}`")
            return 1
        return 0
    if new != text:
        README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
