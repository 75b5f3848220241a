"""What ships in a bundle besides the weights: model.onnx and model.pt2 take raw inputs (the
standardization is inside the graph), and model.onnx carries its classes and preprocessing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from bundle_kit import CNN, FLAT, MLP, edit_spec, make_bundle, network, raw_inputs

from automl.export import Predictor
from automl.export.validate import sha256

# Inference as a user without automl does it: onnxruntime, numpy and json only. Run in a fresh
# interpreter that refuses to import the project, so nothing of it can help.
PLAIN_ORT = """
import json, sys
import builtins
real_import = builtins.__import__
def guard(name, *args, **kw):
    if name.split(".")[0] in ("automl", "search_spaces", "trainer", "torch"):
        raise ImportError(f"{name} must not be needed")
    return real_import(name, *args, **kw)
builtins.__import__ = guard
import numpy as np
import onnxruntime as ort

bundle, x_path, out_path, name = sys.argv[1:5]
sess = ort.InferenceSession(f"{bundle}/{name}", providers=["CPUExecutionProvider"])
meta = sess.get_modelmeta().custom_metadata_map
classes = json.loads(meta["classes"])
x = np.load(x_path)
assert list(x.shape[1:]) == json.loads(meta["input_shape"])
logits, probs = sess.run(["logits", "probabilities"], {"input": x})
np.save(out_path, probs)
print(json.dumps({"labels": [classes[i] for i in probs.argmax(1)], "meta": meta}))
"""


def plain_ort(bundle: Path, x: np.ndarray, tmp_path: Path, name: str = "model.onnx"
              ) -> tuple[np.ndarray, dict]:
    np.save(tmp_path / "x.npy", x)
    out = subprocess.run([sys.executable, "-c", PLAIN_ORT, str(bundle), str(tmp_path / "x.npy"),
                          str(tmp_path / "p.npy"), name], capture_output=True, text=True,
                         cwd=tmp_path, check=True, env={"PATH": "/usr/bin:/bin"})
    return np.load(tmp_path / "p.npy"), json.loads(out.stdout)


@pytest.mark.parametrize("arch", [MLP, CNN, FLAT], ids=["mlp", "cnn2d", "flat"])
def test_plain_onnxruntime_on_raw_inputs_matches_the_predictor(tmp_path: Path, arch) -> None:  # noqa: ANN001
    spec = make_bundle(tmp_path / "b", arch, seed=3, pt2=False)
    x = raw_inputs(arch, 50, seed=9)
    probs, result = plain_ort(tmp_path / "b", x, tmp_path)
    reference = Predictor(tmp_path / "b", "torch").predict(x)
    assert np.abs(probs - reference.probabilities).max() <= 1e-4
    assert result["labels"] == reference.labels
    meta = result["meta"]
    assert json.loads(meta["classes"]) == spec["classes"]
    assert json.loads(meta["preprocessing"]) == spec["preprocessing"]
    assert json.loads(meta["input_shape"]) == spec["input_shape"]
    assert meta["automl_format_version"] == str(spec["format_version"]) == "2"
    assert spec["onnx"]["input"] == "raw"
    # The Predictor's own ONNX backend does not standardize a second time.
    onnx = Predictor(tmp_path / "b", "onnx").predict(x)
    assert np.abs(onnx.probabilities - reference.probabilities).max() <= 1e-4
    # The bare network on raw inputs (no standardization) is far off: the check has teeth.
    with torch.no_grad():
        bare = torch.softmax(network(arch, 3)(torch.from_numpy(x)), -1).numpy()
    assert np.abs(bare - reference.probabilities).max() > 1e-2


def test_int8_graph_takes_raw_inputs_too(tmp_path: Path) -> None:
    spec = make_bundle(tmp_path / "b", CNN, seed=2, quantize="int8", pt2=False)
    assert spec["quantization"]["method"] == "static"
    x = raw_inputs(CNN, 200, seed=4)
    float_out = Predictor(tmp_path / "b", "onnx").predict(x)
    int8_out = Predictor(tmp_path / "b", "onnx", quantized=True).predict(x)
    assert np.abs(int8_out.probabilities - float_out.probabilities).max() < 0.2
    assert np.mean(np.array(int8_out.labels) == np.array(float_out.labels)) >= 0.8
    probs, result = plain_ort(tmp_path / "b", x, tmp_path, "model.int8.onnx")
    assert np.allclose(probs, int8_out.probabilities, atol=1e-5)
    assert json.loads(result["meta"]["classes"]) == spec["classes"]


@pytest.mark.parametrize("arch", [MLP, CNN], ids=["mlp", "cnn2d"])
def test_pt2_loads_back_and_matches_torch(tmp_path: Path, arch) -> None:  # noqa: ANN001
    spec = make_bundle(tmp_path / "b", arch, seed=5)
    info = spec["pt2"]
    assert info["status"] == "ok" and info["input"] == "raw" and info["max_abs_diff"] <= 1e-4
    assert spec["files"]["model.pt2"]["sha256"] == sha256(tmp_path / "b" / "model.pt2")
    assert "never loads it" in info["note"]
    # Our own freshly written file: trusted (torch.export.load unpickles; see automl.export.pt2).
    program = torch.export.load(str(tmp_path / "b" / "model.pt2"))
    reference = Predictor(tmp_path / "b", "torch")
    for n in (1, 3, 70):  # the batch axis is dynamic
        x = raw_inputs(arch, n, seed=n)
        with torch.inference_mode():
            logits, probs = program.module()(torch.from_numpy(x))
        assert probs.shape == (n, arch.num_classes)
        assert np.abs(probs.numpy() - reference.predict_proba(x)).max() <= 1e-5
        standardized = torch.from_numpy(reference.preprocess(x))
        with torch.inference_mode():
            assert torch.allclose(logits, network(arch, 5)(standardized), atol=1e-5)


def test_a_failed_torch_export_is_recorded_and_the_bundle_still_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unsupported op for this test\nsecond line")

    monkeypatch.setattr(torch.export, "export", refuse)
    spec = make_bundle(tmp_path / "b", MLP)
    assert spec["pt2"] == {"status": "failed",
                           "error": "RuntimeError: unsupported op for this test"}
    assert not (tmp_path / "b" / "model.pt2").exists() and "model.pt2" not in spec["files"]
    Predictor(tmp_path / "b", "onnx").predict(raw_inputs(MLP, 2))


def test_no_onnx_means_no_graphs(tmp_path: Path) -> None:
    spec = make_bundle(tmp_path / "b", MLP, onnx=False)
    assert sorted(spec["files"]) == ["model.safetensors"] and "pt2" not in spec


def test_format_1_bundles_still_predict_with_onnx(tmp_path: Path) -> None:
    """A format-1 model.onnx takes standardized inputs: the Predictor standardizes for it."""
    from automl.export import onnx_io

    make_bundle(tmp_path / "b", CNN, seed=6, pt2=False)
    folder = tmp_path / "b"
    onnx_io.export_onnx(network(CNN, 6), CNN.input_shape, folder / "model.onnx")  # no prep
    spec = json.loads((folder / "spec.json").read_text())
    spec["files"]["model.onnx"]["sha256"] = sha256(folder / "model.onnx")
    edit_spec(folder, format_version=1, files=spec["files"])
    x = raw_inputs(CNN, 20)
    old = Predictor(folder, "onnx").predict_proba(x)
    assert np.abs(old - Predictor(folder, "torch").predict_proba(x)).max() <= 1e-4


def test_automl_never_loads_model_pt2(tmp_path: Path) -> None:
    """torch.export.load unpickles: a bundle's model.pt2 is for trusted use only."""
    import automl.export

    package = Path(automl.export.__file__).parent
    for path in package.glob("*.py"):
        assert "torch.export.load(" not in path.read_text(), path
    make_bundle(tmp_path / "b", MLP)
    pt2 = tmp_path / "b" / "model.pt2"
    pt2.write_bytes(b"not a zip: loading this would fail")
    # Its checksum recorded, so the bundle is whole: what is shown is that nothing loads it.
    files = json.loads((tmp_path / "b" / "spec.json").read_text())["files"]
    files["model.pt2"]["sha256"] = sha256(pt2)
    edit_spec(tmp_path / "b", files=files)
    x = raw_inputs(MLP, 2)
    for backend in ("torch", "onnx"):
        assert Predictor(tmp_path / "b", backend).predict(x).probabilities.shape == (2, 3)
