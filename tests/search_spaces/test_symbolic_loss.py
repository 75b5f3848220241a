"""Symbolic losses: the expression tree (safe to read, readable to print), its evaluation, the
rejection check, and the ``symbolic`` space."""

from __future__ import annotations

import json
from collections.abc import Callable

import optuna
import pytest
import torch
import torch.nn.functional as F

from search_spaces import (
    Expr,
    InputInfo,
    LossRejected,
    LossSpec,
    build_loss,
    loss_from_dict,
    sample_loss,
)
from search_spaces.loss.check import rejection
from search_spaces.registry import FieldError

P, LOGP, M, PRIOR = (Expr.leaf(n) for n in ("p", "logp", "margin", "prior"))
CE = Expr.of("neg", LOGP)


def _sum(*terms: Expr) -> Expr:
    out = terms[0]
    for t in terms[1:]:
        out = Expr.of("add", out, t)
    return out


def _times(c: float, e: Expr) -> Expr:
    return Expr.of("mul", Expr.const(c), e)


def test_expressions_render_as_formulas() -> None:
    sq = Expr.of("square", Expr.of("one_minus", P))
    assert _sum(CE, _times(0.5, sq)).render() == "−log p_t + 0.5·(1−p_t)²"
    assert _sum(CE, _times(-0.25, Expr.of("softplus", Expr.of("neg", M)))).render() == (
        "−log p_t − 0.25·softplus(−m)")
    weighted = Expr.of("mul", Expr.of("pow", PRIOR, Expr.const(-0.5)), _sum(CE, P))
    assert weighted.render() == "π_t^−0.5·(−log p_t + p_t)"
    spec = LossSpec("symbolic", expression=CE, tau=0.5)
    assert spec.formula == "−log p_t on z + 0.5·log π"
    assert LossSpec("symbolic", expression=CE, tau=0.0).formula == "−log p_t"


def test_specs_round_trip_through_json() -> None:
    spec = LossSpec("symbolic", tau=1.0, expression=_sum(
        CE, _times(-0.75, Expr.of("exp", Expr.of("neg", M))),
        Expr.of("mul", Expr.of("pow", PRIOR, Expr.const(-0.25)), Expr.of("one_minus", P))))
    again = loss_from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.formula == spec.formula


@pytest.mark.parametrize(("tree", "message"), [
    ({"op": "eval", "args": []}, "Expr.op: 'eval' is not one of"),
    ({"op": "add", "args": [{"op": "p"}]}, "add takes 2 argument"),
    ({"op": "pow", "args": [{"op": "p"}, {"op": "p"}]}, "exponent must be a const"),
    ({"op": "pow", "args": [{"op": "p"}, {"op": "const", "value": 100}]}, "in \\[-4, 4\\]"),
    ({"op": "p", "value": 2.0}, "only const takes a value"),
    ({"op": "const", "value": "1e999"}, "need a finite number"),
    ({"op": "p", "code": "__import__('os')"}, "code"),
    ({"op": "add", "args": "p"}, "need a list"),
])
def test_hostile_expressions_are_refused_with_the_field_named(tree: dict, message: str) -> None:
    with pytest.raises((FieldError, ValueError), match=message):
        loss_from_dict({"kind": "symbolic", "expression": tree, "tau": 0.0})


def test_deep_or_huge_expressions_are_refused_before_recursing() -> None:
    deep: dict = {"op": "p"}
    for _ in range(50_000):  # far past Python's recursion limit
        deep = {"op": "neg", "args": [deep]}
    with pytest.raises(FieldError, match="depth <= 8"):
        loss_from_dict({"kind": "symbolic", "expression": deep})
    wide = P
    for _ in range(5):
        wide = Expr.of("add", wide, wide)  # depth 6, 63 nodes: allowed
    with pytest.raises(FieldError, match="64 nodes"):
        Expr.of("add", wide, Expr.of("neg", P))


