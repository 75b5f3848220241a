"""ONNX export of every op in our spaces, INT8 quantization, and the bundle round trip,
on small networks with random weights (no search, no database)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from automl.data import PreparedData
from automl.export import onnx_io
from automl.export.bundle import BundleOptions, write_bundle
from automl.export.errors import BundleError
from automl.export.load import load_model
from automl.export.spec import FORMAT, FORMAT_VERSION, read_spec
from search_spaces import (
    BlockSpec,
    ConvNetSpec,
    MLPSpec,
    RocketSpec,
    StageSpec,
    arch_to_dict,
    build_model,
)
from trainer import DataSplits

MLP = MLPSpec(input_shape=(1, 8, 8), num_classes=10, hidden=(128, 64), activation="gelu",
              norm="batch", dropout=0.2)
# Every op and activation our conv spaces use: conv3/conv5, depthwise-separable, mbconv with
# and without expansion, skip, a downsampling transition, BatchNorm, hardswish, dropout.
CONV = ConvNetSpec(
    kind="cnn2d", input_shape=(1, 8, 8), num_classes=10, stem_width=16, activation="hardswish",
    stages=(StageSpec(16, (BlockSpec("conv3"), BlockSpec("dwsep"), BlockSpec("skip"))),
            StageSpec(24, (BlockSpec("mbconv", expansion=4), BlockSpec("mbconv"),
                           BlockSpec("conv5", residual=False)), downsample=True)),
    dropout=0.1,
)
CONV1D = ConvNetSpec(kind="cnn1d", input_shape=(3, 16), num_classes=4, stem_width=8,
                     activation="silu", stages=(StageSpec(8, (BlockSpec("dwsep"),)),))
# MiniRocket features on 3 channels: fixed dilated convolutions, PPV comparisons, mean.
ROCKET = RocketSpec(input_shape=(3, 40), num_classes=3, dilations=(1, 2, 4),
                    per_dilation=(3, 2, 2), dropout=0.1)
# One series of 40 steps standardized per step, read again as shipped (InputInfo.series_affine).
ROCKET_SERIES = RocketSpec(input_shape=(40,), num_classes=3, dilations=(1, 3), per_dilation=(2, 2),
                           input_scale=tuple(np.linspace(0.5, 2.0, 40).tolist()),
                           input_shift=tuple(np.linspace(-1.0, 1.0, 40).tolist()))
# An efficient ensemble of 4 (TabM-mini): its eval output is the log of the mean probability.
MLP_MEMBERS = MLPSpec(input_shape=(1, 8, 8), num_classes=3, hidden=(32, 32), norm="batch",
                      members=4)
SPECS = {"mlp": MLP, "mlp_members": MLP_MEMBERS, "cnn2d": CONV, "cnn1d": CONV1D, "rocket": ROCKET,
         "rocket_series": ROCKET_SERIES}


def trained_like(spec: object, seed: int = 0) -> torch.nn.Module:
    """A network with random weights, non-trivial BatchNorm statistics and (MiniRocket) biases
    fitted on one random batch, in eval mode."""
    torch.manual_seed(seed)
    model = build_model(spec).train()
    model(torch.randn(8, *spec.input_shape))  # type: ignore[attr-defined]
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize("exporter",
                         ["torchscript", pytest.param("dynamo", marks=pytest.mark.slow)])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_onnx_matches_torch_with_a_dynamic_batch(tmp_path: Path, name: str, exporter: str) -> None:
    spec = SPECS[name]
    model = trained_like(spec)
    info = onnx_io.export_onnx(model, spec.input_shape, tmp_path / "m.onnx", exporter)
    assert info["exporter"] == exporter and info["size_bytes"] > 0
    assert not list(tmp_path.glob("*.data"))  # one self-contained file
    sess = onnx_io.session(tmp_path / "m.onnx")
    for n in (1, 3, 300):  # the batch axis is dynamic
        x = torch.randn(n, *spec.input_shape, generator=torch.Generator().manual_seed(n))
        with torch.no_grad():
            logits = model(x)
        got_logits, got_probs = onnx_io.run(sess, x.numpy())
        assert got_probs.shape == (n, spec.num_classes)
        assert np.abs(got_probs - torch.softmax(logits, -1).numpy()).max() <= 1e-4
        assert np.abs(got_logits - logits.numpy()).max() <= 1e-3


def fake_data(spec: object, n: int = 400) -> PreparedData:
    rng = np.random.default_rng(0)
    shape = tuple(spec.input_shape)  # type: ignore[attr-defined]
    k = spec.num_classes  # type: ignore[attr-defined]

    def x(m: int) -> np.ndarray:
        return rng.standard_normal((m, *shape)).astype(np.float32)

    splits = DataSplits(x(n), rng.integers(0, k, n), x(50), rng.integers(0, k, 50), x(80),
                        rng.integers(0, k, 80), k)
    stats = {"axis": "channel", "mean": [0.5] * shape[0], "std": [2.0] * shape[0]}
    return PreparedData(splits, [f"c{i}" for i in range(k)], stats, "hash", "fake")


def minimal_spec(spec: object) -> dict:
    arch = arch_to_dict(spec)  # type: ignore[arg-type]
    k = arch["num_classes"]
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "study": "unit", "trial": 0,
            "arch": arch, "input_shape": arch["input_shape"],
            "classes": [f"c{i}" for i in range(k)],
            "preprocessing": {"axis": "channel", "mean": [0.5], "std": [2.0]},
            "metrics": {}, "costs": {}}


@pytest.mark.parametrize("name,method", [("mlp", "dynamic"), ("mlp_members", "dynamic"),
                                         ("cnn2d", "static")])
def test_bundle_round_trip_and_int8(tmp_path: Path, name: str, method: str) -> None:
    spec, model = SPECS[name], trained_like(SPECS[name], seed=1)
    folder = tmp_path / "bundle"
    written = write_bundle(folder, minimal_spec(spec), model.state_dict(), fake_data(spec),
                           BundleOptions(quantize="int8"))
    names = {p.name for p in folder.iterdir()}
    assert names == {"model.safetensors", "spec.json", "model.onnx", "model.int8.onnx",
                     "model.pt2", "README.md"}
    assert written["pt2"]["status"] == "ok" and written["pt2"]["max_abs_diff"] <= 1e-4
    assert json.loads((folder / "spec.json").read_text()) == written
    assert written["verification"]["onnx_max_abs_diff"] <= 1e-4
    q = written["quantization"]
    assert q["method"] == method and q["int8"]["size_bytes"] == (folder / "model.int8.onnx"
                                                               ).stat().st_size
    # Tensor names and Q/DQ nodes weigh a lot in so narrow a network; the digits demo model
    # shrinks about 3x (benchmarks/RESULTS.md).
    assert q["size_ratio"] > 1.2
    assert q["float"]["latency_ms"] > 0 and q["int8"]["latency_ms"] > 0
    # INT8 keeps the float model's accuracy within a few points on the same test split.
    assert abs(q["int8"]["test_accuracy"] - q["float"]["test_accuracy"]) <= 0.1, q
    loaded = load_model(folder)
    assert not loaded.training
    assert all(t.device.type == "cpu" for t in [*loaded.parameters(), *loaded.buffers()])
    x = torch.randn(4, *spec.input_shape)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_bad_bundles_give_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="bundle folder not found"):
        read_spec(tmp_path / "nope")
    with pytest.raises(BundleError, match="not a model bundle"):
        read_spec(tmp_path)
    folder = tmp_path / "b"
    write_bundle(folder, minimal_spec(MLP), trained_like(MLP).state_dict(), None,
                 BundleOptions(onnx=False))
    spec = json.loads((folder / "spec.json").read_text())
    assert spec["verification"]["inputs"] == "random (no data)"
    spec["arch"]["hidden"] = [128, 32]  # weights no longer fit
    (folder / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(BundleError, match="weights do not match") as info:
        load_model(folder)
    assert "\n" not in str(info.value)
    spec["format_version"] = FORMAT_VERSION + 1
    (folder / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(BundleError, match="newer than this automl reads"):
        load_model(folder)
    with pytest.raises(BundleError, match="drop --no-onnx"):
        BundleOptions(onnx=False, quantize="int8")


def test_no_pickle_anywhere_in_the_export_package() -> None:
    import automl.export

    source = "\n".join(p.read_text() for p in Path(automl.export.__file__).parent.glob("*.py"))
    for banned in ("import pickle", "torch.load(", "allow_pickle=True", "joblib"):
        assert banned not in source, banned


def test_import_automl_stays_light_and_exports_are_lazy() -> None:
    code = ("import sys, automl\n"
            "heavy = ('torch', 'onnx', 'onnxruntime', 'fastapi', 'sqlalchemy')\n"
            "print('BEFORE', [m for m in heavy if m in sys.modules])\n"
            "from automl import load_model, Predictor\n"
            "print('AFTER', callable(load_model), Predictor.__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "BEFORE []" in out and "AFTER True Predictor" in out
