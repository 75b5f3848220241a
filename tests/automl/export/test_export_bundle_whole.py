"""A bundle is checked as a whole whatever loads it: every backend (torch, ONNX, the INT8 graph),
``load_model``, ``automl predict`` and ``automl serve`` refuse a tampered or inconsistent bundle
with one line naming the file and what disagrees, even where that backend never reads the file
(``automl.export.integrity``). Each case tampers with a copy of the suite's real bundle."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bundle_kit import CNN, make_bundle
from cli_kit import run_here

from automl.export import Predictor, load_model
from automl.export.errors import BundleError
from automl.export.validate import sha256
from automl.serve.app import create_app

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

LOADERS: dict[str, Callable[[Path], Any]] = {
    "load_model": load_model,
    "torch": lambda f: Predictor(f, "torch"),
    "onnx": lambda f: Predictor(f, "onnx"),
    "int8": lambda f: Predictor(f, "onnx", quantized=True),
    "serve-onnx": lambda f: create_app(f, backend="onnx"),
}
CLI = {"predict-torch": ("predict",), "predict-onnx": ("predict", "--backend", "onnx"),
       "predict-int8": ("predict", "--backend", "onnx", "--int8"),
       "serve-torch": ("serve", "--port", "8765")}


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of another network: input (2, 8, 8) and 4 classes (the lab's: (1, 8, 8), 10)."""
    folder = tmp_path_factory.mktemp("whole") / "cnn"
    make_bundle(folder, CNN, quantize="int8", pt2=False)
    return folder


@pytest.fixture()
def bundle(lab: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "b"
    shutil.copytree(lab.best, folder)
    return folder


@pytest.fixture()
def inputs(tmp_path: Path) -> Path:
    path = tmp_path / "x.npz"
    np.savez(path, x=np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32) * 16)
    return path


def spec_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "spec.json").read_text())


def write(folder: Path, spec: dict[str, Any]) -> None:
    (folder / "spec.json").write_text(json.dumps(spec, indent=2))


def rehash(folder: Path, name: str) -> None:
    """What whoever rewrites spec.json can do: record a swapped file's checksum."""
    spec = spec_of(folder)
    spec["files"][name] = {"bytes": (folder / name).stat().st_size,
                           "sha256": sha256(folder / name)}
    write(folder, spec)


def edit(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    spec = spec_of(folder)
    change(spec)
    write(folder, spec)


def swap(folder: Path, other: Path, name: str, *, checksum: bool) -> None:
    shutil.copy(other / name, folder / name)
    if checksum:
        rehash(folder, name)


def arch_shapes(spec: dict[str, Any]) -> None:
    spec["arch"]["stem_width"] = spec["arch"]["stem_width"] // 2  # every shape after the stem


def arch_activation(spec: dict[str, Any]) -> None:
    # Same tensors, another function: the ONNX graph still computes the exported activation.
    spec["arch"]["activation"] = "relu" if spec["arch"]["activation"] != "relu" else "gelu"


def preprocessing(spec: dict[str, Any]) -> None:
    spec["preprocessing"]["mean"] = [m + 1.0 for m in spec["preprocessing"]["mean"]]


def no_checksum(name: str) -> Callable[[Path, Path], None]:
    return lambda f, o: edit(f, lambda s: s["files"].pop(name))


TAMPERS: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "arch-shapes": (lambda f, o: edit(f, arch_shapes),
                    "model.safetensors: weights do not match spec.json's architecture"),
    "arch-activation": (lambda f, o: edit(f, arch_activation),
                        "model.onnx: the graph's metadata 'arch' is not spec.json's"),
    "preprocessing": (lambda f, o: edit(f, preprocessing),
                      "model.onnx: the graph's metadata 'preprocessing' is not spec.json's"),
    "weights-swapped": (lambda f, o: swap(f, o, "model.safetensors", checksum=False),
                        "model.safetensors: sha256 does not match spec.json"),
    "weights-swapped-rehashed": (lambda f, o: swap(f, o, "model.safetensors", checksum=True),
                                 "model.safetensors: weights do not match spec.json's "
                                 "architecture"),
    "onnx-swapped": (lambda f, o: swap(f, o, "model.onnx", checksum=False),
                     "model.onnx: sha256 does not match spec.json"),
    "onnx-swapped-rehashed": (lambda f, o: swap(f, o, "model.onnx", checksum=True),
                              "model.onnx: graph input is not the input 'input' float32 "
                              "(batch, 1, 8, 8)"),
    "int8-swapped-rehashed": (lambda f, o: swap(f, o, "model.int8.onnx", checksum=True),
                              "model.int8.onnx: graph input is not"),
    "weights-missing": (lambda f, o: (f / "model.safetensors").unlink(),
                        "bundle has no model.safetensors"),
    **{f"no-checksum-{n}": (no_checksum(n), f"spec.json lists no checksum for {n}")
       for n in ("model.safetensors", "model.onnx", "model.int8.onnx")},
}


