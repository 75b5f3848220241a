from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automl.data import apply_preprocessing, load_data, load_source
from automl.errors import DataError


def test_digits_split_is_deterministic_stratified_and_standardized_on_train() -> None:
    a = load_data("digits", 0.15, 0.15, seed=3)
    b = load_data("digits", 0.15, 0.15, seed=3)
    c = load_data("digits", 0.15, 0.15, seed=4)
    s = a.splits
    assert s.input_shape == (1, 8, 8) and s.num_classes == 10
    assert np.array_equal(s.x_val, b.splits.x_val) and not np.array_equal(s.y_val, c.splits.y_val)
    n = len(s.y_train) + len(s.y_val) + len(s.y_test)
    assert n == 1797
    assert abs(len(s.y_test) / n - 0.15) < 0.01 and abs(len(s.y_val) / n - 0.15) < 0.01
    # Stratified: every class in every split, in about the same share.
    for y in (s.y_train, s.y_val, s.y_test):
        share = np.bincount(y, minlength=10) / len(y)
        assert share.min() > 0.07 and share.max() < 0.13
    # Standardized with train statistics only: train channel mean ~0, std ~1.
    assert abs(float(s.x_train.mean())) < 1e-4 and abs(float(s.x_train.std()) - 1) < 1e-3
    assert a.preprocessing["axis"] == "channel" and len(a.preprocessing["mean"]) == 1


def test_npz_with_explicit_test_and_vectors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    p = tmp_path / "d.npz"
    np.savez(p, x=x, y=y, x_test=x[:30], y_test=y[:30])
    d = load_data(str(p), 0.2, 0.0, seed=0)
    assert d.splits.input_shape == (5,)
    assert len(d.splits.y_test) == 30
    assert len(d.splits.y_train) + len(d.splits.y_val) == 200
    assert d.preprocessing["axis"] == "feature" and len(d.preprocessing["std"]) == 5
    np.testing.assert_allclose(
        apply_preprocessing(x[:30], d.preprocessing), d.splits.x_test, rtol=1e-6
    )


def test_csv_label_column_and_string_labels(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    rows = ["a,label,b"] + [f"{i % 7},{'cat' if i % 2 else 'dog'},{i}" for i in range(40)]
    p.write_text("\n".join(rows) + "\n")
    raw = load_source(str(p))
    assert raw.x.shape == (40, 2) and raw.classes == ["cat", "dog"]
    assert set(raw.y.tolist()) == {0, 1}


def make_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.normal(size=(60, 4)), np.arange(60) % 3


def test_python_callable_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    raw = load_source("python:test_data:make_data")
    assert raw.x.shape == (60, 4) and len(raw.classes) == 3


@pytest.mark.parametrize(
    "arrays, expected",
    [
        ({"x": np.zeros((10, 3))}, "missing array 'y'"),
        ({"x": np.zeros((10, 3)), "y": np.arange(9) % 2}, "x has 10 samples but y has 9"),
        ({"x": np.full((10, 3), np.nan), "y": np.arange(10) % 2}, "NaN or inf"),
        ({"x": np.zeros((10, 3)), "y": np.zeros(10)}, "single class"),
        ({"x": np.zeros((10, 3)), "y": np.linspace(0, 1, 10)}, "non-integer"),
        ({"x": np.zeros(10), "y": np.arange(10) % 2}, "expected shape (N, D)"),
        ({"x": np.zeros((10, 3)), "y": np.arange(10) % 2, "x_test": np.zeros((2, 3))},
         "'x_test' and 'y_test' must be given together"),
    ],
)
def test_bad_npz_is_one_line(tmp_path: Path, arrays: dict, expected: str) -> None:
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(DataError) as err:
        load_source(str(p))
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_missing_unreadable_and_unknown_sources(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope.npz: data file not found"):
        load_source(str(tmp_path / "nope.npz"))
    bad = tmp_path / "junk.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="junk.npz: cannot read .npz"):
        load_source(str(bad))
    with pytest.raises(DataError, match="expected 'digits'"):
        load_source("imagenet")
    with pytest.raises(DataError, match="cannot import"):
        load_source("python:no_such_module_xyz:f")


def test_too_few_samples_for_split(tmp_path: Path) -> None:
    p = tmp_path / "tiny.npz"
    np.savez(p, x=np.zeros((2, 2)), y=np.array([0, 1]))
    with pytest.raises(DataError, match="too few samples to split off a test set"):
        load_data(str(p), 0.3, 0.3, seed=0)


def test_a_class_with_one_or_two_samples_still_splits_and_is_never_emptied(
        tmp_path: Path) -> None:
    """A class too small to give the test and validation splits a sample each stays in
    training (a note says so) instead of refusing the data; the others split as usual."""
    y = np.array([0] * 30 + [1] * 30 + [2] * 2 + [3])
    x = np.random.default_rng(0).normal(size=(len(y), 3)).astype(np.float32)
    p = tmp_path / "rare.npz"
    np.savez(p, x=x, y=y)
    data = load_data(str(p), 0.2, 0.2, seed=0)
    s = data.splits
    train = np.bincount(s.y_train, minlength=4)
    assert train[2] == 1 and train[3] == 1  # every class keeps a training sample
    assert np.bincount(s.y_test, minlength=4)[2:].tolist() == [1, 0]
    assert np.bincount(s.y_val, minlength=4)[2:].tolist() == [0, 0]
    assert len(s.y_train) + len(s.y_val) + len(s.y_test) == len(y)
    assert {0, 1} <= set(s.y_val.tolist()) and {0, 1} <= set(s.y_test.tolist())
    assert data.notes == (
        "class '3' has 1 sample left: kept for training, none in the test split",
        "class '2' has 1 sample left: kept for training, none in the validation split",
        "class '3' has 1 sample left: kept for training, none in the validation split",
    )


def test_digits_read_from_scikit_learns_file_equal_its_loader() -> None:
    from sklearn.datasets import load_digits

    from automl.data import digits

    images, target = digits()
    ref = load_digits()
    assert images.shape == (1797, 8, 8) and target.shape == (1797,)
    np.testing.assert_array_equal(images, ref.images)
    np.testing.assert_array_equal(target, ref.target)


def test_a_digits_search_does_not_import_scikit_learn(tmp_path: Path) -> None:
    # scikit-learn's import is a second or more of every small search's start-up (issue 24);
    # the digits file needs none of its code. A fresh process, so nothing is imported yet.
    import subprocess
    import sys

    code = ("import sys; from automl.data import load_data; d = load_data('digits', 0.15, "
            "0.15, 0); print(d.splits.x_train.shape, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "False", out.stdout
