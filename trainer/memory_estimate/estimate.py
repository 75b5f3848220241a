"""What training a candidate holds, estimated on the meta device (see the package docstring)."""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from trainer.factories import ModelFactory, default_model_factory, set_checkpointing
from trainer.memory import PeakMemoryMeter
from trainer.memory_estimate.autocast import emulated_autocast
from trainer.memory_estimate.kernels import ShapeOnlyKernels
from trainer.step import member_logits
from trainer.types import DataSplits, TrainConfig

_AMP = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one training process holds, by what holds them.

    ``params``: parameters and buffers. ``optimizer``: the optimizer's state (this rank's shard
    under ZeRO). ``buckets``: DDP's gradient buckets, one more copy of the gradients (several
    processes only). ``batch``: one micro-batch of inputs and targets. ``activations``: the most
    the training forward holds at once on top of those (tensors saved for backward,
    temporaries). ``backward``: what backward adds at its peak on top of the forward's
    (gradients and their temporaries, recomputed activations; with ``grad_accum`` > 1 also the
    gradients accumulated so far). ``grads``: every gradient, as the optimizer step holds them;
    ``step``: the step's temporaries (and the last micro-batch's logits, still held). ``eval``:
    the most an evaluation batch holds. ``kept``: the CPU copy of the best weights (CPU training
    only). ``data``: the data splits, which the trainer moves to the device once (this
    process's share: the ranks of a CPU trial share one copy).
    """

    params: int
    optimizer: int
    buckets: int
    batch: int
    activations: int
    backward: int
    grads: int
    step: int
    eval: int
    kept: int = 0
    data: int = 0

    @property
    def step_peak(self) -> int:
        """The peak of an optimizer step once the optimizer state exists: what the trainer's
        :class:`~trainer.memory.PeakMemoryMeter` reports as ``peak_memory_mb``. The batch is
        still held while the optimizer steps."""
        resident = self.params + self.buckets + self.optimizer
        return resident + self.batch + max(self.activations + self.backward,
                                           self.grads + self.step)

    @property
    def eval_peak(self) -> int:
        """The peak of an evaluation batch, between epochs (the optimizer state still held)."""
        return self.params + self.buckets + self.optimizer + self.eval

    @property
    def total(self) -> int:
        """The most one training process holds at once: training or evaluating, with the data
        and the kept weights."""
        return self.data + self.kept + max(self.step_peak, self.eval_peak)


def estimate_training_memory(
    model: Any,
    cfg: TrainConfig | None = None,
    *,
    input_shape: Sequence[int] | None = None,
    data: DataSplits | None = None,
    batch_size: int | None = None,
    eval_batch_size: int | None = None,
    device: str | torch.device | None = None,
    model_factory: ModelFactory | None = None,
) -> MemoryEstimate:
    """Estimate what training ``model`` (an arch spec, or a module: copied to ``meta``) with
    ``cfg`` holds in one process, without allocating it (see :mod:`trainer.memory_estimate`).

    ``cfg`` supplies the batch sizes (``batch_size`` and ``eval_batch_size`` override them),
    ``optimizer``, ``weight_decay``, ``precision``, ``checkpointing``, ``grad_accum``, and
    ``nproc``, ``zero`` for DDP (``batch_size`` is the global batch, as in
    :func:`trainer.train`). ``data``, when given, gives the input shape, caps the batch sizes
    at the split sizes, and its splits are counted. ``device`` (default: ``cfg.device``, "auto"
    meaning CUDA when available) picks the optimizer's temporaries (CUDA steps all tensors at
    once) and whether the best weights' CPU copy counts. Raises what the network raises on
    ``meta`` (``NotImplementedError`` / ``RuntimeError`` for an op without a meta kernel).
    """
    cfg = cfg or TrainConfig()
    dev = torch.device(device) if device is not None else training_device(cfg.device)
    shape = _input_shape(model, input_shape, data)
    world = cfg.nproc
    batch = batch_size or cfg.batch_size
    eval_batch = eval_batch_size or cfg.eval_batch_size
    if data is not None:
        batch = min(batch, len(data.y_train))
        eval_batch = min(eval_batch, max(len(data.y_val), len(data.y_test), 1))
        eval_batch = _ceil_div(eval_batch, world)  # each rank evaluates its shard
    micro = _ceil_div(_ceil_div(batch, world), cfg.grad_accum)  # as the batches are split
    with torch.random.fork_rng(devices=[]):
        net = _meta_model(model, model_factory)
        with warnings.catch_warnings():  # the trainer warns about it when it trains
            warnings.simplefilter("ignore")
            set_checkpointing(net, cfg.checkpointing)
        amp = _AMP.get(cfg.precision)
        micro_b, forward, backward, logits = _train_pass(net, micro, shape, amp, dev.type)
        evaluating = _eval_pass(net, eval_batch, shape, amp, dev.type)
    trainable = [p for p in net.parameters() if p.requires_grad]
    params = sum(_nbytes(t) for t in (*net.parameters(), *net.buffers()))
    grads = sum(_nbytes(p) for p in trainable)
    sharded = _zero_shard(trainable, world) if world > 1 and cfg.zero else trainable
    state, temps = _optimizer_bytes(cfg, sharded, dev.type)
    # The whole local batch is gathered and held through the step; micro-batches are views.
    local = min(_ceil_div(batch, world), micro * cfg.grad_accum)
    batch_b = micro_b + (local - micro) * (math.prod(shape) * 4 + 8)
    return MemoryEstimate(
        params=params, optimizer=state, buckets=grads if world > 1 else 0, batch=batch_b,
        activations=forward - micro_b, backward=backward + (grads if cfg.grad_accum > 1 else 0),
        grads=grads, step=temps + logits, eval=evaluating, kept=params if dev.type == "cpu" else 0,
        data=_data_share(data, world, dev.type),
    )  # fmt: skip


def training_device(name: str) -> torch.device:
    """The device a trial with ``trainer.device = name`` trains on ("auto": CUDA when
    available). Unlike :func:`trainer.optim.resolve_device` it never raises: asking for absent
    CUDA is the trainer's to report."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def splits_bytes(data: DataSplits) -> int:
    """Bytes of the splits as the trainer holds them on the device (float32 x, int64 y)."""
    xs = (data.x_train, data.x_val, data.x_test)
    ys = (data.y_train, data.y_val, data.y_test)
    return sum(4 * int(x.size) for x in xs) + sum(8 * int(y.size) for y in ys)


