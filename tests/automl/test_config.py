from __future__ import annotations

from pathlib import Path

import pytest

from automl import config
from automl.errors import ConfigError

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.toml"))


def test_defaults_are_valid() -> None:
    cfg = config.from_dict({})
    assert cfg.study.sampler == "tpe"
    assert cfg.directions == ["maximize", "minimize"]
    assert cfg.study.cost == "flops"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_shipped_example_loads(path: Path) -> None:
    cfg = config.load(path)
    assert cfg.study.name
    assert cfg.to_dict()["trainer"]["epochs"] == cfg.trainer.epochs


def test_examples_exist() -> None:
    assert any(p.name == "digits.toml" for p in EXAMPLES)


def test_precedence_file_then_flags_then_set(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[study]\nname = "a"\ntrials = 3\n[trainer]\nepochs = 4\n')
    cfg = config.load(
        f,
        flags={"study.trials": 7, "trainer.epochs": None},
        overrides=["trainer.epochs=9", "study.name=b c"],
    )
    assert cfg.study.trials == 7  # flag beats file
    assert cfg.trainer.epochs == 9  # --set beats file
    assert cfg.study.name == "b c"  # non-TOML value taken as a string


def test_set_parses_toml_literals() -> None:
    cfg = config.load(
        overrides=["trainer.lr=0.01", "trainer.zero=true", "search.arch_options.widths=[16, 32]"]
    )
    assert cfg.trainer.lr == 0.01 and cfg.trainer.zero is True
    assert cfg.search.arch_options == {"widths": [16, 32]}


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"studdy": {}}, "studdy: unknown section"),
        ({"study": {"trails": 3}}, "study.trails: unknown key; allowed:"),
        ({"study": {"trials": "many"}}, "study.trials: expected int"),
        ({"study": {"trials": True}}, "study.trials: expected int"),
        ({"study": {"trials": -1}}, "study.trials: -1 is out of range"),
        (
            {"study": {"sampler": "bayes"}},
            "study.sampler: 'bayes' is not allowed; choose one of: tpe",
        ),
        ({"study": {"objective": "speed"}}, "study.objective: 'speed' is not allowed"),
        ({"study": {"cost": "watts"}}, "study.cost: 'watts' is not allowed"),
        ({"study": {"pruner": "x"}}, "study.pruner: 'x' is not allowed"),
        ({"trainer": {"precision": "fp8"}}, "trainer.precision: 'fp8' is not allowed"),
        ({"trainer": {"lr": "fast"}}, "trainer.lr: expected float"),
        ({"trainer": {"epochs": 0}}, "trainer.epochs: 0 is out of range; must be >= 1"),
        ({"data": {"val_fraction": 2.0}}, "data.val_fraction: 2.0 is out of range"),
        ({"study": {"sampler": "cmaes"}}, "study.sampler: 'cmaes' is single-objective"),
        (
            {"trainer": {"precision": "fp16", "device": "cpu"}},
            "trainer.precision: 'fp16' needs CUDA",
        ),
        ({"study": 3}, "study: expected a table"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(data: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.from_dict(data)
    msg = str(err.value)
    assert expected in msg
    assert "\n" not in msg


def test_malformed_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\nname=")
    with pytest.raises(ConfigError, match="bad.toml: malformed TOML"):
        config.load(bad)
    with pytest.raises(ConfigError, match="nope.toml: study file not found"):
        config.load(tmp_path / "nope.toml")


@pytest.mark.parametrize("item", ["trainer.epochs", "=3", "epochs=3", "a..b=1"])
def test_bad_override(item: str) -> None:
    with pytest.raises(ConfigError, match="--set"):
        config.load(overrides=[item])


def test_each_enum_is_declared_once_and_read_from_its_owner() -> None:
    from automl.cluster.settings import LAUNCHERS
    from automl.control.samplers import PRUNERS, SAMPLERS
    from search_spaces.arch.checkpoint import MODES
    from search_spaces.hparams import OPTIMIZERS
    from trainer.augment import AUGMENTATIONS
    from trainer.settings import settings_of

    def allowed(section: str, key: str) -> tuple[object, ...] | None:
        return settings_of(config.SECTIONS[section])[key].allowed()

    assert allowed("study", "sampler") == tuple(SAMPLERS)
    assert allowed("study", "pruner") == tuple(PRUNERS)
    assert allowed("study", "objective") == tuple(config.OBJECTIVES)
    assert allowed("cluster", "launcher") == LAUNCHERS
    assert allowed("trainer", "checkpointing") == MODES
    assert allowed("trainer", "optimizer") == OPTIMIZERS
    assert allowed("trainer", "augment") == AUGMENTATIONS


def test_the_trainer_and_the_study_file_give_the_same_message() -> None:
    from trainer.optim import validate_config
    from trainer.types import TrainConfig

    for key, value in (("precision", "fp8"), ("epochs", 0), ("timeout", 1e9), ("lr", -1.0)):
        with pytest.raises(ConfigError) as from_file:
            config.from_dict({"trainer": {key: value}})
        with pytest.raises(ValueError) as from_python:
            validate_config(TrainConfig(**{key: value}))  # type: ignore[arg-type]
        assert str(from_python.value) == str(from_file.value)
