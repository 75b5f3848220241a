"""The project's tables as they were when migrations began (``automl_meta`` schema_version 1).

Creates only the tables a database lacks: a database written before migrations already holds
them (some older ones without ``automl_study_keys``), and this revision is what stamps it.
The definitions are frozen here on purpose: later revisions change them, never this file.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_NAME = sa.String(512)


def _tables() -> list[tuple[str, list[sa.schema.SchemaItem]]]:
    created = [sa.Column("created_at", sa.DateTime(), nullable=False)]
    return [
        ("automl_meta", [sa.Column("key", sa.String(64), primary_key=True),
                         sa.Column("value", sa.String(256), nullable=False)]),
        ("automl_studies", [
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", _NAME, nullable=False),
            sa.Column("objective", sa.String(32), nullable=False),
            sa.Column("cost", sa.String(32), nullable=False),
            sa.Column("config", sa.JSON(), nullable=False),
            sa.Column("environment", sa.JSON(), nullable=False),
            *created, sa.Column("updated_at", sa.DateTime(), nullable=False)]),
        ("automl_study_keys", [
            sa.Column("name", _NAME, primary_key=True),
            sa.Column("key", sa.String(32), nullable=False), *created,
            sa.UniqueConstraint("key")]),
        ("automl_trials", _trial_columns()),
        ("automl_runs", [
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("study_name", _NAME, nullable=False),
            sa.Column("fingerprint", sa.String(64), nullable=False),
            sa.Column("requested", sa.Integer(), nullable=False),
            sa.Column("target", sa.Integer(), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            *created, sa.Column("updated_at", sa.DateTime(), nullable=False)]),
        ("automl_locks", [
            sa.Column("name", _NAME, primary_key=True),
            sa.Column("holder", sa.String(128), nullable=True),
            sa.Column("expires", sa.Float(), nullable=False)]),
        ("automl_epochs", [
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("trial_id", sa.Integer(),
                      sa.ForeignKey("automl_trials.id", ondelete="CASCADE"), nullable=False),
            sa.Column("epoch", sa.Integer(), nullable=False),
            sa.Column("train_loss", sa.Float(), nullable=False),
            sa.Column("val_accuracy", sa.Float(), nullable=False),
            sa.Column("val_loss", sa.Float(), nullable=True),
            sa.Column("seconds", sa.Float(), nullable=False),
            sa.UniqueConstraint("trial_id", "epoch")]),
    ]


def _trial_columns() -> list[sa.schema.SchemaItem]:
    def opt(name: str, type_: sa.types.TypeEngine) -> sa.Column:
        return sa.Column(name, type_, nullable=True)

    return [
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_name", _NAME, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        opt("arch_space", sa.String(64)), opt("arch", sa.JSON()), opt("loss", sa.JSON()),
        opt("loss_formula", sa.String(512)), opt("loss_family", sa.String(32)),
        opt("hparams", sa.JSON()), opt("train_config", sa.JSON()),
        opt("preprocessing", sa.JSON()),
        *(opt(name, sa.Float()) for name in ("val_accuracy", "val_loss", "test_accuracy")),
        opt("params", sa.BigInteger()),
        *(opt(name, sa.Float()) for name in (
            "flops", "latency_ms", "peak_memory_mb", "comm_bytes_per_step", "train_seconds")),
        opt("best_epoch", sa.Integer()), opt("artifact_path", sa.Text()),
        opt("reason", sa.Text()),
        sa.Column("started_at", sa.DateTime(), nullable=False), opt("finished_at", sa.DateTime()),
        sa.UniqueConstraint("study_name", "number"),
    ]


_INDEXES = (("automl_studies", "name", True), ("automl_trials", "study_name", False),
            ("automl_runs", "study_name", False))


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, items in _tables():
        if name in existing:
            continue
        op.create_table(name, *items)
        for table, column, unique in _INDEXES:
            if table == name:
                op.create_index(f"ix_{table}_{column}", table, [column], unique=unique)
    meta = sa.table("automl_meta", sa.column("key", sa.String), sa.column("value", sa.String))
    if op.get_bind().execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")
                             ).first() is None:
        # Read by automl versions from before migrations, which refuse a higher number.
        op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}])


def downgrade() -> None:
    for name, _items in reversed(_tables()):
        op.drop_table(name)