def refused_everywhere(folder: Path, inputs: Path, match: str,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    def started(*args: object, **kw: object) -> None:
        raise AssertionError("a refused bundle started a server")

    monkeypatch.setattr(uvicorn, "run", started)
    for name, load in LOADERS.items():
        with pytest.raises(BundleError) as info:
            load(folder)
        message = str(info.value)
        assert match in message and "\n" not in message, (name, message)
    for name, args in CLI.items():
        extra = (str(inputs),) if args[0] == "predict" else ()
        proc = run_here(args[0], str(folder), *extra, *args[1:], cwd=folder.parent, check=False)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, (name, proc.stderr)
        assert lines[0].startswith("error: ") and match in lines[0], (name, lines[0])


@pytest.mark.parametrize("kind", list(TAMPERS))
def test_a_tampered_bundle_is_refused_by_every_loader(bundle: Path, other: Path, inputs: Path,
                                                      kind: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    LOADERS["onnx"](bundle)  # the untampered copy loads
    tamper, match = TAMPERS[kind]
    tamper(bundle, other)
    refused_everywhere(bundle, inputs, match, monkeypatch)


def test_a_tampered_pt2_is_refused_though_nothing_loads_it(bundle: Path, inputs: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    if not (bundle / "model.pt2").is_file():
        pytest.skip("torch.export could not export this network: no model.pt2")
    with (bundle / "model.pt2").open("ab") as fh:
        fh.write(b"\0")
    refused_everywhere(bundle, inputs, "model.pt2: sha256 does not match spec.json",
                       monkeypatch)


def test_unexpected_files_are_fine_and_removed_extras_only_fail_who_asks(bundle: Path,
                                                                         inputs: Path) -> None:
    x = np.load(inputs)["x"]
    before = {k: load(bundle) for k, load in LOADERS.items() if k != "serve-onnx"}
    (bundle / "notes.txt").write_text("whatever")
    (bundle / "model.onnx.bak").write_bytes(b"not a bundle file")
    (bundle / "extras").mkdir()
    (bundle / "README.md").write_text("edited card")
    for name, load in LOADERS.items():
        loaded = load(bundle)
        if isinstance(loaded, Predictor):
            assert np.array_equal(loaded.predict_proba(x), before[name].predict_proba(x))
    proc = run_here("predict", str(bundle), str(inputs), "--backend", "onnx", "--int8",
                    cwd=bundle.parent)
    assert len(proc.stdout.splitlines()) == 2
    for name in ("model.pt2", "model.int8.onnx"):  # listed in spec.json, then removed
        (bundle / name).unlink(missing_ok=True)
    Predictor(bundle, "torch")
    Predictor(bundle, "onnx")
    with pytest.raises(BundleError, match="bundle has no model.int8.onnx"):
        Predictor(bundle, "onnx", quantized=True)


def test_a_graph_exported_before_the_arch_was_recorded_still_loads(bundle: Path) -> None:
    """Bundles exported before the graph's metadata recorded ``arch`` are compared on the
    input shape and preprocessing it does record."""
    import onnx

    from automl.export.onnx_io import set_metadata

    for name in ("model.onnx", "model.int8.onnx"):
        props = {p.key: p.value for p in onnx.load(str(bundle / name)).metadata_props}
        assert json.loads(props.pop("arch")) == spec_of(bundle)["arch"]
        set_metadata(bundle / name, props)
        rehash(bundle, name)
    for load in LOADERS.values():
        load(bundle)
    edit(bundle, arch_activation)  # not recorded: the graph's metadata cannot tell
    Predictor(bundle, "onnx")
    edit(bundle, preprocessing)  # recorded: refused
    with pytest.raises(BundleError, match="metadata 'preprocessing'"):
        Predictor(bundle, "torch")


def test_unreadable_weights_are_one_line(bundle: Path) -> None:
    (bundle / "model.safetensors").write_bytes(b"\xff" * 64)
    rehash(bundle, "model.safetensors")
    with pytest.raises(BundleError, match=r"model\.safetensors: cannot read weights") as info:
        Predictor(bundle, "onnx")
    assert "\n" not in str(info.value)
