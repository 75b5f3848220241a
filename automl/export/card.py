"""The bundle's ``README.md``: a short model card rendered from ``spec.json``. Pure."""

from __future__ import annotations

from typing import Any


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * float(x):.2f}%"


def _num(x: Any) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, int) or float(x).is_integer():
        return f"{int(x):,}"
    return f"{float(x):.4g}"


def _arch_line(arch: dict[str, Any]) -> str:
    if arch.get("kind") == "table" and isinstance(arch.get("body"), dict):
        cols = arch.get("columns") or []
        cats = sum(1 for c in cols if isinstance(c, dict) and c.get("kind") == "categorical")
        how = ("one-hot" if arch.get("encoding") == "onehot"
               else f"embeddings of width {arch.get('embed_dim')}")
        return (f"table encoder ({len(cols)} columns, {cats} categorical as {how}; missing "
                f"values imputed and flagged), then {_arch_line(arch['body'])}")
    if arch.get("kind") == "mlp":
        k = arch.get("members")
        ensemble = (f", an efficient ensemble of {k} members (logits: the log of their mean "
                    f"probability)") if isinstance(k, int) and k > 1 else ""
        return (f"MLP, hidden {arch.get('hidden')}, {arch.get('activation')}, "
                f"norm {arch.get('norm')}{ensemble}")
    if arch.get("kind") == "rocket":
        per = arch.get("per_dilation") or []
        return (f"MiniRocket features ({84 * sum(per):,}: 84 fixed kernels at dilations "
                f"{arch.get('dilations')}), linear head, norm {arch.get('norm')}")
    stages = arch.get("stages") or []
    widths = "/".join(str(s.get("width")) for s in stages) or "-"
    ops = ", ".join(b.get("op", "?") for s in stages for b in s.get("blocks", [])) or "none"
    return (f"{arch.get('kind')} CNN, stem {arch.get('stem_width')}, stage widths {widths}, "
            f"blocks: {ops}; {arch.get('activation')}, norm {arch.get('norm')}")


def render_card(spec: dict[str, Any]) -> str:
    """Markdown for people: what the model is, how good and costly, how to use and rebuild it."""
    m, c, d = spec.get("metrics", {}), spec.get("costs", {}), spec.get("data", {})
    v = spec.get("versions", {})
    name = str(m.get("metric") or "accuracy").replace("_", " ")
    retrain = spec.get("retrain")
    by = "refit by the search" if (retrain or {}).get("by") == "search" else "retrained"
    origin = (f"{by} ({retrain['mode']}, {retrain['epochs']} epochs) from trial "
              f"{spec['trial']} of " if retrain
              else f"trial {spec['trial']} ({spec.get('selected_by')}) of ")
    lines = [
        f"# Model card: {spec.get('study')} / trial {spec.get('trial')}",
        "",
        f"{origin}study `{spec.get('study')}`; exported {spec.get('created_at')} with automl "
        f"{v.get('automl')} and torch {v.get('torch')}.",
        "",
        f"- **Architecture**: {_arch_line(spec['arch'])}",
        f"- **Loss**: `{spec.get('loss_formula')}`",
        _input_line(spec),
        f"- **Classes** ({len(spec['classes'])}): {', '.join(spec['classes'][:20])}"
        + (" ..." if len(spec["classes"]) > 20 else ""),
        f"- **Data**: `{d.get('source')}` (sha256 {str(d.get('sha256'))[:12]}...), split seed "
        f"{d.get('split_seed')}, training seed {spec.get('seed')}",
        "",
        "| metric | value |",
        "| --- | --- |",
        f"| validation {name} | {_pct(m.get('val_accuracy'))} |",
        f"| test {name} | {_pct(m.get('test_accuracy'))} |",
        f"| parameters | {_num(c.get('params'))} |",
        f"| FLOPs per sample | {_num(c.get('flops'))} |",
        f"| CPU latency, batch 1 (ms) | {_num(c.get('latency_ms'))} |",
    ]
    if retrain:
        search = _pct(retrain.get("search_test_accuracy"))
        lines.append(f"| test accuracy at search time | {search} |")
    return "\n".join(lines + _per_class_lines(m.get("test_per_class"))
                     + _quantization_lines(spec) + _column_lines(spec) + _usage_lines(spec))


