"""Small bundles written straight from random-weight networks (no search, no database), with
non-trivial standardization, for the bundle-format and hostile-input tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from automl.data import PreparedData
from automl.export.bundle import BundleOptions, write_bundle
from automl.export.spec import FORMAT, FORMAT_VERSION
from search_spaces import BlockSpec, ConvNetSpec, MLPSpec, StageSpec, arch_to_dict, build_model
from trainer import DataSplits

MLP = MLPSpec(input_shape=(1, 8, 8), num_classes=3, hidden=(32,), activation="gelu",
              norm="batch", dropout=0.1)
CNN = ConvNetSpec(kind="cnn2d", input_shape=(2, 8, 8), num_classes=4, stem_width=8,
                  activation="hardswish",
                  stages=(StageSpec(8, (BlockSpec("conv3"), BlockSpec("mbconv", expansion=2))),))
FLAT = MLPSpec(input_shape=(5,), num_classes=2, hidden=(16,))
# Raw data far from standard: a graph that skipped (or repeated) the standardization would be
# far off on it.
MEAN, STD = 4.0, 3.0


def network(arch: Any, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(arch)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def stats(arch: Any) -> dict[str, Any]:
    c = arch.input_shape[0]
    return {"axis": "feature" if len(arch.input_shape) == 1 else "channel",
            "mean": [MEAN + 0.5 * i for i in range(c)], "std": [STD + 0.25 * i for i in range(c)]}


def raw_inputs(arch: Any, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, *arch.input_shape)) * STD + MEAN).astype(np.float32)


def data(arch: Any, n: int = 200) -> PreparedData:
    """Standardized splits with ``stats(arch)`` as their preprocessing (as load_data returns)."""
    from automl.data import apply_preprocessing

    rng = np.random.default_rng(1)
    k, pre = arch.num_classes, stats(arch)

    def x(m: int, seed: int) -> np.ndarray:
        return apply_preprocessing(raw_inputs(arch, m, seed), pre)

    splits = DataSplits(x(n, 1), rng.integers(0, k, n), x(40, 2), rng.integers(0, k, 40),
                        x(60, 3), rng.integers(0, k, 60), k)
    return PreparedData(splits, [f"c{i}" for i in range(k)], pre, "0" * 64, "kit")


def spec_of(arch: Any) -> dict[str, Any]:
    d = arch_to_dict(arch)
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "study": "kit", "trial": 0,
            "arch": d, "input_shape": d["input_shape"],
            "classes": [f"c{i}" for i in range(arch.num_classes)], "preprocessing": stats(arch),
            "loss": {"kind": "ce"}, "metrics": {}, "costs": {}, "train_config": {"epochs": 1},
            "data": {"source": "digits", "val_fraction": 0.15, "test_fraction": 0.15,
                     "standardize": True, "split_seed": 0, "sha256": None}}


def make_bundle(folder: Path, arch: Any = MLP, seed: int = 0, *, with_data: bool = True,
                **options: Any) -> dict[str, Any]:
    """Write a bundle of a random-weight ``arch`` network to ``folder``; its spec."""
    return write_bundle(folder, spec_of(arch), network(arch, seed).state_dict(),
                        data(arch) if with_data else None, BundleOptions(**options))


def edit_spec(folder: Path, **changes: Any) -> dict[str, Any]:
    spec = json.loads((folder / "spec.json").read_text())
    spec.update(changes)
    (folder / "spec.json").write_text(json.dumps(spec))
    return spec
