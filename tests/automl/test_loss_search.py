"""The loss search end to end (real trainer, real SQLite file): a symbolic candidate that fails
the rejection check is pruned before training with the formula and the reason, the others
train; every trial keeps the training split's class counts; a class with a single sample
still searches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest

from automl import api


@pytest.fixture()
def rare_classes(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    y = np.array([0] * 40 + [1] * 20 + [2] * 2 + [3])  # a long tail down to one sample
    x = (rng.normal(size=(len(y), 6)) + y[:, None]).astype(np.float32)
    path = tmp_path / "rare.npz"
    np.savez(path, x=x, y=y)
    return path


def test_rejected_symbolic_losses_are_pruned_untrained_and_the_rest_train(
        tmp_path: Path, rare_classes: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'loss.db'}"
    # First term 0.25·(−log p_t); a second, when sampled, in [−4, 0.25]·(−log p_t): a total
    # weight at or below 0 cannot learn and must be refused.
    result = api.search(
        data=str(rare_classes), study="sym", storage=url, trials=8, epochs=2, seed=3, top=None,
        overrides=["search.arch=mlp", 'search.loss="symbolic"', "study.sampler=random",
                   'search.loss_options={atoms=["ce"], terms=2, '
                   'coefficient_range=[-4.0, 0.25], taus=[0.0], reweights=[0.0]}'])
    assert result.trials_run == 8
    records = api.trials("sym", url)
    rejected = [r for r in records if (r.reason or "").startswith("rejected loss:")]
    trained = [r for r in records if r.state == "COMPLETE"]
    assert rejected and trained
    for r in rejected:
        assert r.state == "PRUNED" and r.train_seconds is None and r.val_accuracy is None
        assert "log p_t" in r.reason and "raises the loss" in r.reason
    for r in trained:
        assert r.loss_family == "symbolic" and "log p_t" in (r.loss_formula or "")
    study = optuna.load_study(study_name="sym", storage=url)
    counts = {tuple(t.user_attrs["class_counts"]) for t in study.trials}
    assert len(counts) == 1
    (train_counts,) = counts
    assert len(train_counts) == 4 and train_counts[3] == 1 and train_counts[2] >= 1
