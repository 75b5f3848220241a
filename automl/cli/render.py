"""Rich renderables for people (tables and panels). Programs use ``--json`` instead."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.pretty import Pretty
from rich.table import Table

from automl.names import printable
from automl.storage.records import arch_summary

if TYPE_CHECKING:
    from automl.storage.records import StudySummary, TrialRecord


def console() -> Console:
    """Rich output on stdout. Piped output (CI logs, files) gets a wide table instead of an
    80-column squeeze."""
    return Console(width=None if sys.stdout.isatty() else 160)


def safe(value: Any) -> str:
    """Text read from a database, shown literally: control characters escaped (a name holding
    ``\x1b[2J`` must not clear the terminal) and Rich markup disarmed (``[/]`` is text)."""
    return escape(printable(value))


def _num(value: Any, fmt: str = ",.4g") -> str:
    if value is None:
        return "-"
    return format(value, fmt)


def human(value: float | int | None) -> str:
    """1234 -> 1.23K, 5.6e6 -> 5.6M: costs span many orders of magnitude."""
    if value is None:
        return "-"
    v = float(value)
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{unit}"
    return f"{v:.3g}"


def leaderboard_table(rows: Sequence[dict[str, Any]], title: str = "") -> Table:
    """The leaderboard for people; memory and communication columns appear when measured."""
    extra = [
        (key, label) for key, label in (("peak_memory_mb", "mem MB"), ("comm_bytes_per_step",
                                                                      "comm B/step"))
        if any(r.get(key) is not None for r in rows)
    ]
    cv = any(r.get("cv_accuracy") is not None for r in rows)
    table = Table(title=safe(title), show_lines=False)
    cols = ["#", "trial", "state", "val acc", *(["cv acc"] if cv else []), "test acc", "params",
            "FLOPs", "lat ms"]
    cols += [label for _, label in extra] + ["★", "arch", "loss / reason"]
    for col in cols:
        table.add_column(col, no_wrap=col not in ("loss / reason",),
                         justify="left" if col in ("state", "arch", "loss / reason") else "right")
    for r in rows:
        note = r["loss_formula"] or ""
        if r["state"] != "COMPLETE" and r.get("reason"):
            note = r["reason"]
        table.add_row(
            _num(r["rank"], "d"), str(r["trial"]), r["state"].lower(),
            _num(r["val_accuracy"], ".4f"),
            *([_num(r.get("cv_accuracy"), ".4f")] if cv else []), _num(r["test_accuracy"], ".4f"),
            human(r["params"]), human(r["flops"]), _num(r["latency_ms"], ".3f"),
            *[human(r.get(key)) for key, _ in extra],
            "★" if r["pareto"] else "", safe(arch_summary(r["arch"])), safe(note[:70]),
        )
    return table


def studies_table(summaries: Sequence[StudySummary]) -> Table:
    table = Table(title="studies")
    for col in ("study", "objective", "cost", "trials", "complete", "pruned", "failed",
                "best val acc", "last update"):
        table.add_column(col)
    for s in summaries:
        table.add_row(
            safe(s.name), safe(s.objective or "-"), safe(s.cost or "-"), str(s.n_trials),
            str(s.states.get("COMPLETE", 0)), str(s.states.get("PRUNED", 0)),
            str(s.states.get("FAIL", 0)), _num(s.best_val_accuracy, ".4f"),
            s.last_update.strftime("%Y-%m-%d %H:%M") if s.last_update else "-",
        )
    return table


def trial_panel(rec: TrialRecord) -> Group:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for key in ("state", "reason", "metric", "val_accuracy", "test_accuracy", "params",
                "flops", "latency_ms", "peak_memory_mb", "comm_bytes_per_step",
                "train_seconds", "best_epoch", "loss_formula", "artifact_path"):
        value = getattr(rec, key)
        if value is not None:
            head.add_row(key, safe(value))
    if isinstance(rec.test_per_class, dict) and rec.test_per_class:
        head.add_row("test accuracy per class", safe(per_class_text(rec.test_per_class)))
    curves = Table(title="epochs")
    for col in ("epoch", "train loss", "val acc", "seconds"):
        curves.add_column(col, justify="right")
    for e in rec.epochs:
        curves.add_row(str(e.epoch), f"{e.train_loss:.4f}", f"{e.val_accuracy:.4f}",
                       f"{e.seconds:.2f}")
    specs = {"arch": rec.arch, "loss": rec.loss, "hparams": rec.hparams}
    return Group(
        Panel(head, title=f"{safe(rec.study)} · trial {rec.number}"),
        curves,
        Panel(Pretty(specs, max_length=32), title="specs"),  # a per-step affine: 32 and a count
    )


def per_class_text(per_class: dict[str, Any], most: int = 30) -> str:
    """``a 0.95 · b 0.8 · c -`` (the first ``most`` classes, then how many more)."""
    items = list(per_class.items())
    shown = " · ".join(f"{name} {_num(acc, '.3f') if isinstance(acc, float) else '-'}"
                       for name, acc in items[:most])
    return shown + (f" · … {len(items) - most} more" if len(items) > most else "")
