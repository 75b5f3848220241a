"""The MLP as an efficient ensemble (``MLPSpec.members``, TabM-mini): its outputs, the trainer
training every member on its own, its memory estimate, its search parameter and its summary."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import optuna
import pytest
import torch
from torch import nn

from automl.storage.records import arch_summary
from search_spaces import InputInfo, LossSpec, MLPSpec, build_loss, build_model, sample_arch
from search_spaces.arch.auto import strong_picks
from search_spaces.arch.mlp import MLPOptions, mlp_space
from search_spaces.probe import MiddleTrial
from trainer import DataSplits, TrainConfig, estimate_training_memory, train
from trainer.step import member_logits


def _spec(members: int, **kw: object) -> MLPSpec:
    return MLPSpec(input_shape=(6,), num_classes=3, hidden=(16,), members=members, **kw)


def test_members_round_trip_and_bad_counts_are_refused() -> None:
    spec = _spec(4)
    assert MLPSpec.from_dict(spec.to_dict()) == spec
    old = spec.to_dict()
    del old["members"]  # a spec stored before ensembles existed is one plain MLP
    assert MLPSpec.from_dict(old).members == 1
    assert "members" not in _spec(1).to_dict()  # a plain MLP stores what it stored before
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="members"):
            _spec(bad)  # type: ignore[arg-type]


def test_training_output_has_a_member_axis_and_eval_the_mean_probability() -> None:
    torch.manual_seed(0)
    model = build_model(_spec(5))  # no norm, no dropout: train and eval compute the same
    x = torch.randn(7, 6)
    members = model.train()(x)
    assert members.shape == (7, 5, 3)
    # Every member reads its own signs of the input: the members are different models.
    signs = model.stem[1].scale
    assert set(signs.unique().tolist()) == {-1.0, 1.0} and not torch.equal(signs[0], signs[1])
    assert not torch.allclose(members[:, 0], members[:, 1])
    mean = members.softmax(-1).mean(1)
    ensemble = model.eval()(x)
    assert ensemble.shape == (7, 3)
    assert torch.allclose(ensemble.exp(), mean, atol=1e-6)
    plain = build_model(_spec(1)).train()(x)
    assert plain.shape == (7, 3)


def test_member_logits_pair_each_members_row_with_its_samples_target() -> None:
    logits = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)  # N=2, k=3, C=4
    y = torch.tensor([1, 3])
    rows, targets = member_logits(logits, y)
    assert rows.shape == (6, 4) and targets.tolist() == [1, 1, 1, 3, 3, 3]
    assert torch.equal(rows[4], logits[1, 1])  # sample 1, member 1 -> target of sample 1
    soft = torch.tensor([[0.2, 0.8, 0, 0], [1.0, 0, 0, 0]])  # soft targets repeat the same way
    assert torch.equal(member_logits(logits, soft)[1][3], soft[1])
    flat = torch.randn(5, 4)
    assert member_logits(flat, y)[0] is flat


class _Counting(nn.Module):
    """Cross-entropy that records how many rows each call scored."""

    rows: list[int] = []

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        _Counting.rows.append(len(y))
        return nn.functional.cross_entropy(logits, y)


def _blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 6)) + 4.0 * np.eye(3, 6)[y]
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def test_the_trainer_trains_every_member_and_scores_the_ensemble() -> None:
    (x, y), (xv, yv), (xt, yt) = _blobs(96, 0), _blobs(48, 1), _blobs(48, 2)
    cfg = TrainConfig(epochs=10, batch_size=32, latency_repeats=0, device="cpu", seed=0, lr=1e-2)
    _Counting.rows = []
    result = train(_spec(4, norm="batch", dropout=0.1), LossSpec("ce"),
                   DataSplits(x, y, xv, yv, xt, yt, 3), cfg,
                   loss_factory=lambda spec, counts: _Counting())
    assert set(_Counting.rows) == {32 * 4}  # each batch of 32 scored once per member
    assert result.state_dict["head.weight"].shape == (4, 16, 3)
    assert result.val_accuracy > 0.8 and result.test_accuracy > 0.8  # three separable blobs
    # A loss of the search space takes the member rows too (class counts from the training
    # split, as the search gives them).
    counts = torch.bincount(y, minlength=3).tolist()
    loss = build_loss(LossSpec("logit_adjust", tau=1.0), counts)
    assert torch.isfinite(loss(*member_logits(torch.randn(8, 4, 3), y[:8])))


def test_the_memory_estimate_counts_the_members() -> None:
    cfg = TrainConfig(epochs=1, batch_size=64, device="cpu")
    wide = MLPSpec(input_shape=(32,), num_classes=3, hidden=(256, 256))
    one = estimate_training_memory(wide, cfg, input_shape=(32,))
    sixteen = estimate_training_memory(replace(wide, members=16), cfg,
                                       input_shape=(32,))
    assert sixteen.activations > 8 * one.activations  # 16 rows per sample through the body
    # Under bf16 the heads' batched matmul is cast like a Linear (an einsum failed the
    # estimate's autocast emulation, so the memory check was skipped for every ensemble).
    half = estimate_training_memory(replace(wide, members=16), replace(cfg, precision="bf16"),
                                    input_shape=(32,))
    assert 0 < half.activations < sixteen.activations


def test_members_are_searched_only_when_offered_and_the_strong_start_takes_the_most() -> None:
    info = InputInfo((6,), num_classes=3)
    fixed = {"n_layers": 1, "l0_width": 64, "activation": "relu", "norm": "none",
             "dropout": 0.0}
    offered = MLPOptions(members=(1, 16))
    assert mlp_space(optuna.trial.FixedTrial({**fixed, "members": 16}), info, offered
                     ).members == 16
    # The default offers one count (1: a plain MLP) and asks no trial parameter for it.
    assert MLPOptions().members == (1,)
    assert mlp_space(optuna.trial.FixedTrial(fixed), info).members == 1
    assert mlp_space(MiddleTrial(strong_picks("mlp")), info, offered).members == 16
    assert mlp_space(MiddleTrial(strong_picks("mlp")), info).members == 1
    # auto passes its mlp_members on to the MLP family; a bad count names the field.
    auto = {"family": "mlp", **{f"mlp.{k}": v for k, v in fixed.items()}, "mlp.members": 16}
    spec = sample_arch("auto", optuna.trial.FixedTrial(auto), info, {"mlp_members": [1, 16]})
    assert isinstance(spec, MLPSpec) and spec.members == 16
    with pytest.raises(ValueError, match=r"search\.arch_options\.mlp_members"):
        sample_arch("auto", optuna.trial.FixedTrial(auto), info, {"mlp_members": [0]})


def test_summaries_name_the_members_and_read_a_stored_spec_as_data() -> None:
    from automl.export.card import _arch_line

    assert "an efficient ensemble of 16 members" in _arch_line(_spec(16).to_dict())
    assert "ensemble" not in _arch_line(_spec(1).to_dict())  # the bundle's model card
    assert arch_summary(_spec(16).to_dict()) == "mlp 16 x16"
    assert arch_summary(_spec(1).to_dict()) == "mlp 16"
    assert arch_summary({**_spec(1).to_dict(), "members": "16; rm -rf"}) == "mlp 16"
    # Fields of a type no spec writes are left out, never an error (the dashboard and the CLI
    # read whatever the database holds).
    assert arch_summary({"kind": "rocket", "per_dilation": [119, "x"]}) == "rocket"
    assert arch_summary({"kind": "rocket", "per_dilation": [100, 19]}) == "rocket 9996f"
    assert arch_summary({"kind": "cnn1d", "stages": [{"width": 8, "blocks": [{}]}, 7]}
                        ) == "cnn1d w8 1b"
