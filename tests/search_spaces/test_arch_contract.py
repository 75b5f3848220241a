"""Contract over every registered architecture space: round trip, determinism, forward/backward."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable

import optuna
import pytest
import torch
from torch import nn

from search_spaces import (
    ARCH_SPACES,
    ConvNetSpec,
    InputInfo,
    MLPSpec,
    arch_from_dict,
    arch_to_dict,
    build_model,
    count_layers,
    describe,
    sample_arch,
)
from search_spaces.arch.ensemble import MemberHeads
from trainer.step import member_logits

# Sample shapes each space must handle; a newly registered space fails until it is listed here.
CASES: dict[str, list[tuple[int, ...]]] = {
    "auto": [(64,), (13,), (6, 100), (8, 8), (1, 8, 8)],
    "mlp": [(64,), (1, 8, 8)],
    "cnn1d": [(1, 32), (32,), (3, 9)],
    "cnn2d": [(1, 8, 8), (2, 5, 7)],
    "rocket": [(150,), (6, 100), (1, 9), (13,)],
}
SEEDS = (0, 1, 2)
PARAMS = [
    (name, shape, seed)
    for name in ARCH_SPACES.names()
    for shape in CASES.get(name, [()])
    for seed in SEEDS
]


def _spatial(spec: ConvNetSpec) -> tuple[int, ...]:
    return spec.input_shape[-spec.spatial_dims :]


@pytest.mark.parametrize(("name", "shape", "seed"), PARAMS)
def test_arch_space_contract(
    name: str, shape: tuple[int, ...], seed: int, random_trial: Callable[[int], optuna.Trial]
) -> None:
    if not shape:
        pytest.fail(f"arch space {name!r} has no contract cases; add its input shapes to CASES")
    info = InputInfo(shape, num_classes=5)
    spec = sample_arch(name, random_trial(seed), info)

    # JSON round trip, hashable.
    d = arch_to_dict(spec)
    assert d == spec.to_dict()
    assert arch_from_dict(json.loads(json.dumps(d))) == spec
    assert hash(spec) == hash(arch_from_dict(json.loads(json.dumps(d))))

    # Same spec + same seed -> same weights.
    torch.manual_seed(seed)
    model = build_model(spec)
    torch.manual_seed(seed)
    twin = build_model(spec)
    a, b = model.state_dict(), twin.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)

    # Forward shape, finite loss and gradients.
    # (an efficient ensemble's training output has a member axis: trainer.step.member_logits)
    model.train()
    out, target = member_logits(model(torch.randn(4, *shape)),
                                torch.randint(0, info.num_classes, (4,)))
    assert out.shape == (len(target), info.num_classes) and len(target) % 4 == 0
    loss = nn.functional.cross_entropy(out, target)
    assert torch.isfinite(loss)
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname

    # The static description agrees with the built network.
    rows = describe(spec)
    assert rows[-1]["output_shape"] == (info.num_classes,)
    assert sum(r["params"] for r in rows) == sum(p.numel() for p in model.parameters())
    layers = [m for m in model.modules()
              if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d | MemberHeads)]
    assert count_layers(spec) == len(layers)

    if isinstance(spec, ConvNetSpec):
        # The space never downsamples below 2 (the default min_spatial) when the input allows.
        last_block = describe(spec, level="block")[-2]["output_shape"]
        assert min(last_block[1:]) >= min(2, min(_spatial(spec)))
        halvings = sum(s.downsample for s in spec.stages)
        assert halvings <= math.floor(math.log2(min(_spatial(spec))))


CONV_PARAM = re.compile(
    r"(stem_width|n_stages|activation|norm|dropout"
    r"|s\d+_(width|down|blocks)|s\d+_b\d+_(op|exp|res))"
)


@pytest.mark.parametrize("seed", range(8))
def test_conv_parameter_names_are_the_documented_ones(
    seed: int, random_trial: Callable[[int], optuna.Trial]
) -> None:
    trial = random_trial(seed)
    sample_arch("cnn2d", trial, InputInfo((1, 8, 8), 10))
    assert trial.params
    assert all(CONV_PARAM.fullmatch(p) for p in trial.params), sorted(trial.params)


def test_fixed_trial_gives_the_expected_conv_spec() -> None:
    params = {
        "stem_width": 16,
        "n_stages": 2,
        "s0_width": 16,
        "s0_down": False,
        "s0_blocks": 1,
        "s0_b0_op": "mbconv",
        "s0_b0_exp": 4,
        "s0_b0_res": True,
        "s1_width": 32,
        "s1_down": True,
        "s1_blocks": 2,
        "s1_b0_op": "skip",
        "s1_b1_op": "dwsep",
        "s1_b1_res": False,
        "activation": "silu",
        "norm": "batch",
        "dropout": 0.1,
    }
    spec = sample_arch("cnn2d", optuna.trial.FixedTrial(params), InputInfo((1, 8, 8), 10))
    expected = arch_from_dict(
        {
            "kind": "cnn2d",
            "input_shape": [1, 8, 8],
            "num_classes": 10,
            "stem_width": 16,
            "stages": [
                {"width": 16, "downsample": False, "blocks": [{"op": "mbconv", "expansion": 4}]},
                {
                    "width": 32,
                    "downsample": True,
                    "blocks": [{"op": "skip"}, {"op": "dwsep", "residual": False}],
                },
            ],
            "activation": "silu",
            "norm": "batch",
            "dropout": 0.1,
        }
    )
    assert spec == expected
    # stem 1 + mbconv 3 + transition 1 + skip 0 + dwsep 2 + head 1
    assert count_layers(spec) == 8


def test_mlp_space_respects_options(random_trial: Callable[[int], optuna.Trial]) -> None:
    for seed in range(5):
        options = {"max_layers": 2, "widths": [8, 16], "activations": ["gelu"], "dropout_max": 0}
        spec = sample_arch("mlp", random_trial(seed), InputInfo((1, 8, 8), 3), options)
        assert isinstance(spec, MLPSpec)
        assert 1 <= len(spec.hidden) <= 2
        assert set(spec.hidden) <= {8, 16}
        assert spec.activation == "gelu" and spec.dropout == 0.0
