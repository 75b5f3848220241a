"""Migrations of the project's tables (automl/storage/migrate.py), on SQLite and PostgreSQL:
a database written before migrations is upgraded in place with its data, a newer one is
refused in one line, and the migrated schema is exactly the models'.

Old databases are built from revision 0001's tables frozen here as SQL (what automl created
then), never from today's models: a later revision is tested against the schema it will
really meet."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from automl.cli.db import db_app
from automl.errors import StorageError
from automl.storage import Storage, migrate, schema
from automl.storage.migrate import HEAD, MIGRATIONS, VERSION_TABLE

# Revision 0001's tables as automl created them (``create_all`` of the models before
# migrations, migration 0001 since), frozen: never edit. {ID}: the dialect's auto-incrementing
# integer key; {TS}: its timestamp without time zone.
SCHEMA_0001 = """
CREATE TABLE automl_meta ("key" VARCHAR(64) NOT NULL, value VARCHAR(256) NOT NULL,
    PRIMARY KEY ("key"));
CREATE TABLE automl_studies (id {ID} NOT NULL, name VARCHAR(512) NOT NULL,
    objective VARCHAR(32) NOT NULL, cost VARCHAR(32) NOT NULL, config JSON NOT NULL,
    environment JSON NOT NULL, created_at {TS} NOT NULL, updated_at {TS} NOT NULL,
    PRIMARY KEY (id));
CREATE TABLE automl_study_keys (name VARCHAR(512) NOT NULL, "key" VARCHAR(32) NOT NULL,
    created_at {TS} NOT NULL, PRIMARY KEY (name), UNIQUE ("key"));
CREATE TABLE automl_trials (id {ID} NOT NULL, study_name VARCHAR(512) NOT NULL,
    number INTEGER NOT NULL, state VARCHAR(16) NOT NULL, arch_space VARCHAR(64), arch JSON,
    loss JSON, loss_formula VARCHAR(512), loss_family VARCHAR(32), hparams JSON,
    train_config JSON, preprocessing JSON, val_accuracy FLOAT, val_loss FLOAT,
    test_accuracy FLOAT, params BIGINT, flops FLOAT, latency_ms FLOAT, peak_memory_mb FLOAT,
    comm_bytes_per_step FLOAT, train_seconds FLOAT, best_epoch INTEGER, artifact_path TEXT,
    reason TEXT, started_at {TS} NOT NULL, finished_at {TS}, PRIMARY KEY (id),
    UNIQUE (study_name, number));
CREATE TABLE automl_runs (id {ID} NOT NULL, study_name VARCHAR(512) NOT NULL,
    fingerprint VARCHAR(64) NOT NULL, requested INTEGER NOT NULL, target INTEGER NOT NULL,
    status VARCHAR(16) NOT NULL, created_at {TS} NOT NULL, updated_at {TS} NOT NULL,
    PRIMARY KEY (id));
CREATE TABLE automl_locks (name VARCHAR(512) NOT NULL, holder VARCHAR(128),
    expires FLOAT NOT NULL, PRIMARY KEY (name));
CREATE TABLE automl_epochs (id {ID} NOT NULL, trial_id INTEGER NOT NULL,
    epoch INTEGER NOT NULL, train_loss FLOAT NOT NULL, val_accuracy FLOAT NOT NULL,
    val_loss FLOAT, seconds FLOAT NOT NULL, PRIMARY KEY (id), UNIQUE (trial_id, epoch),
    FOREIGN KEY (trial_id) REFERENCES automl_trials (id) ON DELETE CASCADE);
