"""``automl export | predict | serve | retrain``: registered by :func:`register` (issue 5).

Only typer is imported here; torch, onnx and fastapi load inside the commands, so
``automl --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from automl.cli.read import JsonOpt, StorageOpt
from automl.numbers import INT64_MAX, FromSetting, TrialChoice, Whole
from automl.serve import options as serve_opts

OutOpt = Annotated[Path, typer.Option("--out", help="New (or empty) folder for the bundle.")]
OnnxOpt = Annotated[bool, typer.Option("--onnx/--no-onnx", help="Also write model.onnx.")]
Pt2Opt = Annotated[bool, typer.Option(
    "--pt2/--no-pt2", help="Also write model.pt2 (torch.export; with --onnx).")]
QuantOpt = Annotated[str | None, typer.Option("--quantize", help="int8: add model.int8.onnx.")]
BackendOpt = Annotated[str, typer.Option("--backend", help="torch | onnx")]
Int8Opt = Annotated[bool, typer.Option("--int8", help="Use model.int8.onnx (onnx backend).")]
DataOpt = Annotated[str | None, typer.Option(
    "--data", help="Data source to load (digits, PATH.npz, PATH.csv, python:module:function).")]


def _warn(lines: list[str]) -> None:
    for line in lines:
        sys.stderr.write(f"warning: {line}\n")


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _summary(folder: Path, spec: dict[str, Any]) -> str:
    m, c, v = spec["metrics"], spec["costs"], spec.get("verification", {})
    lines = [f"trial {spec['trial']} ({spec['selected_by']}) -> {folder}",
             f"  val {_pct(m.get('val_accuracy'))}, test {_pct(m.get('test_accuracy'))}, "
             f"{c.get('params')} params, {c.get('flops') or 0:.4g} FLOPs"]
    if "onnx_max_abs_diff" in v:
        lines.append(f"  model.onnx ({spec['onnx']['exporter']} exporter, opset "
                     f"{spec['onnx']['opset']}): max |p_torch - p_onnx| = "
                     f"{v['onnx_max_abs_diff']:.1e} on {v['samples']} {v['inputs']} samples")
    pt2 = spec.get("pt2") or {}
    if pt2.get("status") == "ok":
        lines.append(f"  model.pt2 (torch.export): max |p_torch - p_pt2| = "
                     f"{pt2['max_abs_diff']:.1e}")
    elif pt2:
        lines.append(f"  model.pt2 not written: {pt2.get('error')}")
    q = spec.get("quantization")
    if q:
        f, i = q["float"], q["int8"]
        lines.append(f"  int8 ({q['method']}, {q['format']}): {f['size_bytes']} -> "
                     f"{i['size_bytes']} bytes ({q['size_ratio']:.2f}x smaller), test "
                     f"{_pct(f['test_accuracy'])} -> {_pct(i['test_accuracy'])}, latency "
                     f"{f['latency_ms']:.3f} -> {i['latency_ms']:.3f} ms")
    return "\n".join(lines)


def export(
    study: Annotated[str, typer.Argument(help="Study name.")],
    out: OutOpt,
    trial: Annotated[str, typer.Option(
        "--trial", help="best | knee | trial number", parser=TrialChoice())] = "best",
    pareto: Annotated[bool, typer.Option("--pareto", help="Every Pareto member.")] = False,
    storage: StorageOpt = None,
    onnx: OnnxOpt = True,
    pt2: Pt2Opt = True,
    quantize: QuantOpt = None,
    data: DataOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Write a trial as a self-contained bundle (weights, spec.json, ONNX, model card).

    best: highest validation accuracy; near-ties go to the steadier recent accuracy, then loss.

    knee: the Pareto member farthest above the line from the cheapest to the most accurate.

    The study's data is re-loaded to check the bundle on its test split; a python: source
    stored in the database runs only when passed with --data.
    """
    from automl import api

    report = api.export(study, out, trial=trial, pareto=pareto, storage=storage, onnx=onnx,
                        pt2=pt2, quantize=quantize, data=data)
    _warn(report.warnings)
    if json_:
        _say(json.dumps({"out": str(report.out), "warnings": report.warnings, "bundles": [
            {"folder": str(p), "spec": s} for p, s in report.bundles]}, indent=2))
        return
    for folder, spec in report.bundles:
        _say(_summary(folder, spec))
    _say(f"reproduce: {report.bundles[0][1]['reproduce']['command']}")


