"""Numbers in unusual forms and out-of-range server options (issue 24).

Every integer (and decimal) option and argument of every command is read by one rule
(:mod:`automl.numbers`: ASCII digits, optional sign, the option's range) and refused with
one line of one shape, exit 2, no traceback, nothing opened. ``automl serve`` checks all of its
options and the address before it loads the bundle or binds a port.
"""

from __future__ import annotations

import socket
import typing
from pathlib import Path
from typing import Any

import pytest
from cli_kit import run_here

import automl.serve.app as serve_app
from automl import numbers
from automl.cli.app import app
from automl.errors import ConfigError
from automl.serve import options as serve_opts

I64, I31 = 2**63 - 1, 2**31 - 1
WHOLE, TRIAL = "a whole number", "best, knee or a whole number"
# (command before the value, the name the error gives, kind, lo, hi); "b" is no bundle, "s" no
# study: an option that passed would fail on them (or on the database) with another line.
INT_ARGS: list[tuple[list[str], str, str, int, int]] = [
    (["show", "s", "--"], "trial", WHOLE, 0, I64),
    (["leaderboard", "s", "--top"], "--top", WHOLE, 1, I64),
    (["search", "--trials"], "--trials (study.trials)", WHOLE, 1, I31),
    (["search", "--epochs"], "--epochs (trainer.epochs)", WHOLE, 1, I31),
    (["search", "--seed"], "--seed (study.seed)", WHOLE, 0, I31),
    (["search", "--nproc-per-trial"], "--nproc-per-trial (trainer.nproc)", WHOLE, 1, 1024),
    (["search", "--workers"], "--workers (study.workers)", WHOLE, 1, 64),
    (["search", "--gpus-per-worker"], "--gpus-per-worker (cluster.gpus_per_worker)", WHOLE,
     0, 1024),
    (["search", "--cpus-per-worker"], "--cpus-per-worker (cluster.cpus_per_worker)", WHOLE,
     1, 4096),
    (["export", "s", "--out", "o", "--trial"], "--trial", TRIAL, 0, I64),
    (["retrain", "s", "--out", "o", "--trial"], "--trial", WHOLE, 0, I64),
    (["retrain", "s", "--out", "o", "--trial", "1", "--epochs"], "--epochs", WHOLE, 1, I31),
    (["serve", "b", "--port"], "--port", WHOLE, 1, 65535),
    (["serve", "b", "--max-batch"], "--max-batch", WHOLE, 1, 65536),
    (["serve", "b", "--workers"], "--workers", WHOLE, 1, 64),
    (["dashboard", "--port"], "--port", WHOLE, 1, 65535),
]
# Python's int() takes some of these ('٣', '１', '𝟑', '1_0', ' 3'); none is a number here.
ODD = ["\u00b2", "\u0663", "\uff11", "\U0001d7d1", "\u22121", "1_0", " 3", "3 ", "3.0", "0x10",
       "1e3", "", "+", "three", "3\x1b[2J", "9" * 60]
DECIMAL_ARGS = [(["search", "--timeout"], "--timeout (study.timeout)", "over 0 up to 1e+08"),
                (["serve", "b", "--batch-wait-ms"], "--batch-wait-ms", "from 0 to 10000")]
ODD_DECIMALS = ["\u0663", "\uff11.5", "1_0", "nan", "inf", "-inf", "1e999", "0x1p3", " 1", ""]


def shown(value: str) -> str:
    return f"{value[:20]!r}...({len(value)} chars)" if len(value) > 40 else repr(value)


def cases() -> list[Any]:
    out = []
    for before, name, kind, lo, hi in INT_ARGS:
        for value in [*ODD, str(lo - 1), str(hi + 1)]:
            line = f"error: {name}: expected {kind} from {lo} to {hi}, got {shown(value)}"
            out.append(pytest.param([*before, value], line, id=f"{name}={value!r}"))
    for before, name, span in DECIMAL_ARGS:
        for value in ODD_DECIMALS:
            line = f"error: {name}: expected a number {span}, got {shown(value)}"
            out.append(pytest.param([*before, value], line, id=f"{name}={value!r}"))
    return out


def run(tmp_path: Path, args: list[str]) -> Any:
    env = {"AUTOML_STORAGE": f"sqlite:///{tmp_path / 'study.db'}"}
    return run_here(*args, cwd=tmp_path, check=False, env=env)