CREATE UNIQUE INDEX ix_automl_studies_name ON automl_studies (name);
CREATE INDEX ix_automl_trials_study_name ON automl_trials (study_name);
CREATE INDEX ix_automl_runs_study_name ON automl_runs (study_name)
"""
DIALECTS = {"sqlite": {"ID": "INTEGER", "TS": "DATETIME"},
            "postgresql": {"ID": "SERIAL", "TS": "TIMESTAMP WITHOUT TIME ZONE"}}
TABLES_0001 = ("automl_meta", "automl_studies", "automl_study_keys", "automl_trials",
               "automl_runs", "automl_locks", "automl_epochs")


def _create_0001(conn: Connection, *, without_keys: bool = False) -> None:
    for statement in SCHEMA_0001.format(**DIALECTS[conn.dialect.name]).split(";"):
        if not (without_keys and "automl_study_keys" in statement):
            conn.execute(text(statement))


def _write_legacy(url: str, *, without_keys: bool = False, stamped: bool = False) -> None:
    """A database at revision 0001 (``stamped``: since migrations, its version row says so;
    else as the code before migrations wrote it, only the ``automl_meta`` row schema_version
    1; ``without_keys``: by older code still, without ``automl_study_keys``); one study with a
    trial, its epochs and a run (Optuna's side is not needed for the project's tables)."""
    engine = create_engine(url)
    now = schema.utcnow()
    with engine.begin() as c:
        _create_0001(c, without_keys=without_keys)
        if stamped:
            c.execute(text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
                           f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"))
            c.execute(text(f"INSERT INTO {VERSION_TABLE} VALUES ('0001')"))
        c.execute(text("INSERT INTO automl_meta VALUES ('schema_version', '1')"))
        c.execute(text("INSERT INTO automl_studies (name, objective, cost, config, environment,"
                       " created_at, updated_at) VALUES ('old', 'pareto', 'flops', "
                       "'{\"study\": {\"cost\": \"flops\"}}', '{}', :t, :t)"), {"t": now})
        c.execute(text("INSERT INTO automl_trials (study_name, number, state, val_accuracy, "
                       "started_at) VALUES ('old', 0, 'COMPLETE', 0.75, :t)"), {"t": now})
        c.execute(text("INSERT INTO automl_epochs (trial_id, epoch, train_loss, val_accuracy, "
                       "seconds) VALUES (1, 1, 0.5, 0.75, 0.1)"))
        c.execute(text("INSERT INTO automl_runs (study_name, fingerprint, requested, target, "
                       "status, created_at, updated_at) VALUES ('old', 'fp', 3, 3, 'done', "
                       ":t, :t)"), {"t": now})
    engine.dispose()


def test_revisions_known_to_the_code_are_the_scripts() -> None:
    assert list(migrate.REVISIONS) == migrate.script_revisions()
    assert migrate.TABLES_0001 == TABLES_0001


def _shape(conn: Connection) -> dict[str, object]:
    """The project's tables as the database reports them: columns, keys, indexes."""
    insp = inspect(conn)
    return {name: ([(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(name)],
                   insp.get_pk_constraint(name)["constrained_columns"],
                   sorted(u["column_names"] for u in insp.get_unique_constraints(name)),
                   sorted((i["name"], i["column_names"], i["unique"])
                          for i in insp.get_indexes(name)),
                   [(f["referred_table"], f["constrained_columns"], f["options"])
                    for f in insp.get_foreign_keys(name)])
            for name in TABLES_0001}


def test_revision_0001_creates_exactly_the_frozen_tables(storage_url: str) -> None:
    """Revision 0001's script, run on an empty database, still makes the frozen tables (the
    script must never change; the frozen SQL must be what it made)."""
    from alembic import command
    from alembic.config import Config

    engine = create_engine(storage_url)
    with engine.begin() as c:
        _create_0001(c)
        frozen = _shape(c)
        for name in reversed(TABLES_0001):
            c.execute(text(f"DROP TABLE {name}"))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as c:
        cfg.attributes["connection"] = c
        command.upgrade(cfg, "0001")
        assert _shape(c) == frozen
        assert c.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == "0001"
    engine.dispose()


def test_migrated_schema_is_exactly_the_models(storage_url: str, tables: Callable) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    Storage(storage_url).close()
    engine = create_engine(storage_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "version_table": VERSION_TABLE,
            "include_name": lambda name, kind, _p: kind != "table" or name.startswith("automl_")})
        assert compare_metadata(ctx, schema.Base.metadata) == []
        # Our revision in our own table; Optuna's alembic_version keeps only Optuna's.
        assert {VERSION_TABLE, "alembic_version"} <= set(tables(storage_url))
        assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == HEAD
        assert HEAD not in conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
    engine.dispose()


