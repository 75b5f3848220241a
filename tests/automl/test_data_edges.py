"""Valid edge inputs still load: the hostile-input checks refuse only what they must."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hostile_kit import MOD, X, Y

from automl import config
from automl.data import load_source
from automl.errors import ConfigError
from automl.policy.limits import check_reachable
from search_spaces import InputInfo


@pytest.fixture
def files(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))



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
    check_reachable(ok, InputInfo((1, 8, 8), 10, n_train=1000))
    tight = config.load(overrides=["search.arch=mlp", "limits.max_params=300"])
    with pytest.raises(ConfigError, match=r"^limits.max_params: no candidate"):
        check_reachable(tight, InputInfo((64,), 10, n_train=1000))


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
            check_reachable(cfg, InputInfo(shape, 3, n_train=50))
        except ConfigError as exc:  # only a shape the space cannot read is refused
            assert str(exc).startswith(f"search.arch: {name!r} cannot take samples"), exc
            assert name in ("cnn1d", "cnn2d", "rocket"), exc
