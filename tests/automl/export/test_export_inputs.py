"""Turning user inputs into a model batch, and reading .npz / .csv input files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from automl.export.errors import InputError
from automl.export.inputs import as_batch, read_inputs

SHAPE = (1, 8, 8)


def test_accepted_layouts() -> None:
    x = np.arange(2 * 64, dtype=np.float64).reshape(2, 64)
    for given in (x.reshape(2, 1, 8, 8), x, x.reshape(2, 8, 8), x.reshape(2, 1, 8, 8).tolist()):
        out = as_batch(given, SHAPE)
        assert out.shape == (2, 1, 8, 8) and out.dtype == np.float32
        assert np.array_equal(out.reshape(2, 64), x.astype(np.float32))
    assert as_batch([[1, 2, 3]], (3,)).shape == (1, 3)  # ints are fine


@pytest.mark.parametrize("bad,message", [
    ([], "empty batch"),
    (np.zeros((0, 64)), "empty batch"),
    ([[1, 2, 3]], r"samples have shape \[3\]"),
    (np.zeros((2, 2, 8, 8)), r"samples have shape \[2, 8, 8\]"),
    ([[1.0] * 63 + [float("nan")]], "NaN or infinite"),
    ([[1.0] * 63 + [float("inf")]], "NaN or infinite"),
    (np.full((1, 64), 1e300), "beyond float32's 3.4e"),  # float64, finite, not a float32
    ([["a"] * 64], "contain text"),
    ([[None] * 64], "non-numeric"),
    ([[True] * 64], "non-numeric"),
    ([[1.0] * 64, [1.0] * 3], "differ in length"),
    (5.0, "got a single number"),
])
def test_rejections_say_what_was_expected(bad: object, message: str) -> None:
    with pytest.raises(InputError, match=message) as info, warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing printed beside the one-line error
        as_batch(bad, SHAPE)
    assert r"shape [1, 8, 8] (or 64 numbers each)" in str(info.value)
    assert "\n" not in str(info.value)


def test_read_npz_and_csv(tmp_path: Path) -> None:
    x = np.random.default_rng(0).random((3, 1, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "a.npz", x=x, y=np.array([1, 2, 3]))
    got, y = read_inputs(tmp_path / "a.npz")
    assert np.array_equal(got, x) and y.tolist() == [1, 2, 3]
    np.savez(tmp_path / "b.npz", features=x)
    assert read_inputs(tmp_path / "b.npz")[1] is None  # the only array, whatever its name
    flat = x.reshape(3, 64)
    header = ",".join(f"p{i}" for i in range(64))
    rows = "\n".join(",".join(f"{v:.8f}" for v in r) + f",{i}" for i, r in enumerate(flat))
    (tmp_path / "c.csv").write_text(f"{header},label\n{rows}\n")
    got, y = read_inputs(tmp_path / "c.csv")
    assert np.allclose(got, flat, atol=1e-7) and y.tolist() == ["0", "1", "2"]
    (tmp_path / "d.csv").write_text("\n".join(",".join(str(v) for v in r) for r in flat))
    got, y = read_inputs(tmp_path / "d.csv")  # no header, no labels
    assert got.shape == (3, 64) and y is None


@pytest.mark.parametrize("name,content,message", [
    ("x.txt", "1,2", "expected a .npz or .csv file"),
    ("e.csv", "", "empty CSV"),
    ("f.csv", "a,b\n1,2\n3\n", "expected 2 columns, got 1"),
    ("g.csv", "a,b\n1,zz\n", "non-numeric feature value"),
    ("h.npz", "not a zip", "cannot read .npz"),
])
def test_bad_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(InputError, match=message):
        read_inputs(tmp_path / name)
    with pytest.raises(InputError, match="input file not found"):
        read_inputs(tmp_path / "missing.npz")
