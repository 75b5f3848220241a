"""``automl``: a thin table of commands over functions that return results.

Heavy imports (torch, optuna, the trainer) happen inside commands, so ``automl --help`` starts
fast. Every :class:`~automl.errors.AutomlError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import time

# Before the imports below: a --timeout counts from (almost) the start of the command.
COMMAND_STARTED = time.monotonic()

import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated, Any  # noqa: E402

import typer  # noqa: E402

from automl.cli_group import OneLineGroup  # noqa: E402
from automl.errors import AutomlError, ConfigError  # noqa: E402
from automl.interrupts import Terminated  # noqa: E402  (re-exported: SIGTERM's exception)

app = typer.Typer(
    name="automl",
    help="Search network architectures and loss functions together; rank by accuracy vs cost.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=OneLineGroup,
)

from automl.cli_read import StorageOpt, console  # noqa: E402


@app.command()
def search(
    config: Annotated[Path | None, typer.Argument(help="Study file (TOML).")] = None,
    data: Annotated[
        str | None, typer.Option(help="digits | FILE.npz | FILE.csv | python:mod:fn")
    ] = None,
    study: Annotated[str | None, typer.Option(help="Study name (resumes if it exists).")] = None,
    storage: StorageOpt = None,
    trials: Annotated[int | None, typer.Option(help="Trials to add in this run.")] = None,
    timeout: Annotated[
        float | None,
        typer.Option(help="Seconds for the whole search: running candidates stop at the end."),
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Exactly this many epochs per trial (no adaptation).")
    ] = None,
    sampler: Annotated[str | None, typer.Option(help="tpe | nsga2 | random | cmaes")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for sampler, split and training.")] = None,
    nproc_per_trial: Annotated[int | None, typer.Option(help="Processes per trial (DDP).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes sharing the study.")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="key=value override, repeatable.")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
    launcher: Annotated[
        str | None, typer.Option(help="Where workers run: local | slurm | slurm-local | ray.")
    ] = None,
    gpus_per_worker: Annotated[int | None, typer.Option(help="GPUs per launched worker.")] = None,
    cpus_per_worker: Annotated[int | None, typer.Option(help="CPUs per launched worker.")] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (default: $RAY_ADDRESS, else local).")
    ] = None,
) -> None:
    """Run a search (or add trials to an existing study) and print the leaderboard."""
    from automl.workers import search_started

    signal.signal(signal.SIGTERM, _terminate)  # from the start: a clean exit, not a kill

    # --timeout counts from here (a spawned worker: from its parent's start): start-up is part
    # of the budget.
    started = search_started(COMMAND_STARTED)
    from automl import config as config_mod
    from automl import workers as workers_mod
    from automl.controller import check_spaces, run_search
    from automl.data import load_data
    from automl.leaderboard import leaderboard
    from automl.limits import check_reachable
    from automl.progress import RichReporter
    from automl.render import leaderboard_table, safe
    from automl.storage import open_storage

    cfg = config_mod.load(
        config,
        flags={
            "data.source": data,
            "study.name": study,
            "study.storage": storage,
            "study.trials": trials,
            "study.timeout": timeout,
            "trainer.epochs": epochs,
            "search.adapt_epochs": False if epochs is not None else None,
            "study.sampler": sampler,
            "study.seed": seed,
            "trainer.nproc": nproc_per_trial,
            "study.workers": workers,
            "cluster.launcher": launcher,
            "cluster.gpus_per_worker": gpus_per_worker,
            "cluster.cpus_per_worker": cpus_per_worker,
            "cluster.ray_address": ray_address,
        },
        overrides=set_ or [],
    )
    check_spaces(cfg)
    # Data and space are checked before the database is touched: bad input leaves no study.
    prepared = load_data(
        cfg.data.source,
        cfg.data.val_fraction,
        cfg.data.test_fraction,
        cfg.study.seed,
        cfg.data.standardize,
    )
    splits = prepared.splits
    check_reachable(cfg, splits.input_shape, splits.num_classes, len(splits.y_train))
    store = open_storage(
        cfg.study.storage,
        artifacts=cfg.study.artifacts,
        heartbeat_interval=cfg.study.heartbeat_interval or None,
        grace_period=cfg.study.grace_period,
    )
    con = console()
    cost = cfg.study.cost if cfg.study.objective == "pareto" else None
    if not quiet:
        con.print(
            f"study [bold]{safe(cfg.study.name)}[/] in {safe(store.masked_url)}: "
            f"{cfg.study.trials} trials"
            f"{f' on {cfg.study.workers} workers' if cfg.study.workers > 1 else ''}, "
            f"data {safe(cfg.data.source)} {tuple(prepared.splits.x_train.shape)} train, "
            f"objective {'val_accuracy vs ' + cost if cost else 'val_accuracy'}",
            highlight=False,
        )
    launched = None
    if cfg.cluster.launcher != "local":  # workers as cluster jobs; this process follows them
        from automl.launchers import launch

        launched = launch(cfg, store, prepared, sys.argv[1:],
                          started_wall=time.time() - (time.monotonic() - started),
                          say=None if quiet else lambda m: con.print(m, highlight=False))
    children = [] if launched is not None else _start_workers(
        cfg, store.is_sqlite, time.time() - (time.monotonic() - started))
    try:
        if launched is not None:
            outcome = launched
        elif quiet:
            outcome = run_search(cfg, store, prepared, started=started)
        else:
            with RichReporter(cfg.study.trials, cost=cost) as reporter:
                outcome = run_search(cfg, store, prepared, reporter=reporter,
                                     callbacks=[reporter], started=started)
    except KeyboardInterrupt as exc:  # Typer would turn this into a bare exit 130
        workers_mod.stop(children)
        sys.stderr.write(
            "interrupted: the running trial stopped and its candidate is queued again; run "
            "the same command again to continue\n"
        )
        raise SystemExit(143 if isinstance(exc, Terminated) else 130) from None
    except BaseException:
        workers_mod.stop(children)
        raise
    finally:
        workers_mod.wait(children)
    if not quiet:
        records = store.trials(cfg.study.name)
        rows = leaderboard(records, cost=cost or "flops", top=10)
        con.print(leaderboard_table(rows, title=f"{cfg.study.name}: top 10"))
        _print_best(con, cfg.study.name, records, cost or "flops")
    states = ", ".join(f"{v} {k.lower()}" for k, v in sorted(outcome.states.items()))
    resumed = " (resumed the run of this config)" if outcome.resumed else ""
    if outcome.resumed and outcome.trials_run == 0:
        resumed = (f" (this config's run already has its {cfg.study.trials} finished trials; "
                   "raise --trials to add more)")
    con.print(
        f"{outcome.trials_run} trials run here{resumed}; study has {states}.", highlight=False
    )


def _print_best(console: Any, study: str, records: list[Any], cost: str) -> None:
    from automl.export.errors import ExportError
    from automl.export.select import best_trial

    try:
        best = best_trial(records, cost, study)
    except ExportError:
        return
    loss = f", val loss {best.val_loss:.4f}" if best.val_loss is not None else ""
    console.print(
        f"best: trial {best.number} (val acc {best.val_accuracy:.4f}{loss}; test acc "
        f"{best.test_accuracy:.4f}, never used to choose). Export it with: automl export "
        f"{study} --trial best --out model/",
        highlight=False,
    )


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def _start_workers(cfg: Any, is_sqlite: bool, started_wall: float) -> list[Any]:
    from automl import workers as workers_mod

    n = cfg.study.workers
    if n <= 1:
        return []
    workers_mod.check_backend(n, is_sqlite)
    if int(os.environ.get("AUTOML_NNODES", "1")) > 1:
        raise ConfigError(
            "study.workers: several workers cannot share one multi-node trial (AUTOML_NNODES > 1);"
            " run one worker per node group"
        )
    gpus = 0
    if cfg.trainer.device != "cpu":
        import torch

        gpus = torch.cuda.device_count()
    devices = workers_mod.device_slices(n, cfg.trainer.nproc, gpus)
    return workers_mod.spawn(sys.argv[1:], devices, started_wall)


def _register_plugins() -> None:
    # Each command group lives in its own module; registration imports only typer.
    from automl import cli_dashboard, cli_export, cli_read

    cli_read.register(app)
    cli_dashboard.register(app)
    cli_export.register(app)


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
    signal.signal(signal.SIGINT, signal.default_int_handler)  # see automl/entry.py
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
