"""Which samples each rank trains and evaluates on.

Every rank draws the same per-epoch permutation as the single-process trainer (it depends only
on ``(seed, epoch)``) and takes its contiguous piece of each global batch. This is what
``DistributedSampler`` does, with two differences that make N ranks with batch B/N train exactly
like one process with batch B: the pieces of one step are the single-process batch (the
sampler strides over the whole epoch instead), and no sample is repeated to pad the last batch
(the sampler pads). A final batch with fewer samples than ranks is dropped: every rank must
take part in every all-reduce. ``cfg.batch_size`` is the global batch size, so a trial means
the same optimisation whatever its process count.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from trainer.data import Batches


class ShardedBatches(Batches):
    """This rank's piece of each single-process batch, and the loss scale of the piece."""

    def __init__(
        self, n: int, batch_size: int, seed: int, device: torch.device, rank: int, world: int
    ) -> None:
        if batch_size < world:
            raise ValueError(f"batch_size {batch_size} < {world} ranks: every rank needs samples")
        super().__init__(n, batch_size, seed, device)
        self.rank = rank
        self.world = world

    @property
    def steps_per_epoch(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (rest >= self.world)

    def scaled(self, epoch: int) -> Iterator[tuple[torch.Tensor, float]]:
        # DDP averages gradients over ranks; a piece that holds more than 1/world of an uneven
        # batch is scaled up so the average equals the single-process batch gradient.
        for idx in self(epoch):
            if len(idx) < self.world:
                continue
            piece = idx.tensor_split(self.world)[self.rank]
            yield piece, self.world * len(piece) / len(idx)


def shard(x: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Contiguous piece ``rank`` of ``world`` along dim 0 (a view; pieces differ by <= 1 row)."""
    return x.tensor_split(world)[rank]

