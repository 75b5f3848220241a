"""Write one bundle folder: weights, ONNX (+ INT8), checks and figures, spec.json, model card.

Every bundle is verified as it is written: the network is rebuilt from the written spec and
weights, the ONNX graph (which takes raw inputs and standardizes them itself) must give the same
probabilities as torch on standardized inputs (max |diff| <= 1e-4) on the test split, and the
INT8 model's accuracy, size and latency are measured beside the float one. ``model.pt2`` is
checked the same way, in memory, before it is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.export import onnx_io
from automl.export.card import render_card
from automl.export.errors import BundleError
from automl.export.graph import unstandardize
from automl.export.integrity import check_bundle
from automl.export.measure import accuracy, latency_ms
from automl.export.spec import (
    CARD,
    FORMAT_VERSION,
    ONNX,
    ONNX_INT8,
    PT2,
    WEIGHTS,
    read_spec,
    write_spec,
)
from automl.export.validate import KNOWN_FILES, sha256
from trainer.runtime import torch_threads

if TYPE_CHECKING:
    from automl.data import PreparedData

TOLERANCE = 1e-4  # max |p_torch - p_onnx| a bundle may have
QUANTIZE = ("int8",)


@dataclass(frozen=True)
class BundleOptions:
    onnx: bool = True
    quantize: str | None = None  # None | "int8"
    exporter: str = "auto"  # see automl.export.onnx_io
    pt2: bool = True  # model.pt2 (torch.export) beside model.onnx; only with onnx

    def __post_init__(self) -> None:
        if self.quantize is not None and self.quantize not in QUANTIZE:
            raise BundleError(f"--quantize {self.quantize!r}: expected {', '.join(QUANTIZE)}")
        if self.quantize and not self.onnx:
            raise BundleError("--quantize int8 quantizes the ONNX model; drop --no-onnx")


def _check_inputs(spec: dict[str, Any], data: PreparedData | None) -> tuple[np.ndarray, Any]:
    """Raw inputs: the test split as a user holds it (before standardization) when the data
    could be re-loaded, else fixed random inputs on the scale the preprocessing expects."""
    if data is not None and tuple(data.splits.input_shape) == tuple(spec["input_shape"]):
        return unstandardize(data.splits.x_test, data.preprocessing), data.splits.y_test
    rng = np.random.default_rng(0)
    z = rng.standard_normal((64, *spec["input_shape"])).astype(np.float32)
    return unstandardize(z, spec["preprocessing"]), None


def onnx_metadata(spec: dict[str, Any]) -> dict[str, str]:
    """What a runtime needs besides the graph, as ONNX ``metadata_props`` (JSON strings)."""
    return {"automl_format_version": str(FORMAT_VERSION),
            "classes": json.dumps(spec["classes"]),
            "input_shape": json.dumps(spec["input_shape"]),
            "preprocessing": json.dumps(spec["preprocessing"]),
            "arch": json.dumps(spec["arch"]),  # what the graph computes: a load compares it
            "input": "raw float32 (batch, *input_shape); standardization is inside the graph",
            "outputs": json.dumps(list(onnx_io.OUTPUTS))}


def write_bundle(folder: Path, spec: dict[str, Any], state: dict[str, Any],
                 data: PreparedData | None, options: BundleOptions) -> dict[str, Any]:
    """Write the bundle of ``spec`` + ``state`` into ``folder`` (created) and return the spec
    as written, with ``files``, ``verification``, ``onnx`` and ``quantization`` filled in."""
    import torch
    from safetensors.torch import save_file

    from automl.data import apply_preprocessing
    from automl.export.load import build_from_spec, load_state

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()},
              str(folder / WEIGHTS), metadata={"format": "pt"})
    (folder / WEIGHTS).chmod(0o644)  # safetensors writes 0600; a bundle is meant to be shipped
    # Rebuild from what was written, exactly as load_model will: a bundle that cannot be
    # loaded must fail here, not on a phone.
    model = build_from_spec(spec, load_state(folder))
    x, y = _check_inputs(spec, data)  # raw
    pre = spec["preprocessing"]
    with torch_threads(1), torch.inference_mode():
        ref = torch.softmax(model(torch.from_numpy(apply_preprocessing(x, pre))), dim=-1).numpy()
    check: dict[str, Any] = {"inputs": "test split" if y is not None else "random (no data)",
                             "samples": int(len(x))}
    if y is not None:
        check["torch_test_accuracy"] = accuracy(ref, y)
    if options.onnx:
        spec["onnx"] = onnx_io.export_onnx(model, spec["input_shape"], folder / ONNX,
                                           options.exporter, pre, onnx_metadata(spec))
        sess = onnx_io.session(folder / ONNX, threads=1)
        probs = onnx_io.run(sess, x)[1]
        diff = float(np.max(np.abs(probs - ref)))
        check["onnx_max_abs_diff"] = diff
        if diff > TOLERANCE:
            raise BundleError(f"ONNX and torch disagree: max |diff| of probabilities {diff:.2e} "
                              f"> {TOLERANCE:g}")
        if options.quantize:
            spec["quantization"] = _quantize(folder, sess, x, y, data, onnx_metadata(spec))
        if options.pt2:
            spec["pt2"] = _pt2(folder, model, spec, x, ref)
            if "max_abs_diff" in spec["pt2"]:
                check["pt2_max_abs_diff"] = spec["pt2"]["max_abs_diff"]
    spec["verification"] = check
    spec["files"] = {p.name: {"bytes": p.stat().st_size, "sha256": sha256(p)}
                     for p in sorted(folder.iterdir()) if p.name in KNOWN_FILES}
    write_spec(folder, spec)
    # The checks every loader makes: refuse to write what none could load.
    check_bundle(folder, read_spec(folder))
    (folder / CARD).write_text(render_card(spec))
    return spec


def _pt2(folder: Path, model: Any, spec: dict[str, Any], x: np.ndarray,
         ref: np.ndarray) -> dict[str, Any]:
    """Write model.pt2 and check the program against torch; a failure is recorded, not raised
    (torch.export covers fewer graphs than ONNX, and the bundle is complete without it)."""
    from automl.export.pt2 import export_pt2

    info = export_pt2(model, spec["input_shape"], folder / PT2, spec["preprocessing"], x)
    if info["status"] == "ok":
        diff = float(np.max(np.abs(info.pop("probabilities") - ref)))
        info["max_abs_diff"] = diff
        if diff > TOLERANCE:
            (folder / PT2).unlink()
            return {"status": "failed", "error": f"model.pt2 and torch disagree: max |diff| "
                                                 f"of probabilities {diff:.2e}"}
    return info


def _quantize(folder: Path, float_sess: Any, x: np.ndarray, y: Any,
              data: PreparedData | None, metadata: dict[str, str]) -> dict[str, Any]:
    from automl.export.quantize import quantize_int8

    # Calibration samples are raw inputs too: the graph standardizes them itself.
    x_train = (unstandardize(data.splits.x_train, data.preprocessing)
               if data is not None and y is not None else None)
    info = quantize_int8(folder / ONNX, folder / ONNX_INT8, x_train)
    onnx_io.set_metadata(folder / ONNX_INT8, metadata)
    int8_sess = onnx_io.session(folder / ONNX_INT8, threads=1)
    one = np.ascontiguousarray(x[:1])
    figures: dict[str, dict[str, Any]] = {}
    accs: dict[str, float] = {}
    for key, sess, path in (("float", float_sess, folder / ONNX),
                            ("int8", int8_sess, folder / ONNX_INT8)):
        if y is not None:
            accs[key] = accuracy(onnx_io.run(sess, x)[1], y)

        def forward(b: np.ndarray, s: Any = sess) -> Any:
            return onnx_io.run(s, b)

        figures[key] = {"size_bytes": path.stat().st_size, "test_accuracy": accs.get(key),
                        "latency_ms": latency_ms(forward, one)}
    drop = round(100 * (accs["float"] - accs["int8"]), 4) if accs else None
    sizes = [figures[k]["size_bytes"] for k in ("float", "int8")]
    return {"scheme": "int8", **info, **figures,
            "size_ratio": round(sizes[0] / sizes[1], 3),
            "accuracy_drop_points": drop,
            "latency_note": "median of 200 batch-1 runs, ONNX Runtime CPU, 1 intra-op thread"}
