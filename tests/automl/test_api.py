"""The Python API (:mod:`automl.api`): the README's example runs for real (real trainer, real
SQLite file, no mocks), the read functions return what the CLI prints, and bad input raises
an :class:`~automl.errors.AutomlError` before anything is written."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from readme_kit import README, python_block

import automl
from automl import api, config
from automl.cluster.argv import search_argv, toml_literal
from automl.errors import AutomlError, ConfigError, DataError, StorageError


def readme_example() -> str:
    """The first Python block of the README's "Python API" section."""
    return python_block("## Python API")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The README example, run in a fresh folder; its globals afterwards."""
    folder = tmp_path_factory.mktemp("api")
    mp = pytest.MonkeyPatch()
    mp.chdir(folder)
    mp.delenv("AUTOML_STORAGE", raising=False)
    try:
        scope: dict[str, Any] = {"__name__": "readme"}
        exec(compile(readme_example(), str(README), "exec"), scope)  # noqa: S102
    finally:
        mp.undo()
    return folder, scope


@pytest.mark.slow
def test_readme_example_runs(demo: tuple[Path, dict[str, Any]]) -> None:
    folder, scope = demo
    result = scope["result"]
    assert isinstance(result, api.StudyResult)
    assert result.study == "api-demo" and result.storage == "sqlite:///api-demo.db"
    assert result.trials_run == 2 and result.requested == 2 and not result.resumed
    assert sum(result.states.values()) == 2 and result.cost == "flops"
    assert len(result.leaderboard) == 2 and result.pareto
    assert result.best is not None and result.best.state == "COMPLETE"
    json.dumps(result.to_dict(), default=str)  # for programs too
    assert (folder / "api-demo.db").is_file() and (folder / "api-model" / "spec.json").is_file()
    assert scope["model"].training is False


@pytest.mark.slow
def test_reads_return_what_the_cli_shows(demo: tuple[Path, dict[str, Any]]) -> None:
    folder, scope = demo
    db = f"sqlite:///{folder / 'api-demo.db'}"
    [summary] = api.studies(db)
    assert summary.name == "api-demo" and summary.n_trials == 2
    records = api.trials("api-demo", db)
    assert [r.number for r in records] == [0, 1]
    one = api.trial("api-demo", records[0].number, db)
    assert one.arch is not None and one.arch["kind"] == "mlp" and one.epochs
    rows = api.leaderboard("api-demo", db)
    assert rows == scope["result"].leaderboard
    assert api.leaderboard("api-demo", db, top=1) == rows[:1]
    assert all(r["pareto"] for r in api.leaderboard("api-demo", db, pareto=True))
    assert api.study_config("api-demo", db)["search"]["arch"] == "mlp"
    assert scope["result"].best.number in {r["trial"] for r in rows if r["pareto"]}
    assert len(api.leaderboard("api-demo", db, cost="params", top=None)) == 2
    # An open handle works too, and is left open.
    from automl.storage import open_storage

    store = open_storage(db, create=False, readonly=True)
    assert api.leaderboard("api-demo", store) == rows
    assert api.study_config("api-demo", store)  # still open
    store.close()


@pytest.mark.slow
def test_read_errors_are_automl_errors(demo: tuple[Path, dict[str, Any]]) -> None:
    folder, _ = demo
    db = f"sqlite:///{folder / 'api-demo.db'}"
    with pytest.raises(StorageError, match="no study named 'nope'"):
        api.leaderboard("nope", db)
    with pytest.raises(StorageError, match="no study named 'nope'"):
        api.trials("nope", db)
    with pytest.raises(StorageError, match="has no trial 99"):
        api.trial("api-demo", 99, db)
    with pytest.raises(ConfigError, match="trial: -1 is not a trial number"):
        api.trial("api-demo", -1, db)
    with pytest.raises(ConfigError, match="top: must be at least 1"):
        api.leaderboard("api-demo", db, top=0)
    with pytest.raises(AutomlError, match="no completed trial|not found|no trial"):
        api.export("api-demo", folder / "out", trial=99, storage=db)


def test_missing_database_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="database file not found"):
        api.studies(f"sqlite:///{tmp_path / 'absent.db'}")


@pytest.mark.parametrize(("kwargs", "error", "text"), [
    ({"overrides": ["study.sampler=bayes"]}, ConfigError, "study.sampler: 'bayes'"),
    ({"data": "missing.npz"}, DataError, "missing.npz: data file not found"),
    ({"overrides": ["search.arch=resnet9000"]}, ConfigError, "search.arch: unknown"),
    ({"study": "bad/name"}, ConfigError, "study.name"),
    ({"trials": 0}, ConfigError, "study.trials"),
])
def test_bad_search_input_raises_and_writes_nothing(
        tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], text: str) -> None:
    db = tmp_path / "never.db"
    with pytest.raises(error, match=re.escape(text)):
        api.search(storage=f"sqlite:///{db}", **kwargs)
    assert not db.exists()


def test_load_config_layers_file_flags_and_overrides(tmp_path: Path) -> None:
    study = tmp_path / "s.toml"
    study.write_text('[study]\nname = "f"\ntrials = 3\n[data]\nsource = "x.npz"\n')
    cfg = api.load_config(study, ["study.trials=7"], flags={"study.seed": 4})
    assert (cfg.study.name, cfg.study.trials, cfg.study.seed) == ("f", 7, 4)
    assert Path(cfg.data.source).is_absolute()  # stored absolute, as the CLI does
    with pytest.raises(ConfigError, match="trails"):
        api.load_config(None, ["study.trails=5"])


def test_a_config_object_takes_keywords_and_overrides() -> None:
    base = config.load(None, overrides=["study.name=base", "trainer.lr=0.01"])
    assert api._config(base, {"study.name": None}, []) == base
    cfg = api._config(base, {"study.trials": 9}, ["study.seed=3"])
    assert (cfg.study.name, cfg.study.trials, cfg.study.seed, cfg.trainer.lr) == (
        "base", 9, 3, 0.01)


def test_search_argv_reproduces_the_config() -> None:
    """The command line workers started from Python run reads back as the same config, minus
    how the run is spread (each worker is one)."""
    cfg = config.load(None, overrides=[
        'study.name="wé \\"q\\""', "study.timeout=30", "trainer.lr=1e-05",
        "search.arch=mlp", "search.arch_options={hidden_max = 64}", "study.workers=3",
        "cluster.restarts=1", "limits.max_latency_ms=2.5"])
    argv = search_argv(cfg)
    assert argv[0] == "search" and not any("workers" in a or "cluster." in a for a in argv)
    back = config.load(None, overrides=argv[2::2])
    spread = {"study": dataclasses.replace(cfg.study, workers=1),
              "cluster": config.StudyConfig().cluster}
    assert back == dataclasses.replace(cfg, **spread)
    assert search_argv(config.StudyConfig()) == ["search"]  # defaults: nothing to say


def test_toml_literals() -> None:
    assert [toml_literal(v) for v in (True, 3, 0.5, float("-inf"), "a\x7f", [1, "b"])] == [
        "true", "3", "0.5", "-inf", '"a\\u007f"', '[1, "b"]']
    assert toml_literal({"k.x": (1,)}) == '{"k.x" = [1]}'
    with pytest.raises(TypeError):
        toml_literal(object())


def test_import_automl_stays_cheap() -> None:
    code = ("import sys, automl\nfrom automl import api\n"
            "assert callable(automl.search) and automl.search is api.search\n"
            "assert automl.trial is api.trial and automl.StudyResult is api.StudyResult\n"
            "print([m for m in ('torch', 'optuna', 'sqlalchemy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert set(automl.__all__) >= {"search", "load_config", "studies", "trial", "trials",
                                   "load_model", "Predictor"}


@pytest.mark.slow
def test_workers_started_from_python_share_the_run(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``workers=2`` from Python: the second worker runs the command line built from the config
    (there is no CLI command to repeat) and the run's count stays exact."""
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'w.db'}"
    result = api.search(study="w", storage=db, trials=3, epochs=1, workers=2, top=None,
                        overrides=["search.arch=mlp", "study.heartbeat_interval=0"])
    assert result.trials_run == 3 and sum(result.states.values()) == 3
    assert "RUNNING" not in result.states and len(result.leaderboard) == 3


def test_every_api_name_on_the_package_is_the_api_function() -> None:
    """``automl.leaderboard`` is the function, even after every submodule has been imported
    (a submodule of that name would replace it partway through a notebook session)."""
    import importlib
    import pkgutil

    import automl

    for mod in pkgutil.walk_packages(automl.__path__, "automl."):
        if not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)
    for name in ("leaderboard", "search", "studies", "trial", "trials", "load_config"):
        assert getattr(automl, name) is getattr(api, name), name
