"""``build_loss(spec, class_counts) -> nn.Module``: (logits (N, C), targets (N,)) -> mean loss.

Everything is computed in float32 from ``log_softmax`` (never ``log(softmax)``), with autocast
off, so bf16 logits and saturated predictions give finite losses and gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from search_spaces.loss.specs import LossSpec
from search_spaces.registry import Registry

# (1 - p_t) ** gamma has an infinite derivative at p_t = 1 when gamma < 1; flooring the base
# keeps the gradient finite (and zero, since clamp passes no gradient below its floor).
_FOCAL_FLOOR = 1e-12


def class_balanced_weights(class_counts: Sequence[int], beta: float) -> torch.Tensor:
    """Cui et al. 2019: ``w_c = (1 - beta) / (1 - beta ** n_c)``, scaled to sum to C.

    A class with no samples is weighted as if it had one (the largest weight), rather than
    dividing by zero. ``beta = 0`` gives equal weights; beta -> 1 approaches inverse frequency.
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"class_balanced_beta: need a value in [0, 1), got {beta}")
    counts = torch.tensor([int(n) for n in class_counts], dtype=torch.float64)
    if counts.numel() == 0 or bool((counts < 0).any()):
        raise ValueError(f"class_counts: need non-negative counts, got {list(class_counts)}")
    effective = 1.0 - torch.pow(torch.tensor(beta, dtype=torch.float64), counts.clamp(min=1))
    weights = (1.0 - beta) / effective
    return (weights * counts.numel() / weights.sum()).float()


def _smoothed_ce(spec: LossSpec, logp: torch.Tensor, logp_t: torch.Tensor) -> torch.Tensor:
    """As torch's cross_entropy: (1 - ls) * NLL + ls * mean over classes of -log p_c."""
    ls = spec.label_smoothing
    return (1.0 - ls) * -logp_t - ls * logp.mean(dim=1) if ls else -logp_t


def _target_logp(logp: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return logp.gather(1, target.unsqueeze(1)).squeeze(1)


def _ce(spec: LossSpec, logp: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return _smoothed_ce(spec, logp, _target_logp(logp, target))


def _focal(spec: LossSpec, logp: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    logp_t = _target_logp(logp, target)
    ce = _smoothed_ce(spec, logp, logp_t)
    if spec.gamma == 0.0:
        return ce
    # Focal with label smoothing modulates the smoothed CE: (1 - p_t)^gamma * CE_ls;
    # -expm1(log p) = 1 - p, accurate when p is close to 1.
    return (-torch.expm1(logp_t)).clamp(min=_FOCAL_FLOOR).pow(spec.gamma) * ce


def _poly1(spec: LossSpec, logp: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    logp_t = _target_logp(logp, target)
    return _smoothed_ce(spec, logp, logp_t) + spec.epsilon * -torch.expm1(logp_t)


def _composite(spec: LossSpec, logp: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return sum(
        (t.weight * per_sample_loss(t.loss, logp, target) for t in spec.terms),
        start=torch.zeros_like(logp[:, 0]),
    )


PerSampleLoss = Callable[[LossSpec, torch.Tensor, torch.Tensor], torch.Tensor]
# kind -> its per-sample loss; every kind of LOSS_SPEC_KINDS has one (a contract test checks).
LOSS_FUNCTIONS: Registry[PerSampleLoss] = Registry("loss function")
for _kind, _fn in (("ce", _ce), ("focal", _focal), ("poly1", _poly1), ("composite", _composite)):
    LOSS_FUNCTIONS.register(_kind)(_fn)


def per_sample_loss(spec: LossSpec, logp: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Unweighted per-sample loss ``(N,)`` from float32 log-probabilities ``(N, C)``."""
    return LOSS_FUNCTIONS.get(spec.kind)(spec, logp, target)


class SpecLoss(nn.Module):
    """The loss a :class:`LossSpec` describes; ``forward(logits, targets)`` -> scalar mean.

    With class weights the mean is ``sum_i w[y_i] * l_i / N`` (Cui et al.'s weighting with the
    weights summing to C), not torch's ``/ sum_i w[y_i]``.
    """

    class_weights: torch.Tensor | None

    def __init__(self, spec: LossSpec, class_weights: torch.Tensor | None = None) -> None:
        super().__init__()
        self.spec = spec
        # Not persistent: the weights follow from the spec and the data, not from training.
        self.register_buffer("class_weights", class_weights, persistent=False)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if logits.dim() != 2 or targets.shape != logits.shape[:1]:
            raise ValueError(
                f"loss: need logits (N, C) and targets (N,), got {tuple(logits.shape)} "
                f"and {tuple(targets.shape)}"
            )
        weights = self.class_weights
        if weights is not None and weights.numel() != logits.shape[1]:
            raise ValueError(
                f"loss: {weights.numel()} class counts were given but logits have "
                f"{logits.shape[1]} classes"
            )
        with torch.autocast(device_type=logits.device.type, enabled=False):
            logp = torch.log_softmax(logits.float(), dim=1)
            targets = targets.long()
            losses = per_sample_loss(self.spec, logp, targets)
            if weights is not None:
                losses = losses * weights.to(losses.device)[targets]
            return losses.mean()

    def extra_repr(self) -> str:
        return self.spec.formula


def build_loss(spec: LossSpec, class_counts: Sequence[int] | None = None) -> SpecLoss:
    """Build the loss module for ``spec``.

    ``class_counts`` (training samples per class) is only used when
    ``spec.class_balanced_beta`` is set; without counts, class balancing is a no-op (all
    weights 1), so a spec can be previewed or evaluated without the data at hand.
    """
    if not isinstance(spec, LossSpec):
        raise ValueError(f"build_loss: not a LossSpec: {type(spec).__name__}")
    weights = None
    if spec.class_balanced_beta is not None and class_counts is not None:
        weights = class_balanced_weights(class_counts, spec.class_balanced_beta)
    return SpecLoss(spec, weights)
