"""Storage: the only package that talks SQL. See :class:`Storage`."""

from __future__ import annotations

from dataclasses import dataclass

from automl.storage.records import EpochPoint, StudySummary, TrialRecord
from automl.storage.store import Storage
from automl.storage.urls import DEFAULT_URL, StorageUrl, mask_text, mask_url, resolve_url

__all__ = [
    "DEFAULT_URL",
    "EpochPoint",
    "Revision",
    "Storage",
    "StorageUrl",
    "StudySummary",
    "TrialRecord",
    "mask_text",
    "mask_url",
    "open_storage",
    "resolve_url",
    "schema_revision",
    "upgrade_schema",
]


def open_storage(url: str | None = None, *, create: bool = True, **kwargs: object) -> Storage:
    """The single factory: ``--storage`` / ``$AUTOML_STORAGE`` / ``sqlite:///automl.db``. The
    URL is parsed once (:class:`StorageUrl`); a bad one is one masked :class:`StorageError`
    line."""
    return Storage(resolve_url(url), create=create, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Revision:
    """Where a database's project tables stand: ``before`` an upgrade (or now), and ``head``,
    the newest revision this automl knows. ``before`` None: the database had none of them."""

    storage: str  # masked URL
    before: str | None
    head: str

    @property
    def current(self) -> bool:
        return self.before == self.head

    @property
    def newer(self) -> bool:
        """Written by a newer automl (a revision this one does not know)."""
        from automl.storage.migrate import is_known

        return not is_known(self.before)


def upgrade_schema(url: str | None = None) -> Revision:
    """Upgrade the project's tables of an existing database in place (``automl db
    upgrade``); Optuna's own tables are upgraded by ``optuna storage upgrade``."""
    from automl.storage.migrate import HEAD

    st = open_storage(url, create=False, schema="upgrade")
    try:
        return Revision(st.masked_url, st.upgraded_from, HEAD)
    finally:
        st.close()


def schema_revision(url: str | None = None) -> Revision:
    """The revision of a database's project tables, read without writing (``automl db
    current``)."""
    from automl.storage.migrate import HEAD

    st = open_storage(url, create=False, readonly=True, schema="as-is")
    try:
        return Revision(st.masked_url, st.upgraded_from, HEAD)
    finally:
        st.close()
