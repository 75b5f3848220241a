"""Load a bundle's network: ``spec.json`` + ``model.safetensors`` -> ``nn.Module``.

No pickle and no database: the architecture is rebuilt from its JSON spec by the same pure
builder the search used (``search_spaces.build_model``), and the weights are plain tensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.export.errors import BundleError
from automl.export.integrity import open_bundle
from automl.export.spec import WEIGHTS

if TYPE_CHECKING:
    from torch import nn


def build_from_spec(spec: dict[str, Any], state: dict[str, Any]) -> nn.Module:
    """The network ``spec["arch"]`` describes, holding ``state``, in eval mode."""
    import torch

    from search_spaces import arch_from_dict, build_model

    try:
        arch = arch_from_dict(spec["arch"])
    except (ValueError, TypeError, KeyError) as exc:
        raise BundleError(f"spec.json: bad architecture spec ({exc})") from None
    # Built on the meta device, then the loaded tensors are assigned: no random init, no RNG
    # use, and no second copy of the weights.
    with torch.device("meta"):
        model = build_model(arch, checkpointing="none")
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[1:3]) or first[0]
        raise BundleError(f"weights do not match spec.json's architecture: {detail}") from None
    return model.eval()


def load_state(folder: Path) -> dict[str, Any]:
    """The weights of a bundle as CPU tensors (safetensors: no code runs while loading)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / WEIGHTS
    if not path.is_file():
        raise BundleError(f"{folder}: bundle has no {WEIGHTS}")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise BundleError(f"{path}: cannot read weights ({exc})") from None


def load_model(bundle: str | Path) -> nn.Module:
    """The bundle's network in eval mode, built from ``spec.json`` and ``model.safetensors``.

    >>> model = load_model("bundle/")            # doctest: +SKIP
    >>> logits = model(torch.zeros(1, *model.spec.input_shape))  # doctest: +SKIP

    The model expects preprocessed inputs (see :class:`automl.export.Predictor`, which applies
    the stored standardization and returns labels and probabilities). The whole bundle is
    checked first (:mod:`automl.export.integrity`): every file against its sha256, the weights
    against the architecture, the ONNX graphs against the spec.
    """
    folder = Path(bundle)
    spec = open_bundle(folder)
    return build_from_spec(spec, load_state(folder))
