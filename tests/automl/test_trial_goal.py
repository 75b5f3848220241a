"""How many trials a run aims at when ``study.trials`` is not given: 20, or, with a timeout, as
many as fit (the clock ends the run; tests/automl/test_decisions.py runs one past 20). What the
start line and the progress bar then say."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console

from automl.cli.progress import RichReporter
from automl.config import from_dict
from automl.control.run import banner
from automl.policy.budget import trial_goal


@pytest.mark.parametrize(("study", "goal", "said"), [
    ({}, 20, ": 20 trials,"),
    ({"timeout": 60}, None, ": trials for 60 s,"),
    ({"timeout": 60, "trials": 5}, 5, ": 5 trials,"),
    ({"trials": 7}, 7, ": 7 trials,"),
])
def test_the_goal_the_start_line_and_the_bar_agree(study: dict, goal: int | None, said: str
                                                   ) -> None:
    cfg = from_dict({"study": study})
    data = SimpleNamespace(splits=SimpleNamespace(x_train=np.zeros((10, 4))), notes=())
    line = banner(cfg, SimpleNamespace(masked_url="sqlite:///x.db"), data)  # type: ignore[arg-type]
    assert said in line, line
    reporter = RichReporter(trial_goal(cfg.study.trials, cfg.study.timeout),
                            console=Console(file=io.StringIO()))
    reporter.run_progress(SimpleNamespace(finished=3), trial_goal(cfg.study.trials,
                                                                  cfg.study.timeout))
    task = reporter.progress.tasks[0]
    assert task.total == goal and task.completed == 3  # no bar to fill against the clock
