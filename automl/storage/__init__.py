"""Storage: the only package that talks SQL. See :class:`Storage`."""

from __future__ import annotations

from automl.storage.records import EpochPoint, StudySummary, TrialRecord
from automl.storage.store import Storage
from automl.storage.urls import DEFAULT_URL, mask_text, mask_url, resolve_url

__all__ = [
    "DEFAULT_URL",
    "EpochPoint",
    "Storage",
    "StudySummary",
    "TrialRecord",
    "mask_text",
    "mask_url",
    "open_storage",
    "resolve_url",
]


def open_storage(url: str | None = None, *, create: bool = True, **kwargs: object) -> Storage:
    """The single factory: ``--storage`` / ``$AUTOML_STORAGE`` / ``sqlite:///automl.db``."""
    return Storage(resolve_url(url), create=create, **kwargs)  # type: ignore[arg-type]
