"""Migrations of the project's tables (automl/storage/migrate.py), on SQLite and PostgreSQL:
a database written before migrations is upgraded in place with its data, a newer one is
refused in one line, and the migrated schema is exactly the models'."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from automl.cli.db import db_app
from automl.errors import StorageError
from automl.storage import Storage, migrate, schema
from automl.storage.migrate import HEAD, VERSION_TABLE


def _write_legacy(url: str, *, without_keys: bool = False) -> None:
    """A database as the code before migrations wrote it: ``create_all`` of the models and
    the ``automl_meta`` row schema_version 1, no version table; one study with a trial, its
    epochs and a run (Optuna's side is not needed for the project's tables)."""
    engine = create_engine(url)
    tables = [t for t in schema.Base.metadata.sorted_tables
              if not (without_keys and t.name == "automl_study_keys")]
    schema.Base.metadata.create_all(engine, tables=tables)
    now = schema.utcnow()
    with engine.begin() as c:
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


@pytest.mark.parametrize("without_keys", [False, True], ids=["today", "before-study-keys"])
def test_database_written_before_migrations_is_upgraded_in_place(storage_url: str,
                                                                 without_keys: bool) -> None:
    _write_legacy(storage_url, without_keys=without_keys)
    if without_keys:  # not quite 0001: a read-only open says what to run, in one line
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
        assert c.execute(text("SELECT value FROM automl_meta")).scalars().all() == ["1"]
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
