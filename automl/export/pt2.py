"""``model.pt2``: the network as a ``torch.export`` program (raw input, standardization inside,
``(logits, probabilities)`` out, dynamic batch axis), for ``torch.export.load`` and AOTInductor.

Trusted bundles only: ``torch.export.load`` (torch 2.13, ``torch/export/__init__.py``) warns that
it "uses pickle under the hood to load models. Never load data from an untrusted source", and
``torch/export/pt2_archive/_package.py`` does save some tensors with ``torch.save``. So automl
writes ``model.pt2`` but never loads it: the Predictor and the server use ``model.safetensors``
(no code on load) or ONNX. A failed export is recorded in ``spec.json`` and the bundle is
still written, since safetensors and ONNX are what automl itself relies on.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

NOTE = ("torch.export.load unpickles; load model.pt2 only from a bundle you trust "
        "(automl itself never loads it)")


def export_pt2(model: nn.Module, input_shape: Sequence[int], path: Path,
               preprocessing: dict[str, Any] | None, check: np.ndarray) -> dict[str, Any]:
    """Write ``path``; returns ``{"status": "ok", "probabilities": <the program's output on
    the raw batch check>, ...}`` or ``{"status": "failed", "error": ...}``."""
    import torch

    from automl.export.graph import with_preprocessing

    wrapped = with_preprocessing(model, preprocessing, input_shape)
    # Batch 2, not 1: torch.export specializes a dimension of size 1 to a constant.
    example = torch.zeros((2, *input_shape), dtype=torch.float32)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.export(
                wrapped, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},),
                strict=False)
            torch.export.save(program, str(path))
            with torch.inference_mode():
                probs = program.module()(torch.from_numpy(check))[1].numpy()
    except Exception as exc:  # torch.export raises many types; the bundle stays usable
        path.unlink(missing_ok=True)
        return {"status": "failed",
                "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                if str(exc) else type(exc).__name__}
    return {"status": "ok", "probabilities": probs,
            "input": "raw" if preprocessing is not None else "standardized",
            "outputs": ["logits", "probabilities"], "dynamic": ["batch"],
            "torch": torch.__version__, "note": NOTE}