def _input_line(spec: dict[str, Any]) -> str:
    table = spec["preprocessing"].get("table")
    if table:
        return (f"- **Input**: table rows with the {len(table['columns'])} columns below, "
                f"picked by name (label `{table['label']}` and other columns ignored); missing "
                "values and levels never seen in training are accepted")
    return (f"- **Input**: float32 `(N, {', '.join(str(s) for s in spec['input_shape'])})`, "
            f"standardized per {spec['preprocessing'].get('axis')} with the statistics in "
            "spec.json")


def _column_lines(spec: dict[str, Any], most: int = 8) -> list[str]:
    """A table model's column schema: kinds and (the first ``most``) levels."""
    table = spec["preprocessing"].get("table")
    if not table:
        return []
    lines = ["", "Input columns (the ONNX graph takes each categorical value as its index in "
             "the levels, -1 if unknown, and NaN for a missing value):", "",
             "| column | kind | levels |", "| --- | --- | --- |"]
    for c in table["columns"]:
        levels = ", ".join(str(v)[:30].replace("|", "/") for v in c["levels"][:most])
        more = f" ... ({len(c['levels'])} in all)" if len(c["levels"]) > most else ""
        lines.append(f"| {str(c['name'])[:60].replace('|', '/')} | {c['kind']} | "
                     f"{levels}{more} |")
    return lines


def _per_class_lines(per_class: Any, most: int = 50) -> list[str]:
    """Test accuracy of each class (the first ``most``), from ``metrics.test_per_class``."""
    if not isinstance(per_class, dict) or not per_class:
        return []
    items = list(per_class.items())
    lines = ["", "Test accuracy per class:", "", "| class | test accuracy |", "| --- | --- |"]
    lines += [f"| {str(k)[:80].replace('|', '/')} | "
              f"{_pct(v) if isinstance(v, float) else '- (no test sample)'} |"
              for k, v in items[:most]]
    return lines + ([f"| ... {len(items) - most} more | |"] if len(items) > most else [])


def _quantization_lines(spec: dict[str, Any]) -> list[str]:
    q = spec.get("quantization")
    if not q:
        return []
    lines = ["", f"INT8 ({q['method']} quantization, {q['format']}, ONNX Runtime):", "",
             "| model | file | size (bytes) | test accuracy | latency b=1 (ms) |",
             "| --- | --- | --- | --- | --- |"]
    for key, name in (("float", "model.onnx"), ("int8", "model.int8.onnx")):
        r = q[key]
        lines.append(f"| {key} | {name} | {_num(r.get('size_bytes'))} | "
                     f"{_pct(r.get('test_accuracy'))} | {_num(r.get('latency_ms'))} |")
    return lines


def _usage_lines(spec: dict[str, Any]) -> list[str]:
    return [
        "",
        "## Use",
        "",
        "```bash",
        "automl predict . INPUT.npz --backend onnx --json  # or INPUT.csv",
        "automl serve . --port 8000  # POST /predict, GET /health, GET /metadata",
        "```",
        "",
        "```python",
        "from automl import Predictor, load_model",
        'Predictor(".", backend="onnx").predict(x).labels   # raw inputs; preprocessing applied',
        'model = load_model(".")                            # nn.Module in eval mode',
        "```",
        "",
        "Files: `model.safetensors` (weights), `spec.json` (everything else, JSON, with the "
        "sha256 of every file, checked on load), `model.onnx` (takes raw float32 inputs, "
        "standardizes inside the graph, outputs `logits`, `probabilities`; classes and "
        "preprocessing in its metadata), `model.pt2` (the same as a torch.export program; "
        "`torch.export.load` unpickles, so load it only from a bundle you trust).",
        "",
        "## Reproduce from scratch",
        "",
        "```bash",
        spec.get("reproduce", {}).get("command", "n/a"),
        "```",
        "",
        spec.get("reproduce", {}).get("note", ""),
        "",
    ]
