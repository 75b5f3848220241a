"""Hostile input is answered up front with one line on stderr and a non-zero exit (issue 11).

Every case goes through the CLI entry point (``automl.cli.app.main``) in this process, as the
console script does, and must: exit non-zero, print exactly one line on stderr naming the
offending field or file (no traceback), and leave no database behind (nothing ran). Two cases
run the real ``python -m automl`` in a subprocess (valid edge inputs: test_data_edges.py).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_kit import BROKEN_MODULES, MOD, run_main, write_files


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("hostile")
    write_files(d)
    sys.path.insert(0, str(d))
    yield d
    sys.path.remove(str(d))


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
    ("parse-top-text", ["leaderboard", "s", "--top", "abc"], "--top: expected a whole "
     "number from 1 to"),
    ("parse-trials-float", [S, "--trials", "1.5"], "--trials (study.trials): expected a whole"),
    ("parse-timeout-text", [S, "--timeout", "soon"], "--timeout (study.timeout): expected a"),
    ("parse-epochs-text", [S, "--epochs", "ten"], "--epochs (trainer.epochs): expected a whole"),
    ("parse-seed-float", [S, "--seed", "0.5"], "--seed (study.seed): expected a whole number"),
    ("parse-show-text", ["show", "s", "abc"], "trial: expected a whole number from 0 to"),
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
        ("too_few_per_class.npz", ": too few samples to split off a validation set"),
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
        ("binary.csv", ": cannot read the table (UnicodeDecodeError"),
        ("nul.csv", ": too few samples to split off a test set"),
        # A short row's missing cells are missing values: here the label's.
        ("ragged.csv", ":3: missing label in column 'label'"),
        # A column of numbers with a stray word is a numeric column with a typo, named.
        ("text_feature.csv", ":2: column 'b': 'hello' is not a number"),
        ("complex_feature.csv", ":2: column 'b': '1+2j' is not a number"),
        ("inf_feature.csv", ":2: column 'a': value infinite or beyond the float32 range"),
        ("huge_feature.csv", ":2: column 'a': value infinite or beyond the float32 range"),
        ("empty_label.csv", ":2: missing label"),
        ("nan_label.csv", ":2: missing label"),
        ("label_only.csv", ": no feature columns besides the label"),
        ("one_class.csv", ": y has a single class"),
        ("huge_field.csv", ":2: column 'b': '999999"),
        ("overflow_column.csv", ":2: column 'a': value infinite or beyond the float32 range"),
        ("few_rows.csv", ": too few samples to split off a test set (2 in all)"),
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
