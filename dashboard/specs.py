"""Specs and costs as text and tables: summaries, flattened diffs, the export command. Pure."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from automl.storage.records import TrialRecord
from automl.storage.urls import mask_url
from dashboard.numbers import human

COST_FIELDS: dict[str, str] = {
    "params": "parameters",
    "flops": "FLOPs per sample",
    "latency_ms": "latency (ms, batch 1, CPU)",
    "peak_memory_mb": "peak training memory (MB)",
    "comm_bytes_per_step": "communication (bytes / step)",
    "train_seconds": "training time (s)",
}


LONG_LIST = 32  # longer lists of numbers show their first 3 and their length


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists -> ``{"stages[0].blocks[1].op": "sep3", ...}`` (leaves only)."""
    out: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        if not obj and prefix:
            out[prefix] = "{}"
        for key, value in obj.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(obj, list | tuple) and any(isinstance(v, Mapping | list) for v in obj):
        for i, value in enumerate(obj):
            out.update(flatten(value, f"{prefix}[{i}]"))
    elif isinstance(obj, list | tuple) and len(obj) > LONG_LIST:  # e.g. a per-step affine
        out[prefix] = json.dumps(list(obj[:3]))[:-1] + f", … {len(obj)} values]"
    elif isinstance(obj, list | tuple):
        out[prefix] = json.dumps(list(obj))  # short lists of numbers read best on one line
    else:
        out[prefix] = obj
    return out


def spec_table(records: Sequence[TrialRecord], *, only_differences: bool = True
               ) -> pd.DataFrame:
    """Architecture, loss and hyperparameters of several trials side by side.

    Index: flattened key (``arch.hidden``, ``loss.terms[1].loss.gamma``...); one column per
    trial. With ``only_differences``, keys on which every trial agrees are dropped.
    """
    flat = {
        f"trial {r.number}": flatten({"arch": r.arch or {}, "loss": r.loss or {},
                                      "hparams": r.hparams or {}})
        for r in records
    }
    keys = list(dict.fromkeys(k for f in flat.values() for k in f))
    table = pd.DataFrame(
        {name: [_cell(f.get(k)) for k in keys] for name, f in flat.items()}, index=keys
    )
    if only_differences and len(records) > 1:
        table = table[table.nunique(axis=1, dropna=False) > 1]
    return table


def _cell(value: Any) -> str:
    # One string type per column: Arrow cannot hold ints, strings and None in one column.
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def costs_table(records: Sequence[TrialRecord], *, text: bool = False) -> pd.DataFrame:
    """Validation/test accuracy and every cost, one column per trial; with ``text``, each
    value formatted for people (:func:`dashboard.numbers.human`: 1.15M, 1.0000)."""
    fields = {"val_accuracy": "validation accuracy", "test_accuracy": "test accuracy",
              **COST_FIELDS}
    return pd.DataFrame(
        {f"trial {r.number}": [human(f, getattr(r, f)) if text else getattr(r, f)
                               for f in fields] for r in records},
        index=list(fields.values()),
    )


def export_command(study: str, number: int, url: str) -> str:
    """The ``automl export`` line for a trial, writing to ``exports/<study>-trial-<n>``.

    A URL with a password is left out (shown masked it would not work); the line then reads
    the URL from $AUTOML_STORAGE, as every command does without ``--storage``.
    """
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in study)
    cmd = ["automl", "export", study, "--trial", str(number),
           "--out", f"exports/{safe}-trial-{number}"]
    hidden = mask_url(url) != url
    if not hidden:
        cmd += ["--storage", url]
    line = " ".join(shlex.quote(c) for c in cmd)
    if hidden:
        line = f"# set AUTOML_STORAGE to the database URL (its password is not shown)\n{line}"
    return line
