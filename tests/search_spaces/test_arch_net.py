"""Builder details: checkpointing, the deep benchmark spec, input layouts, spec validation."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from search_spaces import (
    BlockSpec,
    ConvNetSpec,
    MLPSpec,
    StageSpec,
    arch_from_dict,
    build_model,
    count_layers,
    deep_resnet_spec,
    describe,
)


def _small_conv(kind: str = "cnn2d", shape: tuple[int, ...] = (2, 8, 8)) -> ConvNetSpec:
    return ConvNetSpec(
        kind=kind,
        input_shape=shape,
        num_classes=4,
        stem_width=8,
        stages=(
            StageSpec(8, (BlockSpec("conv3"), BlockSpec("dwsep"), BlockSpec("skip"))),
            StageSpec(
                12,
                (BlockSpec("mbconv", expansion=2), BlockSpec("conv5", residual=False)),
                downsample=True,
            ),
            StageSpec(12, (BlockSpec("conv3"),), downsample=True),
        ),
        activation="gelu",
        norm="batch",
        dropout=0.2,
    )


def _grad(p: torch.Tensor) -> torch.Tensor:
    assert p.grad is not None
    return p.grad


def _count(model: nn.Module) -> int:
    return sum(isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d) for m in model.modules())


@pytest.mark.parametrize("kind,shape", [("cnn2d", (2, 8, 8)), ("cnn1d", (2, 16))])
def test_checkpointing_modes_agree_on_gradients_and_buffers(
    kind: str, shape: tuple[int, ...]
) -> None:
    torch.manual_seed(0)
    base = build_model(_small_conv(kind, shape))
    x = torch.randn(6, *shape)
    y = torch.randint(0, 4, (6,))
    results = {}
    for mode in ("none", "blocks", "sqrt"):
        model = copy.deepcopy(base)
        model.checkpointing = mode
        torch.manual_seed(1)  # the head's dropout mask
        nn.functional.cross_entropy(model(x), y).backward()
        grads = {n: _grad(p).clone() for n, p in model.named_parameters()}
        results[mode] = (grads, {n: b.clone() for n, b in model.named_buffers()})
    ref_grads, ref_buffers = results["none"]
    assert any(g.abs().sum() > 0 for g in ref_grads.values())
    for mode in ("blocks", "sqrt"):
        grads, buffers = results[mode]
        for n in ref_grads:
            torch.testing.assert_close(grads[n], ref_grads[n], msg=f"{mode}: {n}")
        # Recomputation must not update BatchNorm's running statistics a second time.
        for n in ref_buffers:
            torch.testing.assert_close(buffers[n], ref_buffers[n], msg=f"{mode}: {n}")


def test_recomputed_dropout_draws_the_same_mask() -> None:
    # MLP hidden layers carry dropout inside the checkpointed blocks: a segment with a random op
    # must replay the RNG state on recomputation, or its gradients would use another mask.
    torch.manual_seed(0)
    spec = MLPSpec(input_shape=(16,), num_classes=3, hidden=(32,) * 9, norm="batch", dropout=0.5)
    base = build_model(spec)
    x, y = torch.randn(8, 16), torch.randint(0, 3, (8,))
    grads = {}
    for mode in ("none", "blocks", "sqrt"):
        model = copy.deepcopy(base)
        model.checkpointing = mode
        torch.manual_seed(3)
        nn.functional.cross_entropy(model(x), y).backward()
        grads[mode] = [_grad(p).clone() for p in model.parameters()]
    for mode in ("blocks", "sqrt"):
        for got, want in zip(grads[mode], grads["none"], strict=True):
            torch.testing.assert_close(got, want, msg=mode)


def test_sqrt_recomputes_every_segment_but_the_last() -> None:
    model = build_model(deep_resnet_spec(27, (1, 8, 8), 3, width=4), checkpointing="sqrt")
    calls = {i: 0 for i in range(len(model.blocks))}
    for i, block in enumerate(model.blocks):
        block.register_forward_pre_hook(lambda *_, i=i: calls.__setitem__(i, calls[i] + 1))
    model(torch.randn(2, 1, 8, 8)).sum().backward()
    n, tail = len(model.blocks), len(model._plan("sqrt")[-1].modules)
    assert n == 25 and tail == 5  # 5 segments of 5
    assert all(calls[i] == 2 for i in range(n - tail))  # forward + recomputation
    assert all(calls[i] == 1 for i in range(n - tail, n))  # kept from the forward


def test_segment_plan_is_kept_and_rebuilt_when_blocks_change() -> None:
    model = build_model(deep_resnet_spec(12, (1, 8, 8), 3, width=4), checkpointing="sqrt")
    x = torch.randn(2, 1, 8, 8)
    model(x).sum().backward()
    plan = model._plan("sqrt")
    model(x).sum().backward()
    assert model._plan("sqrt") is plan
    model.blocks[3] = copy.deepcopy(model.blocks[3])
    replaced = model._plan("sqrt")
    assert replaced is not plan and any(model.blocks[3] in s.modules for s in replaced)


def _saved_bytes(model: nn.Module, x: torch.Tensor) -> int:
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return total


def test_sqrt_checkpointing_saves_fewer_activations() -> None:
    model = build_model(deep_resnet_spec(50, (1, 8, 8), 3, width=8))
    x = torch.randn(2, 1, 8, 8)
    saved = {}
    for mode in ("none", "blocks", "sqrt"):
        model.checkpointing = mode
        saved[mode] = _saved_bytes(model, x)
    assert saved["sqrt"] < saved["blocks"] < saved["none"] / 2
    # Evaluation runs the plain forward whatever the mode.
    model.eval()
    with torch.no_grad():
        assert _saved_bytes(model, x) == 0


@pytest.mark.parametrize("mode", ["none", "sqrt"])
def test_bf16_autocast_trains(mode: str) -> None:
    torch.manual_seed(0)
    model = build_model(_small_conv(), checkpointing=mode)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.randn(4, 2, 8, 8))
        loss = nn.functional.cross_entropy(out.float(), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert out.dtype == torch.bfloat16 and torch.isfinite(loss)
    assert all(torch.isfinite(_grad(p)).all() for p in model.parameters())


def test_unknown_checkpointing_mode_is_rejected() -> None:
    model = build_model(_small_conv())
    with pytest.raises(ValueError, match="checkpointing.*sqrt"):
        model.checkpointing = "all"


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 32), (3, 5), (7,)])
def test_deep_resnet_spec_hits_every_layer_count(shape: tuple[int, ...]) -> None:
    for layers in range(2, 40):
        spec = deep_resnet_spec(layers, shape, 10)
        assert count_layers(spec) == layers
    spec = deep_resnet_spec(23, shape, 10)
    assert _count(build_model(spec)) == 23


def test_deep_resnet_1207_layers_trains_with_sqrt_checkpointing() -> None:
    spec = deep_resnet_spec(1207, (1, 8, 8), 10, width=16)
    assert count_layers(spec) == 1207
    assert all(b.op == "conv3" and b.residual for s in spec.stages for b in s.blocks)
    torch.manual_seed(0)
    model = build_model(spec, checkpointing="sqrt")
    assert _count(model) == 1207
    out = model(torch.randn(2, 1, 8, 8))
    loss = nn.functional.cross_entropy(out, torch.tensor([1, 7]))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(_grad(p)).all() for p in model.parameters())


def test_deep_resnet_spec_rejects_too_few_layers() -> None:
    with pytest.raises(ValueError, match="layers"):
        deep_resnet_spec(1, (1, 8, 8), 10)


def test_cnn1d_takes_samples_with_and_without_a_channel_axis() -> None:
    torch.manual_seed(0)
    model = build_model(_small_conv("cnn1d", (1, 16))).eval()
    x = torch.randn(3, 16)
    torch.testing.assert_close(model(x), model(x.unsqueeze(1)))
    assert model(x).shape == (3, 4)


def test_mlp_builds_hidden_layers_as_blocks() -> None:
    spec = MLPSpec(input_shape=(1, 8, 8), num_classes=3, hidden=(16, 8), norm="batch")
    model = build_model(spec)
    assert len(model.blocks) == 2
    assert model(torch.randn(5, 1, 8, 8)).shape == (5, 3)
    assert _count(model) == count_layers(spec) == 3


def test_different_seeds_give_different_weights() -> None:
    spec = _small_conv()
    torch.manual_seed(0)
    a = build_model(spec).state_dict()
    torch.manual_seed(1)
    b = build_model(spec).state_dict()
    assert not torch.equal(a["stem.1.weight"], b["stem.1.weight"])


def test_describe_uses_no_rng_and_reports_shapes() -> None:
    spec = _small_conv()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    rows = describe(spec, level="block")
    assert torch.equal(torch.rand(3), expected)
    assert [r["name"] for r in rows[:2]] == ["stem", "blocks.0"]
    assert rows[0]["output_shape"] == (8, 8, 8)
    transition = next(r for r in rows if r["type"] == "transition")
    assert transition["output_shape"] == (12, 4, 4)
    assert rows[-1]["output_shape"] == (4,)
    with pytest.raises(ValueError, match="level"):
        describe(spec, level="everything")


@pytest.mark.parametrize(
    "change,match",
    [
        ({"kind": "cnn3d"}, "kind.*cnn3d"),
        ({"activation": "tanh"}, "ConvNetSpec.activation.*tanh"),
        ({"stem_widht": 8}, "stem_widht.*unknown field"),
        ({"dropout": 1.5}, "ConvNetSpec.dropout"),
        ({"input_shape": [8]}, "ConvNetSpec.input_shape"),
        ({"stages": [{"width": 8, "blocks": [{"op": "conv7"}]}]}, "BlockSpec.op.*conv7"),
        ({"stages": [{"width": 8, "blocks": [{"op": "conv3", "expansion": 2}]}]}, "expansion"),
        ({"stages": [{"width": 0, "blocks": []}]}, "StageSpec.width"),
    ],
)
def test_bad_arch_dicts_name_the_field(change: dict, match: str) -> None:
    d = {**_small_conv().to_dict(), **change}
    with pytest.raises(ValueError, match=match):
        arch_from_dict(d)


def test_missing_field_is_named() -> None:
    d = _small_conv().to_dict()
    del d["num_classes"]
    with pytest.raises(ValueError, match="num_classes.*missing"):
        arch_from_dict(d)
