"""``trainer.train`` end to end on tiny models: determinism, learning, callbacks, failures."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest
import torch
from torch import nn
from trainer_helpers import ResidualStack, cross_entropy, make_mlp, make_splits

from trainer import (
    EpochRecord,
    NonFiniteLossError,
    TrainConfig,
    TrialTimeoutError,
    count_params,
    train,
)
from trainer.data import TensorSplits, accuracy
from trainer.env import dist_env

FAST = TrainConfig(epochs=3, batch_size=32, lr=1e-2, latency_repeats=3)


def _equal_states(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_result_other_seed_other_weights(splits, factories) -> None:
    first = train(None, None, splits, FAST, **factories)
    again = train(None, None, splits, FAST, **factories)
    other = train(None, None, splits, FAST.__class__(**{**FAST.__dict__, "seed": 1}), **factories)
    assert [r.val_accuracy for r in first.history] == [r.val_accuracy for r in again.history]
    assert [r.train_loss for r in first.history] == [r.train_loss for r in again.history]
    assert _equal_states(first.state_dict, again.state_dict)
    assert not _equal_states(first.state_dict, other.state_dict)


def test_learns_a_separable_problem(splits, factories) -> None:
    cfg = TrainConfig(epochs=15, batch_size=32, lr=1e-2, latency_repeats=0)
    result = train(None, None, splits, cfg, **factories)
    assert result.val_accuracy > 0.9
    assert result.test_accuracy > 0.85
    assert result.history[-1].train_loss < result.history[0].train_loss
    assert all(
        isinstance(p, torch.Tensor) and p.device.type == "cpu" for p in result.state_dict.values()
    )


def test_kept_weights_are_the_best_validation_epoch(splits, factories) -> None:
    result = train(
        None, None, splits, TrainConfig(epochs=6, lr=3e-2, latency_repeats=0), **factories
    )
    vals = [r.val_accuracy for r in result.history]
    assert result.val_accuracy == max(vals)
    # ties go to the later epoch
    assert result.best_epoch == max(i + 1 for i, v in enumerate(vals) if v == max(vals))
    model = make_mlp()
    model.load_state_dict(result.state_dict)
    data = TensorSplits.from_numpy(splits, torch.device("cpu"))
    assert accuracy(model, data.x_val, data.y_val, 512) == result.val_accuracy
    assert accuracy(model, data.x_test, data.y_test, 512) == result.test_accuracy


def test_on_epoch_sees_every_epoch_and_can_stop(splits, factories) -> None:
    seen: list[EpochRecord] = []

    def record(r: EpochRecord) -> bool:
        seen.append(r)
        return False

    full = train(None, None, splits, FAST, record, **factories)
    assert [r.epoch for r in seen] == [1, 2, 3] and seen == full.history
    assert not full.stopped_early
    assert all(r.seconds > 0 for r in seen)
    # Accuracy is a count of correct validation samples over their number; the kept epoch is
    # the best one.
    n_val = len(splits.y_val)
    assert all(abs(r.val_accuracy * n_val - round(r.val_accuracy * n_val)) < 1e-6 for r in seen)
    assert full.val_accuracy == max(r.val_accuracy for r in seen)

    calls: list[int] = []

    def stop_at_two(record: EpochRecord) -> bool:
        calls.append(record.epoch)
        return record.epoch == 2

    cfg = TrainConfig(epochs=5, batch_size=32, lr=1e-2, latency_repeats=0)
    stopped = train(None, None, splits, cfg, stop_at_two, **factories)
    assert calls == [1, 2]
    assert stopped.stopped_early and len(stopped.history) == 2


class _NanLoss(nn.Module):
    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return logits.sum() * float("nan")


def test_nan_loss_raises_naming_epoch_and_step(splits) -> None:
    with pytest.raises(NonFiniteLossError, match=r"nan at epoch 1, step 1"):
        train(
            None,
            None,
            splits,
            FAST,
            model_factory=make_mlp,
            loss_factory=lambda spec, counts: _NanLoss(),
        )


def test_diverging_lr_raises(splits, factories) -> None:
    cfg = TrainConfig(epochs=5, batch_size=32, lr=1e10, optimizer="sgd")
    with pytest.raises(NonFiniteLossError) as info:
        train(None, None, splits, cfg, **factories)
    assert isinstance(info.value, RuntimeError) and info.value.epoch >= 1


def test_grad_accum_matches_the_full_batch(factories) -> None:
    # 103 training samples in batches of 16: the last batch (7) splits unevenly into 4 + 3.
    data = make_splits(n=172)
    assert len(data.y_train) == 103
    results = [
        train(
            None,
            None,
            data,
            TrainConfig(epochs=2, batch_size=16, lr=1e-2, grad_accum=k, latency_repeats=0),
            **factories,
        )
        for k in (1, 2, 3)
    ]
    for other in results[1:]:
        for key, value in results[0].state_dict.items():
            torch.testing.assert_close(other.state_dict[key], value, atol=1e-5, rtol=0)


def test_bf16_runs_on_cpu_and_fp16_is_refused(splits, factories) -> None:
    cfg = TrainConfig(epochs=2, batch_size=32, lr=1e-2, precision="bf16", latency_repeats=0)
    result = train(None, None, splits, cfg, **factories)
    assert all(torch.isfinite(torch.tensor(r.train_loss)) for r in result.history)
    assert result.val_accuracy > 0.5
    fp16 = TrainConfig(precision="fp16", device="cpu")
    with pytest.raises(ValueError, match=r"fp16.*CUDA.*bf16"):
        train(None, None, splits, fp16, **factories)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"optimizer": "lbfgs"}, "adamw, sgd"),
        ({"precision": "fp8"}, "fp32, bf16, fp16"),
        ({"checkpointing": "all"}, "none, blocks, sqrt"),
        ({"grad_accum": 0}, "grad_accum"),
        ({"trial_timeout": 0.0}, "trial_timeout"),
    ],
)
def test_invalid_config_is_a_value_error(splits, factories, change, message) -> None:
    with pytest.raises(ValueError, match=message):
        train(None, None, splits, TrainConfig(**change), **factories)


def test_trial_timeout_raises(splits, factories) -> None:
    with pytest.raises(TrialTimeoutError, match="trial_timeout"):
        train(None, None, splits, TrainConfig(trial_timeout=1e-9), **factories)


def test_sgd_cnn_checkpointing_and_costs(image_splits) -> None:
    built: list[ResidualStack] = []

    def factory(spec: object) -> nn.Module:
        built.append(ResidualStack(depth=4))
        return built[-1]

    cfg = TrainConfig(
        epochs=2, batch_size=16, optimizer="sgd", lr=5e-2, checkpointing="sqrt", latency_repeats=3
    )
    result = train(
        None, None, image_splits, cfg, model_factory=factory, loss_factory=cross_entropy
    )
    assert built[0].checkpointing == "sqrt"
    assert result.costs is not None and result.costs.params == count_params(built[0])
    assert result.costs.flops > 0
    assert result.costs.latency_ms is not None and result.costs.latency_ms > 0
    assert result.peak_memory_mb is not None and result.peak_memory_mb > 0


def test_num_threads_applies_during_training_only(splits) -> None:
    threads: list[int] = []

    def factory(spec: object) -> nn.Module:
        threads.append(torch.get_num_threads())
        return make_mlp(spec)

    cfg = TrainConfig(epochs=1, num_threads=2, latency_repeats=0)
    train(None, None, splits, cfg, model_factory=factory, loss_factory=cross_entropy)
    assert threads == [2] and torch.get_num_threads() == 1


def test_checkpointing_without_the_attribute_warns(splits, factories) -> None:
    cfg = TrainConfig(epochs=1, checkpointing="blocks", latency_repeats=0)
    with pytest.warns(UserWarning, match="checkpointing='blocks' ignored"):
        train(None, None, splits, cfg, **factories)


@dataclass(frozen=True)
class _Spec:
    hidden: int


def test_defaults_come_from_search_spaces(splits, monkeypatch) -> None:
    calls: list[str] = []

    def build_model(spec: _Spec) -> nn.Module:
        calls.append("model")
        return make_mlp(spec)

    def build_loss(spec: str, counts: list[int]) -> nn.Module:
        calls.append(f"loss {counts}")
        return cross_entropy(spec, counts)

    fake = types.ModuleType("search_spaces")
    fake.build_model = build_model  # type: ignore[attr-defined]
    fake.build_loss = build_loss  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "search_spaces", fake)
    result = train(_Spec(hidden=8), "ce", splits, FAST)
    assert calls == ["model", f"loss {splits.class_counts()}"]
    assert result.state_dict["0.weight"].shape == (8, 10)


def test_injected_factories_never_import_search_spaces(splits, factories, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "search_spaces", None)  # any import would now fail
    train(None, None, splits, FAST, **factories)


def test_only_rank_zero_reports(splits, factories, monkeypatch) -> None:
    monkeypatch.setenv("RANK", "1")
    dist_env.cache_clear()  # the environment is read once per process: read it again
    try:
        calls: list[EpochRecord] = []

        def report(record: EpochRecord) -> bool:
            calls.append(record)
            return False

        result = train(None, None, splits, FAST, report, **factories)
    finally:
        dist_env.cache_clear()
    assert calls == [] and result.costs is None and len(result.history) == 3
