"""Run one trial on N processes, from the caller's process.

The caller's thread stays in charge: a background thread runs the elastic agent
(``torch.distributed.launcher.api.elastic_launch``, the torchrun machinery), which spawns the
ranks and tears all of them down as soon as one fails; meanwhile the calling thread answers rank
0's epoch reports with ``on_epoch``, so Optuna and the database are only touched there.

Start method: without CUDA the ranks fork from a ``forkserver`` that has torch, DDP and this
package imported already (torch and ``torch._dynamo``, which DDP imports, cost ~2 s per fresh
process; a forked rank starts in ~0.1 s). The server lives as long as the caller's process.
Where CUDA is available the ranks are spawned instead (CUDA does not survive a fork, and
importing torch's compiler stack may already initialise it). ``AUTOML_START_METHOD``
(spawn | forkserver) overrides.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import torch
from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from trainer.distributed import control, failures
from trainer.distributed.channel import ABORT, Channel, RankError
from trainer.distributed.job import InitArgs, Job, RankOutput
from trainer.distributed.nodes import NodeSettings, free_port
from trainer.distributed.shm import share_splits
from trainer.distributed.worker import worker_main
from trainer.types import DataSplits, EpochCallback, EpochRecord

_PORT_ATTEMPTS = 3
# "__main__" as for spawn: factories defined in the caller's script must unpickle in the ranks.
_PRELOAD = ["__main__", "torch", "torch._dynamo", "torch.nn.parallel",
            "trainer.distributed.worker"]
_NOISY = ("torch.distributed.elastic", "torch.distributed.launcher", "torch.multiprocessing")


class _Agent(threading.Thread):
    """``elastic_launch`` in a thread: its result or its exception."""

    def __init__(self, config: LaunchConfig, args: tuple[Any, ...]) -> None:
        super().__init__(name="automl-elastic-agent", daemon=True)
        self.config, self.args = config, args
        self.result: dict[int, RankOutput] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = elastic_launch(self.config, worker_main)(*self.args)
        except BaseException as exc:  # reported to the caller's thread
            self.error = exc


def spawn_ranks(
    job: Job, init: InitArgs, data: DataSplits, on_epoch: EpochCallback | None,
    settings: NodeSettings,
) -> list[RankOutput]:
    """Launch ``cfg.nproc`` ranks here (and join the other nodes); return their outputs."""
    if settings.node_rank != 0:
        raise ValueError(
            f"AUTOML_NODE_RANK={settings.node_rank}: trials start on node 0; run "
            "`python -m trainer.distributed.agent` on this machine instead"
        )
    splits = share_splits(data)  # once per trial, not once per rank
    method = start_method()
    with tempfile.TemporaryDirectory(prefix="automl-ddp-") as logdir, _quiet_elastic():
        for attempt in range(_PORT_ATTEMPTS):
            channel = Channel(method)
            ann = None
            if settings.nnodes > 1:
                ann = control.announce(settings, job.request.cfg.nproc, init)
                host, port, run_id = settings.host, ann.port, ann.run_id
            else:
                host, port, run_id = "127.0.0.1", free_port(), f"automl-{uuid.uuid4().hex}"
            config = LaunchConfig(
                min_nodes=settings.nnodes,
                max_nodes=settings.nnodes,
                nproc_per_node=job.request.cfg.nproc,
                run_id=run_id,
                rdzv_backend="static",  # node 0 hosts the store and global rank 0
                rdzv_endpoint=f"{host}:{port}",
                rdzv_configs={"rank": 0, "timeout": int(_rdzv_timeout(settings, init))},
                max_restarts=0,
                monitor_interval=0.1,
                start_method=method,
                logs_specs=DefaultLogsSpecs(log_dir=os.path.join(logdir, str(attempt))),
                local_addr=host,
            )
            agent = _Agent(config, (init, job, splits, channel))
            try:
                agent.start()
                errors = _serve(channel, agent, on_epoch)
            finally:
                if ann is not None:
                    control.finish(settings, ann)
                channel.close()
            if agent.error is None:
                assert agent.result is not None
                return [agent.result[i] for i in sorted(agent.result)]
            if not errors and failures.is_port_clash(agent.error) and attempt + 1 < _PORT_ATTEMPTS:
                continue
            local_ranks = range(job.request.cfg.nproc)  # the caller's machine is node 0
            # Not chained to the agent's error: that names the first process it saw fail, often
            # a rank that only lost its peer. The root cause's traceback travels with it.
            raise failures.to_exception(agent.error, errors, local_ranks) from None
    raise AssertionError("unreachable")


def start_method() -> str:
    """``forkserver`` (preloaded) on CPU-only machines, ``spawn`` with CUDA; see the module doc."""
    method = os.environ.get("AUTOML_START_METHOD") or (
        "spawn" if torch.cuda.is_available() else "forkserver"
    )
    if method not in ("spawn", "forkserver"):
        raise ValueError(f"AUTOML_START_METHOD={method!r}: choose spawn or forkserver")
    if method == "forkserver":
        # Takes effect when the server starts (the first launch of this process).
        multiprocessing.set_forkserver_preload(_PRELOAD)
    return method


def _serve(channel: Channel, agent: _Agent, on_epoch: EpochCallback | None) -> list[RankError]:
    """Answer rank 0's epoch reports until the agent returns; collect the ranks' errors.

    If ``on_epoch`` raises (or Ctrl-C arrives), rank 0 is told to abort, the agent tears the
    ranks down, and the exception propagates unchanged.
    """
    errors: list[RankError] = []
    try:
        while True:
            message = channel.poll(timeout=0.05)
            if message is None:
                if agent.is_alive():
                    continue
                message = channel.poll(timeout=0.2)  # a last message may still be in the pipe
                if message is None:
                    break
            kind, value = message
            if kind == "error":
                errors.append(value)
            elif kind == "epoch":
                channel.answer(_decide(on_epoch, value))
    except BaseException:
        channel.answer(ABORT)
        agent.join()
        raise
    return errors


def _decide(on_epoch: EpochCallback | None, record: EpochRecord) -> bool:
    return bool(on_epoch(record)) if on_epoch is not None else False


def _rdzv_timeout(settings: NodeSettings, init: InitArgs) -> float:
    # One machine: the ranks start at once. Several: wait for the other agents to join.
    return settings.rdzv_timeout if settings.nnodes > 1 else init.timeout


@contextlib.contextmanager
def _quiet_elastic() -> Iterator[None]:
    """The elastic agent logs every start and, at ERROR, every failed rank's traceback; a
    failed trial is reported to the caller as one exception instead. AUTOML_DIST_VERBOSE=1
    keeps the logs."""
    if os.environ.get("AUTOML_DIST_VERBOSE") == "1":
        yield
        return
    loggers = [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name.startswith(_NOISY)
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
