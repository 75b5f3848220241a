"""``build_loss(spec, class_counts) -> nn.Module``: (logits (N, C), targets (N,)) -> mean loss.

Everything is computed in float32 from ``log_softmax`` (never ``log(softmax)``), with autocast
off, so bf16 logits and saturated predictions give finite losses and gradients.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from search_spaces.loss.specs import LossSpec
from search_spaces.loss.symbolic import evaluate
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


@dataclass(frozen=True)
class LossInputs:
    """What a per-sample loss reads: float32 logits ``(N, C)`` and their log-softmax, the
    targets ``(N,)`` and the log training frequency of every class ``(C,)`` (uniform when the
    counts are not known, which makes every prior adjustment a no-op)."""

    logits: torch.Tensor
    logp: torch.Tensor
    target: torch.Tensor
    log_prior: torch.Tensor

    @functools.cached_property
    def logp_t(self) -> torch.Tensor:
        """log p of each sample's labelled class ``(N,)``, gathered once per batch."""
        return self.logp.gather(1, self.target.unsqueeze(1)).squeeze(1)

    def adjusted(self, shift: torch.Tensor) -> LossInputs:
        """The same batch with ``logits + shift`` (``(C,)`` or ``(N, C)``)."""
        logits = self.logits + shift
        return LossInputs(logits, torch.log_softmax(logits, dim=1), self.target, self.log_prior)


def _smoothed_ce(ls: float, x: LossInputs) -> torch.Tensor:
    """As torch's cross_entropy: (1 - ls) * NLL + ls * mean over classes of -log p_c."""
    return (1.0 - ls) * -x.logp_t - ls * x.logp.mean(dim=1) if ls else -x.logp_t


def _ce(spec: LossSpec, x: LossInputs) -> torch.Tensor:
    return _smoothed_ce(spec.label_smoothing, x)


def _focal(spec: LossSpec, x: LossInputs) -> torch.Tensor:
    ce = _smoothed_ce(spec.label_smoothing, x)
    if spec.gamma == 0.0:
        return ce
    # Focal with label smoothing modulates the smoothed CE: (1 - p_t)^gamma * CE_ls;
    # -expm1(log p) = 1 - p, accurate when p is close to 1.
    return (-torch.expm1(x.logp_t)).clamp(min=_FOCAL_FLOOR).pow(spec.gamma) * ce


def _poly1(spec: LossSpec, x: LossInputs) -> torch.Tensor:
    return _smoothed_ce(spec.label_smoothing, x) + spec.epsilon * -torch.expm1(x.logp_t)


def _composite(spec: LossSpec, x: LossInputs) -> torch.Tensor:
    return sum((t.weight * per_sample_loss(t.loss, x) for t in spec.terms),
               start=torch.zeros_like(x.logp[:, 0]))


def _gce(spec: LossSpec, x: LossInputs) -> torch.Tensor:
    # (1 - p_t^q) / q = -expm1(q log p_t) / q: exact near p_t = 1, finite at p_t = 0.
    return -torch.expm1(spec.q * x.logp_t) / spec.q


# Wang et al.'s reverse cross-entropy clips log 0 to A = log 1e-4: RCE = -A * (1 - p_t).
_RCE_A = 4.0 * math.log(10.0)


def _rce(x: LossInputs) -> torch.Tensor:
    return _RCE_A * -torch.expm1(x.logp_t)


def _sce(spec: LossSpec, x: LossInputs) -> torch.Tensor:
    return spec.alpha * -x.logp_t + spec.beta * _rce(x)


def _nce_rce(spec: LossSpec, x: LossInputs) -> torch.Tensor:
    nce = x.logp_t / x.logp.sum(dim=1)  # (-log p_t) / sum_k (-log p_k), in [0, 1]
    return spec.alpha * nce + spec.beta * _rce(x)


def _bootstrap(spec: LossSpec, x: LossInputs) -> torch.Tensor:
    # Soft bootstrapping: the target mixes the label with the prediction q, gradient through
    # both (with q detached the second term's gradient q - q would vanish): b·CE + (1-b)·H(q).
    b = spec.label_weight
    return b * -x.logp_t - (1.0 - b) * (x.logp.exp() * x.logp).sum(dim=1)


def _logit_adjust(spec: LossSpec, x: LossInputs) -> torch.Tensor:
    return -x.adjusted(spec.tau * x.log_prior).logp_t


def _balanced_softmax(spec: LossSpec, x: LossInputs) -> torch.Tensor:
    return -x.adjusted(x.log_prior).logp_t


def _ldam(spec: LossSpec, x: LossInputs) -> torch.Tensor:
    # m_c = C / n_c^(1/4), scaled so the rarest class gets ``margin`` (Cao et al. 2019).
    m = torch.exp(-0.25 * x.log_prior)
    m = m * (spec.margin / m.max())
    shift = torch.zeros_like(x.logits).scatter(1, x.target.unsqueeze(1),
                                               -m[x.target].unsqueeze(1))
    return -x.adjusted(shift).logp_t


