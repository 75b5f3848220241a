"""How the ranks of a run cooperate: the one thing that differs between one process and DDP.

The setup (:func:`trainer.core.fit`) and the loop (:func:`trainer.loop.train_loop`) are the same
for every run; they ask a :class:`Strategy` how to wrap the model, which samples this process
trains and evaluates, how gradients are synchronised, how metrics are reduced and how a stop
decision is agreed. This base class is the single-process strategy, where every answer is
"as is"; :class:`trainer.distributed.replica.DDPStrategy` is the multi-process one.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn

from trainer.data import Batches
from trainer.optim import build_optimizer
from trainer.types import TrainConfig


class Strategy:
    """One process: no wrapper, no shards, nothing to synchronise."""

    rank = 0
    world_size = 1

    def wrap(self, model: nn.Module, cfg: TrainConfig, device: torch.device) -> nn.Module:
        """The module that runs the training forward pass (the model itself here)."""
        return model

    def optimizer(self, cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
        return build_optimizer(cfg, model.parameters())

    def batches(self, n: int, cfg: TrainConfig, device: torch.device) -> Batches:
        """This process's training batches of each epoch."""
        return Batches(n, cfg.batch_size, cfg.seed, device)

    def shard(self, x: torch.Tensor) -> torch.Tensor:
        """This process's piece of an evaluation split (all of it here)."""
        return x

    def sync(self, last: bool) -> AbstractContextManager[object]:
        """Wraps a micro-batch's forward and backward; ``last``: the one that ends the step."""
        return nullcontext()

    def reduce(self, values: list[float], op: str = "sum") -> list[float]:
        """``values`` combined over the ranks (``op``: sum | max)."""
        return values

    def agree(self, stop: bool) -> bool:
        """The stop decision every rank follows, given this rank's (rank 0's counts)."""
        return stop

    def before_eval(self) -> None:
        """Make the ranks' models agree before they are evaluated."""
