"""How much memory does recomputation save on a 1207-layer CNN, and what does it cost in time?

Builds ``deep_resnet_spec(1207, (1, 8, 8), 10, width)`` (stem + 1203 residual conv3 blocks with
BatchNorm + 2 transitions + head = 1207 conv/linear layers) on the digits data and trains it for
a few SGD steps with ``checkpointing = none`` and ``sqrt`` (ceil(sqrt(1205)) = 35 segments), at
each ``--sizes`` width x batch.

* memory: the peak of one training step's forward + backward above the weights, read by the
  trainer's ``PeakMemoryMeter`` (CPU: every tensor storage an op allocates, recomputed
  activations included; CUDA: ``max_memory_allocated``). It holds the activations saved for
  backward -- what checkpointing changes -- plus the temporaries and the gradients being built
  (``grads_mb`` in the JSON: the same in both modes).
* time: the median of ``--steps`` full steps (forward, backward, optimizer), the two modes
  alternating so that a busy machine slows both alike. Recomputation reruns one forward, so
  ``(step + forward) / step`` of the plain run is the least it can cost (printed as ``floor``).

Why several sizes: at width 8 every op is tiny (8 channels of 8x8 pixels), so a step is
paced by per-op costs -- dispatch, autograd bookkeeping, the checkpoint's Python saved-tensor
hooks -- that recomputation pays again; at width 64 (a ResNet's first stage) a step is paced by
arithmetic, as training on a GPU is. The goal figures are the last size's.

    .venv/bin/python benchmarks/deep_memory.py [--sizes 8x128,32x128,64x128] [--json PATH]

Goal (issue 3): >= 3x less memory at <= 1.4x the time. Figures go to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from anywhere
from benchmarks.common import cpu_model, digits_xy, write_json  # noqa: E402
from search_spaces import build_model, count_layers, deep_resnet_spec  # noqa: E402
from trainer import TrainConfig  # noqa: E402
from trainer.memory import PeakMemoryMeter  # noqa: E402
from trainer.optim import build_optimizer  # noqa: E402

MB = 2**20


def digits_batch(batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` standardized digits images (1x8x8) and their labels."""
    x, y = digits_xy()
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))[:batch]
    images = torch.tensor(x, dtype=torch.float32)[idx].reshape(-1, 1, 8, 8)
    return images.to(device), torch.tensor(y)[idx].to(device)


MODES = ("none", "sqrt")  # checkpointing


def sgd_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
             y: torch.Tensor, device: torch.device,
             meter: PeakMemoryMeter | None = None) -> tuple[float, float, float]:
    """One SGD step; (forward, backward, optimizer) seconds. ``meter`` measures the forward
    and backward passes."""

    def now() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter()

    optimizer.zero_grad(set_to_none=True)
    if meter is not None:
        meter.__enter__()
    start = now()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    forward = now()
    loss.backward()
    backward = now()
    if meter is not None:
        meter.__exit__(None, None, None)
    optimizer.step()
    return forward - start, backward - forward, now() - backward


Step = Callable[..., tuple[float, float, float]]


def peak_memory(model: torch.nn.Module, step: Step, device: torch.device) -> dict[str, float]:
    """Peak MB of a step's forward and backward, per checkpointing mode."""
    peaks: dict[str, float] = {}
    for mode in MODES:
        model.checkpointing = mode
        step()  # warm-up: allocator, momentum buffers
        meter = PeakMemoryMeter(device)  # nothing resident: only what the step allocates
        step(meter)
        peaks[mode] = meter.peak_mb
    return peaks


def step_times(model: torch.nn.Module, step: Step,
               steps: int) -> dict[str, list[tuple[float, float, float]]]:
    """``steps`` timed steps per checkpointing mode."""
    parts: dict[str, list[tuple[float, float, float]]] = {mode: [] for mode in MODES}
    for _ in range(steps):
        for mode in parts:  # alternating, so that a busy machine slows both alike
            model.checkpointing = mode
            parts[mode].append(step())
    return parts


