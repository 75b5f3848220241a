"""Study names: what a name may hold, and how to show a name read back from a database.

A study name ends up in folder names (weights), terminal output, web pages and SQL rows, so it
is checked once, where a study file or an override is read. Names read back from a database
that someone else may write are never trusted to be clean: :func:`printable` shows them with
control characters escaped.
"""

from __future__ import annotations

MAX_LENGTH = 128  # fits every column and, slugged, every file system's name limit
PATH_CHARS = frozenset('/\\\x00')


def study_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a study, or None when it can."""
    if not name or not name.strip():
        return "must not be empty"
    if len(name) > MAX_LENGTH:
        return f"{len(name)} characters is over the limit of {MAX_LENGTH}"
    if name != name.strip():
        return "must not start or end with white space"
    bad = sorted({c for c in name if c in PATH_CHARS or not c.isprintable()})
    if bad:
        shown = ", ".join(repr(c) for c in bad[:3])
        return f"must not hold control or path characters ({shown})"
    if set(name) <= {"."}:
        return "must not be only dots"
    return None


def printable(text: object) -> str:
    """``text`` with control and other non-printing characters escaped (``\\x1b`` stays
    visible instead of driving the terminal)."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)
