"""``Predictor``: a bundle + a backend -> labels and probabilities for raw inputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl.export.errors import BundleError, InputError
from automl.export.inputs import as_batch
from automl.export.integrity import open_bundle
from automl.export.spec import ONNX, ONNX_INT8

BACKENDS = ("torch", "onnx")
CHUNK = 1024  # samples per forward pass: bounds memory for a large input file


@dataclass(frozen=True)
class Prediction:
    """``labels[i]`` is the class label of sample i (as in the training data), ``indices[i]``
    its class index, ``probabilities[i]`` the softmax over ``classes``."""

    labels: list[str]
    indices: np.ndarray
    probabilities: np.ndarray
    classes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"labels": self.labels, "indices": self.indices.tolist(),
                "probabilities": self.probabilities.tolist(), "classes": self.classes}


class Predictor:
    """Predict with a bundle folder written by ``automl export`` (or ``automl retrain``).

    ``backend="torch"`` runs the network rebuilt by :func:`automl.export.load_model`;
    ``backend="onnx"`` runs ``model.onnx`` (``quantized=True``: ``model.int8.onnx``) in ONNX
    Runtime on the CPU. Both take raw inputs: the torch backend applies the bundle's stored
    standardization first, the ONNX graphs hold it themselves (format 2; for a format-1 bundle
    it is applied before the graph). They agree to 1e-4 in probability (checked at export, and
    in the tests). The whole bundle is checked before either loads, whatever the backend
    (:mod:`automl.export.integrity`): every file against its sha256 in ``spec.json``, the
    weights against the architecture, the ONNX graphs against the input shape and classes.
    Nothing named in the bundle is imported or run.

    >>> p = Predictor("bundle/", backend="onnx")     # doctest: +SKIP
    >>> p.predict(x).labels                          # doctest: +SKIP
    """

    def __init__(self, bundle: str | Path, backend: str = "torch", *, quantized: bool = False,
                 threads: int | None = None) -> None:
        if backend not in BACKENDS:
            raise BundleError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        if quantized and backend != "onnx":
            raise BundleError("the INT8 model runs on the onnx backend (use backend='onnx')")
        self.folder = Path(bundle)
        self.spec = open_bundle(self.folder)
        self.backend = backend
        self.quantized = quantized
        self.threads = threads
        self.input_shape = tuple(int(s) for s in self.spec["input_shape"])
        # A table model's schema: raw rows are coded by column name (automl.data.table); only
        # a network with a table encoder reads a missing value.
        self.table: dict[str, Any] | None = self.spec["preprocessing"].get("table")
        self.reads_missing = self.spec["arch"].get("kind") == "table"
        self.classes = [str(c) for c in self.spec["classes"]]
        self._run = self._torch_runner() if backend == "torch" else self._onnx_runner()

    def _torch_runner(self) -> Any:
        import torch

        from automl.export.load import build_from_spec, load_state
        from trainer.runtime import torch_threads

        model = build_from_spec(self.spec, load_state(self.folder))  # checked in __init__

        def run(x: np.ndarray) -> np.ndarray:
            with torch_threads(self.threads), torch.inference_mode():
                logits = model(torch.from_numpy(self.standardize(x)))
                return torch.softmax(logits, dim=-1).numpy()

        return run

    def _onnx_runner(self) -> Any:
        from automl.export import onnx_io

        path = self.folder / (ONNX_INT8 if self.quantized else ONNX)  # checked in __init__
        sess = onnx_io.session(path, self.threads)  # a missing file: "bundle has no ..."
        onnx_io.check_signature(sess, path, self.input_shape, len(self.classes))
        if self.spec["format_version"] < 2:  # a format-1 graph takes standardized inputs
            return lambda x: onnx_io.run(sess, self.standardize(x))[1]
        return lambda x: onnx_io.run(sess, x)[1]

    def standardize(self, batch: np.ndarray) -> np.ndarray:
        """A raw float32 batch -> the standardized one the bare network takes."""
        from automl.data import apply_preprocessing

        return apply_preprocessing(batch, self.spec["preprocessing"])

    def preprocess(self, x: Any) -> np.ndarray:
        """Raw inputs -> the standardized float32 batch the bare network takes."""
        return self.standardize(self.batch(x))

    def batch(self, x: Any) -> np.ndarray:
        """Raw inputs (or a table's raw rows) as the float32 batch the model takes."""
        batch = as_batch(x, self.input_shape, self.table)
        if self.table is not None and not self.reads_missing and np.isnan(batch).any():
            column = self.table["columns"][int(np.argwhere(np.isnan(batch))[0][1])]["name"]
            raise InputError(f"missing value in column {column!r}: this model was trained on "
                             "a table without missing values")
        return batch

    def predict_proba(self, x: Any, *, check: bool = True) -> np.ndarray:
        """Class probabilities, ``(N, len(classes))`` float32. ``check``: an InputError when a
        sample's are not numbers (:func:`check_outputs`); the server checks each request's own
        rows of a micro-batch instead, so one client's sample never fails another's."""
        batch = self.batch(x)
        out = [self._run(np.ascontiguousarray(batch[i : i + CHUNK]))
               for i in range(0, len(batch), CHUNK)]
        probs = np.concatenate(out).astype(np.float32)
        if check:
            check_outputs(probs)
        return probs

    def predict(self, x: Any) -> Prediction:
        """Labels and probabilities for a batch of raw inputs (see :func:`as_batch`)."""
        probs = self.predict_proba(x)
        idx = probs.argmax(axis=1)
        return Prediction([self.classes[i] for i in idx], idx, probs, self.classes)


def check_outputs(probs: np.ndarray) -> None:
    """Refuse probabilities that are not numbers: finite inputs far outside the training range
    overflow the network (a label would be printed for them, and NaN is not JSON)."""
    bad = ~np.isfinite(probs).all(axis=1)
    if bad.any():
        raise InputError(f"sample {int(np.argmax(bad))}: the model's output is not a number "
                         "(its values are far outside the range the model was trained on)")
