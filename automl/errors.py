"""The one error type the CLI turns into a one-line message and a non-zero exit."""

from __future__ import annotations

from pathlib import Path


class AutomlError(Exception):
    """A user-facing problem (bad config, data, storage URL...). The message is one line."""


class ConfigError(AutomlError):
    """A study file or override is wrong; the message names the key."""


class DataError(AutomlError):
    """A data source is missing or malformed; the message names the file or array."""


class StorageError(AutomlError):
    """The database cannot be reached or does not hold what was asked for."""


def no_file(path: Path) -> str:
    """Why ``path`` cannot be read as a data file (it is not a regular file), for a message."""
    if path.exists():
        return f"{path}: not a regular file (a folder, a pipe?); expected a data file"
    return f"{path}: data file not found"