def _data_share(data: DataSplits | None, world: int, device_type: str) -> int:
    if data is None:
        return 0
    # The ranks of a CPU trial share one copy (trainer.distributed.shm); on CUDA each rank
    # copies the splits to its own device.
    shared = device_type == "cpu" and world > 1
    return _ceil_div(splits_bytes(data), world) if shared else splits_bytes(data)


def _train_pass(net: nn.Module, n: int, shape: tuple[int, ...], amp: torch.dtype | None,
                device_type: str) -> tuple[int, int, int, int]:
    """(batch, forward peak, what backward adds beyond it, logits) of one training micro-batch:
    the logits of the last micro-batch are still held while the optimizer steps."""
    net.train()
    meter = PeakMemoryMeter("meta", resident=(*net.parameters(), *net.buffers()))
    base = meter.peak_bytes
    # The emulation stays on through backward: checkpointing recomputes the forward there.
    with ShapeOnlyKernels(), meter, emulated_autocast(amp, device_type) as autocast:
        x = torch.empty((n, *shape), device="meta")  # a gathered batch: a fresh tensor
        y = torch.zeros(n, dtype=torch.long, device="meta")
        batch = meter.peak_bytes - base
        logits = net(x)
        autocast.forward_done()
        forward = meter.peak_bytes - base
        F.cross_entropy(*member_logits(logits.float(), y)).backward()  # in fp32, as trained
        held = _nbytes(logits)
        del logits
    net.zero_grad(set_to_none=True)
    return batch, forward, meter.peak_bytes - base - forward, held


def _eval_pass(net: nn.Module, n: int, shape: tuple[int, ...], amp: torch.dtype | None,
               device_type: str) -> int:
    """The most one evaluation batch holds (its input is a view of the split: not counted)."""
    net.eval()
    x = torch.empty((n, *shape), device="meta")
    meter = PeakMemoryMeter("meta")
    with torch.no_grad(), ShapeOnlyKernels(), meter, emulated_autocast(amp, device_type):
        F.cross_entropy(net(x).float(), torch.zeros(n, dtype=torch.long, device="meta"))
    return meter.peak_bytes


def _optimizer_bytes(cfg: TrainConfig, params: list[nn.Parameter], device_type: str
                     ) -> tuple[int, int]:
    """(state, step temporaries) of ``trainer.optim.build_optimizer``'s optimizer.

    AdamW keeps two moments per parameter and a step counter per tensor; SGD with momentum one
    buffer. On CUDA torch steps every tensor at once (``foreach``), so a temporary the size of
    all gradients exists (AdamW's sqrt of the second moment; SGD's Nesterov sum, and one more
    with weight decay); on the CPU one parameter at a time (at most two of the largest).
    """
    total, largest = sum(_nbytes(p) for p in params), _largest(params)
    if cfg.optimizer == "adamw":
        return 2 * total + 4 * len(params), (total if device_type == "cuda" else 2 * largest)
    extra = 2 if cfg.weight_decay else 1
    return total, (extra * total if device_type == "cuda" else extra * largest)


def _zero_shard(params: list[nn.Parameter], world: int) -> list[nn.Parameter]:
    """The parameters whose state the most loaded rank keeps under ZeRO, which hands them out
    as ``ZeroRedundancyOptimizer`` does: largest first, each to the least loaded rank."""
    ranks: list[list[nn.Parameter]] = [[] for _ in range(world)]
    loads = [0] * world
    for p in sorted(params, key=_nbytes, reverse=True):
        least = loads.index(min(loads))
        ranks[least].append(p)
        loads[least] += _nbytes(p)
    return ranks[loads.index(max(loads))]


def _largest(params: list[nn.Parameter]) -> int:
    return max((_nbytes(p) for p in params), default=0)


def _meta_model(model: Any, factory: ModelFactory | None) -> nn.Module:
    if not isinstance(model, nn.Module):
        with torch.device("meta"):
            return (factory or default_model_factory)(model)
    # A copy whose tensors are meta tensors of the same shapes: deepcopy takes them from the
    # memo instead of copying the real ones, so no memory is allocated.
    memo: dict[int, Any] = {}
    for t in (*model.parameters(), *model.buffers()):
        meta = torch.empty_like(t, device="meta")
        memo[id(t)] = nn.Parameter(meta, t.requires_grad) if isinstance(t, nn.Parameter) else meta
    return copy.deepcopy(model, memo)


def _input_shape(model: Any, shape: Sequence[int] | None, data: DataSplits | None
                 ) -> tuple[int, ...]:
    if shape is None:
        shape = data.input_shape if data is not None else getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError("no input_shape given, and neither data nor the arch spec has one")
    return tuple(int(s) for s in shape)


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)
