"""Cheap on-the-fly augmentation, applied to training batches only."""

from __future__ import annotations

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("none", "shift")


def random_shift(x: torch.Tensor, max_shift: int = 1) -> torch.Tensor:
    """Translate each image of ``(N, C, H, W)`` by up to ``max_shift`` pixels in each direction,
    filling with the edge values. Small translations are the classic digit augmentation: they
    cost two gathers per batch and are worth about a point of test accuracy on 8x8 digits."""
    n, c, h, w = x.shape
    m = max_shift
    padded = F.pad(x, (m, m, m, m), mode="replicate")
    dy = torch.randint(0, 2 * m + 1, (n,), device=x.device)
    dx = torch.randint(0, 2 * m + 1, (n,), device=x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device)[None]).view(n, 1, h, 1)
    padded = torch.gather(padded, 2, rows.expand(n, c, h, w + 2 * m))
    cols = (dx[:, None] + torch.arange(w, device=x.device)[None]).view(n, 1, 1, w)
    return torch.gather(padded, 3, cols.expand(n, c, h, w))


def augment(x: torch.Tensor, kind: str) -> torch.Tensor:
    """Apply augmentation ``kind`` to a training batch; only images are shifted."""
    if kind == "shift" and x.dim() == 4:
        return random_shift(x)
    return x
