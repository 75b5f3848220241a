"""Storage URLs: defaults, masking, SQLite file paths. Pure functions, no database access."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_URL = "sqlite:///automl.db"
ENV_VAR = "AUTOML_STORAGE"


def resolve_url(url: str | None) -> str:
    """``--storage`` wins, then ``$AUTOML_STORAGE``, then ``sqlite:///automl.db``."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe for logs, tables and pages)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        u = make_url(url)
    except ArgumentError:
        return mask_text(url)
    return u.render_as_string(hide_password=True)


def mask_text(text: str) -> str:
    """Mask ``scheme://user:password@host`` credentials anywhere in a text (error messages)."""
    import re

    return re.sub(r"(://[^:/@\s]+:)([^@\s]+)(@)", r"\1***\3", text)


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for other back ends and in-memory SQLite."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    database = u.database
    if u.query.get("uri") == "true" and database.startswith("file:"):
        database = database[len("file:"):]  # sqlite:///file:PATH?mode=ro&uri=true
    return Path(database)


def default_artifacts(url: str) -> Path:
    """Weights go next to a SQLite file; for a server database, under the working directory."""
    db = sqlite_path(url)
    base = db.parent if db is not None else Path.cwd()
    return (base / "automl_artifacts").resolve()