@pytest.mark.parametrize(("without_keys", "stamped"), [(False, False), (True, False),
                                                       (False, True)],
                         ids=["0001", "before-study-keys", "0001-stamped"])
def test_database_at_0001_is_upgraded_in_place(storage_url: str, without_keys: bool,
                                               stamped: bool) -> None:
    _write_legacy(storage_url, without_keys=without_keys, stamped=stamped)
    if without_keys or HEAD != "0001":  # a read-only open says what to run, in one line
        with pytest.raises(StorageError, match=r"automl db upgrade") as err:
            Storage(storage_url, create=False, readonly=True)
        assert "\n" not in str(err.value)
    st = Storage(storage_url)
    assert st.upgraded_from == (migrate.BEFORE_0001 if without_keys else "0001")
    assert st.schema_revision() == HEAD
    assert st.study_config("old") == {"study": {"cost": "flops"}}
    rows = st.trial_rows("old", with_epochs=True)
    assert rows[0].val_accuracy == 0.75 and [e.epoch for e in rows[0].epochs] == [1]
    assert st.study_key("old")  # the table older databases lacked works
    st.close()
    engine = create_engine(storage_url)
    with engine.connect() as c:
        assert c.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all() == [
            HEAD]
        assert c.execute(text(
            "SELECT value FROM automl_meta WHERE key = 'schema_version'")).scalars().all() == ["1"]
        assert c.execute(text("SELECT count(*) FROM automl_runs")).scalar() == 1
    engine.dispose()
    ro = Storage(storage_url, create=False, readonly=True)  # now current: reads work
    assert ro.upgraded_from == HEAD
    ro.close()


def test_newer_revision_is_refused_in_one_line(storage_url: str) -> None:
    Storage(storage_url).close()
    engine = create_engine(storage_url)
    with engine.begin() as c:
        c.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    for kwargs in ({}, {"create": False}, {"create": False, "readonly": True}):
        with pytest.raises(StorageError, match="newer automl.*9999") as err:
            Storage(storage_url, **kwargs)  # type: ignore[arg-type]
        assert "\n" not in str(err.value)
    out = CliRunner().invoke(db_app, ["current", "--storage", storage_url])
    assert out.exit_code == 0 and "newer than this automl" in out.output


def test_db_commands_upgrade_and_report(storage_url: str) -> None:
    _write_legacy(storage_url, without_keys=True)
    runner = CliRunner()
    out = runner.invoke(db_app, ["current", "--storage", storage_url])
    assert out.exit_code == 0 and "automl db upgrade" in out.output, out.output
    out = runner.invoke(db_app, ["upgrade", "--storage", storage_url])
    assert out.exit_code == 0 and f"upgraded from revision pre-0001 to {HEAD}" in out.output
    out = runner.invoke(db_app, ["upgrade", "--storage", storage_url])
    assert f"already at revision {HEAD}" in out.output
    out = runner.invoke(db_app, ["current", "--storage", storage_url])
    assert f"at revision {HEAD} (current)" in out.output


def _open_at_barrier(url: str, barrier) -> str:  # noqa: ANN001
    barrier.wait()
    try:
        st = Storage(url)
        st.create_study("race", load_if_exists=True)  # Optuna's own tables too
        rev = st.schema_revision()
        st.close()
        return str(rev)
    except Exception as exc:  # returned, so the parent sees every worker's outcome
        return f"{type(exc).__name__}: {exc}"


def test_workers_upgrading_an_old_database_together_all_succeed(storage_url: str) -> None:
    _write_legacy(storage_url, without_keys=True)
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(3)
        with ctx.Pool(3) as pool:
            outcomes = pool.starmap(_open_at_barrier, [(storage_url, barrier)] * 3)
    assert outcomes == [HEAD] * 3, outcomes
