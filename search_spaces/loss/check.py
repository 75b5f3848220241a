"""The rejection check every symbolic candidate passes before any training.

It takes milliseconds, as AutoLoss-Zero's loss-rejection and TaylorGLO's invariant screen do: on
a toy batch the loss and its gradient are finite, raising the labelled class's logit never raises
a sample's loss and lowers it for every wrongly predicted sample, and along a sweep of p_t from 0
to 1 the loss falls (never rises, and falls by more than a token amount). A loss that fails
cannot learn the labels, so training it would only spend the budget.
"""

from __future__ import annotations

import torch

from search_spaces.loss.build import build_loss
from search_spaces.loss.specs import LossSpec


class LossRejected(ValueError):
    """A searched loss failed the rejection check: prune the trial, do not train it."""


def rejection(spec: LossSpec) -> str | None:
    """Why ``spec`` cannot train a classifier, or None when it passes the check."""
    gen = torch.Generator().manual_seed(0)
    skewed = [50, 20, 10, 5, 1]  # a long-tailed prior, so prior-aware terms are exercised
    logits = (3.0 * torch.randn(64, 5, generator=gen)).requires_grad_()
    target = torch.randint(0, 5, (64,), generator=gen)
    values = build_loss(spec, skewed).per_sample(logits, target)
    if not values.requires_grad:
        return "the loss does not depend on the prediction"
    (grad,) = torch.autograd.grad(values.sum(), logits)
    if not (torch.isfinite(values).all() and torch.isfinite(grad).all()):
        return "non-finite loss or gradient on a toy batch"
    toward = grad.gather(1, target.unsqueeze(1)).squeeze(1)  # d loss_i / d z_(i, y_i)
    if bool((toward > 1e-6).any()) or float(toward.mean()) >= 0.0:
        return "raising the labelled class's logit raises the loss"
    wrong = logits.detach().argmax(1) != target
    if bool((toward[wrong] > -1e-12).any()):
        return "a wrong prediction gets no gradient"
    sweep = torch.zeros(81, 5)
    sweep[:, 0] = torch.linspace(-8.0, 8.0, 81)  # p_t from about 1e-4 to 0.9987
    with torch.no_grad():
        curve = build_loss(spec, [1] * 5).per_sample(sweep, torch.zeros(81, dtype=torch.long))
    if not torch.isfinite(curve).all():
        return "non-finite loss along p_t"
    scale = max(1.0, float(curve.abs().max()))
    if bool((curve.diff() > 1e-5 * scale).any()):
        return "the loss rises somewhere as p_t rises"
    if float(curve[0] - curve[-1]) < 1e-2 * scale:
        return "the loss barely changes with p_t"
    return None
