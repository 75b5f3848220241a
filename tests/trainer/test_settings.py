"""Settings declared once (trainer/settings.py): the checker reads each field's declaration."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from trainer.optim import validate_config
from trainer.settings import Ref, SettingError, build, check, setting, settings_of
from trainer.types import TrainConfig


@dataclasses.dataclass(frozen=True)
class Demo:
    mode: str = setting("a", choices=("a", "b"), help="a or b")
    count: int = setting(1, lo=1, hi=10)
    ratio: float | None = setting(None, lo=0, lo_open=True)
    names: tuple[str, ...] = setting(())
    extra: dict[str, int] = setting(factory=dict)


@pytest.mark.parametrize(("table", "message"), [
    ({"mode": "c"}, "demo.mode: 'c' is not allowed; choose one of: a, b"),
    ({"count": 0}, "demo.count: 0 is out of range; must be >= 1 and <= 10"),
    ({"count": True}, "demo.count: expected int, got True"),
    ({"ratio": 0}, "demo.ratio: 0.0 is out of range; must be > 0"),
    ({"ratio": float("nan")}, "demo.ratio: nan is not a finite number"),
    ({"names": ["x", 1]}, "demo.names[1]: expected str, got 1"),
    ({"mode": "a\x00"}, "demo.mode: 'a\\x00' is not allowed"),
    ({"nope": 1}, "demo.nope: unknown key; allowed: count, extra, mode, names, ratio"),
])
def test_build_names_the_key_and_the_rule(table: dict, message: str) -> None:
    with pytest.raises(SettingError) as err:
        build(Demo, table, "demo")
    assert str(err.value).startswith(message)


def test_build_coerces_and_keeps_defaults() -> None:
    demo = build(Demo, {"names": ["x"], "ratio": 2}, "demo")
    assert demo == Demo(names=("x",), ratio=2.0)
    assert settings_of(Demo)["mode"].help == "a or b"
    assert settings_of(Demo)["extra"].allowed() is None


def test_check_gives_an_instance_the_same_message_as_a_table() -> None:
    for table in ({"count": 11}, {"mode": "z"}, {"ratio": -1.0}):
        with pytest.raises(SettingError) as from_table:
            build(Demo, table, "demo")
        with pytest.raises(SettingError) as from_instance:
            check(Demo(**table), "demo")
        assert str(from_instance.value) == str(from_table.value)


def test_lazy_choices_resolve_on_first_use() -> None:
    ref = Ref("search_spaces.arch.checkpoint", "MODES")
    from search_spaces.arch.checkpoint import MODES
    assert ref.resolve() == MODES
    assert settings_of(TrainConfig)["checkpointing"].allowed() == MODES


@pytest.mark.parametrize(("field", "value"), [
    ("checkpointing", "all"), ("precision", "fp8"), ("optimizer", "lion"), ("augment", "mixup"),
    ("device", "tpu"), ("backend", "mpi"), ("comm_hook", "int8"), ("epochs", 0), ("nproc", 0),
    ("timeout", 0), ("trial_timeout", 0), ("num_threads", 0), ("bucket_cap_mb", -1),
    ("lr", float("inf")), ("epochs", "5"),
])
def test_validate_config_is_the_declared_check(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"^trainer.{field}: "):
        validate_config(TrainConfig(**{field: value}))  # type: ignore[arg-type]


def test_every_trainconfig_field_is_declared() -> None:
    declared = {f.name for f in dataclasses.fields(TrainConfig) if "setting" in f.metadata}
    assert declared == {f.name for f in dataclasses.fields(TrainConfig)}
    assert all(rule.help for rule in settings_of(TrainConfig).values())


def test_declaring_and_checking_do_not_import_torch() -> None:
    code = ("import sys, trainer.types, trainer.settings; "
            "trainer.settings.build(trainer.types.TrainConfig, {'precision': 'bf16'}, 't'); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
