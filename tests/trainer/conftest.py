"""Fixtures of the trainer tests; the stand-in models and data live in ``trainer_helpers``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from trainer_helpers import cross_entropy, make_mlp, make_splits

from trainer import DataSplits


@pytest.fixture(autouse=True)
def _keep_threads() -> Any:
    # One thread: tiny models gain nothing from more, and on a busy 2-core machine (or under
    # pytest -n 2) OpenMP threads waiting for each other made the suite ~100x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def splits() -> DataSplits:
    return make_splits()


@pytest.fixture
def image_splits() -> DataSplits:
    return make_splits(n=200, features=64, image=True)


@pytest.fixture
def factories() -> dict[str, Callable[..., nn.Module]]:
    return {"model_factory": make_mlp, "loss_factory": cross_entropy}
