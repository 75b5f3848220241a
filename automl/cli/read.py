"""The read commands of ``automl`` (``studies``, ``leaderboard``, ``show``) and the options and
output helpers every command group shares. They open the database read-only: a user who may
only read a database file can still list and rank what it holds."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from automl.numbers import INT64_MAX, Whole

StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage", help="SQLAlchemy URL (default: $AUTOML_STORAGE, else sqlite:///automl.db)"
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def studies(storage: StorageOpt = None, json_: JsonOpt = False) -> None:
    """List the studies in a database."""
    from automl import api
    from automl.cli.render import console, studies_table

    summaries = api.studies(storage)
    if json_:
        print_json([s.to_dict() for s in summaries])
    elif not summaries:
        console().print("no studies yet; start one with: automl search")
    else:
        console().print(studies_table(summaries))


def leaderboard_cmd(
    study: Annotated[str, typer.Argument(help="Study name.")],
    storage: StorageOpt = None,
    top: Annotated[int | None, typer.Option(
        help="Show the best K rows.", parser=Whole("--top", 1, INT64_MAX))] = None,
    pareto: Annotated[bool, typer.Option("--pareto", help="Only the Pareto front.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Trials ranked by Pareto rank on (validation accuracy, cost), then accuracy."""
    from automl import api
    from automl.cli.render import console, leaderboard_table
    from automl.storage import open_storage

    store = open_storage(storage, create=False, readonly=True)  # one handle for both reads
    rows = api.leaderboard(study, store, top=top, pareto=pareto)
    if json_:
        print_json(rows)
    else:
        cost = api.stored_cost(store.study_config(study))
        console().print(leaderboard_table(rows, title=f"{study} (cost: {cost})"))


def show(
    study: Annotated[str, typer.Argument(help="Study name.")],
    trial: Annotated[int, typer.Argument(
        help="Trial number.", parser=Whole("trial", 0, INT64_MAX))],
    storage: StorageOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Everything stored about one trial: specs, loss formula, costs, curves, config."""
    from automl import api
    from automl.cli.render import console, trial_panel

    rec = api.trial(study, trial, storage)
    if json_:
        print_json(rec.to_dict())
    else:
        console().print(trial_panel(rec))


def register(app: typer.Typer) -> None:
    """Add the read commands to ``app``."""
    app.command()(studies)
    app.command("leaderboard")(leaderboard_cmd)
    app.command()(show)
