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
from automl.control.loss_probes import PROBE_AFTER


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


def test_the_study_metric_ranks_and_tests_with_per_class_accuracy(
        tmp_path: Path, rare_classes: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from automl.cli.render import trial_panel

    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'metric.db'}"
    api.search(data=str(rare_classes), study="bal", storage=url, trials=2, epochs=2, top=None,
               overrides=["search.arch=mlp", 'search.loss="fixed_ce"',
                          'study.metric="balanced_accuracy"'])
    done = [r for r in api.trials("bal", url) if r.state == "COMPLETE"]
    assert done
    for r in done:
        assert r.metric == "balanced_accuracy"
        per_class = r.test_per_class
        assert isinstance(per_class, dict) and list(per_class) == ["0", "1", "2", "3"]
        assert per_class["3"] is None  # its one sample stayed in training: none in the test
        present = [v for v in per_class.values() if v is not None]
        assert r.test_accuracy == pytest.approx(sum(present) / len(present))
        console = Console(record=True, width=200)
        console.print(trial_panel(r))
        text = console.export_text()
        assert "balanced_accuracy" in text and "test accuracy per class" in text
        assert "3 -" in text


def test_the_trainer_metric_follows_the_study_metric() -> None:
    from automl import config
    from automl.errors import ConfigError

    assert config.from_dict({"study": {"metric": "macro_f1"}}).trainer.metric == "macro_f1"
    assert config.from_dict({}).trainer.metric == "accuracy"
    with pytest.raises(ConfigError, match="trainer.metric: a search measures in study.metric"):
        config.from_dict({"trainer": {"metric": "macro_f1"}})
    with pytest.raises(ConfigError, match="study.metric: 'auc' is not allowed; choose one of: ac"):
        config.from_dict({"study": {"metric": "auc"}})


def test_the_best_candidate_is_probed_with_a_robust_and_a_long_tail_loss(
        tmp_path: Path, rare_classes: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'probe.db'}"
    api.search(data=str(rare_classes), study="p", storage=url, trials=6, epochs=1, top=None,
               overrides=["search.arch=mlp", "study.objective=val_accuracy"])
    study = optuna.load_study(study_name="p", storage=url)
    copied = study.user_attrs["loss_probes"]
    trials = study.get_trials()
    probes = [t for t in trials if t.user_attrs.get("start") == "loss probe"]
    assert [t.params["loss_family"] for t in probes] == ["gce", "logit_adjust"]
    assert all(t.number > PROBE_AFTER - 1 for t in probes)  # queued after 3 completed
    best = trials[copied]
    first = [t for t in trials[:PROBE_AFTER] if t.state.name == "COMPLETE"]
    assert best.values[0] == max(t.values[0] for t in first)
    arch = {k: v for k, v in best.params.items() if not k.startswith("loss_")}
    for t in probes:
        assert {k: v for k, v in t.params.items() if not k.startswith("loss_")} == arch
    records = {r.number: r for r in api.trials("p", url)}
    assert {records[t.number].loss_formula for t in probes} == {"GCE(q=0.7)", "CE(z + 1·log π)"}


@pytest.mark.parametrize(("overrides", "families"), [
    ([], ["gce", "logit_adjust"]),
    (['search.loss="fixed_ce"'], []),  # a named space is the user's choice
    (['search.loss_options={families=["ce", "focal"]}'], []),  # no probe family allowed
    (["search.loss_probes=false"], []),
    (["search.loss_options={q_range=[0.1, 0.5]}"], ["logit_adjust"]),  # q = 0.7 not allowed
])
def test_probes_only_where_the_options_allow_them(overrides: list[str],
                                                  families: list[str]) -> None:
    from automl.control.loss_probes import probe_params

    probes = probe_params(api.load_config(None, overrides))
    assert [p["loss_family"] for p in probes] == families
    assert all(p["loss_cb"] is False for p in probes)
    weighted = probe_params(api.load_config(None, ["search.loss_options={class_balanced=[true]}"]))
    assert weighted and all("loss_cb" not in p for p in weighted)  # left to the sampler


