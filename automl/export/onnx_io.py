"""ONNX export, checking and ONNX Runtime sessions.

The graph takes ``input`` (float32, ``(batch, *input_shape)``, raw: the bundle's
standardization is inside the graph, see :mod:`automl.export.graph`) and returns ``logits`` and
``probabilities`` (softmax over classes), with a dynamic batch axis, so a phone or a server can
use it without re-implementing either. The class names and the preprocessing are stored in the
model's ``metadata_props`` (:func:`set_metadata`).

Exporter: torch 2.13 offers the TorchScript exporter and the torch.export ("dynamo") one. Both
handle every op of our spaces (BatchNorm, depthwise conv, hardswish, gelu, adaptive average
pooling, dropout) with a dynamic batch axis; the TorchScript one exports our small networks in
about 0.3 s against 3-10 s and writes one self-contained file with BatchNorm folded, so it is the
default. It is deprecated, so ``auto`` falls back to the dynamo exporter when it fails (or is
gone), and the choice is recorded in ``spec.json``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.export.errors import BundleError

if TYPE_CHECKING:
    import numpy as np
    import onnxruntime
    from torch import nn

OPSET = 17  # onnxruntime >= 1.14 and most mobile runtimes support it
EXPORTERS = ("auto", "torchscript", "dynamo")
INPUT, OUTPUTS = "input", ("logits", "probabilities")


def _export(model: nn.Module, example: Any, path: Path, exporter: str) -> None:
    import torch

    names: dict[str, Any] = {"input_names": [INPUT], "output_names": list(OUTPUTS)}
    with warnings.catch_warnings():
        # The TorchScript exporter's deprecation notice and the dynamo exporter's torchvision
        # notices say nothing about this model; real export problems raise.
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            axes = {n: {0: "batch"} for n in (INPUT, *OUTPUTS)}
            torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=OPSET,
                              dynamic_axes=axes, do_constant_folding=True, **names)
            return
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        torch.onnx.export(model, (example,), str(path), dynamo=True, opset_version=18,
                          dynamic_shapes=({0: torch.export.Dim("batch")},),
                          external_data=False, optimize=True, verbose=False, **names)


def export_onnx(model: nn.Module, input_shape: Sequence[int], path: Path,
                exporter: str = "auto", preprocessing: dict[str, Any] | None = None,
                metadata: dict[str, str] | None = None) -> dict[str, Any]:
    """Write ``model`` (eval mode, CPU) to ``path`` and check it with ``onnx.checker``;
    with ``preprocessing`` the graph standardizes its (raw) input itself; ``metadata`` goes
    into ``metadata_props``.

    Returns ``{"exporter", "opset", "size_bytes", "input"}``.
    """
    import onnx
    import torch

    from automl.export.graph import with_preprocessing

    if exporter not in EXPORTERS:
        raise ValueError(f"exporter: {exporter!r} is not one of {', '.join(EXPORTERS)}")
    wrapped = with_preprocessing(model, preprocessing, input_shape)
    # Batch 2, not 1: a batch of one lets a tracer specialize the batch axis to a constant.
    example = torch.zeros((2, *input_shape), dtype=torch.float32)
    tried = ("torchscript", "dynamo") if exporter == "auto" else (exporter,)
    errors = []
    for name in tried:
        try:
            _export(wrapped, example, path, name)
            break
        except Exception as exc:  # exporters raise many types; try the next, then report
            errors.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    else:
        raise BundleError(f"ONNX export failed ({'; '.join(errors)})")
    if metadata:
        set_metadata(path, metadata)
    proto = onnx.load(str(path))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise BundleError(f"{path.name}: onnx.checker rejected the graph ({exc})") from None
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    return {"exporter": name, "opset": opset, "size_bytes": path.stat().st_size,
            "input": "raw" if preprocessing is not None else "standardized"}


def set_metadata(path: Path, props: dict[str, str]) -> None:
    """Store ``props`` in the model's ``metadata_props`` (readable with plain onnx or
    ``InferenceSession.get_modelmeta().custom_metadata_map``)."""
    import onnx

    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))


def session(path: Path, threads: int | None = None) -> onnxruntime.InferenceSession:
    """A CPU ONNX Runtime session; ``threads`` fixes intra-op threads (timings compare)."""
    import onnxruntime as ort

    if not path.is_file():
        how = "--quantize int8" if "int8" in path.name else "--onnx"
        raise BundleError(f"{path.parent}: bundle has no {path.name} (export with {how})")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # warnings about unused initializers are noise to a user
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise BundleError(f"{path}: ONNX Runtime cannot load it ({exc})") from None


Port = tuple[str, str, list[Any]]  # (name, type as ONNX Runtime spells it, shape)


def check_signature(sess: onnxruntime.InferenceSession, path: Path,
                    input_shape: Sequence[int], num_classes: int) -> None:
    """Refuse a graph whose input or outputs are not the ones spec.json describes, so a
    swapped graph fails once, at load, instead of on every request."""
    check_ports([(a.name, a.type, list(a.shape)) for a in sess.get_inputs()],
                [(a.name, a.type, list(a.shape)) for a in sess.get_outputs()],
                path, input_shape, num_classes)


def check_graph(path: Path, input_shape: Sequence[int], num_classes: int) -> dict[str, str]:
    """:func:`check_signature` without a session: the graph's inputs and outputs read with
    ``onnx`` (parsed, not run), or through ONNX Runtime where only it is installed (with
    neither, nothing here could run the graph: it is left to its sha256). Returns the graph's
    ``metadata_props``."""
    try:
        import onnx
    except ImportError:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return {}
        sess = session(path)
        check_signature(sess, path, input_shape, num_classes)
        return dict(sess.get_modelmeta().custom_metadata_map)
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and others
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise BundleError(f"{path}: not an ONNX model ({detail})") from None
    graph = proto.graph
    weights = {t.name for t in graph.initializer}
    check_ports([_port(v) for v in graph.input if v.name not in weights],
                [_port(v) for v in graph.output], path, input_shape, num_classes)
    return {p.key: p.value for p in proto.metadata_props}


def _port(value: Any) -> Port:
    """An ONNX ``ValueInfoProto`` as ONNX Runtime's session describes it."""
    import onnx

    tensor = value.type.tensor_type
    kind = onnx.TensorProto.DataType.Name(tensor.elem_type).lower() if tensor.elem_type else "?"
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in tensor.shape.dim]
    return value.name, f"tensor({kind})", dims


