"""Spec kinds dispatch through registries: every kind has a spec class, a builder, a layer count
(architectures), a formula and a per-sample loss (losses); an unknown kind lists the known."""

from __future__ import annotations

import pytest
import torch

from search_spaces import LossSpec, MLPSpec, build_loss, build_model, count_layers
from search_spaces.arch.net import ARCH_BUILDERS
from search_spaces.arch.specs import ARCH_KINDS, arch_from_dict
from search_spaces.loss import Expr
from search_spaces.loss.build import LOSS_FUNCTIONS
from search_spaces.loss.specs import LOSS_KINDS, LOSS_SPEC_KINDS, PRIMITIVE_KINDS, loss_from_dict
from search_spaces.registry import RegistryError


def test_every_arch_kind_has_a_builder_and_only_those() -> None:
    assert ARCH_KINDS.ordered() == ARCH_BUILDERS.ordered() == (
        "mlp", "cnn1d", "cnn2d", "rocket", "table")


def test_every_loss_kind_has_a_function_and_only_those() -> None:
    assert LOSS_SPEC_KINDS.ordered() == LOSS_FUNCTIONS.ordered() == LOSS_KINDS
    assert LOSS_KINDS == ("ce", "focal", "poly1", "composite", "gce", "sce", "nce_rce",
                          "bootstrap", "logit_adjust", "balanced_softmax", "ldam", "symbolic")
    assert PRIMITIVE_KINDS == ("ce", "focal", "poly1", "gce", "sce", "nce_rce", "bootstrap",
                               "logit_adjust", "balanced_softmax", "ldam")


def test_a_kind_is_registered_once() -> None:
    with pytest.raises(RegistryError, match="already registered"):
        ARCH_KINDS.register("mlp")(MLPSpec)


def test_unknown_kinds_list_the_known_ones() -> None:
    with pytest.raises(ValueError,
                       match="unknown kind 'rnn'; known: mlp, cnn1d, cnn2d, rocket, table"):
        arch_from_dict({"kind": "rnn"})
    with pytest.raises(ValueError, match="unknown kind"):
        arch_from_dict({"kind": ["mlp"]})
    with pytest.raises(ValueError, match="unknown kind 'l2'; known: ce, focal, poly1, compos"):
        loss_from_dict({"kind": "l2"})


def test_builders_refuse_what_is_not_a_spec() -> None:
    with pytest.raises(ValueError, match="build_model: not an architecture spec: LossSpec"):
        build_model(LossSpec.ce())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="count_layers: not an architecture spec: dict"):
        count_layers({"kind": "mlp"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="build_loss: not a LossSpec"):
        build_loss(MLPSpec(input_shape=(4,), num_classes=2, hidden=()))  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_every_loss_kind_renders_and_computes(kind: str) -> None:
    spec = {"ce": LossSpec.ce(0.1), "focal": LossSpec.focal(2.0), "poly1": LossSpec.poly1(-0.5),
            "composite": LossSpec.composite((1.0, LossSpec.ce()), (0.5, LossSpec.poly1(1.0))),
            "gce": LossSpec("gce", q=0.5), "sce": LossSpec("sce", alpha=0.1),
            "nce_rce": LossSpec("nce_rce"), "bootstrap": LossSpec("bootstrap"),
            "logit_adjust": LossSpec("logit_adjust", tau=1.5),
            "balanced_softmax": LossSpec("balanced_softmax"), "ldam": LossSpec("ldam"),
            "symbolic": LossSpec("symbolic", expression=Expr.of("neg", Expr.leaf("logp")))}
    loss = build_loss(spec[kind])
    value = loss(torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1]))
    assert torch.isfinite(value) and spec[kind].formula
