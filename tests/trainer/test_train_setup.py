"""The pure set-up pieces: lr schedule, batches, config checks, device, launcher environment."""

from __future__ import annotations

import pytest
import torch

from trainer import TrainConfig
from trainer.data import Batches
from trainer.env import DistEnv, dist_env
from trainer.optim import (
    build_optimizer,
    build_scheduler,
    cosine_factor,
    resolve_device,
    validate_config,
)


def test_cosine_factor_spans_all_steps() -> None:
    assert cosine_factor(0, 10) == 1.0
    assert cosine_factor(5, 10) == pytest.approx(0.5)
    assert cosine_factor(10, 10) == pytest.approx(0.0)
    assert cosine_factor(12, 10) == pytest.approx(0.0)  # stays at the floor
    steps = [cosine_factor(s, 10) for s in range(11)]
    assert steps == sorted(steps, reverse=True)


def test_scheduler_follows_the_cosine() -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = build_optimizer(TrainConfig(lr=0.1, optimizer="sgd"), [param])
    scheduler = build_scheduler(optimizer, total_steps=4)
    lrs = []
    for _ in range(4):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs == pytest.approx([0.1 * cosine_factor(s, 4) for s in range(4)])
    assert optimizer.param_groups[0]["nesterov"] and optimizer.param_groups[0]["momentum"] == 0.9


def test_batches_cover_everything_once_and_keep_the_last_partial_batch() -> None:
    batches = Batches(n=10, batch_size=4, seed=3, device=torch.device("cpu"))
    epoch1 = list(batches(1))
    assert batches.steps_per_epoch == 3 == len(epoch1)
    assert [len(b) for b in epoch1] == [4, 4, 2]
    assert sorted(torch.cat(epoch1).tolist()) == list(range(10))


def test_a_lone_last_sample_joins_the_batch_before_it() -> None:
    # Batch norm cannot train on a batch of one (it raises): 9 samples in batches of 4 give
    # 4 + 5, not 4 + 4 + 1.
    batches = Batches(n=9, batch_size=4, seed=0, device=torch.device("cpu"))
    epoch = list(batches(1))
    assert [len(b) for b in epoch] == [4, 5] and batches.steps_per_epoch == 2
    assert sorted(torch.cat(epoch).tolist()) == list(range(9))
    assert [len(b) for b in Batches(1, 4, 0, torch.device("cpu"))(1)] == [1]


def test_shuffle_depends_only_on_seed_and_epoch() -> None:
    def order(seed: int, epoch: int) -> list[int]:
        return torch.cat(list(Batches(50, 8, seed, torch.device("cpu"))(epoch))).tolist()

    assert order(0, 1) == order(0, 1)
    assert order(0, 1) != order(0, 2)
    assert order(0, 2) != order(1, 1)


def test_validate_config_accepts_the_defaults() -> None:
    validate_config(TrainConfig())
    with pytest.raises(ValueError, match="num_threads"):
        validate_config(TrainConfig(num_threads=0))
    with pytest.raises(ValueError, match="epochs"):
        validate_config(TrainConfig(epochs=0))


def test_resolve_device() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_dist_env_is_read_once(monkeypatch) -> None:
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    dist_env.cache_clear()
    try:
        assert dist_env() == DistEnv(rank=0, local_rank=0, world_size=1)
        monkeypatch.setenv("RANK", "3")
        assert dist_env().is_main  # still the first reading
    finally:
        dist_env.cache_clear()