def measure(args: argparse.Namespace, width: int, batch: int) -> dict[str, Any]:
    """Peak memory and step time, checkpointing none vs sqrt, for one width and batch."""
    device = torch.device(args.device)
    torch.manual_seed(0)
    spec = deep_resnet_spec(args.layers, (1, 8, 8), 10, width=width)
    model = build_model(spec).to(device)
    optimizer = build_optimizer(TrainConfig(optimizer="sgd", lr=0.01), model.parameters())
    x, y = digits_batch(batch, device)
    grads_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / MB
    step = functools.partial(sgd_step, model, optimizer, x, y, device)
    peaks = peak_memory(model, step, device)
    parts = step_times(model, step, args.steps)
    seconds = {m: statistics.median(sum(p) for p in ps) for m, ps in parts.items()}
    forward, backward, _ = (statistics.median(c) for c in zip(*parts["none"], strict=True))
    return {
        "layers": count_layers(spec),
        "blocks": len(model.blocks),
        "width": width,
        "batch": batch,
        "params": sum(p.numel() for p in model.parameters()),
        "grads_mb": grads_mb,
        "peak_mb_none": peaks["none"],
        "peak_mb_sqrt": peaks["sqrt"],
        "step_s_none": seconds["none"],
        "step_s_sqrt": seconds["sqrt"],
        "forward_s_none": forward,
        "backward_s_none": backward,
        # Recomputation adds one forward: the least sqrt can cost, relative to none.
        "time_ratio_floor": (seconds["none"] + forward) / seconds["none"],
        "memory_ratio": peaks["none"] / peaks["sqrt"],
        "time_ratio": seconds["sqrt"] / seconds["none"],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    device = torch.device(args.device)
    sizes = [measure(args, width, batch) for width, batch in args.sizes]
    goal = sizes[-1]  # the goal is judged where arithmetic, not per-op overhead, sets the pace
    return {
        "layers": goal["layers"],
        "blocks": goal["blocks"],
        "device": str(device),
        "threads": torch.get_num_threads(),
        "machine": machine(device),
        "memory_ratio": goal["memory_ratio"],
        "time_ratio": goal["time_ratio"],
        "goal_size": f"{goal['width']}x{goal['batch']}",
        "sizes": sizes,
    }


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_model()}, {torch.get_num_threads()} thread(s)"


def size(text: str) -> tuple[int, int]:
    """``WIDTHxBATCH`` -> (width, batch)."""
    try:
        width, batch = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxBATCH, e.g. 32x256") from None
    if width < 1 or batch < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: width and batch must be >= 1")
    return width, batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=1207)
    parser.add_argument(
        "--sizes",
        type=lambda t: [size(v) for v in t.split(",")],
        default=[(8, 128), (32, 128), (64, 128)],
        help="WIDTHxBATCH,...: channels of every stage and batch, one measurement each; the goal "
        "figures are the last size's (default 8x128,32x128,64x128)",
    )
    parser.add_argument("--steps", type=int, default=5, help="timed steps per mode")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads on CPU")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    r = run(args)
    print(
        f"{r['layers']}-layer residual CNN ({r['blocks']} blocks incl. transitions) on digits, "
        f"{r['device']} ({r['machine']})"
    )
    print(
        f"{'width x batch':<14}{'checkpointing':<15}{'peak MB (fwd+bwd)':>18}{'step s':>9}"
        f"{'memory':>9}{'time':>7}{'floor':>7}"
    )
    for s in r["sizes"]:
        name = f"{s['width']} x {s['batch']}"
        print(f"{name:<14}{'none':<15}{s['peak_mb_none']:>18.1f}{s['step_s_none']:>9.3f}")
        print(
            f"{'':<14}{'sqrt':<15}{s['peak_mb_sqrt']:>18.1f}{s['step_s_sqrt']:>9.3f}"
            f"{s['memory_ratio']:>8.2f}x{s['time_ratio']:>6.2f}x{s['time_ratio_floor']:>6.2f}x"
        )
    print(
        "memory = none/sqrt, time = sqrt/none; floor = (step + forward)/step with none's "
        "forward: recomputation's least cost"
    )
    print(
        f"goal ({r['goal_size']}): memory {r['memory_ratio']:.2f}x (>= 3), "
        f"time {r['time_ratio']:.2f}x (<= 1.4)"
    )
    write_json(args.json, r)


if __name__ == "__main__":
    main()
