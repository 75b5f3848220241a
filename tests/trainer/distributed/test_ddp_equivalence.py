"""DDP on 2 gloo ranks trains exactly what one process trains (sharding, accumulation,
checkpointing, ZeRO), and the ranks agree on metrics and on stopping."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from ddp_helpers import BASE
from trainer_helpers import cross_entropy, image_splits, mlp, residual_stack

from search_spaces import deep_resnet_spec
from trainer import EpochRecord, TrainConfig, TrainRequest, TrainResult, train
from trainer.distributed import launch_trial

pytestmark = pytest.mark.distributed

R = dataclasses.replace


def ddp(cfg: TrainConfig, model: Any = mlp, spec: Any = None, **kw: Any) -> tuple[Any, Any]:
    """Result and rank outputs of a launched trial."""
    factory = None if spec is not None else model
    request = TrainRequest(spec, None, cfg, factory, cross_entropy)
    return launch_trial(request, image_splits(), **kw)


def one_process(cfg: TrainConfig, model: Any = mlp) -> TrainResult:
    cfg = R(cfg, nproc=1)
    return train(None, None, image_splits(), cfg, model_factory=model, loss_factory=cross_entropy)


def _max_rel_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    worst = 0.0
    for k in a:
        if b[k].is_floating_point():
            x, y = a[k].double(), b[k].double()
            worst = max(worst, float((x - y).abs().max() / y.abs().max().clamp(min=1e-12)))
    return worst


def test_two_ranks_with_half_batches_match_one_process_after_20_steps() -> None:
    # 240 training samples: 10 steps of 24 per epoch, 12 samples per rank and step
    cfg = R(BASE, batch_size=24, epochs=2, optimizer="adamw", lr=1e-2)
    result, outputs = ddp(cfg)
    single = one_process(cfg)
    assert [o.stats["steps"] for o in outputs] == [20, 20]
    assert _max_rel_diff(result.state_dict, single.state_dict) < 1e-4
    # metrics are all-reduced: the same accuracies and (up to summation order) losses
    assert [r.val_accuracy for r in result.history] == [r.val_accuracy for r in single.history]
    assert [r.train_loss for r in result.history] == pytest.approx(
        [r.train_loss for r in single.history], rel=1e-5
    )
    assert result.test_accuracy == single.test_accuracy
    assert result.peak_memory_mb is not None and result.peak_memory_mb > 0
    assert result.comm_bytes_per_step == 4 * sum(p.numel() for p in mlp().parameters())
    assert result.costs is not None and single.costs is not None
    assert result.costs.params == single.costs.params


def test_uneven_batches_are_weighted_like_one_process() -> None:
    # 240 samples, batch 25: 9 batches split 13 + 12 and a last one of 15, split 8 + 7
    cfg = R(BASE, batch_size=25, epochs=1)
    result, _ = ddp(cfg)
    assert _max_rel_diff(result.state_dict, one_process(cfg).state_dict) < 1e-4


def test_grad_accum_equals_the_big_batch_with_k_times_fewer_all_reduces() -> None:
    cfg = R(BASE, batch_size=24, epochs=1)
    k = 3
    accum, acc_out = ddp(R(cfg, grad_accum=k), residual_stack)
    big, big_out = ddp(cfg, residual_stack)
    _, small_out = ddp(R(cfg, batch_size=24 // k), residual_stack)
    assert _max_rel_diff(accum.state_dict, big.state_dict) < 1e-5
    for a, b, s in zip(acc_out, big_out, small_out, strict=True):
        # the same micro-batches as `small`, but one all-reduce per k of them
        assert a.stats["micro_steps"] == s.stats["micro_steps"] == k * b.stats["micro_steps"]
        assert a.stats["hook_calls"] == b.stats["hook_calls"] == s.stats["hook_calls"] // k


@pytest.mark.parametrize("mode", ["blocks", "sqrt"])
def test_checkpointing_gives_the_same_gradients(mode: str) -> None:
    # The real SearchNet (BatchNorm included) built by search_spaces in every rank.
    spec = deep_resnet_spec(12, (1, 8, 8), 3, width=4)
    cfg = R(BASE, batch_size=24, epochs=1)  # SGD steps: equal weights <=> equal gradients
    plain, _ = ddp(cfg, spec=spec)
    ckpt, _ = ddp(R(cfg, checkpointing=mode), spec=spec)
    assert _max_rel_diff(ckpt.state_dict, plain.state_dict) < 1e-5
    assert ckpt.history[0].val_accuracy == plain.history[0].val_accuracy


def test_zero_halves_optimizer_state_and_matches_plain_ddp() -> None:
    cfg = R(BASE, batch_size=24, epochs=1, optimizer="adamw", lr=1e-2)
    plain, plain_out = ddp(cfg, residual_stack)
    zero, zero_out = ddp(R(cfg, zero=True), residual_stack)
    full = plain_out[0].stats["optimizer_state_bytes"]
    shards = [o.stats["optimizer_state_bytes"] for o in zero_out]
    assert all(o.stats["optimizer_state_bytes"] == full for o in plain_out)
    assert sum(shards) == full  # every parameter's state lives on exactly one rank
    assert max(shards) <= 0.6 * full
    assert _max_rel_diff(zero.state_dict, plain.state_dict) < 1e-5


def test_every_rank_stops_when_the_caller_prunes() -> None:
    seen: list[EpochRecord] = []

    def prune_at_2(record: EpochRecord) -> bool:
        seen.append(record)
        return record.epoch == 2

    result, outputs = ddp(R(BASE, epochs=5), on_epoch=prune_at_2)
    assert [r.epoch for r in seen] == [1, 2] and seen == result.history
    assert result.stopped_early
    assert [len(o.result.history) for o in outputs] == [2, 2]
    assert all(o.result.stopped_early for o in outputs)
