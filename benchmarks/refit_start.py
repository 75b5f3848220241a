"""The refit's kept weights, paired on stored searches (issue 22).

The refit trains the chosen trial again on train + validation, for the epochs its selected
weights had. Until ``ce3f5db`` it then kept whichever of its epochs, or its fitted start (a
rocket's ridge head, scored as epoch 0), scored best on the validation samples it had just
trained on. Now (``trainer.train(keep=...)``) it keeps its last epoch, or, for a trial that
kept its start, that start alone with no epoch trained. This script refits the ``best`` trial
of every stored search whose best is refit (a rocket) both ways, on a copy of its database and
artifacts, with the same data, seed and settings, and prints the test figure of each:

* ``best``: the old refit (``keep`` withheld: the best in-sample validation epoch or start);
* ``now``: the refit as ``automl search`` makes it now.

Input: the ``--out`` folder of ``search_efficiency.py`` or ``loss_robustness.py`` (its
``runs/*.json`` hold each search's command line: data, study, storage, seed, settings).

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


def _arguments(cmd: list[str]) -> tuple[dict[str, str], list[str]]:
    """``--flag value`` pairs of a stored ``automl search`` command line, and its ``--set``
    overrides in order (a study's metric, loss space or data settings come that way)."""
    pairs = list(zip(cmd, cmd[1:], strict=False))
    return ({f: v for f, v in pairs if f.startswith("--") and f != "--set"},
            [v for f, v in pairs if f == "--set"])


def _copy_study(db: Path, study: str, tmp: Path) -> Path:
    """A copy of ``db`` (with its WAL) and of the study's artifact folder in ``tmp``, so that
    neither refit touches the stored search (a refit writes its weights beside the trial's);
    returns the copied artifacts root."""
    for part in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        if part.exists():
            shutil.copy(part, tmp)
    root = tmp / "automl_artifacts"
    for folder in (db.parent / "automl_artifacts").glob(f"{study}-*"):
        if folder.name[len(study) + 1:].isalnum():  # the study's own folder, not a longer name's
            shutil.copytree(folder, root / folder.name)
    return root


def _withheld(*args: Any, **kw: Any) -> Any:
    """``trainer.train`` without ``keep``: the refit as it was before ``ce3f5db``."""
    from trainer import train

    kw.pop("keep", None)
    return train(*args, **kw)


def refit_both(run: dict[str, Any]) -> dict[str, Any] | None:
    """Refit ``run``'s best trial both ways; None when its best is not refit (not a rocket)."""
    from automl.config import cost_or_default, load
    from automl.control.crossval import default_train
    from automl.control.refit import refit_best
    from automl.data import load_data
    from automl.policy.budget import Deadline
    from automl.policy.select import best_trial
    from automl.storage import open_storage
    from automl.storage.artifacts import REFIT_KEY

    a, sets = _arguments(run["cmd"])
    db, study = Path(a["--storage"].removeprefix("sqlite:///")), a["--study"]
    # The config and data are the search's, for both arms (the refit reads its trials from the
    # storage it is given, never from the config's URL).
    cfg = load(None, {"study.name": study, "study.storage": a["--storage"],
                      "data.source": a["--data"], "study.seed": int(a["--seed"])}, sets)
    d = cfg.data
    data = load_data(d.source, d.val_fraction, d.test_fraction, cfg.study.seed, d.standardize,
                     d.table())
    out: dict[str, Any] = {"study": study}
    for arm in ("best", "now"):
        with tempfile.TemporaryDirectory() as tmp:
            root = _copy_study(db, study, Path(tmp))
            store = open_storage(f"sqlite:///{tmp}/{db.name}", artifacts=str(root))
            try:
                best = best_trial(store.trials(study), cost_or_default(cfg.study.cost), study)
                if (best.arch or {}).get("kind") != "rocket":
                    return None
                out.update(trial=best.number, best_epoch=best.best_epoch,
                           searched=best.test_accuracy)
                refit_best(cfg, store, data, Deadline(),
                           train=_withheld if arm == "best" else default_train())
                out[arm] = (store.study_config(study).get(REFIT_KEY) or {}).get("test_accuracy")
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
              f"{100 * (row['searched'] or 0):5.1f}  refit: best {100 * row['best']:5.1f}"
              f"  now {100 * row['now']:5.1f}", flush=True)
    diffs = [100 * (r["now"] - r["best"]) for r in rows]
    summary = {
        "machine": cpu_model(), "runs": str(args.runs), "rows": rows, "refit": len(rows),
        "start_kept": sum(1 for r in rows if r["best_epoch"] == 0),
        "now_minus_best_mean": statistics.fmean(diffs) if diffs else None,
        "different": sum(1 for x in diffs if abs(x) > 1e-9),
        "now_better": sum(1 for x in diffs if x > 1e-9),
    }
    print(f"\n{len(rows)} refit trials ({summary['start_kept']} kept their start); now - best: "
          f"mean {summary['now_minus_best_mean'] or 0.0:+.2f} points, different in "
          f"{summary['different']}, better in {summary['now_better']}")
    if args.json:
        write_json(args.json, summary)
    return summary


if __name__ == "__main__":
    main()