def test_the_model_card_lists_per_class_accuracy_and_names_the_metric() -> None:
    from automl.export.card import render_card

    spec = {"study": "s", "trial": 3, "selected_by": "best", "created_at": "now",
            "versions": {}, "arch": {"kind": "mlp", "hidden": [8]}, "loss_formula": "CE",
            "input_shape": [4], "preprocessing": {"axis": "feature"},
            "classes": ["cat", "dog|x", "eel"], "data": {}, "costs": {},
            "metrics": {"val_accuracy": 0.9, "test_accuracy": 0.85,
                        "metric": "balanced_accuracy",
                        "test_per_class": {"cat": 0.9, "dog|x": 0.8, "eel": None}}}
    card = render_card(spec)
    assert "| validation balanced accuracy | 90.00% |" in card
    assert "| test balanced accuracy | 85.00% |" in card
    assert "| dog/x | 80.00% |" in card  # a "|" in a class name cannot break the table
    assert "| eel | - (no test sample) |" in card
    hostile = {**spec, "metrics": {**spec["metrics"], "test_per_class": "not a table"}}
    assert "Test accuracy per class" not in render_card(hostile)


def test_a_study_keeps_its_metric_and_old_records_read_as_accuracy(
        tmp_path: Path, rare_classes: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from automl.errors import ConfigError
    from automl.storage.records import TrialRecord

    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'keep.db'}"
    common = dict(data=str(rare_classes), study="k", storage=url, epochs=1, top=None)
    api.search(trials=1, overrides=["search.arch=mlp"], **common)
    with pytest.raises(ConfigError, match="study.metric: study 'k' ranks by 'accuracy', not "
                                          "'macro_f1'"):
        api.search(trials=1, overrides=["search.arch=mlp", 'study.metric="macro_f1"'], **common)
    rec = TrialRecord(study="s", number=0, state="COMPLETE", values=None)
    assert rec.metric == "accuracy"  # stored before the metric was recorded
    for hostile in ("a string", {"metric": "auc"}, {"metric": ["x"]}):
        assert replace(rec, train_config=hostile).metric == "accuracy"  # type: ignore[arg-type]


def test_against_the_clock_the_probes_are_queued_one_at_a_time() -> None:
    # Queued together, the second probe was left WAITING when T came during the first.
    from datetime import datetime, timedelta

    from automl.control.loss_probes import LossProbes
    from automl.policy.budget import Deadline

    now = [0.0]
    cfg = api.load_config(None, ["search.arch=mlp"])
    study = optuna.create_study(direction="maximize")
    dist = {"n_layers": optuna.distributions.IntDistribution(1, 3)}
    start = datetime(2026, 1, 1)
    for i in range(PROBE_AFTER):  # three candidates of 4 s each
        done = optuna.trial.create_trial(params={"n_layers": i + 1}, distributions=dist,
                                         value=0.5 + i / 10)
        done.datetime_start, done.datetime_complete = start, start + timedelta(seconds=4)
        study.add_trial(done)

    def waiting() -> list[str]:
        return [t.params.get("loss_family") or t.system_attrs["fixed_params"]["loss_family"]
                for t in study.get_trials(states=(optuna.trial.TrialState.WAITING,))]

    probes = LossProbes(cfg, deadline=Deadline(end=10.0, timeout=60.0, clock=lambda: now[0]))
    last = study.get_trials()[-1]
    probes(study, last)
    assert waiting() == ["gce"]
    probes(study, last)  # another completion while it waits: nothing more
    assert waiting() == ["gce"]
    first = study.ask()  # the probe runs and completes
    study.tell(first, 0.6)
    now[0] = 9.0  # 1 s left: less than the probe took? it took ~0 s here, so the next fits
    probes(study, study.get_trials()[-1])
    assert waiting() == ["logit_adjust"]
    # The same again with no time left: the second probe is never queued.
    late = LossProbes(cfg, deadline=Deadline(end=10.0, timeout=60.0, clock=lambda: 11.0))
    other = optuna.create_study(direction="maximize")
    for t in study.get_trials()[:PROBE_AFTER]:
        other.add_trial(t)
    late(other, other.get_trials()[-1])
    assert not other.get_trials(states=(optuna.trial.TrialState.WAITING,))
