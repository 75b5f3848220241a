"""INT8 post-training quantization with ONNX Runtime.

Which method (chosen per graph, measured on digits, see benchmarks/RESULTS.md):

* graphs with convolutions: static quantization in QDQ format (the portable one: ONNX Runtime,
  TensorRT and mobile runtimes read it), weights int8 per output channel, activations uint8
  with MinMax ranges calibrated on up to 512 training samples. Dynamic quantization would turn
  every conv into ConvInteger, which ran 10-20x slower than float here.
* graphs without (MLPs): dynamic quantization, weights int8 and activation ranges computed per
  batch: no calibration, and the fastest of the variants on MatMul/Gemm.

The softmax stays float in both: it is cheap, and quantizing probabilities would only blur them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from automl.export.errors import BundleError
from automl.export.onnx_io import INPUT

CALIBRATION_SAMPLES = 512
CALIBRATION_BATCH = 64


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    # onnxruntime.quantization logs benign notes ("Axis 1 is out-of-range for weight ...", for
    # BatchNorm scales it leaves float) through the root logger.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def calibration_batches(x_train: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """A fixed random subset of (preprocessed) training samples, in batches."""
    rng = np.random.default_rng(seed)
    take = rng.permutation(len(x_train))[:CALIBRATION_SAMPLES]
    x = np.ascontiguousarray(x_train[np.sort(take)], dtype=np.float32)
    return [x[i : i + CALIBRATION_BATCH] for i in range(0, len(x), CALIBRATION_BATCH)]


def _op_types(path: Path) -> set[str]:
    import onnx

    return {n.op_type for n in onnx.load(str(path)).graph.node}


def quantize_int8(float_path: Path, out_path: Path, x_train: np.ndarray | None) -> dict[str, Any]:
    """Write an INT8 version of ``float_path`` to ``out_path``; returns how it was made."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = out_path.with_name(out_path.stem + ".pre.onnx")
    try:
        with _quiet_root_logger():
            # ORT's recommended first step: shape inference + graph fusions (conv + BN).
            quant_pre_process(str(float_path), str(pre), skip_symbolic_shape=False)
        source = pre
    except Exception:  # pre-processing is an optimization; the raw graph quantizes too
        source = float_path
    softmax = [n.name for n in onnx.load(str(source)).graph.node if n.op_type == "Softmax"]
    try:
        with _quiet_root_logger():
            if "Conv" in _op_types(source):
                if x_train is None or not len(x_train):
                    raise BundleError("INT8 quantization of a conv net needs training samples "
                                      "to calibrate on; the data source could not be loaded")
                batches = calibration_batches(x_train)

                class Reader(CalibrationDataReader):
                    def __init__(self) -> None:
                        self._it = iter(batches)

                    def get_next(self) -> dict[str, np.ndarray] | None:
                        batch = next(self._it, None)
                        return None if batch is None else {INPUT: batch}

                quantize_static(
                    str(source), str(out_path), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                    nodes_to_exclude=softmax,
                )
                return {"method": "static", "format": "QDQ", "weights": "int8 per-channel",
                        "activations": "uint8, MinMax calibration",
                        "calibration_samples": int(sum(len(b) for b in batches))}
            quantize_dynamic(str(source), str(out_path), weight_type=QuantType.QInt8,
                             nodes_to_exclude=softmax)
            return {"method": "dynamic", "format": "QOperator", "weights": "int8",
                    "activations": "uint8, ranges per batch", "calibration_samples": 0}
    except BundleError:
        raise
    except Exception as exc:  # onnxruntime.quantization raises assorted types
        raise BundleError(f"INT8 quantization failed ({type(exc).__name__}: {exc})") from None
    finally:
        pre.unlink(missing_ok=True)
