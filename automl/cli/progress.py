"""Live search progress for people: a Rich progress bar with trial n/N, best so far and ETA,
plus a line per finished trial. Implements the controller's Reporter protocol."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    import optuna

    from trainer import EpochRecord


def _shown(goal: int) -> int | None:
    """The bar's total: none (no bar to fill, no ETA) when the clock, not a count, ends the run."""
    from automl.policy.budget import UNLIMITED_TRIALS

    return goal if 0 < goal < UNLIMITED_TRIALS else None


class RichReporter:
    def __init__(
        self, total: int, console: Console | None = None, cost: str | None = None
    ) -> None:
        self.console = console or Console(stderr=True)
        self.cost = cost
        self.best: float | None = None
        self.progress = Progress(
            TextColumn("[bold]trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("best val acc {task.fields[best]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[now]}"),
            console=self.console,
            transient=False,
        )
        self.task = self.progress.add_task("search", total=_shown(total), best="-", now="")
        self.out: set[str] = set()  # families already announced as out of the race
        self._started = time.perf_counter()

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    # Reporter protocol -------------------------------------------------------------------
    def trial_started(self, number: int, summary: str) -> None:
        self.progress.update(self.task, now=f"#{number} {summary[:60]}")

    def epoch_done(self, number: int, record: EpochRecord, epochs: int) -> None:
        self.progress.update(
            self.task, now=f"#{number} epoch {record.epoch}/{epochs} val {record.val_accuracy:.3f}"
        )

    def run_progress(self, tally: Any, requested: int) -> None:
        """Run-wide counts (all workers), taken each time a trial is claimed."""
        self.progress.update(self.task, total=_shown(requested), completed=tally.finished)

    # Optuna callback ---------------------------------------------------------------------
    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        state = trial.state.name
        if state == "COMPLETE" and trial.values:
            acc = trial.values[0]
            self.best = acc if self.best is None else max(self.best, acc)
            # The cost as measured (the sampler may have been told its log10).
            measured = trial.user_attrs.get("cost")
            cost = f"  {self.cost} {measured:,.4g}" if measured is not None else ""
            line = f"[green]#{trial.number} complete[/] val {acc:.4f}{cost}"
        else:
            reason = trial.user_attrs.get("reason", "")
            colour = "yellow" if state == "PRUNED" else "red"
            line = f"[{colour}]#{trial.number} {state.lower()}[/] {reason}"
        self.console.print(line, highlight=False)
        self._race(study)
        best = f"{self.best:.4f}" if self.best is not None else "-"
        self.progress.update(self.task, best=best, now="")

    def _race(self, study: optuna.Study) -> None:
        """A line when a family leaves the race (automl/policy/families.py), with why."""
        from automl.control.steering import race

        table = race(study.get_trials(deepcopy=False), pareto=len(study.directions) > 1)
        for family, standing in table.items():
            if standing.dropped and family not in self.out:
                self.out.add(family)
                self.console.print(f"[magenta]family {family} out of the race[/]: "
                                   f"{standing.dropped}", highlight=False)
