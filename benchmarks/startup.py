"""Start-up of a search: a whole 1-trial, 1-epoch ``automl search`` on digits against the bare
imports a user's own script pays (issue 24).

Three fresh processes, alternating, several times (medians):

* ``imports``: ``python -c "import optuna, torch, sklearn"``;
* ``imports+optimizer``: the same plus torch's first optimizer (``torch.optim.AdamW``), whose
  constructor imports ``torch._dynamo`` (``Optimizer._patch_step_function`` is wrapped by
  ``torch._disable_dynamo``): a cost every process that trains pays, a hand-written loop too;
* ``search``: ``automl search --data digits --trials 1 --epochs 1`` into a fresh SQLite file.

Then one more search in a process that times its phases (each import of a module the search
needs beyond the three, and each step of the search) prints where the rest goes.

    python benchmarks/startup.py [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.common import cpu_model, write_json  # noqa: E402

IMPORTS = "import optuna, torch, sklearn"
OPTIMIZER = IMPORTS + "; torch.optim.AdamW([torch.zeros(1, requires_grad=True)])"

# The phases of one search, timed in a child process (the modules it imports beyond the three
# above, then the steps of automl.control.run and the trial).
_PHASES = r"""
import functools, importlib, json, sys, time
t0 = time.perf_counter()
import optuna, torch, sklearn
rows = [["import optuna, torch, sklearn", time.perf_counter() - t0]]
for mod in ["torch._dynamo", "sqlalchemy", "sqlalchemy.orm", "typer", "rich.console",
            "automl.cli.app", "automl.storage", "automl.control.controller", "search_spaces",
            "trainer", "sklearn.datasets"]:
    t = time.perf_counter(); importlib.import_module(mod)
    rows.append(["import " + mod, time.perf_counter() - t])
steps = [("automl.control.run", "reach_server"), ("automl.control.run", "check_artifacts"),
         ("automl.control.controller", "check_spaces"), ("automl.data", "load_data"),
         ("automl.policy.plan", "make_plan"), ("automl.policy.limits", "check_reachable"),
         ("automl.policy.limits", "check_memory"),
         ("automl.control.run", "open_for"), ("automl.control.controller", "open_study"),
         ("automl.control.loop", "_claim"),
         ("automl.control.objective", "Objective._costs_before_training"),
         ("automl.control.objective", "Objective._train"),
         ("automl.control.controller", "run_search")]
for modname, attr in steps:
    owner = importlib.import_module(modname)
    *cls, name = attr.split(".")
    for c in cls:
        owner = getattr(owner, c)
    if not hasattr(owner, name):
        continue
    def timed(fn, label):
        @functools.wraps(fn)
        def inner(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                rows.append([label, time.perf_counter() - t])
        return inner
    setattr(owner, name, timed(getattr(owner, name), modname.split(".")[-1] + "." + attr))
import atexit
def report():  # the console script leaves through its exit handlers, then os._exit
    rows.append(["total", time.perf_counter() - t0])
    print("PHASES" + json.dumps(rows))
atexit.register(report)
from automl.cli.entry import main
sys.argv = ["automl"] + sys.argv[1:]
main()
"""


def _timed(argv: list[str], cwd: str) -> float:
    t = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def _search_argv(db: Path) -> list[str]:
    return ["search", "--data", "digits", "--trials", "1", "--epochs", "1",
            "--storage", f"sqlite:///{db}", "--quiet"]


def measure(repeats: int) -> dict[str, object]:
    py = sys.executable
    times: dict[str, list[float]] = {"imports": [], "imports+optimizer": [], "search": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):  # 0: the phases alone (a smoke run)
            runs = [("imports", [py, "-c", IMPORTS]),
                    ("imports+optimizer", [py, "-c", OPTIMIZER]),
                    ("search", [py, "-m", "automl", *_search_argv(Path(tmp) / f"s{i}.db")])]
            if i % 2:  # alternate the order, so a drift in the machine's load hits all sides
                runs.reverse()
            for name, argv in runs:
                times[name].append(_timed(argv, tmp))
        out = subprocess.run([py, "-c", _PHASES, *_search_argv(Path(tmp) / "phases.db")],
                             cwd=tmp, check=True, capture_output=True, text=True).stdout
    phases = json.loads(out.split("PHASES", 1)[1])
    med = {k: statistics.median(v) for k, v in times.items() if v}
    result: dict[str, object] = {"machine": cpu_model(), "repeats": repeats, "runs_s": times,
                                 "median_s": med, "phases_s": phases}
    if med:
        result["search_minus_imports_s"] = med["search"] - med["imports"]
        result["search_minus_imports_optimizer_s"] = med["search"] - med["imports+optimizer"]
    return result


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="0: the phase breakdown alone")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    result = measure(args.repeats)
    med = result["median_s"]
    assert isinstance(med, dict)
    print(f"{result['machine']}, medians of {args.repeats} fresh processes each, alternating:")
    for name, value in med.items():
        print(f"  {name:<20} {value:6.2f} s")
    if med:
        print(f"  search - imports           {result['search_minus_imports_s']:+.2f} s")
        print(f"  search - imports+optimizer "
              f"{result['search_minus_imports_optimizer_s']:+.2f} s")
    print("one search, timed by phase (imports beyond the three, then its steps):")
    for label, seconds in result["phases_s"]:  # type: ignore[union-attr]
        print(f"  {seconds:6.3f} s  {label}")
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
