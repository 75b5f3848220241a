"""Alembic's entry point for the project's tables (see :mod:`automl.storage.migrate`).

Run by :func:`automl.storage.migrate.upgrade` on its own connection, or from a shell for a
developer writing the next revision::

    alembic -c /dev/null -x url=sqlite:///automl.db revision --autogenerate -m "..."

(with ``script_location`` pointing here). Only ``automl_*`` tables are compared: Optuna's
tables, in the same database, keep Optuna's own migrations.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from automl.storage.migrate import VERSION_TABLE
from automl.storage.schema import Base


def _ours(name: str | None, type_: str, _parent: Any) -> bool:
    return type_ != "table" or bool(name and name.startswith("automl_"))


def _run(connection: Any) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      version_table=VERSION_TABLE, include_name=_ours,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    url = context.get_x_argument(as_dictionary=True).get("url")
    engine = create_engine(url or context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
