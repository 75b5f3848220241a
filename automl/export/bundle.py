"""Write one bundle folder: weights, ONNX (+ INT8), checks and figures, spec.json, model card.

Every bundle is verified as it is written: the network is rebuilt from the written spec and
weights, the ONNX graph must give the same probabilities as torch (max |diff| <= 1e-4) on the
test split, and the INT8 model's accuracy, size and latency are measured beside the float one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.export import onnx_io
from automl.export.card import render_card
from automl.export.errors import BundleError
from automl.export.measure import accuracy, latency_ms
from automl.export.spec import CARD, ONNX, ONNX_INT8, SPEC, WEIGHTS, write_spec
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

    def __post_init__(self) -> None:
        if self.quantize is not None and self.quantize not in QUANTIZE:
            raise BundleError(f"--quantize {self.quantize!r}: expected {', '.join(QUANTIZE)}")
        if self.quantize and not self.onnx:
            raise BundleError("--quantize int8 quantizes the ONNX model; drop --no-onnx")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_inputs(spec: dict[str, Any], data: PreparedData | None) -> tuple[np.ndarray, Any]:
    """The test split when the data could be re-loaded, else fixed random standard inputs."""
    if data is not None and tuple(data.splits.input_shape) == tuple(spec["input_shape"]):
        return data.splits.x_test, data.splits.y_test
    rng = np.random.default_rng(0)
    return rng.standard_normal((64, *spec["input_shape"])).astype(np.float32), None


def write_bundle(folder: Path, spec: dict[str, Any], state: dict[str, Any],
                 data: PreparedData | None, options: BundleOptions) -> dict[str, Any]:
    """Write the bundle of ``spec`` + ``state`` into ``folder`` (created) and return the spec
    as written, with ``files``, ``verification``, ``onnx`` and ``quantization`` filled in."""
    import torch
    from safetensors.torch import save_file

    from automl.export.load import build_from_spec, load_state

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()},
              str(folder / WEIGHTS), metadata={"format": "pt"})
    (folder / WEIGHTS).chmod(0o644)  # safetensors writes 0600; a bundle is meant to be shipped
    # Rebuild from what was written, exactly as load_model will: a bundle that cannot be
    # loaded must fail here, not on a phone.
    model = build_from_spec(spec, load_state(folder))
    x, y = _check_inputs(spec, data)
    with torch_threads(1), torch.inference_mode():
        ref = torch.softmax(model(torch.from_numpy(x)), dim=-1).numpy()
    check: dict[str, Any] = {"inputs": "test split" if y is not None else "random (no data)",
                             "samples": int(len(x))}
    if y is not None:
        check["torch_test_accuracy"] = accuracy(ref, y)
    if options.onnx:
        spec["onnx"] = onnx_io.export_onnx(model, spec["input_shape"], folder / ONNX,
                                           options.exporter)
        sess = onnx_io.session(folder / ONNX, threads=1)
        probs = onnx_io.run(sess, x)[1]
        diff = float(np.max(np.abs(probs - ref)))
        check["onnx_max_abs_diff"] = diff
        if diff > TOLERANCE:
            raise BundleError(f"ONNX and torch disagree: max |diff| of probabilities {diff:.2e} "
                              f"> {TOLERANCE:g}")
        if options.quantize:
            spec["quantization"] = _quantize(folder, sess, x, y, data)
    spec["verification"] = check
    spec["files"] = {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)}
                     for p in sorted(folder.iterdir()) if p.name not in (SPEC, CARD)}
    write_spec(folder, spec)
    (folder / CARD).write_text(render_card(spec))
    return spec


def _quantize(folder: Path, float_sess: Any, x: np.ndarray, y: Any,
              data: PreparedData | None) -> dict[str, Any]:
    from automl.export.quantize import quantize_int8

    x_train = data.splits.x_train if data is not None and y is not None else None
    info = quantize_int8(folder / ONNX, folder / ONNX_INT8, x_train)
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
