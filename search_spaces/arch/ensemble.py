"""An MLP as an efficient ensemble of ``k`` members (TabM-mini: Gorishniy et al. 2024, "TabM:
Advancing Tabular Deep Learning with Parameter-Efficient Ensembling").

Every member shares the hidden layers; member ``i`` multiplies the input by its own vector
``r_i`` (initialised to random signs, as TabM-mini does) and has its own linear head. The body
runs on ``(N * k, width)`` rows, so batch norm, dropout and activation recomputation work
unchanged. While training the head returns ``(N, k, classes)``: the trainer applies the loss to
every member's logits against the same target (``trainer.step.member_logits``), so the members
stay different models. In eval mode it returns the log of the members' mean probability: a
``(N, classes)`` logit row like any other network's, which export, ONNX and serving take as is.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class MemberInputs(nn.Module):
    """``(N, d)`` -> ``(N * k, d)``: the row repeated once per member, scaled by that member's
    learned vector."""

    def __init__(self, width: int, members: int) -> None:
        super().__init__()
        self.members = members
        signs = torch.randint(0, 2, (members, width)).float() * 2 - 1
        self.scale = nn.Parameter(signs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.unsqueeze(1) * self.scale).flatten(0, 1)


class MemberHeads(nn.Module):
    """``(N * k, width)`` -> ``(N, k, classes)`` while training, the log of the members' mean
    probability ``(N, classes)`` otherwise. Each head is initialised like ``nn.Linear``."""

    def __init__(self, width: int, classes: int, members: int) -> None:
        super().__init__()
        self.members = members
        bound = 1 / math.sqrt(width)
        self.weight = nn.Parameter(torch.empty(members, width, classes).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, classes).uniform_(-bound, bound))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h.unflatten(0, (-1, self.members)).transpose(0, 1)  # (k, N, width)
        # A batched matmul (not einsum): autocast and the memory estimate's emulation of it
        # cast matmul's inputs.
        logits = (torch.matmul(h, self.weight) + self.bias.unsqueeze(1)).transpose(0, 1)
        if self.training:
            return logits
        # log(mean_k softmax): the ensemble's probability as logits (softmax gives it back).
        return torch.logsumexp(torch.log_softmax(logits, dim=-1), dim=1) - math.log(self.members)