def predict(
    bundle: Annotated[Path, typer.Argument(help="Bundle folder.")],
    inputs: Annotated[Path, typer.Argument(
        help="INPUT.npz (array x), INPUT.csv, or for a table model INPUT.csv / .parquet with "
             "the training table's columns (picked by name).")],
    backend: BackendOpt = "torch",
    int8: Int8Opt = False,
    json_: JsonOpt = False,
) -> None:
    """Predict labels and probabilities for raw inputs (the stored preprocessing is applied)."""
    from automl.export.inputs import read_inputs
    from automl.export.predictor import Predictor

    predictor = Predictor(bundle, backend, quantized=int8)  # a bad bundle is named first
    x, y = read_inputs(inputs, predictor.table)
    out = predictor.predict(x)
    result = out.to_dict()
    if y is not None and len(y) == len(out.labels):
        truth = [str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
                 for v in y.tolist()]
        hits = sum(a == b for a, b in zip(truth, out.labels, strict=True))
        result["accuracy"] = hits / len(truth)
    if json_:
        result.pop("indices")
        _say(json.dumps(result))
        return
    for i, (label, p) in enumerate(zip(out.labels, out.probabilities.max(axis=1), strict=True)):
        _say(f"{i}\t{label}\t{p:.4f}")
    if "accuracy" in result:
        _say(f"accuracy {_pct(result['accuracy'])} on {len(out.labels)} labelled samples")


def serve(
    bundle: Annotated[Path, typer.Argument(help="Bundle folder.")],
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0: all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (1..65535).", parser=serve_opts.PORT)] = 8000,
    backend: BackendOpt = "torch",
    int8: Int8Opt = False,
    max_batch: Annotated[int, typer.Option(
        help="Largest batch per request (and per forward pass when micro-batching; 1..65536).",
        parser=serve_opts.MAX_BATCH)] = 1024,
    workers: Annotated[int, typer.Option(
        help="Uvicorn worker processes (1..64).", parser=serve_opts.WORKERS)] = 1,
    batch_wait_ms: Annotated[float | None, typer.Option(
        help="Micro-batching: stack requests arriving within MS (0..10000) into one forward "
             "pass (0: only those already waiting). Default: off.",
        parser=serve_opts.batch_wait_ms)] = None,
) -> None:
    """Serve a bundle over HTTP: POST /predict, GET /health /ready /metadata /metrics."""
    from automl.serve.run import serve as run_server

    run_server(bundle, host, port, backend, int8, max_batch, batch_wait_ms=batch_wait_ms,
               workers=workers)


def retrain(
    out: OutOpt,
    study: Annotated[str | None, typer.Argument(help="Study name (or use --from).")] = None,
    trial: Annotated[int | None, typer.Option(
        "--trial", help="Trial number.", parser=Whole("--trial", 0, INT64_MAX))] = None,
    from_: Annotated[Path | None, typer.Option("--from", help="Bundle to retrain (no DB)")] = None,
    epochs: Annotated[int | None, typer.Option(
        help="Epochs (default: the trial's).",
        parser=FromSetting("--epochs", "trainer.epochs", label=False))] = None,
    as_searched: Annotated[bool, typer.Option(
        "--as-searched", help="Train exactly as the search did (reproduces the trial).")] = False,
    storage: StorageOpt = None,
    onnx: OnnxOpt = True,
    pt2: Pt2Opt = True,
    quantize: QuantOpt = None,
    data: DataOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Retrain a trial's spec from scratch on train + validation and write a bundle.

    --as-searched trains on the train split as the search did, which reproduces the trial.

    --from BUNDLE needs --data: a bundle never chooses what is loaded or run. From the
    database, a stored python: source runs only when passed with --data.
    """
    from automl.export.bundle import BundleOptions
    from automl.export.errors import ExportError
    from automl.export.retrain import base_spec_from_bundle, base_spec_from_db, retrain

    if (from_ is None) == (study is None) or (study is not None and trial is None):
        raise ExportError("retrain: give STUDY --trial N, or --from BUNDLE")
    url = None
    if from_ is not None:
        base = base_spec_from_bundle(from_)
    else:
        assert study is not None and trial is not None
        base, url = base_spec_from_db(storage, study, trial)
    options = BundleOptions(onnx=onnx, quantize=quantize, pt2=pt2)
    report = retrain(base, out, epochs=epochs, as_searched=as_searched, options=options,
                     storage_url=url, data_source=data, from_bundle=from_ is not None)
    _warn(report.warnings)
    if not report.spec:  # a torchrun rank other than 0: rank 0 writes and reports
        return
    spec, r = report.spec, report.spec["retrain"]
    if json_:
        _say(json.dumps({"out": str(report.out), "warnings": report.warnings, "spec": spec}))
        return
    _say(_summary(report.out, spec))
    _say(f"  test accuracy {_pct(spec['metrics']['test_accuracy'])} retrained ({r['mode']}, "
         f"{r['epochs']} epochs, {r['train_samples']} samples) vs "
         f"{_pct(r['search_test_accuracy'])} at search time ({r['search_epochs']} epochs)")


def register(app: typer.Typer) -> None:
    """Add the model-reuse commands to ``app`` (keeps heavy imports inside the commands)."""
    app.command()(export)
    app.command()(predict)
    app.command()(serve)
    app.command()(retrain)
