"""The project's own tables, beside Optuna's in the same database.

Optuna's RDB tables stay untouched (so ``optuna-dashboard`` opens the same file); ours hold what
Optuna has no place for: specs, costs, per-epoch curves, the stored config, artifact paths.
Every table is prefixed ``automl_``. A change here goes with a new revision in
``migrations/versions`` (see :mod:`automl.storage.migrate`), which upgrades existing databases
in place. ``SCHEMA_VERSION``, in the ``automl_meta`` table, is what automl versions from before
migrations check: bump it only when they must refuse a database.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class MetaRow(Base):
    __tablename__ = "automl_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class StudyRow(Base):
    __tablename__ = "automl_studies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(512), unique=True, index=True)
    objective: Mapped[str] = mapped_column(String(32))
    cost: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict] = mapped_column(JSON)  # the merged StudyConfig of the latest run
    environment: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class StudyKeyRow(Base):
    """A random key per study, owned by this database: it names the study's artifacts folder
    (see automl/storage/artifacts.py). A table of its own, so older databases gained it
    without altering a table (revision 0001 creates it where it is missing)."""

    __tablename__ = "automl_study_keys"
    name: Mapped[str] = mapped_column(String(512), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TrialRow(Base):
    __tablename__ = "automl_trials"
    __table_args__ = (UniqueConstraint("study_name", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_name: Mapped[str] = mapped_column(String(512), index=True)
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="RUNNING")
    arch_space: Mapped[str | None] = mapped_column(String(64))
    arch: Mapped[dict | None] = mapped_column(JSON)
    loss: Mapped[dict | None] = mapped_column(JSON)
    loss_formula: Mapped[str | None] = mapped_column(String(512))
    loss_family: Mapped[str | None] = mapped_column(String(32))
    hparams: Mapped[dict | None] = mapped_column(JSON)
    train_config: Mapped[dict | None] = mapped_column(JSON)
    preprocessing: Mapped[dict | None] = mapped_column(JSON)
    val_accuracy: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)  # ties on accuracy break on this
    test_accuracy: Mapped[float | None] = mapped_column(Float)
    params: Mapped[int | None] = mapped_column(BigInteger)
    flops: Mapped[float | None] = mapped_column(Float)  # float: FLOPs overflow 32-bit ints
    latency_ms: Mapped[float | None] = mapped_column(Float)
    peak_memory_mb: Mapped[float | None] = mapped_column(Float)
    comm_bytes_per_step: Mapped[float | None] = mapped_column(Float)
    train_seconds: Mapped[float | None] = mapped_column(Float)
    best_epoch: Mapped[int | None] = mapped_column(Integer)
    artifact_path: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)  # why it was pruned or failed
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    epochs: Mapped[list[EpochRow]] = relationship(
        back_populates="trial", order_by="EpochRow.epoch", cascade="all, delete-orphan"
    )


class RunRow(Base):
    """One ``automl search`` goal: add ``requested`` finished trials (``target`` in total).

    Re-running the same command (same config fingerprint) while its run is unfinished resumes
    that run instead of adding more; parallel workers with the same config join it.
    """

    __tablename__ = "automl_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_name: Mapped[str] = mapped_column(String(512), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    requested: Mapped[int] = mapped_column(Integer)
    target: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | done
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class LockRow(Base):
    """A lease lock (works the same on SQLite and PostgreSQL): taken by a conditional UPDATE,
    so a crashed holder's lease simply expires."""

    __tablename__ = "automl_locks"
    name: Mapped[str] = mapped_column(String(512), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(128))
    expires: Mapped[float] = mapped_column(Float, default=0.0)


class EpochRow(Base):
    __tablename__ = "automl_epochs"
    __table_args__ = (UniqueConstraint("trial_id", "epoch"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("automl_trials.id", ondelete="CASCADE"))
    epoch: Mapped[int] = mapped_column(Integer)
    train_loss: Mapped[float] = mapped_column(Float)
    val_accuracy: Mapped[float] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    trial: Mapped[TrialRow] = relationship(back_populates="epochs")
