"""Training memory checked before training (issue 24): a candidate whose estimated training
memory cannot fit is pruned before it is built, with the reason stored; a search none of whose
candidates fits is refused in one line before the database is written. The memory this machine
has is the one thing replaced (``trainer.memory_estimate.available_memory``); the estimates,
the search and its storage are real, and the training is :mod:`decision_kit`'s stand-in."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import decision_kit as kit
import optuna
import pytest

import trainer.memory_estimate as memory_estimate
import trainer.memory_estimate.kernels as kernels
from automl.config import LimitsSection, load
from automl.control.controller import run_search
from automl.control.run import prepare
from automl.data import load_data
from automl.errors import ConfigError
from automl.policy.limits import MEMORY_SHARE, memory_violation
from automl.policy.plan import make_plan
from automl.storage import open_storage
from search_spaces import ARCH_SPACES, InputInfo, sample_arch
from search_spaces.probe import MiddleTrial, ProbeTrial
from trainer import TrainConfig, estimate_training_memory

MB = 2**20
WIDE = {"widths": [16, 4096], "min_layers": 2, "max_layers": 2}  # 4096 x 4096: ~0.3 GB to train


def _estimate(step_peak_mb: float, total_mb: float) -> Any:
    return SimpleNamespace(step_peak=step_peak_mb * MB, total=total_mb * MB)


def _available(monkeypatch: pytest.MonkeyPatch, nbytes: float) -> None:
    monkeypatch.setattr(memory_estimate, "available_memory", lambda device, nproc=1: nbytes)


def _config(tmp: Path, data: str, **flags: Any) -> Any:
    return load(None, {"study.name": "mem", "study.storage": f"sqlite:///{tmp}/mem.db",
                       "study.artifacts": str(tmp / "art"), "data.source": data,
                       "study.seed": 0, "trainer.device": "cpu", "trainer.latency_repeats": 1,
                       "search.arch": "mlp", **flags})


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> str:
    return kit.small_digits(tmp_path_factory.mktemp("data") / "digits360.npz")


def test_memory_violation_names_what_is_over() -> None:
    none = LimitsSection()
    assert memory_violation(none, _estimate(10, 20), 2**30) is None
    assert memory_violation(none, _estimate(10, 20), None) is None  # unknown: not checked
    assert memory_violation(none, _estimate(10, 12.3 * 1024), int(9.9 * 2**30)) == (
        "over memory: estimated training memory 12.3 GB > 7.92 GB usable by one training "
        "process (80% of 9.9 GB available)")
    bound = LimitsSection(max_memory_mb=100)
    assert memory_violation(bound, _estimate(105, 105), None) is None  # near it: measured later
    assert memory_violation(bound, _estimate(200, 200), None) == (
        "over budget: estimated peak_memory_mb 200 MB > limits.max_memory_mb 100 MB")


def test_a_candidate_too_big_for_memory_is_pruned_before_training(
    digits: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _available(monkeypatch, 100 * MB)  # 80 MB usable: the 4096 x 4096 MLPs need far more
    cfg = _config(tmp_path, digits, **{"study.trials": 12, "study.sampler": "random",
                                       "trainer.epochs": 2, "search.arch_options": WIDE})
    trained: list[tuple[int, ...]] = []

    def train(arch: Any, *args: Any, **kw: Any) -> Any:
        trained.append(tuple(arch.hidden))
        return kit.fake_train(arch, *args, **kw)

    d = cfg.data
    data = load_data(d.source, d.val_fraction, d.test_fraction, cfg.study.seed, d.standardize)
    store = open_storage(cfg.study.storage, artifacts=cfg.study.artifacts)
    try:
        run_search(cfg, store, data, train=train)
        records = store.trials("mem", with_epochs=True)
    finally:
        store.close()
    attrs = {t.number: t.user_attrs for t in optuna.load_study(
        study_name="mem", storage=cfg.study.storage).get_trials()}
    big = [r for r in records if tuple(r.arch["hidden"]) == (4096, 4096)]
    small = [r for r in records if r not in big]
    assert big and small, [(r.arch["hidden"], r.state) for r in records]
    for r in big:
        assert r.state == "PRUNED"
        assert r.reason.startswith(("over memory: estimated training memory",
                                    "duplicate of trial")), r.reason
        assert r.latency_ms is None and not r.epochs  # the real network was never built
        assert attrs[r.number]["memory_estimate_mb"] > 80
    assert (4096, 4096) not in trained
    for r in small:
        assert not (r.reason or "").startswith("over memory"), r.reason
        assert attrs[r.number]["memory_estimate_mb"] < 80


def test_a_search_none_of_whose_candidates_fits_is_refused_in_one_line(
    cli_here: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _available(monkeypatch, 8 * MB)  # 6.4 MB usable: a 4096-wide layer alone takes more
    proc = cli_here("search", "--data", "digits", "--trials", "2", "--epochs", "1", "--quiet",
                    "--set", "search.arch=mlp", "--set", "trainer.device=cpu",
                    "--set", "search.arch_options={widths=[4096], min_layers=2}", check=False)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: search.arch: no candidate of search.arch 'mlp' fits in "
                           "memory at batch size "), line
    assert "the smallest found is over memory: estimated training memory" in line
    assert not (cli_here.cwd / "automl.db").exists()  # refused before the database was made


def test_the_limit_on_peak_memory_refuses_a_search_none_of_whose_candidates_meets_it(
    cli_here: Any,
) -> None:
    proc = cli_here("search", "--data", "digits", "--trials", "2", "--epochs", "1", "--quiet",
                    "--set", "search.arch=mlp", "--set", "limits.max_memory_mb=0.01",
                    check=False)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: limits.max_memory_mb: no candidate of search.arch 'mlp' "), line
    assert "over budget: estimated peak_memory_mb" in line


# Batches of 256 (all 253 training samples): the training step outweighs evaluation; batches
# of 8 and 144 validation samples evaluated at once: evaluation outweighs the training step.
@pytest.mark.parametrize(("batches", "eval_batch", "val_fraction", "field"), [
    ([256, 512], 8, 0.15, "search.hparam_options.batch_sizes"),
    ([8], 100_000, 0.4, "trainer.eval_batch_size"),
])
def test_the_refusal_names_the_batch_size_that_does_not_fit(
    digits: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batches: list[int],
    eval_batch: int, val_fraction: float, field: str,
) -> None:
    one = {"widths": [4096], "max_layers": 1, "activations": ["relu"], "norms": ["none"],
           "dropout_max": 0.0}  # a space of one candidate
    cfg = _config(tmp_path, digits, **{"search.arch_options": one,
                                       "search.hparam_options": {"batch_sizes": batches},
                                       "trainer.eval_batch_size": eval_batch,
                                       "data.val_fraction": val_fraction})
    d = cfg.data
    splits = load_data(d.source, d.val_fraction, d.test_fraction, 0, d.standardize).splits
    plan = make_plan(cfg, splits)
    spec = sample_arch("mlp", ProbeTrial(), plan.info, cfg.search.arch_options)
    least = min(plan.hparam_options["batch_sizes"])
    train_cfg = TrainConfig(device="cpu", optimizer="adamw", batch_size=least,
                            eval_batch_size=eval_batch)

    def total(batch: int, eval_batch: int | None = None) -> int:
        return estimate_training_memory(spec, train_cfg, data=splits, batch_size=batch,
                                        eval_batch_size=eval_batch).total

    # Room for two samples at a time, not for the smallest searched batch.
    _available(monkeypatch, (total(2, 1) + total(least)) / 2 / MEMORY_SHARE)
    with pytest.raises(ConfigError, match=rf"^{field}: no candidate .* at batch size {least};"):
        prepare(cfg)
    _available(monkeypatch, 1.2 * total(least) / MEMORY_SHARE)
    prepare(cfg)  # room enough: accepted


def _candidates() -> list[tuple[str, Any]]:
    out = []
    for name in ARCH_SPACES.names():
        for shape in [(64,), (3, 32, 32), (2, 128)]:
            for trial in (ProbeTrial, MiddleTrial):
                info = InputInfo(shape, 10, n_train=5000)
                try:
                    spec = sample_arch(name, trial(), info)
                except ValueError:
                    continue  # this space cannot take this shape
                out.append((f"{name}-{spec.kind}-{'x'.join(map(str, shape))}-"
                            f"{trial.__name__}", spec))
    return out


@pytest.mark.parametrize(("name", "spec"), _candidates(), ids=[n for n, _ in _candidates()])
def test_every_space_is_estimated_the_same_without_the_shape_only_kernels(
    name: str, spec: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = TrainConfig(batch_size=32, device="cpu", precision="bf16", checkpointing="sqrt")
    fast = estimate_training_memory(spec, cfg)
    monkeypatch.setattr(kernels, "_shape_only", lambda func, args: None)
    slow = estimate_training_memory(spec, cfg)
    assert fast.step_peak == slow.step_peak
    # Only evaluation's batch-norm statistics differ: the CPU kernel keeps none, torch's meta
    # kernel one per channel.
    assert 0 <= slow.eval - fast.eval <= 0.01 * slow.eval
