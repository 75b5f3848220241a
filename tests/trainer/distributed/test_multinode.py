"""Two "machines" on one host: node 0 runs the trial, node 1 runs the node agent."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest
from ddp_helpers import BASE, HERE
from trainer_helpers import cross_entropy, image_splits, mlp

from trainer import TrainRequest
from trainer.distributed import launch_trial
from trainer.distributed.nodes import free_port

pytestmark = pytest.mark.distributed


def test_a_trial_spans_two_nodes_and_matches_one_node(monkeypatch: pytest.MonkeyPatch) -> None:
    node = {
        "AUTOML_NNODES": "2",
        "AUTOML_RDZV_ENDPOINT": f"127.0.0.1:{free_port()}",
        "AUTOML_RDZV_TIMEOUT": "30",
    }
    env = {**os.environ, **node, "AUTOML_NODE_RANK": "1", "PYTHONPATH": str(HERE.parent)}
    agent = subprocess.Popen(
        [sys.executable, "-m", "trainer.distributed.agent", "--trials", "1", "--wait", "30"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        with monkeypatch.context() as m:
            for key, value in {**node, "AUTOML_NODE_RANK": "0"}.items():
                m.setenv(key, value)
            # one rank per node: ranks 1 has neither the data nor the job until rank 0 sends them
            one_rank = dataclasses.replace(BASE, nproc=1)
            two_nodes, _ = launch_trial(
                TrainRequest(None, None, one_rank, mlp, cross_entropy), image_splits()
            )
        output, _ = agent.communicate(timeout=30)
    finally:
        agent.kill()
        agent.wait()
    assert agent.returncode == 0, output
    assert "took part in 1 trial(s)" in output
    one_node, _ = launch_trial(TrainRequest(None, None, BASE, mlp, cross_entropy), image_splits())
    for key, value in one_node.state_dict.items():
        assert (two_nodes.state_dict[key] - value).abs().max() < 1e-6
    assert two_nodes.history == [
        dataclasses.replace(r, seconds=s.seconds)
        for r, s in zip(one_node.history, two_nodes.history, strict=True)
    ]
