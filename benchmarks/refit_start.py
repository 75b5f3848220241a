"""The refit of a trial that kept its fitted start, paired on stored studies (issue 22).

A rocket's ridge head is scored as epoch 0 and kept when no trained epoch beats it on
validation. Its refit on train + validation used to train one SGD epoch and keep it or the start
by the validation figure, now computed on samples it had trained on; since ``ce3f5db`` such a
trial is refit as its start alone (``trainer.train(keep_start=True)``). This script refits the
``best`` trial of every stored search whose best is refit (a rocket) both ways, on a copy of its
database, with the same data and seed, and prints the test accuracy of each:

* ``epoch``: the old refit (``keep_start`` withheld);
* ``start``: the refit as ``automl search`` makes it now.

The two differ only where the trial kept its start (``best_epoch`` 0). Input: the ``--out``
folder of ``search_efficiency.py`` or ``loss_robustness.py`` (its ``runs/*.json`` hold each
search's command line: data, study, storage, seed).

    python benchmarks/refit_start.py --runs benchmarks/out/loss_robustness --json refit.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.common import cpu_model, write_json  # noqa: E402


def _arguments(cmd: list[str]) -> dict[str, str]:
    """``--flag value`` pairs of a stored ``automl search`` command line."""
    return {flag: value for flag, value in zip(cmd, cmd[1:], strict=False)
            if flag.startswith("--")}


def _withheld(*args: Any, **kw: Any) -> Any:
    """``trainer.train`` without ``keep_start``: the refit as it was before ``ce3f5db``."""
    from trainer import train

    kw.pop("keep_start", None)
    return train(*args, **kw)


def refit_both(run: dict[str, Any]) -> dict[str, Any] | None:
    """Refit ``run``'s best trial both ways; None when its best is not refit (not a rocket)."""
    from automl.config import load
    from automl.control.crossval import default_train
    from automl.control.refit import refit_best
    from automl.data import load_data
    from automl.policy.budget import Deadline
    from automl.policy.select import best_trial
    from automl.storage import open_storage
    from automl.storage.artifacts import REFIT_KEY

    a = _arguments(run["cmd"])
    db = Path(a["--storage"].removeprefix("sqlite:///"))
    out: dict[str, Any] = {"study": a["--study"]}
    for arm in ("epoch", "start"):
        with tempfile.TemporaryDirectory() as tmp:
            for part in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                if part.exists():
                    shutil.copy(part, tmp)
            url = f"sqlite:///{tmp}/{db.name}"
            cfg = load(None, {"study.name": a["--study"], "study.storage": url,
                              "data.source": a["--data"], "study.seed": int(a["--seed"])})
            d = cfg.data
            data = load_data(d.source, d.val_fraction, d.test_fraction, cfg.study.seed,
                             d.standardize, d.table())
            store = open_storage(url, artifacts=str(db.parent / "automl_artifacts"))
            try:
                best = best_trial(store.trials(a["--study"]), "flops", a["--study"])
                if (best.arch or {}).get("kind") != "rocket":
                    return None
                out.update(trial=best.number, best_epoch=best.best_epoch,
                           searched=best.test_accuracy)
                refit_best(cfg, store, data, Deadline(),
                           train=_withheld if arm == "epoch" else default_train())
                out[arm] = (store.study_config(a["--study"]).get(REFIT_KEY) or {}).get(
                    "test_accuracy")
            finally:
                store.close()
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=Path, required=True,
                    help="a search benchmark's --out folder (its runs/*.json)")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    rows = []
    for path in sorted((args.runs / "runs").glob("*.json")):
        row = refit_both(json.loads(path.read_text()))
        if row is None:
            continue
        rows.append(row)
        kept = "start" if row["best_epoch"] == 0 else f"epoch {row['best_epoch']}"
        print(f"{path.stem:45s} trial {row['trial']:3d} kept {kept:9s} searched "
              f"{100 * (row['searched'] or 0):5.1f}  refit: epoch {100 * row['epoch']:5.1f}"
              f"  start {100 * row['start']:5.1f}", flush=True)
    starts = [r for r in rows if r["best_epoch"] == 0]
    diffs = [100 * (r["start"] - r["epoch"]) for r in starts]
    summary = {
        "machine": cpu_model(), "runs": str(args.runs), "rows": rows,
        "start_kept": len(starts), "refit": len(rows),
        "start_minus_epoch_mean": statistics.fmean(diffs) if diffs else None,
        "start_differs": sum(1 for x in diffs if abs(x) > 1e-9),
    }
    print(f"\n{len(rows)} refit trials, {len(starts)} kept their start; start - epoch over "
          f"those: mean {summary['start_minus_epoch_mean'] or 0.0:+.2f} points, different in "
          f"{summary['start_differs']}")
    if args.json:
        write_json(args.json, summary)
    return summary


if __name__ == "__main__":
    main()
