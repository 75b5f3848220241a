"""Data on the training device and the batches drawn from it.

The splits are small, so they are moved to the device once and batches are gathered by index:
a ``DataLoader`` with workers would spend more time starting processes than training.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainer.metrics import Tallies
from trainer.types import DataSplits


@dataclass(frozen=True)
class TensorSplits:
    """:class:`DataSplits` as tensors on one device."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @classmethod
    def from_numpy(cls, data: DataSplits, device: torch.device) -> TensorSplits:
        # torch.tensor copies: the caller's arrays may be read-only or change later.
        def x(a: np.ndarray) -> torch.Tensor:
            return torch.tensor(np.asarray(a, dtype=np.float32), device=device)

        def y(a: np.ndarray) -> torch.Tensor:
            return torch.tensor(np.asarray(a, dtype=np.int64), device=device)

        return cls(
            x(data.x_train),
            y(data.y_train),
            x(data.x_val),
            y(data.y_val),
            x(data.x_test),
            y(data.y_test),
        )


class Batches:
    """Index batches of one epoch: a fresh shuffle per epoch, the last partial batch kept, except
    that a lone last sample joins the batch before it (batch norm cannot train on one sample).

    The shuffle of epoch ``e`` depends only on ``(seed, e)``, not on earlier epochs, so it is
    the same on every rank and after a restart. A distributed loop supplies a subclass that
    shards each batch (:class:`trainer.distributed.sharding.ShardedBatches`).
    """

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device) -> None:
        self.n = n
        self.batch_size = batch_size
        self.seed = seed
        self.device = device

    @property
    def steps_per_epoch(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (rest > 1 or (rest == 1 and full == 0))

    def __call__(self, epoch: int) -> Iterator[torch.Tensor]:
        generator = torch.Generator().manual_seed(_epoch_seed(self.seed, epoch))
        perm = torch.randperm(self.n, generator=generator).to(self.device)
        batches = list(perm.split(self.batch_size))
        if len(batches) > 1 and len(batches[-1]) == 1:
            batches[-2:] = [torch.cat(batches[-2:])]
        return iter(batches)

    def scaled(self, epoch: int) -> Iterator[tuple[torch.Tensor, float]]:
        """``(indices, loss_scale)`` pairs; the scale corrects the weight of a shard whose share
        of the batch differs from ``1 / world_size`` (always 1 in one process)."""
        return ((idx, 1.0) for idx in self(epoch))


def _epoch_seed(seed: int, epoch: int) -> int:
    # A large odd multiplier keeps (seed, epoch) and (seed + 1, epoch - 1) apart.
    return (seed * 1_000_003 + epoch) % 2**63


def accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    autocast: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> float:
    """Top-1 accuracy in eval mode (the model's mode is restored); NaN for an empty split."""
    if len(y) == 0:
        return float("nan")
    return count_correct(model, x, y, batch_size, autocast) / len(y)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    autocast: Callable[[], AbstractContextManager[object]] = nullcontext,
    num_classes: int | None = None,
) -> tuple[Tallies, float]:
    """Per-class tallies of the top-1 predictions and the summed cross-entropy (NLL), in eval
    mode: sums, unlike means, add up across ranks (give ``num_classes`` so that every rank's
    tallies have one length, an empty shard's too). The NLL is plain cross-entropy whatever
    loss was trained; it is reported, never used to choose between trials."""
    was_training = model.training
    model.eval()
    preds, nll, classes = [], 0.0, num_classes or 0
    try:
        for start in range(0, len(y), batch_size):
            with autocast():
                logits = model(x[start : start + batch_size])
            target = y[start : start + batch_size]
            preds.append(logits.argmax(dim=1).cpu())
            classes = classes or logits.shape[1]
            nll += float(F.cross_entropy(logits.float(), target, reduction="sum"))
    finally:
        model.train(was_training)
    pred = torch.cat(preds).numpy() if preds else np.zeros(0, np.int64)
    return Tallies.of(pred, y.cpu().numpy(), classes), nll


def count_correct(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    autocast: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> int:
    """Number of top-1 hits in eval mode: counts, unlike fractions, add up across ranks."""
    return evaluate(model, x, y, batch_size, autocast)[0].hits
