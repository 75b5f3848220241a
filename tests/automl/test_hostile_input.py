"""Hostile input is answered up front with one line on stderr and a non-zero exit (issue 11).

Every case goes through the CLI entry point (``automl.cli.main``) in this process, as the
console script does, and must: exit non-zero, print exactly one line on stderr naming the
offending field or file (no traceback), and leave no database behind (nothing ran). Two cases
run the real ``python -m automl`` in a subprocess; valid edge inputs must still load.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from automl import cli, config
from automl.data import load_source
from automl.errors import ConfigError
from automl.limits import check_reachable

N = 40  # samples in the small data files: enough to split 20 / 20 into train, val and test
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 5))
Y = np.arange(N) % 2
MOD = f"hostile_{uuid.uuid4().hex[:8]}"  # loader modules; unique, since imports are cached


def npz(**arrays: Any) -> dict[str, Any]:
    return {"x": X, "y": Y, **arrays}


def _void() -> np.ndarray:
    return np.zeros((N, 2), dtype=[("a", "f4"), ("b", "f4")])


def _csv(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode()


_GOOD_ROWS = [f"{i % 7},{i % 3},{'ab'[i % 2]}" for i in range(N)]

STUDY_FILES: dict[str, bytes] = {
    "huge_int.toml": b"[study]\ntrials = " + b"1" + b"0" * 100 + b"\n",
    "huge_limit.toml": b"[limits]\nmax_params = 100000000000000000000000000000\n",
    "huge_float.toml": b"[limits]\nmax_latency_ms = 1e400\n",
    "nan_fraction.toml": b"[data]\nval_fraction = nan\n",
    "inf_timeout.toml": b"[study]\ntimeout = inf\n",
    "neg_inf_lr.toml": b"[trainer]\nlr = -inf\n",
    "nan_trial_timeout.toml": b"[trainer]\ntrial_timeout = nan\n",
    "binary.toml": bytes(range(256)) * 4,
    "latin1.toml": '[study]\nname = "café"\n'.encode("latin-1"),
    "utf16.toml": '[study]\ntrials = 3\n'.encode("utf-16"),
    "malformed.toml": b"[study\ntrials = 3\n",
    "duplicate.toml": b"[study]\ntrials = 1\ntrials = 2\n",
    "deep.toml": b"a = " + b"[" * 50000 + b"]" * 50000 + b"\n",
    "too_big.toml": b"#" * (2 << 20) + b"\n",
    "unknown_section.toml": b"[nonsense]\nx = 1\n",
    "unknown_key.toml": b"[study]\ntrails = 5\n",
    "section_scalar.toml": b"study = 5\n",
    "trials_text.toml": b'[study]\ntrials = "many"\n',
    "trials_bool.toml": b"[study]\ntrials = true\n",
    "trials_float.toml": b"[study]\ntrials = 1.5\n",
    "trials_zero.toml": b"[study]\ntrials = 0\n",
    "trials_array.toml": b"[study]\ntrials = [1]\n",
    "trials_date.toml": b"[study]\ntrials = 1979-05-27\n",
    "nul_source.toml": b'[data]\nsource = "x\\u0000.npz"\n',
    "options_scalar.toml": b"[search]\narch_options = 5\n",
    "width_inf.toml": b"[search.arch_options]\nwidths = [inf]\n",
    "seed_huge.toml": b"[study]\nseed = 9223372036854775807\n",
    "epochs_int64.toml": b"[trainer]\nepochs = 9223372036854775807\n",
}

NPZ_FILES: dict[str, dict[str, Any]] = {
    "complex_x.npz": npz(x=X + 1j),
    "complex_y.npz": npz(y=Y + 0j),
    "str_x.npz": npz(x=X.astype(str)),
    "bytes_x.npz": npz(x=X.astype("S8")),
    "date_x.npz": npz(x=np.zeros((N, 2), "datetime64[s]")),
    "record_x.npz": npz(x=_void()),
    "date_y.npz": npz(y=np.zeros(N, "datetime64[s]")),
    "nan_x.npz": npz(x=np.where(np.eye(N, 5) > 0, np.nan, X)),
    "inf_x.npz": npz(x=np.where(np.eye(N, 5) > 0, np.inf, X)),
    "neginf_x.npz": npz(x=np.where(np.eye(N, 5) > 0, -np.inf, X)),
    "overflow_x.npz": npz(x=X * 1e300),
    "near_max_x.npz": npz(x=np.clip(X * 1e38, -3e38, 3e38).astype(np.float32)),
    "nan_y.npz": npz(y=np.where(Y == 0, np.nan, 1.0)),
    "inf_y.npz": npz(y=np.where(Y == 0, np.inf, 1.0)),
    "frac_y.npz": npz(y=Y + 0.5),
    "y_2d.npz": npz(y=np.stack([Y, Y], 1)),
    "x_1d.npz": npz(x=X[:, 0]),
    "x_5d.npz": npz(x=np.zeros((N, 1, 1, 2, 2))),
    "x_scalar.npz": npz(x=np.float64(1.0)),
    "zero_samples.npz": {"x": np.zeros((0, 5)), "y": np.zeros(0, int)},
    "zero_features.npz": npz(x=np.zeros((N, 0))),
    "zero_width.npz": npz(x=np.zeros((N, 1, 0, 4))),
    "single_class.npz": npz(y=np.zeros(N, int)),
    "length_mismatch.npz": npz(y=Y[:-3]),
    "missing_y.npz": {"x": X},
    "missing_x.npz": {"y": Y},
    "empty_archive.npz": {},
    "x_test_alone.npz": npz(x_test=X),
    "x_test_shape.npz": npz(x_test=X[:, :3], y_test=Y),
    "y_test_new_label.npz": npz(x_test=X, y_test=Y + 5),
    "x_test_empty.npz": npz(x_test=np.zeros((0, 5)), y_test=np.zeros(0, int)),
    "x_test_complex.npz": npz(x_test=X + 1j, y_test=Y),
    "too_few_per_class.npz": {"x": X[:4], "y": np.array([0, 0, 1, 1])},
}
PICKLED_NPZ = {  # object arrays: np.savez pickles them, np.load must refuse to unpickle
    "pickled_x.npz": npz(x=np.array([object()] * N, dtype=object)),
    "pickled_y.npz": npz(y=np.array([{"a": 1}] * N, dtype=object)),
}
RAW_FILES: dict[str, bytes] = {
    "junk.npz": b"not a zip archive at all",
    "truncated.npz": b"PK\x03\x04" + b"\x00" * 20,
    "pickle.npz": pickle.dumps({"x": X, "y": Y}),
    "header_only.csv": _csv("a,b,label"),
    "empty.csv": b"",
    "binary.csv": bytes(range(128, 256)) * 8,
    "nul.csv": b"a,b,label\n1,\x002,x\n3,4,y\n",
    "ragged.csv": _csv("a,b,label", "1,2,x", "3,y", *_GOOD_ROWS[2:]),
    "text_feature.csv": _csv("a,b,label", "1,hello,x", *_GOOD_ROWS[1:]),
    "complex_feature.csv": _csv("a,b,label", "1,1+2j,x", *_GOOD_ROWS[1:]),
    "nan_feature.csv": _csv("a,b,label", "1,nan,x", *_GOOD_ROWS[1:]),
    "inf_feature.csv": _csv("a,b,label", "-inf,1,x", *_GOOD_ROWS[1:]),
    "huge_feature.csv": _csv("a,b,label", "1e999,1,x", *_GOOD_ROWS[1:]),
    "empty_label.csv": _csv("a,b,label", "1,2,", *_GOOD_ROWS[1:]),
    "nan_label.csv": _csv("a,b,label", "1,2,NaN", *_GOOD_ROWS[1:]),
    "label_only.csv": _csv("label", *"ab" * 20),
    "one_class.csv": _csv("a,b,label", *(f"{i},{i},x" for i in range(N))),
    "huge_field.csv": _csv("a,b,label", "1," + "9" * 200_000 + ",x", *_GOOD_ROWS[1:]),
    "overflow_column.csv": _csv("a,b,label", *(f"{i}e300,{i}e300,{'ab'[i % 2]}"
                                               for i in range(1, N))),
    "few_rows.csv": _csv("a,b,label", "1,2,x", "3,4,y"),
}

LOADERS = '''
import numpy as np
X = np.random.default_rng(0).normal(size=(40, 5)); Y = np.arange(40) % 2
def raises(): raise ValueError("the bucket is empty")
def raises_multiline(): raise RuntimeError("line one\\nline two\\n  line three")
def exits_zero(): raise SystemExit(0)
def exits_three(): import sys; sys.exit(3)
def exits_text(): import sys; sys.exit("giving up")
def recursion(): return recursion()
def memory(): raise MemoryError()
def needs_args(a, b): return X, Y
def returns_none(): return None
def returns_three(): return X, Y, X
def returns_text(): return "x, y"
def returns_dict(): return {"x": X, "y": Y}
def returns_generator(): return (v for v in (X, Y))
def complex_x(): return X + 1j, Y
def object_x(): return np.array([{"a": 1}] * 40, dtype=object), Y
def ragged_x(): return [[1.0, 2.0], [3.0]] * 20, Y
def text_x(): return [["a", "b"]] * 40, Y
def mixed_labels(): return X, np.array([1, "a"] * 20, dtype=object)
def float_object_labels(): return X, np.array([0.5, 1.5] * 20, dtype=object)
def nan_labels(): return X, [float("nan"), 1.0] * 20
def single_class(): return X, [7] * 40
def zero_samples(): return np.zeros((0, 5)), []
def zero_features(): return np.zeros((40, 0)), Y
def test_without_labels(): return X, Y, X, None
def nan_test(): return X, Y, np.full((10, 5), np.nan), Y[:10]
not_a_function = 42
'''
BROKEN_MODULES = {
    f"{MOD}_syntax": "def f(:\n    return 1\n",
    f"{MOD}_import_raises": "raise ImportError('needs a GPU driver')\ndef f(): pass\n",
    f"{MOD}_import_runtime": "raise RuntimeError('no config')\ndef f(): pass\n",
    f"{MOD}_import_exits": "import sys\nsys.exit(0)\ndef f(): pass\n",
    f"{MOD}_import_keyerror": "{}['missing']\ndef f(): pass\n",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("hostile")
    for name, data in {**STUDY_FILES, **RAW_FILES}.items():
        (d / name).write_bytes(data)
    for name, arrays in NPZ_FILES.items():
        np.savez(d / name, **arrays)
    for name, arrays in PICKLED_NPZ.items():
        np.savez(d / name, **arrays)  # allow_pickle is on when saving object arrays
    np.savez(d / "tab.npz", x=X, y=Y)
    np.savez(d / "images4d.npz", x=RNG.normal(size=(N, 1, 6, 6)), y=Y)
    (d / "folder.npz").mkdir()
    (d / "folder.toml").mkdir()
    (d / f"{MOD}.py").write_text(LOADERS)
    for name, text in BROKEN_MODULES.items():
        (d / f"{name}.py").write_text(text)
    sys.path.insert(0, str(d))
    yield d
    sys.path.remove(str(d))


@dataclass(frozen=True)
class Run:
    code: Any
    out: str
    err: str


def run_main(args: list[str]) -> Run:
    """``automl ARGS`` through the console-script entry point, in this process."""
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["automl", *args]
    code: Any = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            cli.main()
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:  # noqa: BLE001 - reported as the failure it is
        import traceback

        code = f"uncaught {type(exc).__name__}"
        err.write("Traceback (in process)\n" + "".join(traceback.format_exception(exc)))
    finally:
        sys.argv = argv
    return Run(code, out.getvalue(), err.getvalue())


# (id, arguments after "automl", text the one error line must contain). "{d}" is the folder of
# the files above; every `search` case gets its own --storage and must leave no database.
S = "search"
CASES: list[tuple[str, list[str], str]] = [
    # -- study files ---------------------------------------------------------------------
    *[(f"file-{n}", [S, f"{{d}}/{n}"], expect) for n, expect in [
        ("huge_int.toml", "study.trials"),
        ("huge_limit.toml", "limits.max_params"),
        ("huge_float.toml", "limits.max_latency_ms"),
        ("nan_fraction.toml", "data.val_fraction"),
        ("inf_timeout.toml", "study.timeout"),
        ("neg_inf_lr.toml", "trainer.lr"),
        ("nan_trial_timeout.toml", "trainer.trial_timeout"),
        ("binary.toml", "binary.toml"),
        ("latin1.toml", "latin1.toml: not a UTF-8"),
        ("utf16.toml", "utf16.toml: not a UTF-8"),
        ("malformed.toml", "malformed.toml: malformed TOML"),
        ("duplicate.toml", "duplicate.toml: malformed TOML"),
        ("deep.toml", "deep.toml: malformed TOML"),
        ("too_big.toml", "too_big.toml: study file is over"),
        ("missing.toml", "missing.toml: study file not found"),
        ("folder.toml", "folder.toml: is a directory"),
        ("unknown_section.toml", "nonsense: unknown section"),
        ("unknown_key.toml", "study.trails: unknown key"),
        ("section_scalar.toml", "study: expected a table"),
        ("trials_text.toml", "study.trials: expected int"),
        ("trials_bool.toml", "study.trials: expected int"),
        ("trials_float.toml", "study.trials: expected int"),
        ("trials_zero.toml", "study.trials: 0 is out of range"),
        ("trials_array.toml", "study.trials: expected int"),
        ("trials_date.toml", "study.trials: expected int"),
        ("nul_source.toml", "data.source"),
        ("options_scalar.toml", "search.arch_options: expected dict"),
        ("width_inf.toml", "search.arch_options.widths"),
        ("seed_huge.toml", "study.seed"),
        ("epochs_int64.toml", "trainer.epochs"),
    ]],
    # -- --set overrides: non-finite, out of range, too large, wrong type, unknown key ----
    *[(f"set-{o}", [S, "--set", o], o.split("=")[0].split("[")[0]) for o in [
        "trainer.lr=nan", "trainer.lr=inf", "trainer.lr=-inf", "trainer.lr=-1",
        "trainer.weight_decay=nan", "trainer.bucket_cap_mb=nan", "trainer.timeout=0",
        "trainer.timeout=inf", "trainer.trial_timeout=0", "trainer.trial_timeout=-inf",
        "study.timeout=nan", "study.timeout=+inf", "study.timeout=0", "study.timeout=-5",
        "study.timeout=1e300", "data.val_fraction=nan", "data.test_fraction=inf",
        "data.val_fraction=0", "data.val_fraction=1", "data.test_fraction=-0.1",
        "limits.max_params=-1", "limits.max_params=nan", "limits.max_flops=1e30",
        f"limits.max_flops={10**30}", "limits.max_latency_ms=nan",
        "limits.max_memory_mb=inf", "limits.max_memory_mb=-1",
        "study.trials=0", "study.trials=-1", f"study.trials={2**31}",
        f"study.trials={10**100}", "trainer.epochs=0", f"trainer.epochs={2**31}",
        f"trainer.epochs={2**63}", "trainer.batch_size=0", f"trainer.batch_size={2**63}",
        f"trainer.eval_batch_size={2**40}", "trainer.grad_accum=0",
        f"trainer.nproc={10**6}", "trainer.num_threads=0", f"trainer.latency_repeats={10**9}",
        "study.seed=-1", f"study.seed={2**40}", f"trainer.seed={2**64}",
        "study.workers=0", "study.workers=1000", "study.heartbeat_interval=-1",
        "study.grace_period=0", "trainer.powersgd_rank=0",
        "study.trials=abc", "study.trials=1.5", "study.trials=true", "study.trials=[1]",
        "data.standardize=maybe", "trainer.lr=[1]", "trainer.lr='fast'",
        "study.sampler=nope", "study.objective=nope", "study.cost=money",
        "trainer.device=tpu", "trainer.precision=fp8", "study.nope=1",
        "search.arch=nope", "search.loss=nope", "search.hparams=nope",
        "search.arch_options.widths=[0]", "search.arch_options.widths=[]",
        f"search.arch_options.widths=[{10**100}]", "search.arch_options.widths=[nan]",
        "search.arch_options.dropout_max=nan", "search.arch_options.dropout_max=inf",
        "search.arch_options.nope=1", "search.hparam_options.lr_range=[nan, 1]",
        "search.hparam_options.lr_range=[1, 0]", "search.hparam_options.lr_range=[0, 1]",
        "search.hparam_options.lr_range=[1e-3, inf]", "search.hparam_options.batch_sizes=[0]",
        f"search.hparam_options.batch_sizes=[{2**63}]", "search.loss_options.nope=1",
        f"search.arch_options.max_layers={10**30}", "search.arch_options.families=['rnn']",
    ]],
    ("set-str-as-table", [S, "--set", "study.name.x=1"], "study.name: expected str"),
    ("set-unknown-section", [S, "--set", "nosuch.x=1"], "nosuch: unknown section"),
    ("set-no-equals", [S, "--set", "trainer.epochs"], "--set 'trainer.epochs'"),
    ("set-no-key", [S, "--set", "=5"], "--set '=5'"),
    ("set-no-section", [S, "--set", "trainer=5"], "--set trainer"),
    ("set-empty-part", [S, "--set", "study..trials=1"], "--set study..trials"),
    ("set-cmaes-pareto", [S, "--set", "study.sampler=cmaes"], "study.sampler"),
    ("set-fractions-sum", [S, "--set", "data.val_fraction=0.5", "--set",
                           "data.test_fraction=0.5"], "data.val_fraction + data.test_fraction"),
    # -- search flags ---------------------------------------------------------------------
    ("flag-trials-0", [S, "--trials", "0"], "study.trials"),
    ("flag-trials-neg", [S, "--trials", "-3"], "study.trials"),
    ("flag-trials-huge", [S, "--trials", str(10**20)], "study.trials"),
    ("flag-timeout-nan", [S, "--timeout", "nan"], "study.timeout"),
    ("flag-timeout-inf", [S, "--timeout", "inf"], "study.timeout"),
    ("flag-timeout-neg", [S, "--timeout", "-1"], "study.timeout"),
    ("flag-epochs-0", [S, "--epochs", "0"], "trainer.epochs"),
    ("flag-epochs-huge", [S, "--epochs", str(2**32)], "trainer.epochs"),
    ("flag-seed-neg", [S, "--seed", "-1"], "study.seed"),
    ("flag-workers-0", [S, "--workers", "0"], "study.workers"),
    ("flag-nproc-0", [S, "--nproc-per-trial", "0"], "trainer.nproc"),
    ("flag-sampler", [S, "--sampler", "grid"], "study.sampler"),
    ("flag-data-empty", [S, "--data", ""], "data.source"),
    ("flag-data-unknown", [S, "--data", "imagenet"], "imagenet"),
    ("flag-data-txt", [S, "--data", "{d}/notes.txt"], "notes.txt"),
    ("flag-data-missing", [S, "--data", "{d}/nope.npz"], "nope.npz: data file not found"),
    ("flag-data-folder", [S, "--data", "{d}/folder.npz"], "folder.npz"),
    # -- leaderboard / show ---------------------------------------------------------------
    ("top-neg", ["leaderboard", "s", "--top", "-1"], "--top"),
    ("top-zero", ["leaderboard", "s", "--top", "0"], "--top"),
    ("top-huge-neg", ["leaderboard", "s", "--top", str(-(10**20))], "--top"),
    ("show-huge", ["show", "s", str(10**20)], "trial"),
    ("show-int64", ["show", "s", str(2**63)], "trial"),
    ("show-neg", ["show", "s", "--", "-1"], "trial"),
    # -- values the command line itself cannot parse --------------------------------------
    ("parse-top-text", ["leaderboard", "s", "--top", "abc"], "automl leaderboard: Invalid "
     "value for '--top'"),
    ("parse-trials-float", [S, "--trials", "1.5"], "Invalid value for '--trials'"),
    ("parse-timeout-text", [S, "--timeout", "soon"], "Invalid value for '--timeout'"),
    ("parse-epochs-text", [S, "--epochs", "ten"], "Invalid value for '--epochs'"),
    ("parse-seed-float", [S, "--seed", "0.5"], "Invalid value for '--seed'"),
    ("parse-show-text", ["show", "s", "abc"], "automl show: Invalid value for 'trial'"),
    ("parse-show-missing", ["show", "s"], "automl show: Missing argument 'trial'"),
    ("parse-unknown-option", [S, "--bogus"], "No such option: --bogus"),
    ("parse-unknown-command", ["serch"], "No such command 'serch'"),
    # -- .npz data ------------------------------------------------------------------------
    *[(f"npz-{n}", [S, "--data", f"{{d}}/{n}"], f"{n}{suffix}") for n, suffix in [
        ("complex_x.npz", ": x: features must be real numbers, got complex"),
        ("complex_y.npz", ": y: labels must be integers or strings, got complex"),
        ("str_x.npz", ": x: features must be real numbers, got strings"),
        ("bytes_x.npz", ": x: features must be real numbers, got bytes"),
        ("date_x.npz", ": x: features must be real numbers, got dates"),
        ("record_x.npz", ": x: features must be real numbers, got records"),
        ("date_y.npz", ": y: labels must be integers or strings, got dates"),
        ("nan_x.npz", ": x: contains NaN or inf"),
        ("inf_x.npz", ": x: contains NaN or inf"),
        ("neginf_x.npz", ": x: contains NaN or inf"),
        ("overflow_x.npz", ": x: values beyond the float32 range"),
        ("near_max_x.npz", ": x: values too large to standardize"),
        ("nan_y.npz", ": y: labels contain NaN or inf"),
        ("inf_y.npz", ": y: labels contain NaN or inf"),
        ("frac_y.npz", ": y: labels must be integers or strings"),
        ("y_2d.npz", ": y: labels must be 1-D"),
        ("x_1d.npz", ": x: expected shape"),
        ("x_5d.npz", ": x: expected shape"),
        ("x_scalar.npz", ": x: expected shape"),
        ("zero_samples.npz", ": x: has no samples"),
        ("zero_features.npz", ": x: samples have no features"),
        ("zero_width.npz", ": x: samples have no features"),
        ("single_class.npz", ": y has a single class"),
        ("length_mismatch.npz", ": x has 40 samples but y has 37"),
        ("missing_y.npz", ": missing array 'y'"),
        ("missing_x.npz", ": missing array 'x'"),
        ("empty_archive.npz", ": missing array 'x'"),
        ("x_test_alone.npz", ": 'x_test' and 'y_test' must be given together"),
        ("x_test_shape.npz", ": x_test samples have shape (3,)"),
        ("y_test_new_label.npz", ": y_test: label 5 does not occur"),
        ("x_test_empty.npz", ": x_test: has no samples"),
        ("x_test_complex.npz", ": x_test: features must be real numbers"),
        ("too_few_per_class.npz", ": class '0' has"),
        ("pickled_x.npz", ": array 'x' holds pickled Python objects"),
        ("pickled_y.npz", ": array 'y' holds pickled Python objects"),
        ("junk.npz", ": cannot read .npz file"),
        ("truncated.npz", ": cannot read .npz file"),
        ("pickle.npz", ": cannot read .npz file (not a numpy archive; pickled"),
    ]],
    # -- .csv data ------------------------------------------------------------------------
    *[(f"csv-{n}", [S, "--data", f"{{d}}/{n}"], f"{n}{suffix}") for n, suffix in [
        ("header_only.csv", ": expected a header row and data rows"),
        ("empty.csv", ": expected a header row and data rows"),
        ("binary.csv", ": cannot read CSV file"),
        ("nul.csv", ":2: non-numeric feature value"),
        ("ragged.csv", ":3: expected 3 columns, got 2"),
        ("text_feature.csv", ":2: non-numeric feature value"),
        ("complex_feature.csv", ":2: non-numeric feature value"),
        ("nan_feature.csv", ":2: feature value is NaN or inf"),
        ("inf_feature.csv", ":2: feature value is NaN or inf"),
        ("huge_feature.csv", ":2: feature value is NaN or inf"),
        ("empty_label.csv", ":2: missing label"),
        ("nan_label.csv", ":2: missing label"),
        ("label_only.csv", ": no feature columns besides the label"),
        ("one_class.csv", ": y has a single class"),
        ("huge_field.csv", ": cannot read CSV file"),
        ("overflow_column.csv", ": x: values beyond the float32 range"),
        ("few_rows.csv", ": class 'x' has 1 samples: too few to split"),
        ("absent.csv", ": data file not found"),
    ]],
    # -- python:module:function loaders ---------------------------------------------------
    *[(f"loader-{f}", [S, "--data", f"python:{MOD}:{f}"], f"python:{MOD}:{f}{suffix}")
      for f, suffix in [
        ("raises", "': the loader failed (ValueError: the bucket is empty)"),
        ("raises_multiline", "': the loader failed (RuntimeError: line one line two"),
        ("exits_zero", "': the loader failed (it called sys.exit(0))"),
        ("exits_three", "': the loader failed (it called sys.exit(3))"),
        ("exits_text", "': the loader failed (it called sys.exit('giving up'))"),
        ("recursion", "': the loader failed (RecursionError"),
        ("memory", "': the loader failed (MemoryError)"),
        ("needs_args", "': the loader failed (TypeError"),
        ("returns_none", "': must return (x, y)"),
        ("returns_three", "': must return (x, y)"),
        ("returns_text", "': must return (x, y)"),
        ("returns_dict", "': must return (x, y)"),
        ("returns_generator", "': must return (x, y)"),
        ("complex_x", ": x: features must be real numbers, got complex"),
        ("object_x", ": x: features must be real numbers, got Python objects"),
        ("ragged_x", ": x: features must be an array"),
        ("text_x", ": x: features must be real numbers, got strings"),
        ("mixed_labels", ": y: labels must be all integers or all strings"),
        ("float_object_labels", ": y: labels must be all integers or all strings"),
        ("nan_labels", ": y: labels contain NaN or inf"),
        ("single_class", ": y has a single class"),
        ("zero_samples", ": x: has no samples"),
        ("zero_features", ": x: samples have no features"),
        ("test_without_labels", "': x_test and y_test must be given together"),
        ("nan_test", ": x_test: contains NaN or inf"),
        ("not_a_function", "': 'not_a_function' is not a function"),
        ("missing_function", "': cannot import"),
    ]],
    *[(f"module-{m.removeprefix(MOD + '_')}", [S, "--data", f"python:{m}:f"],
       f"python:{m}:f': importing {m!r} failed") for m in BROKEN_MODULES
      if not m.endswith("import_raises")],
    ("module-import_raises", [S, "--data", f"python:{MOD}_import_raises:f"], "cannot import"),
    ("module-missing", [S, "--data", "python:no_such_module_zz:f"], "cannot import"),
    ("loader-no-function", [S, "--data", "python:os"], "expected python:module:function"),
    ("loader-empty", [S, "--data", "python:"], "expected python:module:function"),
    ("loader-relative", [S, "--data", "python:..x:f"], "python:..x:f"),
    # -- a space that cannot take the data, limits no candidate meets ---------------------
    ("arch-cnn2d-tabular", [S, "--data", "{d}/tab.npz", "--set", "search.arch=cnn2d"],
     "search.arch: 'cnn2d' cannot take samples of shape (5,)"),
    ("arch-cnn1d-images", [S, "--data", "{d}/images4d.npz", "--set", "search.arch=cnn1d"],
     "search.arch: 'cnn1d' cannot take samples of shape (1, 6, 6)"),
    ("arch-families-tabular", [S, "--data", "{d}/tab.npz", "--set",
                               "search.arch_options.families=['cnn2d']"],
     "search.arch_options.families: none of ['cnn2d']"),
    ("limit-params-0", [S, "--set", "limits.max_params=0"], "limits.max_params: no candidate"),
    ("limit-params-10", [S, "--data", "{d}/tab.npz", "--set", "limits.max_params=10"],
     "limits.max_params: no candidate of search.arch 'auto' meets 10"),
    ("limit-flops-1", [S, "--set", "limits.max_flops=1"], "limits.max_flops: no candidate"),
    ("limit-mlp-params", [S, "--set", "search.arch=mlp", "--set", "limits.max_params=100"],
     "limits.max_params: no candidate of search.arch 'mlp'"),
    ("limit-cnn-flops", [S, "--set", "search.arch=cnn2d", "--set", "limits.max_flops=1000"],
     "limits.max_flops: no candidate of search.arch 'cnn2d'"),
]


@pytest.mark.parametrize("name, args, expected", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_is_one_line_and_nonzero(
    files: Path, tmp_path: Path, name: str, args: list[str], expected: str
) -> None:
    args = [a.replace("{d}", str(files)) for a in args]
    db = tmp_path / "study.db"
    # Options right after the command: a "--" later in the case must not swallow them.
    extra = ["--storage", f"sqlite:///{db}", *(["--quiet"] if args[0] == "search" else [])]
    args = [args[0], *extra, *args[1:]]
    run = run_main(args)
    lines = run.err.splitlines()
    assert run.code not in (0, None), f"exit {run.code}; stdout: {run.out[-500:]}"
    assert "Traceback" not in run.err, run.err
    assert len(lines) == 1, run.err
    assert lines[0].startswith("error: "), lines[0]
    assert expected.replace("{d}", str(files)) in lines[0], lines[0]
    assert not db.exists(), "the command touched the database before refusing its input"


def test_well_over_a_hundred_cases() -> None:
    assert len(CASES) > 200


@pytest.mark.parametrize("args, expected", [
    (["search", "--set", "trainer.lr=nan"], "error: trainer.lr: nan is not a finite number"),
    (["search", "--data", f"python:{MOD}:exits_zero"], "it called sys.exit(0)"),
])
def test_real_process(files: Path, tmp_path: Path, args: list[str], expected: str) -> None:
    """The console script itself: a loader's sys.exit(0) must not pass for success."""
    env = {"PYTHONPATH": f"{files}:{Path(__file__).parents[2]}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "automl", *args, "--quiet", "--storage",
                           f"sqlite:///{tmp_path / 'p.db'}"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and expected in proc.stderr, proc.stderr


# -- valid edge inputs still work ---------------------------------------------------------


def test_csv_with_bom_blank_lines_and_integer_labels(tmp_path: Path) -> None:
    p = tmp_path / "ok.csv"
    rows = [f"{i % 5}, {i / 7:.3f},{(2, 10, 1)[i % 3]}" for i in range(30)]
    p.write_bytes("\ufefff1,f2,label\n".encode() + "\n".join(rows[:10]).encode() + b"\n\n"
                  + "\n".join(rows[10:]).encode() + b"\n")
    raw = load_source(str(p))
    assert raw.x.shape == (30, 2) and raw.classes == ["1", "2", "10"]  # numeric order
    assert raw.y.tolist()[:3] == [1, 2, 0]


def test_csv_string_labels_keep_leading_zeros(tmp_path: Path) -> None:
    p = tmp_path / "zeros.csv"
    p.write_text("a,label\n" + "".join(f"{i},{('01', '1')[i % 2]}\n" for i in range(10)))
    assert load_source(str(p)).classes == ["01", "1"]


def test_valid_arrays_of_other_dtypes(tmp_path: Path) -> None:
    p = tmp_path / "ok.npz"
    np.savez(p, x=(X > 0), y=np.array(["cat", "dog"] * 20)[:, None],
             x_test=(X[:6] > 0), y_test=np.array(["dog", "cat"] * 3))
    raw = load_source(str(p))
    assert raw.x.dtype == np.float32 and raw.classes == ["cat", "dog"]
    assert raw.y_test is not None and raw.y_test.tolist() == [1, 0] * 3
    i = tmp_path / "ints.npz"
    np.savez(i, x=X.astype(np.int16), y=Y.astype(np.uint8))
    assert load_source(str(i)).x.dtype == np.float32


def test_loader_returning_lists_works(files: Path) -> None:
    (files / f"{MOD}_ok.py").write_text(
        "def load():\n    return [[float(i), 1.0] for i in range(20)], ['a', 'b'] * 10\n")
    raw = load_source(f"python:{MOD}_ok:load")
    assert raw.x.shape == (20, 2) and raw.classes == ["a", "b"]


def test_valid_edges_of_config_ranges() -> None:
    cfg = config.load(overrides=["study.trials=1", "study.timeout=0.5", "trainer.lr=0",
                                 f"study.seed={2**31 - 1}", f"trainer.epochs={2**31 - 1}",
                                 "limits.max_params=5"])
    assert cfg.study.trials == 1 and cfg.study.timeout == 0.5 and cfg.limits.max_params == 5


def test_reachable_limits_pass_and_unreachable_name_the_limit() -> None:
    ok = config.load(overrides=["limits.max_params=100000", "limits.max_flops=10000000"])
    check_reachable(ok, (1, 8, 8), 10, 1000)
    tight = config.load(overrides=["search.arch=mlp", "limits.max_params=300"])
    with pytest.raises(ConfigError, match=r"^limits.max_params: no candidate"):
        check_reachable(tight, (64,), 10, 1000)


def test_short_inputs_do_not_hang_the_downsampling_count() -> None:
    from search_spaces.arch.deep import max_downsamples

    # A size-1 input halves to 1 again: with min_spatial 1 this once never stopped.
    assert max_downsamples((5,), 1) == 3 and max_downsamples((1,), 1) == 0
    assert max_downsamples((1, 8), 1) == 3 and max_downsamples((8, 8), 2) == 2


@pytest.mark.parametrize("shape", [(5,), (3, 1), (1, 6, 6), (2, 7)])
def test_every_space_that_takes_a_shape_passes_the_up_front_check(shape: tuple) -> None:
    from search_spaces import ARCH_SPACES

    for name in ARCH_SPACES.names():
        cfg = config.load(overrides=[f"search.arch={name}"])
        try:
            check_reachable(cfg, shape, 3, 50)
        except ConfigError as exc:  # only a shape the space cannot read is refused
            assert str(exc).startswith(f"search.arch: {name!r} cannot take samples"), exc
            assert name in ("cnn1d", "cnn2d"), exc