def test_evaluation_matches_the_losses_it_writes_out() -> None:
    gen = torch.Generator().manual_seed(0)
    z, y = 3 * torch.randn(16, 4, generator=gen), torch.randint(0, 4, (16,), generator=gen)
    counts = [40, 10, 5, 1]
    ce = float(F.cross_entropy(z, y))
    assert float(build_loss(LossSpec("symbolic", expression=CE, tau=0.0), counts)(z, y)) == (
        pytest.approx(ce, rel=1e-5))
    adjusted = build_loss(LossSpec("symbolic", expression=CE, tau=1.0), counts)(z, y)
    assert float(adjusted) == pytest.approx(
        float(build_loss(LossSpec("balanced_softmax"), counts)(z, y)), rel=1e-5)
    margin = Expr.of("softplus", Expr.of("neg", M))  # log(1 + exp(-(z_y - max other)))
    other = z.scatter(1, y.unsqueeze(1), float("-inf")).max(1).values
    expect = F.softplus(-(z.gather(1, y.unsqueeze(1)).squeeze(1) - other)).mean()
    got = build_loss(LossSpec("symbolic", expression=margin, tau=0.0))(z, y)
    assert float(got) == pytest.approx(float(expect), rel=1e-5)


@pytest.mark.parametrize(("expr", "reason"), [
    (LOGP, "raising the labelled class's logit raises the loss"),  # the sign flipped
    (Expr.const(1.0), "does not depend on the prediction"),
    (_sum(_times(0.01, Expr.of("one_minus", P)), Expr.const(3.0)), "barely changes"),
    # exp is capped at exp(30): the loss stays finite but saturates, and learns nothing there
    (Expr.of("exp", Expr.of("exp", Expr.of("exp", Expr.of("neg", M)))), "no gradient"),
    (_sum(Expr.of("one_minus", P), _times(-0.4, Expr.of("square", Expr.of("one_minus", P)))),
     None),  # 1 − p − 0.4(1 − p)² falls in p: kept
    (_sum(Expr.of("one_minus", P), _times(-0.9, Expr.of("square", Expr.of("one_minus", P)))),
     "raises the loss"),  # 1 − p − 0.9(1 − p)² rises below p = 0.44
    (_sum(Expr.of("square", Expr.of("one_minus", P)), _times(-2.0, Expr.of("one_minus", P))),
     "raises the loss"),  # (1 − p)² − 2(1 − p) rises in p
])
def test_rejection_catches_losses_that_cannot_learn(expr: Expr, reason: str | None) -> None:
    got = rejection(LossSpec("symbolic", expression=expr, tau=0.0))
    assert (got is None) if reason is None else (got is not None and reason in got)


@pytest.mark.parametrize("kind", ["ce", "focal", "gce", "sce", "nce_rce", "bootstrap",
                                  "logit_adjust", "balanced_softmax", "ldam"])
def test_every_hand_designed_loss_passes_the_rejection_check(kind: str) -> None:
    spec = LossSpec(kind, gamma=2.0) if kind == "focal" else LossSpec(kind)
    assert rejection(spec) is None


def test_the_symbolic_space_samples_readable_losses_and_rejects_some(
        random_trial: Callable[[int], optuna.Trial]) -> None:
    kept, refused = [], []
    for seed in range(120):
        try:
            kept.append(sample_loss("symbolic", random_trial(seed), InputInfo((8,), 3)))
        except LossRejected as exc:
            refused.append(str(exc))
    assert len(kept) > 60 and refused  # most candidates pass; the check still bites
    assert all(rejection(s) is None for s in kept)
    assert all(s.kind == "symbolic" and "p_t" in s.formula or "m" in s.formula for s in kept)
    assert len({s.formula for s in kept}) > 50
    assert all(": " in r for r in refused)  # the formula, then why


def test_symbolic_options_are_checked() -> None:
    with pytest.raises(FieldError, match="atoms"):
        sample_loss("symbolic", optuna.trial.FixedTrial({}), InputInfo((8,), 3),
                    {"atoms": ["ce", "cubic"]})
    with pytest.raises(FieldError, match="terms"):
        sample_loss("symbolic", optuna.trial.FixedTrial({}), InputInfo((8,), 3), {"terms": 9})
    fixed = optuna.trial.FixedTrial({"loss_sym_atom0": "gce", "loss_sym_coef0": 2.0,
                                     "loss_sym_reweight": 0.0, "loss_sym_tau": 0.5})
    spec = sample_loss("symbolic", fixed, InputInfo((8,), 3), {"terms": 1})
    assert spec.formula == "2·(1−p_t^0.5) on z + 0.5·log π"
