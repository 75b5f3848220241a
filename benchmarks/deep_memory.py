"""How much memory does recomputation save on a 1207-layer CNN, and what does it cost in time?

Builds ``deep_resnet_spec(1207, (1, 8, 8), 10)`` (stem + 1203 residual conv3 blocks with
BatchNorm + 2 transitions + head = 1207 conv/linear layers) on the digits data and trains it for
a few SGD steps with ``checkpointing = none`` and ``sqrt`` (ceil(sqrt(1203)) = 35 segments).

* memory: the peak of one training step's forward + backward above the weights, read by the
  trainer's ``PeakMemoryMeter`` (CPU: every tensor storage an op allocates, recomputed
  activations included; CUDA: ``max_memory_allocated``). It holds the activations saved for
  backward -- what checkpointing changes -- plus the temporaries and the gradients being built
  (the gradients alone are printed too: the same in both modes).
* time: the median of ``--steps`` full steps (forward, backward, optimizer), the two modes
  alternating so that a busy machine slows both alike.

    .venv/bin/python benchmarks/deep_memory.py [--layers 1207] [--device cpu] [--json PATH]

Goal (issue 5): >= 3x less memory at <= 1.4x the time. Figures go to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from anywhere
from search_spaces import build_model, count_layers, deep_resnet_spec  # noqa: E402
from trainer import TrainConfig  # noqa: E402
from trainer.memory import PeakMemoryMeter  # noqa: E402
from trainer.optim import build_optimizer  # noqa: E402

MB = 2**20


def digits_batch(batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` standardized digits images (1x8x8) and their labels (random images of the
    same shape where scikit-learn is missing, e.g. on a bare GPU machine: memory and time do
    not depend on the pixel values)."""
    try:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
    except ImportError:
        rng = np.random.default_rng(0)
        x, y = rng.normal(size=(1797, 64)), rng.integers(0, 10, 1797)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))[:batch]
    images = torch.tensor(x, dtype=torch.float32)[idx].reshape(-1, 1, 8, 8)
    return images.to(device), torch.tensor(y)[idx].to(device)


def run(args: argparse.Namespace) -> dict[str, Any]:
    device = torch.device(args.device)
    torch.manual_seed(0)
    spec = deep_resnet_spec(args.layers, (1, 8, 8), 10, width=args.width)
    model = build_model(spec).to(device)
    optimizer = build_optimizer(TrainConfig(optimizer="sgd", lr=0.01), model.parameters())
    x, y = digits_batch(args.batch, device)
    grads_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / MB

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def step(meter: PeakMemoryMeter | None = None) -> float:
        optimizer.zero_grad(set_to_none=True)
        if meter is not None:
            meter.__enter__()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        if meter is not None:
            meter.__exit__(None, None, None)
        optimizer.step()
        return float(loss.detach())

    peaks, times, losses = {}, {m: [] for m in ("none", "sqrt")}, {}
    for mode in ("none", "sqrt"):
        model.checkpointing = mode
        step()  # warm-up: allocator, momentum buffers
        meter = PeakMemoryMeter(device)  # nothing resident: only what the step allocates
        losses[mode] = step(meter)
        peaks[mode] = meter.peak_mb
    for _ in range(args.steps):
        for mode in ("none", "sqrt"):
            model.checkpointing = mode
            sync()
            start = time.perf_counter()
            step()
            sync()
            times[mode].append(time.perf_counter() - start)
    seconds = {m: statistics.median(t) for m, t in times.items()}
    return {
        "layers": count_layers(spec),
        "blocks": len(model.blocks),
        "width": args.width,
        "batch": args.batch,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "params": sum(p.numel() for p in model.parameters()),
        "grads_mb": grads_mb,
        "peak_mb_none": peaks["none"],
        "peak_mb_sqrt": peaks["sqrt"],
        "step_s_none": seconds["none"],
        "step_s_sqrt": seconds["sqrt"],
        "memory_ratio": peaks["none"] / peaks["sqrt"],
        "time_ratio": seconds["sqrt"] / seconds["none"],
        "loss_after_warmup": losses,
        "machine": machine(device),
    }


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    return f"{model}, {torch.get_num_threads()} thread(s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=1207)
    parser.add_argument("--width", type=int, default=8, help="channels of every stage")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per mode")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads on CPU")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    r = run(args)
    print(f"{r['layers']}-layer residual CNN ({r['blocks']} blocks incl. transitions, "
          f"width {r['width']}, {r['params']:,} params), batch {r['batch']}, {r['device']} "
          f"({r['machine']})")
    print(f"{'checkpointing':<14}{'peak MB (fwd+bwd)':>18}{'step s':>9}")
    for mode in ("none", "sqrt"):
        print(f"{mode:<14}{r[f'peak_mb_{mode}']:>18.1f}{r[f'step_s_{mode}']:>9.3f}")
    print(f"gradients alone: {r['grads_mb']:.1f} MB")
    print(f"memory none/sqrt = {r['memory_ratio']:.2f}x (goal >= 3), "
          f"time sqrt/none = {r['time_ratio']:.2f}x (goal <= 1.4)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