@pytest.fixture
def server_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What ``automl serve`` got to: loading the bundle, starting Uvicorn (both stubbed)."""
    calls: list[str] = []

    class Probe:  # what serve reads of the Predictor before the workers start
        input_shape, spec, table = (4,), {"study": "s", "trial": 1}, None

    def load(cfg: Any) -> Probe:
        calls.append("load")
        return Probe()

    monkeypatch.setattr(serve_app, "load_predictor", load)
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: calls.append("uvicorn"))
    return calls


@pytest.mark.parametrize("args, line", cases())
def test_odd_number_is_one_line_of_one_shape(tmp_path: Path, server_calls: list[str],
                                             args: list[str], line: str) -> None:
    proc = run(tmp_path, args)
    assert (proc.returncode, proc.stderr, proc.stdout) == (2, line + "\n", ""), proc.stderr
    assert server_calls == [] and list(tmp_path.iterdir()) == []  # nothing opened or made


def test_every_number_parameter_of_every_command_uses_the_rule() -> None:
    """A new int or float option without a parser from automl.numbers fails here."""
    rules = (numbers.Whole, numbers.FromSetting, numbers.TrialChoice)
    seen = set()
    groups = [app, *(g.typer_instance for g in app.registered_groups)]
    for info in (c for g in groups for c in g.registered_commands):
        hints = typing.get_type_hints(info.callback, include_extras=True)
        for param, hint in hints.items():
            if typing.get_origin(hint) is not typing.Annotated:
                continue
            inner, declared = typing.get_args(hint)[:2]
            if (set(typing.get_args(inner)) | {inner}) & {int, float} or param == "trial":
                parser = declared.parser
                assert isinstance(parser, rules) or parser is serve_opts.batch_wait_ms, param
                seen.add(f"{info.callback.__name__}:{param}")
    assert seen == {
        "show:trial", "leaderboard_cmd:top", "export:trial", "retrain:trial", "retrain:epochs",
        *(f"search:{p}" for p in ("trials", "timeout", "epochs", "seed", "nproc_per_trial",
                                  "workers", "gpus_per_worker", "cpus_per_worker")),
        *(f"serve:{p}" for p in ("port", "max_batch", "workers", "batch_wait_ms")),
        "dashboard:port"}


@pytest.mark.parametrize("value, number", [("0", 0), ("007", 7), ("+5", 5), ("-0", 0),
                                           (str(I64), I64)])
def test_plain_ascii_numbers_pass(value: str, number: int) -> None:
    assert numbers.whole_number(value, "n", 0, I64) == number
    assert numbers.trial_choice(" Best ") == "best" and numbers.trial_choice(value) == number


def test_set_values_are_toml_literals_so_odd_digits_are_text(tmp_path: Path) -> None:
    proc = run(tmp_path, ["search", "--quiet", "--set", "study.trials=\u0663"])
    assert proc.stderr == "error: study.trials: expected int or none, got '\u0663'\n"


@pytest.mark.parametrize("trial", ["\u00b2", "\u0663", -1, True])
def test_api_export_reads_trial_numbers_by_the_same_rule(tmp_path: Path, trial: Any) -> None:
    from automl import api

    with pytest.raises(ConfigError) as exc:
        api.export("s", tmp_path / "o", trial=trial, storage=f"sqlite:///{tmp_path / 'x.db'}")
    assert str(exc.value) == f"--trial: expected {TRIAL} from 0 to {I64}, got {trial!r}"


@pytest.mark.parametrize("kwargs, message", [
    ({"max_batch": -1}, "--max-batch: expected a whole number from 1 to 65536, got -1"),
    ({"max_batch": 0}, "--max-batch: expected a whole number from 1 to 65536, got 0"),
    ({"batch_wait_ms": float("nan")}, "--batch-wait-ms: expected a number from 0 to 10000, "
                                      "got nan"),
])
def test_an_app_with_a_batch_limit_that_refuses_everything_is_not_built(
        kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        serve_app.create_app("unused", input_shape=(4,), **kwargs)
    assert str(exc.value) == message


def test_serve_starts_with_good_options(tmp_path: Path, server_calls: list[str]) -> None:
    # The control of the cases above: the stubs are the ones serve calls.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    proc = run(tmp_path, ["serve", "b", "--port", port, "--max-batch", "65536", "--workers",
                          "64", "--batch-wait-ms", "10000"])
    assert proc.returncode == 0 and server_calls == ["load", "uvicorn"], proc.stderr


@pytest.mark.parametrize("host, taken, option", [
    ("127.0.0.1", True, "--port"), ("no-such-host.invalid", False, "--host"),
    ("192.0.2.1", False, "--host"),  # TEST-NET-1: never an address of this machine
])
def test_serve_refuses_an_address_it_cannot_listen_on(tmp_path: Path, server_calls: list[str],
                                                      host: str, taken: bool,
                                                      option: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1] if taken else 8000
        proc = run(tmp_path, ["serve", "b", "--host", host, "--port", str(port)])
    line = proc.stderr
    assert proc.returncode == 2 and line.count("\n") == 1, line
    assert line.startswith(f"error: cannot listen on {host}:{port} (") and line.endswith(
        f"); choose another {option}\n"), line
    assert server_calls == []
