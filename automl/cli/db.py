"""``automl db``: the database's project tables and their migrations.

Registered on the main app with ``app.add_typer(db_app, name="db")``. Heavy imports (the
storage package, Alembic) happen inside the commands, so ``automl --help`` stays fast.
"""

from __future__ import annotations

import typer

from automl.cli.group import command_group
from automl.cli.read import StorageOpt

db_app = command_group(
    "db", "The database's automl tables: show their revision, upgrade them in place."
)


@db_app.command()
def upgrade(storage: StorageOpt = None) -> None:
    """Upgrade the automl tables of a database in place to this version's newest revision."""
    from automl.storage import upgrade_schema

    rev = upgrade_schema(storage)
    if rev.current:
        typer.echo(f"{rev.storage}: automl tables already at revision {rev.head}")
    else:
        typer.echo(f"{rev.storage}: automl tables upgraded from revision "
                   f"{rev.before or 'none'} to {rev.head}")


@db_app.command()
def current(storage: StorageOpt = None) -> None:
    """Show the revision of a database's automl tables (read-only)."""
    from automl.storage import schema_revision

    rev = schema_revision(storage)
    state = ("current" if rev.current else "newer than this automl: upgrade automl" if rev.newer
             else f"run `automl db upgrade` to reach {rev.head}")
    typer.echo(f"{rev.storage}: automl tables at revision {rev.before or 'none'} ({state})")
