"""Inference speed of a searched model: torch eager vs ONNX Runtime float vs ONNX Runtime INT8.

Exports the study's best trial (``--trial``) with ``--quantize int8`` into a temporary bundle
(or uses ``--bundle DIR``), re-loads the study's test split, and measures for each backend, at
batch 1 and batch 256 and for each thread count: median latency per batch over ``--repeats``
runs after warm-up (the best of ``--rounds`` such medians), throughput (batch / latency) and
test accuracy. Prints a Markdown section (machine included) for ``benchmarks/RESULTS.md``.

    .venv/bin/python benchmarks/inference.py --storage sqlite:///automl.db --study digits-demo
        [--trial best] [--threads 1 2] [--repeats 300] [--bundle DIR] [--json out.json]

Make the demo study first with ``automl search examples/digits.toml``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere
from benchmarks.common import cpu_model, write_json  # noqa: E402

BATCHES = (1, 256)


def machine() -> str:
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu_model()}, {os.cpu_count()} logical CPUs, {system}"


def backends(bundle: Path, threads: int) -> dict[str, Any]:
    """name -> fn(raw batch) -> probabilities, each pinned to ``threads`` threads. The ONNX
    graphs standardize inside; torch eager standardizes first, as the Predictor does."""
    import torch

    from automl.data import apply_preprocessing
    from automl.export import onnx_io
    from automl.export.load import load_model
    from automl.export.spec import read_spec

    model = load_model(bundle)
    pre = read_spec(bundle)["preprocessing"]

    def torch_eager(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return torch.softmax(model(torch.from_numpy(apply_preprocessing(x, pre))),
                                 dim=-1).numpy()

    f32 = onnx_io.session(bundle / "model.onnx", threads)
    i8 = onnx_io.session(bundle / "model.int8.onnx", threads)
    return {"torch eager (fp32)": torch_eager,
            "ONNX Runtime fp32": lambda x: onnx_io.run(f32, x)[1],
            "ONNX Runtime INT8": lambda x: onnx_io.run(i8, x)[1]}


def measure(bundle: Path, threads_list: list[int], repeats: int, rounds: int) -> dict[str, Any]:
    import torch

    from automl.export.measure import accuracy, latency_ms
    from automl.export.spec import read_spec
    from automl.export.staging import data_config, reload_data

    spec = read_spec(bundle)
    data, warnings = reload_data(data_config(spec), required=True)
    assert data is not None
    from automl.export.graph import unstandardize

    x_test, y_test = unstandardize(data.splits.x_test, data.preprocessing), data.splits.y_test
    # Batch 256 from the test split, repeated if the split is smaller.
    big = np.ascontiguousarray(np.resize(x_test, (256, *x_test.shape[1:])), dtype=np.float32)
    rows = []
    for threads in threads_list:
        torch.set_num_threads(threads)
        for name, fn in backends(bundle, threads).items():
            acc = accuracy(fn(x_test), y_test)
            for batch in BATCHES:
                x = np.ascontiguousarray(big[:batch])
                n = repeats if batch == 1 else max(repeats // 5, 20)
                # The best of several rounds' medians: other jobs on a shared machine only
                # ever add time, so the smallest median is the closest to the model's own.
                ms = min(latency_ms(fn, x, repeats=n) for _ in range(rounds))
                rows.append({"backend": name, "threads": threads, "batch": batch,
                             "latency_ms": ms, "throughput": batch / (ms / 1e3),
                             "test_accuracy": acc})
    q = spec["quantization"]
    return {"machine": machine(), "load_average": os.getloadavg(), "warnings": warnings,
            "versions": spec["versions"], "study": spec["study"], "trial": spec["trial"],
            "arch": spec["arch"], "params": spec["costs"]["params"],
            "flops": spec["costs"]["flops"], "quantization": q, "rows": rows,
            "test_samples": int(len(y_test))}


def markdown(r: dict[str, Any]) -> str:
    q, v = r["quantization"], r["versions"]
    lines = [
        "## Inference: torch eager vs ONNX Runtime fp32 vs INT8 (issue 5)",
        "",
        f"Model: study `{r['study']}`, trial {r['trial']} (the best: highest validation "
        f"accuracy; ties to lower validation loss, then fewer FLOPs), {r['arch']['kind']}, "
        f"{r['params']:,} parameters, "
        f"{r['flops'] / 1e6:.2f} MFLOPs per sample; test split: {r['test_samples']} samples.",
        f"Machine: {r['machine']}; torch {v.get('torch')}, onnxruntime {v.get('onnxruntime')}, "
        f"Python {v.get('python')}. Load average during the run: "
        f"{', '.join(f'{x:.1f}' for x in r['load_average'])} (other jobs were running: "
        "compare rows with each other rather than with other machines).",
        "",
        f"INT8: {q['method']} quantization ({q['format']}; weights {q['weights']}; activations "
        f"{q['activations']}; {q['calibration_samples']} calibration samples).",
        "",
        "| file | size (bytes) | test accuracy |",
        "| --- | ---: | ---: |",
        f"| model.onnx (fp32) | {q['float']['size_bytes']:,} | "
        f"{100 * q['float']['test_accuracy']:.2f}% |",
        f"| model.int8.onnx | {q['int8']['size_bytes']:,} | "
        f"{100 * q['int8']['test_accuracy']:.2f}% |",
        f"| ratio / change | {q['size_ratio']:.2f}x smaller | "
        f"{0.0 - q['accuracy_drop_points']:+.2f} points |",
        "",
        f"Latency: median of {r['method']['repeats']} runs at batch 1 "
        f"({max(r['method']['repeats'] // 5, 20)} at batch 256) after warm-up, best of "
        f"{r['method']['rounds']} rounds; throughput = batch / latency.",
        "",
        "| backend | threads | batch | latency (ms) | throughput (samples/s) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in r["rows"]:
        lines.append(f"| {row['backend']} | {row['threads']} | {row['batch']} | "
                     f"{row['latency_ms']:.4f} | {row['throughput']:,.0f} |")
    lines += ["", "Reproduce: `.venv/bin/python benchmarks/inference.py --storage "
              "sqlite:///automl.db --study digits-demo` after `automl search "
              "examples/digits.toml`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default=None, help="study database URL")
    parser.add_argument("--study", default="digits-demo")
    parser.add_argument("--trial", default="best", help="best | knee | trial number")
    parser.add_argument("--bundle", type=Path, help="measure this bundle (needs int8) instead")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--repeats", type=int, default=300, help="timed runs per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best median counts")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    threads = sorted(set(args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        bundle = args.bundle
        if bundle is None:
            from automl.export.bundle import BundleOptions
            from automl.export.exporter import export_study
            from automl.policy.select import parse_choice

            bundle = Path(tmp) / "bundle"
            export_study(args.storage, args.study, parse_choice(args.trial), bundle,
                         options=BundleOptions(quantize="int8"))
        result = measure(bundle, threads, args.repeats, args.rounds)
        result["method"] = {"repeats": args.repeats, "rounds": args.rounds}
    write_json(args.json, result)
    print(markdown(result))


if __name__ == "__main__":
    main()
