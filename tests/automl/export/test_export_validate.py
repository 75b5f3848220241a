"""Tampered bundles: every spec.json field a loader reads is checked, and every file against
its sha256, with a one-line BundleError (never a traceback, never an HTTP 500)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from bundle_kit import CNN, MLP, edit_spec, make_bundle

from automl.export import Predictor, load_model, read_spec
from automl.export.errors import BundleError
from automl.export.spec import FORMAT_VERSION
from automl.serve.app import create_app


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("validate") / "mlp"
    make_bundle(folder, MLP, seed=0, quantize="int8", pt2=False)
    return folder


@pytest.fixture()
def bundle(pristine: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "b"
    shutil.copytree(pristine, folder)
    return folder


def refused(folder: Path, field: str | None, match: str = "") -> str:
    with pytest.raises(BundleError) as info:
        read_spec(folder)
    message = str(info.value)
    assert "\n" not in message and len(message) < 600, message
    if field is not None:
        assert f"field {field!r}" in message, message
    assert match in message, message
    return message


BAD_FIELDS: list[tuple[str, Any, str]] = [
    ("format_version", True, "integer"),
    ("format_version", "2", "integer"),
    ("format_version", 0, "integer"),
    ("format_version", 1.0, "integer"),
    ("input_shape", [], "1 to 4 positive integers"),
    ("input_shape", [1, 8, 0], "1 to 4 positive integers"),
    ("input_shape", [1, 8, 8.0], "1 to 4 positive integers"),
    ("input_shape", [1, 1, 1, 1, 1], "1 to 4 positive integers"),
    ("input_shape", [1, True, 8], "1 to 4 positive integers"),
    ("input_shape", [4096, 4096, 4096], "numbers per sample"),
    ("input_shape", "1,8,8", "1 to 4 positive integers"),
    ("input_shape", [1, 8, 9], "[1, 8, 9] does not match arch.input_shape [1, 8, 8]"),
    ("classes", [], "non-empty list"),
    ("classes", "abc", "non-empty list"),
    ("classes", [0, 1, 2], "strings"),
    ("classes", ["a", "b"], "has 2 names but the architecture has 3"),
    ("classes", ["x" * 5000, "b", "c"], "strings"),
    ("classes", ["a", "b", "a"], "names a class twice"),
    ("input_dtype", "object", "must be 'float32'"),
    ("input_dtype", ["float32"], "must be 'float32'"),
    ("preprocessing", None, "must be"),
    ("preprocessing", {"axis": "channel", "mean": [0.0], "std": [1.0], "code": "x"}, "must be"),
    ("preprocessing", {"axis": "feature", "mean": [0.0], "std": [1.0]}, "axis must be"),
    ("preprocessing", {"axis": "channel", "mean": [0.0, 1.0], "std": [1.0]}, "mean must be"),
    ("preprocessing", {"axis": "channel", "mean": ["0"], "std": [1.0]}, "finite numbers"),
    ("preprocessing", {"axis": "channel", "mean": [0.0], "std": [0.0]}, "std must be > 0"),
    ("preprocessing", {"axis": "channel", "mean": [0.0], "std": [-1.0]}, "std must be > 0"),
    ("preprocessing", {"axis": "channel", "mean": [True], "std": [1.0]}, "finite"),
    # A table's schema belongs to a network that reads table rows; an empty one to none.
    ("preprocessing", {"axis": "channel", "mean": [0.0], "std": [1.0],
                       "table": {"columns": [], "label": ""}}, "table.columns must match"),
    ("preprocessing", {"axis": "channel", "mean": [0.0], "std": [1.0], "table": {"columns": [
        {"name": "a", "kind": "numeric", "levels": []}], "label": ""}}, "must match"),
    ("arch", [], "must be an object"),
    ("arch", {"kind": "python:os:system"}, "not a valid architecture spec"),
    ("arch", {"kind": "mlp", "input_shape": [1, 8, 8], "num_classes": 3, "hidden": "x"},
     "not a valid architecture spec"),
    ("arch", {"kind": "cnn2d", "input_shape": [1, 8, 8], "num_classes": 3, "stages": 5},
     "not a valid architecture spec"),
    ("loss", {"kind": "python:os:system"}, "not a valid loss spec"),
    ("loss", [1, 2], "not a valid loss spec"),
    ("files", None, "must map file names"),
    ("files", {"../../etc/passwd": {"bytes": 1, "sha256": "0" * 64}}, "unknown file"),
    ("files", {"model.safetensors": {"bytes": 1, "sha256": "xyz"}}, "64 hex digits"),
    ("files", {"model.safetensors": "abc"}, "64 hex digits"),
    ("metrics", [1], "must be an object"),
    ("versions", "1.0", "must be an object"),
]


@pytest.mark.parametrize("field,value,match", BAD_FIELDS,
                         ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(BAD_FIELDS)])
def test_every_bad_field_is_a_one_line_error_naming_it(bundle: Path, field: str, value: Any,
                                                       match: str) -> None:
    spec = json.loads((bundle / "spec.json").read_text())
    before = copy.deepcopy(spec)
    if value is None:
        spec.pop(field)
    else:
        spec[field] = value
    (bundle / "spec.json").write_text(json.dumps(spec))
    refused(bundle, field, match)
    # The loaders and the server refuse it the same way, before anything is built.
    for load in (load_model, lambda f: Predictor(f, "onnx"), lambda f: create_app(f)):
        with pytest.raises(BundleError):
            load(bundle)
    (bundle / "spec.json").write_text(json.dumps(before))
    read_spec(bundle)  # the untampered spec is fine


def test_malformed_json_and_format(bundle: Path) -> None:
    spec_path = bundle / "spec.json"
    good = spec_path.read_text()
    cases = [
        (good.replace('"std": [', '"std": [NaN, '), None, "NaN is not valid JSON"),
        (good.replace('"trial": 0', '"trial": Infinity'), None, "Infinity is not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, None, "cannot read"),
        ("{", None, "cannot read"),
        ('"a string"', None, "not an automl bundle spec"),
        (good.replace('"automl-bundle"', '"other"'), None, "not an automl bundle spec"),
        (good.replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 99'),
         None, "newer than this automl reads"),
    ]
    for text, field, match in cases:
        spec_path.write_text(text)
        refused(bundle, field, match)
    spec_path.write_bytes(b"\xff\xfe\x00garbage")
    refused(bundle, None, "cannot read")


def test_a_weights_file_from_another_model_is_refused(pristine: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    make_bundle(other, MLP, seed=7, quantize="int8", pt2=False)  # same arch, other weights
    for i, (name, load) in enumerate((("model.safetensors", load_model),
                       ("model.safetensors", lambda f: Predictor(f, "torch")),
                       ("model.onnx", lambda f: Predictor(f, "onnx")),
                       ("model.int8.onnx", lambda f: Predictor(f, "onnx", quantized=True)))):
        folder = tmp_path / f"swap-{i}"
        shutil.copytree(pristine, folder)
        load(folder)  # loads before the swap
        shutil.copy(other / name, folder / name)
        with pytest.raises(BundleError, match="sha256 does not match spec.json") as info:
            load(folder)
        assert name in str(info.value) and "\n" not in str(info.value)


def test_a_file_without_a_checksum_entry_is_refused(bundle: Path) -> None:
    spec = json.loads((bundle / "spec.json").read_text())
    del spec["files"]["model.onnx"]
    (bundle / "spec.json").write_text(json.dumps(spec))
    # The bundle is checked as a whole: the torch backend, which never reads the graph,
    # refuses it too (tests/automl/export/test_export_bundle_whole.py).
    for backend in ("torch", "onnx"):
        with pytest.raises(BundleError, match="lists no checksum for model.onnx"):
            Predictor(bundle, backend)
    edit_spec(bundle, files={})
    with pytest.raises(BundleError, match="lists no checksum for model.safetensors"):
        load_model(bundle)
    with pytest.raises(BundleError, match="lists no checksum"):
        create_app(bundle)


def test_a_conv_bundle_with_a_foreign_architecture_is_refused(tmp_path: Path) -> None:
    make_bundle(tmp_path / "cnn", CNN, pt2=False)
    mlp = json.loads((tmp_path / "cnn" / "spec.json").read_text())
    mlp["arch"] = {"kind": "mlp", "input_shape": [2, 8, 8], "num_classes": 4, "hidden": [8]}
    (tmp_path / "cnn" / "spec.json").write_text(json.dumps(mlp))
    read_spec(tmp_path / "cnn")  # a well-formed spec, but not the one the weights are for
    with pytest.raises(BundleError, match="weights do not match"):
        load_model(tmp_path / "cnn")


def test_a_graph_of_another_shape_is_refused_even_with_its_checksum(bundle: Path,
                                                                      tmp_path: Path) -> None:
    """Whoever can rewrite spec.json can update a checksum: the graph's signature must still
    be the one spec.json describes, checked once at load rather than failing every request."""
    from automl.export.validate import sha256

    make_bundle(tmp_path / "cnn", CNN, pt2=False)  # input (2, 8, 8), 4 classes
    shutil.copy(tmp_path / "cnn" / "model.onnx", bundle / "model.onnx")
    spec = json.loads((bundle / "spec.json").read_text())
    spec["files"]["model.onnx"]["sha256"] = sha256(bundle / "model.onnx")
    (bundle / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(BundleError, match=r"graph input is not the input 'input' float32 "
                                          r"\(batch, 1, 8, 8\)") as info:
        Predictor(bundle, "onnx")
    assert "\n" not in str(info.value)
    with pytest.raises(BundleError, match="graph input"):
        create_app(bundle, backend="onnx")
    with pytest.raises(BundleError, match="graph input"):  # the bundle as a whole is refused
        Predictor(bundle, "torch")
