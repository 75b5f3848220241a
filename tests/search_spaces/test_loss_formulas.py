"""The loss formulas against references, and spec validation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from search_spaces import LossSpec, build_loss, class_balanced_weights, loss_from_dict

torch.manual_seed(0)
LOGITS = torch.randn(32, 5) * 3
TARGETS = torch.randint(0, 5, (32,))


def _loss(spec: LossSpec, counts: list[int] | None = None) -> torch.Tensor:
    return build_loss(spec, counts)(LOGITS, TARGETS)


@pytest.mark.parametrize("ls", [0.0, 0.1])
def test_ce_matches_torch(ls: float) -> None:
    expected = F.cross_entropy(LOGITS, TARGETS, label_smoothing=ls)
    torch.testing.assert_close(_loss(LossSpec.ce(ls)), expected)


@pytest.mark.parametrize("ls", [0.0, 0.1])
def test_focal_with_gamma_zero_is_ce(ls: float) -> None:
    expected = F.cross_entropy(LOGITS, TARGETS, label_smoothing=ls)
    torch.testing.assert_close(_loss(LossSpec.focal(0.0, ls)), expected)


def test_focal_matches_its_definition() -> None:
    p_t = LOGITS.softmax(1).gather(1, TARGETS[:, None]).squeeze(1)
    expected = (-((1 - p_t) ** 2) * p_t.log()).mean()
    torch.testing.assert_close(_loss(LossSpec.focal(2.0)), expected)
    assert _loss(LossSpec.focal(2.0)) < _loss(LossSpec.ce())


def test_poly1_with_eps_zero_is_ce_and_adds_eps_times_one_minus_pt() -> None:
    ce = F.cross_entropy(LOGITS, TARGETS)
    torch.testing.assert_close(_loss(LossSpec.poly1(0.0)), ce)
    p_t = LOGITS.softmax(1).gather(1, TARGETS[:, None]).squeeze(1)
    torch.testing.assert_close(_loss(LossSpec.poly1(2.0)), ce + 2.0 * (1 - p_t).mean())


def test_class_balanced_weights_follow_cui_et_al() -> None:
    counts, beta = [100, 10, 1, 0], 0.99
    raw = torch.tensor([(1 - beta) / (1 - beta**n) for n in (100, 10, 1, 1)])
    expected = raw / raw.sum() * 4
    weights = class_balanced_weights(counts, beta)
    torch.testing.assert_close(weights, expected.float())
    assert weights.sum().item() == pytest.approx(4.0)
    assert weights[0] < weights[1] < weights[2] == weights[3]
    torch.testing.assert_close(class_balanced_weights([5, 500], 0.0), torch.ones(2))


def test_class_balanced_loss_weights_each_sample() -> None:
    counts = [300, 100, 30, 10, 3]
    weights = class_balanced_weights(counts, 0.999)
    per_sample = F.cross_entropy(LOGITS, TARGETS, reduction="none")
    expected = (weights[TARGETS] * per_sample).mean()
    torch.testing.assert_close(_loss(LossSpec.ce(beta=0.999), counts), expected)
    # Without counts the balancing has nothing to go on and is a no-op.
    torch.testing.assert_close(_loss(LossSpec.ce(beta=0.999)), per_sample.mean())
    with pytest.raises(ValueError, match="3 class counts"):
        build_loss(LossSpec.ce(beta=0.9), [1, 2, 3])(LOGITS, TARGETS)


def test_composite_is_the_weighted_sum_of_its_terms() -> None:
    ce, focal, poly = LossSpec.ce(0.1), LossSpec.focal(2.0), LossSpec.poly1(1.0)
    spec = LossSpec.composite((0.7, ce), (0.5, focal), (2.0, poly))
    expected = 0.7 * _loss(ce) + 0.5 * _loss(focal) + 2.0 * _loss(poly)
    torch.testing.assert_close(_loss(spec), expected)
    counts = [300, 100, 30, 10, 3]
    balanced = LossSpec.composite((0.7, ce), (0.5, focal), beta=0.99)
    expected = 0.7 * _loss(LossSpec.ce(0.1, 0.99), counts) + 0.5 * _loss(
        LossSpec.focal(2.0, beta=0.99), counts
    )
    torch.testing.assert_close(_loss(balanced, counts), expected)


def test_saturated_logits_give_finite_gradients_for_small_gamma() -> None:
    logits = torch.tensor([[50.0, -50.0], [-50.0, 50.0]], requires_grad=True)
    loss = build_loss(LossSpec.focal(0.5))(logits, torch.tensor([0, 1]))
    loss.backward()
    assert logits.grad is not None
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize(
    "spec,text",
    [
        (LossSpec.ce(), "CE"),
        (LossSpec.ce(0.1), "CE(ls=0.1)"),
        (LossSpec.focal(2.0), "Focal(γ=2)"),
        (LossSpec.focal(1.5, 0.05), "Focal(γ=1.5, ls=0.05)"),
        (LossSpec.poly1(1.0), "CE + 1.0·(1−p_t)"),
        (LossSpec.poly1(-0.5, 0.1), "CE(ls=0.1) − 0.5·(1−p_t)"),
        (
            LossSpec.composite((1.0, LossSpec.ce(0.1)), (0.5, LossSpec.focal(2.0))),
            "CE(ls=0.1) + 0.5·Focal(γ=2)",
        ),
        (
            LossSpec.composite((0.5, LossSpec.poly1(1.0)), (1.0, LossSpec.ce())),
            "0.5·(CE + 1.0·(1−p_t)) + CE",
        ),
        (LossSpec.focal(2.0, beta=0.999), "Focal(γ=2) [CB β=0.999]"),
    ],
)
def test_formula(spec: LossSpec, text: str) -> None:
    assert spec.formula == text


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: LossSpec("ce", gamma=2.0), "LossSpec.gamma: only focal"),
        (lambda: LossSpec("hinge"), "LossSpec.kind.*hinge"),
        (lambda: LossSpec.ce(1.0), "label_smoothing"),
        (lambda: LossSpec.poly1(-2.0), "epsilon"),
        (lambda: LossSpec.ce(beta=1.0), "class_balanced_beta"),
        (lambda: LossSpec.composite((1.0, LossSpec.ce())), "at least two"),
        (
            lambda: LossSpec.composite((1.0, LossSpec.ce(beta=0.9)), (1.0, LossSpec.ce())),
            "set it on the composite",
        ),
        (lambda: LossSpec.composite((0.0, LossSpec.ce()), (1.0, LossSpec.ce())), "weight"),
        (lambda: loss_from_dict({"kind": "ce", "gamma": 1.0}), "LossSpec.gamma: unknown field"),
        (lambda: loss_from_dict({"kind": "mse"}), "unknown kind 'mse'"),
        (lambda: loss_from_dict({"kind": "composite"}), "terms: missing"),
    ],
)
def test_bad_loss_specs_name_the_problem(make: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()  # type: ignore[operator]
