"""``automl``: a thin table of commands over functions that return results.

Heavy imports (torch, optuna, the trainer) happen inside commands, so ``automl --help`` starts
fast. Every :class:`~automl.errors.AutomlError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import time

# Before the imports below: a --timeout counts from (almost) the start of the command.
COMMAND_STARTED = time.monotonic()

import contextlib  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Annotated, Any  # noqa: E402

import typer  # noqa: E402

from automl.cli.group import command_group  # noqa: E402
from automl.control.interrupts import Terminated  # noqa: E402  (re-exported: SIGTERM's exception)
from automl.errors import AutomlError  # noqa: E402
from automl.numbers import FromSetting  # noqa: E402

if TYPE_CHECKING:
    from automl.api import StudyResult
    from automl.storage import TrialRecord

app = command_group(
    "automl", "Search network architectures and loss functions together; rank by accuracy vs cost."
)

from automl.cli.read import JsonOpt, StorageOpt, print_json  # noqa: E402


@app.command()
def search(
    config: Annotated[Path | None, typer.Argument(help="Study file (TOML).")] = None,
    data: Annotated[
        str | None, typer.Option(help="digits | FILE.npz | FILE.csv | python:mod:fn")
    ] = None,
    study: Annotated[str | None, typer.Option(help="Study name (resumes if it exists).")] = None,
    storage: StorageOpt = None,
    trials: Annotated[int | None, typer.Option(help="Trials to add (default 20; with "
        "--timeout: as many as fit).", parser=FromSetting("--trials", "study.trials"))] = None,
    timeout: Annotated[float | None, typer.Option(
        help="Seconds for the whole search: running candidates stop at the end.",
        parser=FromSetting("--timeout", "study.timeout", whole=False))] = None,
    epochs: Annotated[int | None, typer.Option(
        help="Exactly this many epochs per trial (no adaptation).",
        parser=FromSetting("--epochs", "trainer.epochs"))] = None,
    sampler: Annotated[str | None, typer.Option(help="tpe | nsga2 | random | cmaes")] = None,
    seed: Annotated[int | None, typer.Option(
        help="Seed for sampler, split and training.",
        parser=FromSetting("--seed", "study.seed"))] = None,
    nproc_per_trial: Annotated[int | None, typer.Option(
        help="Processes per trial (DDP).",
        parser=FromSetting("--nproc-per-trial", "trainer.nproc"))] = None,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes sharing the study.",
        parser=FromSetting("--workers", "study.workers"))] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="key=value override, repeatable.")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
    json_: JsonOpt = False,
    launcher: Annotated[
        str | None, typer.Option(help="Where workers run: local | slurm | slurm-local | ray.")
    ] = None,
    gpus_per_worker: Annotated[int | None, typer.Option(
        help="GPUs per launched worker.",
        parser=FromSetting("--gpus-per-worker", "cluster.gpus_per_worker"))] = None,
    cpus_per_worker: Annotated[int | None, typer.Option(
        help="CPUs per launched worker.",
        parser=FromSetting("--cpus-per-worker", "cluster.cpus_per_worker"))] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (default: $RAY_ADDRESS, else local).")
    ] = None,
) -> None:
    """Run a search (or add trials to an existing study) and print the leaderboard."""
    from automl.cluster.local import search_started

    signal.signal(signal.SIGTERM, _terminate)  # from the start: a clean exit, not a kill
    # --timeout counts from the command's start (a spawned worker: from its parent's).
    started = search_started(COMMAND_STARTED)
    from automl import api

    with _exit_when_interrupted():
        result = api.search(
            config, data=data, study=study, storage=storage, trials=trials, timeout=timeout,
            epochs=epochs, sampler=sampler, seed=seed, nproc_per_trial=nproc_per_trial,
            workers=workers, launcher=launcher, gpus_per_worker=gpus_per_worker,
            cpus_per_worker=cpus_per_worker, ray_address=ray_address, overrides=set_ or [],
            progress=not (quiet or json_), top=0 if quiet and not json_ else 10,
            started=started, argv=sys.argv[1:])
    _show(result, quiet=quiet, json_=json_)


@contextlib.contextmanager
def _exit_when_interrupted() -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt as exc:  # Typer would turn this into a bare exit 130
        sys.stderr.write(
            "interrupted: the running trial stopped and its candidate is queued again; run "
            "the same command again to continue\n"
        )
        raise SystemExit(143 if isinstance(exc, Terminated) else 130) from None


def _show(result: StudyResult, *, quiet: bool, json_: bool) -> None:
    from automl.cli.render import console, leaderboard_table

    if json_:  # for programs: the result, top 10 rows and best trial included
        print_json(result.to_dict())
        return
    con = console()
    if not quiet:
        con.print(leaderboard_table(result.leaderboard, title=f"{result.study}: top 10"))
        if result.best is not None:
            con.print(_best_line(result.study, result.best), highlight=False)
        for line in _family_lines(result.families):
            con.print(line, highlight=False)
    con.print(_summary_line(result), highlight=False)


def _family_lines(families: dict[str, dict[str, Any]]) -> list[str]:
    """Which families are still in the race, and why each other one left it."""
    if len(families) < 2:
        return []
    racing = [f for f, s in families.items() if not s["dropped"]]
    lines = [f"families in the race: {', '.join(racing)}"]
    lines += [f"family {f} out of the race: {s['dropped']}"
              for f, s in families.items() if s["dropped"]]
    from automl.cli.render import safe

    return [safe(line) for line in lines]


def _best_line(study: str, best: TrialRecord) -> str:
    loss = f", val loss {best.val_loss:.4f}" if best.val_loss is not None else ""
    return (f"best: trial {best.number} (val acc {best.val_accuracy:.4f}{loss}; test acc "
            f"{best.test_accuracy:.4f}, never used to choose). Export it with: automl export "
            f"{study} --trial best --out model/")


def _summary_line(result: StudyResult) -> str:
    states = ", ".join(f"{v} {k.lower()}" for k, v in sorted(result.states.items()))
    resumed = " (resumed the run of this config)" if result.resumed else ""
    if result.resumed and result.trials_run == 0:
        resumed = (f" (this config's run already has its {result.requested} finished trials; "
                   "raise --trials to add more)")
    return f"{result.trials_run} trials run here{resumed}; study has {states}."


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def _register_plugins() -> None:
    # Each command group lives in its own module; registration imports only typer.
    from automl.cli import dashboard as cli_dashboard
    from automl.cli import db as cli_db
    from automl.cli import export as cli_export
    from automl.cli import read as cli_read

    cli_read.register(app)
    cli_dashboard.register(app)
    cli_export.register(app)
    app.add_typer(cli_db.db_app, name="db")


_register_plugins()


def _given_secrets() -> list[str]:
    """The secrets of every storage URL this command was given (flag or environment), to
    scrub from any message, in whatever form it echoes them."""
    from automl.storage.urls import ENV_VAR, secrets_of

    urls = [os.environ.get(ENV_VAR, "")]
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if arg == "--storage" and i + 1 < len(args):
            urls.append(args[i + 1])
        elif arg.startswith("--storage="):
            urls.append(arg.split("=", 1)[1])
    return [s for url in urls if url for s in secrets_of(url)]


def main() -> None:
    """Console-script entry point: one line for user errors, exit 2."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # see automl/cli/entry.py
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # `search` installs its own
    try:
        app()
    except AutomlError as exc:
        from automl.names import printable
        from automl.storage.urls import mask_text

        sys.stderr.write(f"error: {printable(mask_text(str(exc), _given_secrets()))}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
