"""The noise-robust and imbalance-aware loss kinds against their published definitions, written
out here independently with plain torch, and deferred re-weighting over a candidate's epochs."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from search_spaces import LossSpec, build_loss
from trainer import TrainConfig, train

COUNTS = [60, 25, 10, 4, 1]
GEN = torch.Generator().manual_seed(3)
LOGITS = 2.0 * torch.randn(32, 5, generator=GEN)
TARGET = torch.randint(0, 5, (32,), generator=GEN)


def _p_t(logits: torch.Tensor = LOGITS) -> torch.Tensor:
    return logits.softmax(1).gather(1, TARGET.unsqueeze(1)).squeeze(1)


def _loss(spec: LossSpec, counts: list[int] | None = COUNTS) -> float:
    return float(build_loss(spec, counts)(LOGITS, TARGET))


def test_gce_is_one_minus_p_to_the_q_over_q_between_ce_and_mae() -> None:
    p = _p_t()
    for q in (0.3, 0.7, 1.0):
        assert _loss(LossSpec("gce", q=q)) == pytest.approx(float(((1 - p**q) / q).mean()),
                                                            rel=1e-5)
    ce = float(F.cross_entropy(LOGITS, TARGET))
    assert _loss(LossSpec("gce", q=1e-4)) == pytest.approx(ce, rel=1e-3)  # q -> 0: CE
    assert _loss(LossSpec("gce", q=1.0)) == pytest.approx(float((1 - p).mean()), rel=1e-5)


def test_symmetric_ce_adds_reverse_ce_with_log_zero_clipped_at_1e_minus_4() -> None:
    prob = LOGITS.softmax(1)
    label = F.one_hot(TARGET, 5).float().clamp(min=1e-4)
    rce = -(prob * label.log()).sum(1)
    ce = F.cross_entropy(LOGITS, TARGET, reduction="none")
    expect = float((0.1 * ce + 1.0 * rce).mean())
    assert _loss(LossSpec("sce", alpha=0.1, beta=1.0)) == pytest.approx(expect, rel=1e-4)
    assert LossSpec("sce", alpha=0.1).formula == "0.1·CE + 1.0·RCE"


def test_nce_rce_normalises_ce_by_the_sum_over_every_label() -> None:
    logp = LOGITS.log_softmax(1)
    nce = -logp.gather(1, TARGET.unsqueeze(1)).squeeze(1) / -logp.sum(1)
    assert bool(((nce >= 0) & (nce <= 1)).all())
    rce = 4 * math.log(10) * (1 - _p_t())
    expect = float((2.0 * nce + 0.5 * rce).mean())
    assert _loss(LossSpec("nce_rce", alpha=2.0, beta=0.5)) == pytest.approx(expect, rel=1e-5)


def test_soft_bootstrap_mixes_the_label_with_the_prediction() -> None:
    """Reed et al.'s soft bootstrapping, -sum((b·y + (1-b)·q)·log q), with the gradient through
    the prediction q too: b·CE + (1-b)·entropy(q), not b·CE (what a detached q would give)."""
    z = LOGITS.clone().requires_grad_()
    loss = build_loss(LossSpec("bootstrap", label_weight=0.8))(z, TARGET)
    prob = z.softmax(1)
    expect = -((0.8 * F.one_hot(TARGET, 5) + 0.2 * prob) * prob.log()).sum(1).mean()
    assert float(loss.detach()) == pytest.approx(float(expect.detach()), rel=1e-5)
    (g1,) = torch.autograd.grad(loss, z)
    (g2,) = torch.autograd.grad(expect, z)
    assert torch.allclose(g1, g2, atol=1e-6)
    (ce,) = torch.autograd.grad(0.8 * F.cross_entropy(z, TARGET), z)
    assert not torch.allclose(g1, ce, atol=1e-4)  # the entropy term pulls too


def test_logit_adjustment_and_balanced_softmax_shift_logits_by_the_log_prior() -> None:
    prior = torch.tensor(COUNTS, dtype=torch.float32) / sum(COUNTS)
    for tau in (0.5, 1.0, 2.0):
        expect = F.cross_entropy(LOGITS + tau * prior.log(), TARGET)
        assert _loss(LossSpec("logit_adjust", tau=tau)) == pytest.approx(float(expect), rel=1e-5)
    assert _loss(LossSpec("balanced_softmax")) == _loss(LossSpec("logit_adjust", tau=1.0))
    ce = float(F.cross_entropy(LOGITS, TARGET))  # no counts or balanced counts: plain CE
    assert _loss(LossSpec("balanced_softmax"), None) == pytest.approx(ce, rel=1e-6)
    assert _loss(LossSpec("logit_adjust"), [7] * 5) == pytest.approx(ce, rel=1e-6)


def test_ldam_lowers_the_labelled_logit_by_a_margin_largest_for_the_rarest_class() -> None:
    n = torch.tensor(COUNTS, dtype=torch.float32)
    m = n ** -0.25
    m = m * 0.5 / m.max()
    assert float(m[-1]) == pytest.approx(0.5)
    shifted = LOGITS - F.one_hot(TARGET, 5) * m[TARGET].unsqueeze(1)
    expect = F.cross_entropy(shifted, TARGET)
    assert _loss(LossSpec("ldam", margin=0.5)) == pytest.approx(float(expect), rel=1e-5)


def test_class_counts_with_an_empty_class_still_give_finite_prior_losses() -> None:
    for kind in ("logit_adjust", "balanced_softmax", "ldam"):
        assert math.isfinite(_loss(LossSpec(kind), [50, 0, 5, 3, 1]))


def test_deferred_reweighting_starts_after_its_fraction_of_the_epochs() -> None:
    drw = LossSpec("ldam", class_balanced_beta=0.999, reweight_from=0.8)
    assert drw.formula == "LDAM(m=0.5) [CB β=0.999 from 80%]"
    plain = _loss(LossSpec("ldam"))
    weighted = _loss(LossSpec("ldam", class_balanced_beta=0.999))
    assert plain != pytest.approx(weighted)
    loss = build_loss(drw, COUNTS)
    seen = []
    for epoch in range(1, 11):
        loss.set_epoch(epoch, 10)
        seen.append(float(loss(LOGITS, TARGET)))
    assert seen[:8] == pytest.approx([plain] * 8) and seen[8:] == pytest.approx([weighted] * 2)
    with pytest.raises(ValueError, match="reweight_from: needs class_balanced_beta"):
        LossSpec("ldam", reweight_from=0.8)
    with pytest.raises(ValueError, match=r"LossSpec.q: only gce takes it"):
        LossSpec("ce", q=0.5)


class _Recorder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, int]] = []

    def set_epoch(self, epoch: int, epochs: int) -> None:
        self.calls.append((epoch, epochs))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target)


def test_the_trainer_tells_the_loss_each_epoch_and_the_candidates_epoch_count() -> None:
    from trainer.types import DataSplits

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(48, 4, generator=gen).numpy()
    y = (x[:, 0] > 0).astype("int64")
    splits = DataSplits(x[:32], y[:32], x[32:40], y[32:40], x[40:], y[40:], 2)
    recorder = _Recorder()
    train(None, None, splits, TrainConfig(epochs=4, batch_size=16, latency_repeats=0),
          model_factory=lambda spec: torch.nn.Linear(4, 2),
          loss_factory=lambda spec, counts: recorder)
    assert recorder.calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
