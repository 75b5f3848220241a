"""One optimizer step over one batch, split into gradient-accumulation micro-batches."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager

import torch
from torch import nn

from trainer.errors import NonFiniteLossError


def member_logits(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, targets) for the loss: an ensemble's training output ``(N, k, classes)``
    (``search_spaces.arch.ensemble``) becomes ``N * k`` rows, each member's row against its
    sample's target, so that every member is trained as a model of its own; any other output
    is returned as it is."""
    if logits.dim() != 3:
        return logits, y
    return logits.flatten(0, 1), y.repeat_interleave(logits.shape[1], dim=0)


def optimizer_step(
    model: nn.Module,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    grad_accum: int,
    autocast: Callable[[], AbstractContextManager[object]],
    sync_context: Callable[[bool], AbstractContextManager[object]],
    epoch: int,
    step: int,
    loss_scale: float = 1.0,
) -> float:
    """Forward/backward the batch in ``grad_accum`` pieces, step, zero the grads.

    ``sync_context(is_last_micro_batch)`` wraps each micro-batch's forward and backward (DDP
    skips the gradient all-reduce until the last). Each micro-batch loss is weighted by its
    share of the batch (``1/grad_accum`` when the batch divides evenly), so for a loss that
    averages over samples the summed gradient equals that of the whole batch, also for an
    uneven last batch. ``loss_scale`` multiplies that
    weight: under DDP, which averages gradients over ranks, it is ``world * local / global``
    samples, so a rank holding a larger share of an uneven batch counts for more. Returns the
    sum of per-sample losses, for the epoch mean.
    """
    n = len(y)
    splits = zip(x.tensor_split(grad_accum), y.tensor_split(grad_accum), strict=True)
    pieces = [(xm, ym) for xm, ym in splits if len(ym)]  # fewer samples than micro-batches
    total = 0.0
    for i, (xm, ym) in enumerate(pieces):
        last = i == len(pieces) - 1
        with sync_context(last):
            with autocast():
                logits = model(xm)
            # The loss runs in fp32 outside autocast: custom losses get the precision they
            # were written for, whatever the network computed in.
            loss = loss_fn(*member_logits(logits.float(), ym))
            # One host sync per micro-batch: the price of naming the step that diverged.
            value = float(loss.detach())
            if not math.isfinite(value):
                raise NonFiniteLossError(epoch, step, value)
            weighted = loss * (len(ym) / n * loss_scale)
            (scaler.scale(weighted) if scaler is not None else weighted).backward()
        total += value * len(ym)
    if scaler is not None:
        scaler.step(optimizer)  # skips the step if the scaled gradients overflowed
        scaler.update()
    else:
        optimizer.step()
    # Freed now rather than before the next backward: the next forward runs without them.
    optimizer.zero_grad(set_to_none=True)
    return total