def check_ports(inputs: Sequence[Port], outputs: Sequence[Port], path: Path,
                input_shape: Sequence[int], num_classes: int) -> None:
    """One input ``input`` float32 ``(batch, *input_shape)`` with a free batch axis, and the
    outputs ``logits`` and ``probabilities`` ``(batch, num_classes)``, else a one-line
    BundleError naming ``path`` and what differs."""
    want = f"input {INPUT!r} float32 (batch, {', '.join(str(s) for s in input_shape)})"
    ok = (len(inputs) == 1 and inputs[0][0] == INPUT and inputs[0][1] == "tensor(float)"
          and len(inputs[0][2]) == len(input_shape) + 1
          and not isinstance(inputs[0][2][0], int)
          and list(inputs[0][2][1:]) == [int(s) for s in input_shape])
    if not ok:
        raise BundleError(f"{path}: graph input is not the {want} spec.json describes")
    shapes = {name: shape for name, _, shape in outputs}
    for name in OUTPUTS:
        shape = shapes.get(name)
        if shape is None or len(shape) != 2 or shape[1] != num_classes:
            raise BundleError(f"{path}: graph output {name!r} is not (batch, {num_classes}) as "
                              "spec.json describes")


def run(sess: onnxruntime.InferenceSession, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logits, probabilities) for a float32 batch (raw for a format-2 bundle's graphs)."""
    logits, probs = sess.run(list(OUTPUTS), {INPUT: x})
    return logits, probs