def _symbolic(spec: LossSpec, x: LossInputs) -> torch.Tensor:
    assert spec.expression is not None  # the spec refuses a symbolic loss without one
    if spec.tau:
        x = x.adjusted(spec.tau * x.log_prior)
    others = x.logits.scatter(1, x.target.unsqueeze(1), float("-inf"))
    leaves = {"p": x.logp_t.exp(), "logp": x.logp_t, "prior": x.log_prior[x.target].exp(),
              "margin": x.logits.gather(1, x.target.unsqueeze(1)).squeeze(1)
              - others.max(dim=1).values}
    return evaluate(spec.expression, leaves)


PerSampleLoss = Callable[[LossSpec, LossInputs], torch.Tensor]
# kind -> its per-sample loss; every kind of LOSS_SPEC_KINDS has one (a contract test checks).
LOSS_FUNCTIONS: Registry[PerSampleLoss] = Registry("loss function")
for _kind, _fn in (("ce", _ce), ("focal", _focal), ("poly1", _poly1), ("composite", _composite),
                   ("gce", _gce), ("sce", _sce), ("nce_rce", _nce_rce), ("bootstrap", _bootstrap),
                   ("logit_adjust", _logit_adjust), ("balanced_softmax", _balanced_softmax),
                   ("ldam", _ldam), ("symbolic", _symbolic)):
    LOSS_FUNCTIONS.register(_kind)(_fn)


def per_sample_loss(spec: LossSpec, x: LossInputs) -> torch.Tensor:
    """Unweighted per-sample loss ``(N,)``."""
    return LOSS_FUNCTIONS.get(spec.kind)(spec, x)


def log_prior(class_counts: Sequence[int] | None, num_classes: int) -> torch.Tensor:
    """log of the training class frequencies (a class with no sample counts as one)."""
    if class_counts is None:
        return torch.full((num_classes,), -math.log(num_classes))
    counts = torch.tensor([max(1, int(n)) for n in class_counts], dtype=torch.float64)
    return (counts / counts.sum()).log().float()


class SpecLoss(nn.Module):
    """The loss a :class:`LossSpec` describes; ``forward(logits, targets)`` -> scalar mean.

    With class weights the mean is ``sum_i w[y_i] * l_i / N`` (Cui et al.'s weighting with the
    weights summing to C), not torch's ``/ sum_i w[y_i]``. A spec with ``reweight_from`` weights
    only once :meth:`set_epoch` has passed that fraction of the epochs (the trainer calls it
    before every epoch with the candidate's own epoch count).
    """

    class_weights: torch.Tensor | None
    log_prior: torch.Tensor | None

    def __init__(self, spec: LossSpec, class_weights: torch.Tensor | None = None,
                 log_prior: torch.Tensor | None = None) -> None:
        super().__init__()
        self.spec = spec
        # Not persistent: the weights follow from the spec and the data, not from training.
        self.register_buffer("class_weights", class_weights, persistent=False)
        self.register_buffer("log_prior", log_prior, persistent=False)
        self.weighting = not spec.reweight_from

    def set_epoch(self, epoch: int, epochs: int) -> None:
        """Epoch ``epoch`` (1-based) of ``epochs`` is next: deferred weights start after
        ``reweight_from * epochs`` epochs (0.8 of 10: epochs 9 and 10)."""
        self.weighting = epoch > math.floor(self.spec.reweight_from * epochs)

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The unweighted loss of each sample ``(N,)``, in float32 with autocast off."""
        if logits.dim() != 2 or targets.shape != logits.shape[:1]:
            raise ValueError(
                f"loss: need logits (N, C) and targets (N,), got {tuple(logits.shape)} "
                f"and {tuple(targets.shape)}"
            )
        classes = logits.shape[1]
        for name, given in (("class_weights", self.class_weights), ("log_prior", self.log_prior)):
            if given is not None and given.numel() != classes:
                raise ValueError(f"loss: {given.numel()} class counts were given but logits "
                                 f"have {classes} classes ({name})")
        with torch.autocast(device_type=logits.device.type, enabled=False):
            z = logits.float()
            prior = self.log_prior if self.log_prior is not None else log_prior(None, classes)
            x = LossInputs(z, torch.log_softmax(z, dim=1), targets.long(), prior.to(z.device))
            return per_sample_loss(self.spec, x)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        losses = self.per_sample(logits, targets)
        with torch.autocast(device_type=logits.device.type, enabled=False):
            if self.class_weights is not None and self.weighting:
                losses = losses * self.class_weights.to(losses.device)[targets.long()]
            return losses.mean()

    def extra_repr(self) -> str:
        return self.spec.formula


def build_loss(spec: LossSpec, class_counts: Sequence[int] | None = None) -> SpecLoss:
    """Build the loss module for ``spec``.

    ``class_counts`` (training samples per class) give the class-balancing weights and the
    class frequencies π of the prior-aware kinds; without counts both are uniform (weights 1,
    adjustments no-ops), so a spec can be previewed or evaluated without the data at hand.
    """
    if not isinstance(spec, LossSpec):
        raise ValueError(f"build_loss: not a LossSpec: {type(spec).__name__}")
    weights = prior = None
    if class_counts is not None:
        if spec.class_balanced_beta is not None:
            weights = class_balanced_weights(class_counts, spec.class_balanced_beta)
        prior = log_prior(class_counts, len(class_counts))
    return SpecLoss(spec, weights, prior)
