"""Contract over every registered loss space, with and without class counts."""

from __future__ import annotations

import json
from collections.abc import Callable

import optuna
import pytest
import torch

from search_spaces import (
    LOSS_SPACES,
    InputInfo,
    LossRejected,
    build_loss,
    loss_from_dict,
    loss_to_dict,
    sample_loss,
)
from search_spaces.loss.spaces import HAND_KINDS

NUM_CLASSES = 4
COUNTS = {"none": None, "imbalanced": [500, 50, 5, 0]}
PARAMS = [
    (name, counts, seed) for name in LOSS_SPACES.names() for counts in COUNTS for seed in range(6)
]


@pytest.mark.parametrize(("name", "counts", "seed"), PARAMS)
def test_loss_space_contract(
    name: str, counts: str, seed: int, random_trial: Callable[[int], optuna.Trial]
) -> None:
    for attempt in range(50):  # the symbolic space refuses some candidates before training
        try:
            spec = sample_loss(name, random_trial(seed + 1000 * attempt),
                               InputInfo((8,), NUM_CLASSES))
            break
        except LossRejected:
            continue
    d = loss_to_dict(spec)
    assert loss_from_dict(json.loads(json.dumps(d))) == spec
    hash(spec)
    assert isinstance(spec.formula, str) and spec.formula.strip()

    loss_fn = build_loss(spec, COUNTS[counts])
    gen = torch.Generator().manual_seed(seed)
    targets = torch.randint(0, NUM_CLASSES, (16,), generator=gen)
    for scale in (1.0, 1e4):  # ordinary and saturated predictions
        logits = (torch.randn(16, NUM_CLASSES, generator=gen) * scale).requires_grad_()
        loss = loss_fn(logits, targets)
        assert loss.shape == () and loss.dtype == torch.float32
        assert torch.isfinite(loss)
        if spec.kind != "symbolic":  # a signed expression may sit below 0; it only has to fall
            assert loss >= -1.0 - 1e-6  # poly1 with eps=-1 can dip below 0
        loss.backward()
        assert logits.grad is not None and torch.isfinite(logits.grad).all()

    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = torch.randn(16, NUM_CLASSES, generator=gen).bfloat16().requires_grad_()
        loss = loss_fn(logits, targets)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad.float()).all()


def test_searched_space_reaches_every_family(random_trial: Callable[[int], optuna.Trial]) -> None:
    seen = set()
    balanced = set()
    for seed in range(150):
        spec = sample_loss("searched", random_trial(seed), InputInfo((8,), 3))
        seen.add(spec.kind)
        balanced.add(spec.class_balanced_beta is not None)
    assert seen == set(HAND_KINDS) and "symbolic" not in seen
    assert {"gce", "sce", "nce_rce", "bootstrap", "logit_adjust", "balanced_softmax",
            "ldam"} <= seen
    assert balanced == {False, True}


def test_fixed_ce_asks_nothing(random_trial: Callable[[int], optuna.Trial]) -> None:
    trial = random_trial(0)
    spec = sample_loss("fixed_ce", trial, InputInfo((8,), 3))
    assert trial.params == {}
    assert spec.formula == "CE"


def test_poly1_with_epsilon_zero_is_sampled_as_ce() -> None:
    """Poly-1 at epsilon 0 is cross-entropy: the space says so, so its candidate is CE's."""
    info = InputInfo((8,), 3)
    base = {"loss_family": "poly1", "loss_cb": False, "loss_ls": 0.05}
    same = sample_loss("searched", optuna.trial.FixedTrial({**base, "loss_epsilon": 0.0}), info)
    ce = sample_loss("searched", optuna.trial.FixedTrial(
        {"loss_family": "ce", "loss_cb": False, "loss_ls": 0.05}), info)
    assert loss_to_dict(same) == loss_to_dict(ce) and same.formula == "CE(ls=0.05)"
    poly = sample_loss("searched", optuna.trial.FixedTrial({**base, "loss_epsilon": 1.0}), info)
    assert poly.kind == "poly1" and poly.epsilon == 1.0
