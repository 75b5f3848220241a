"""Where workers run: one registry of launchers, ``local`` included, and the local launcher's
checks (no subprocess is started by these tests)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from automl.api import load_config
from automl.cluster import LAUNCHERS, launcher
from automl.cluster import local as local_launcher
from automl.config import SECTIONS
from automl.errors import ConfigError
from trainer.settings import settings_of


def test_every_launcher_the_config_allows_has_a_launch_function() -> None:
    assert settings_of(SECTIONS["cluster"])["launcher"].allowed() == LAUNCHERS
    assert LAUNCHERS[0] == "local"  # the default
    for name in LAUNCHERS:
        assert callable(launcher(name)), name
    assert launcher("local") is local_launcher.launch
    # Resolving every launcher loads neither submitit nor Ray: a search that uses one does.
    code = ("import sys\nfrom automl.cluster import LAUNCHERS, launcher\n"
            "[launcher(n) for n in LAUNCHERS]\n"
            "print(sorted(m for m in ('submitit', 'ray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr


def test_the_local_launcher_runs_the_loop_here_with_one_worker() -> None:
    cfg = load_config(None, ["study.workers=1"])
    ran: list[str] = []
    out = local_launcher.launch(cfg, type("S", (), {"is_sqlite": True})(), None, [],
                                started_wall=0.0, here=lambda: ran.append("here") or "done")
    assert out == "done" and ran == ["here"]


@pytest.mark.parametrize(("env", "message"), [
    ({"AUTOML_NNODES": "2", "AUTOML_RDZV_ENDPOINT": "127.0.0.1:29400"},
     "study.workers: several workers cannot share one multi-node trial"),
    ({"AUTOML_NNODES": "two"}, "study.workers: AUTOML_NNODES/NODE_RANK/RDZV_TIMEOUT"),
])
def test_several_local_workers_refuse_a_multi_node_trial(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    cfg = load_config(None, ["study.workers=2"])
    with pytest.raises(ConfigError) as err:
        local_launcher.start(cfg, True, ["search"], 0.0)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_sqlite_caps_local_workers() -> None:
    cfg = load_config(None, [f"study.workers={local_launcher.SQLITE_MAX_WORKERS + 1}"])
    with pytest.raises(ConfigError, match="use at most 8, or PostgreSQL"):
        local_launcher.start(cfg, True, ["search"], 0.0)
