"""The node agent for machines other than node 0: ``python -m trainer.distributed.agent``.

It joins every trial that node 0 announces (see :mod:`trainer.distributed.control`) with
``nproc`` local ranks, which receive the candidate, the config and the data from rank 0. It
needs the same code (this repository) and the same ``AUTOML_NNODES`` / ``AUTOML_RDZV_ENDPOINT``
as node 0, its own ``AUTOML_NODE_RANK``, and runs until node 0's search process exits (or for
``--trials N`` trials). A failed trial is logged and the agent waits for the next one.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Sequence

from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from trainer.distributed import control
from trainer.distributed.launch import start_method
from trainer.distributed.nodes import NodeSettings, node_settings
from trainer.distributed.worker import worker_main

log = logging.getLogger("trainer.distributed.agent")


def serve(settings: NodeSettings, trials: int | None = None, wait: float = 600.0) -> int:
    """Join node 0's trials; return how many this node took part in."""
    if settings.node_rank == 0:
        raise ValueError("the agent runs on nodes 1..N-1; node 0 runs the search itself")
    store = control.connect(settings, wait)
    last, joined = 0, 0
    while trials is None or joined < trials:
        try:
            ann = control.next_trial(store, last)
        except (RuntimeError, OSError) as exc:  # node 0's process exited: the search is over
            log.info("node 0 went away (%s); stopping", exc)
            break
        last = ann.seq
        init = ann.init
        with tempfile.TemporaryDirectory(prefix="automl-ddp-") as logdir:
            config = LaunchConfig(
                min_nodes=settings.nnodes,
                max_nodes=settings.nnodes,
                nproc_per_node=ann.nproc,
                run_id=ann.run_id,
                rdzv_backend="static",
                rdzv_endpoint=f"{settings.host}:{ann.port}",
                rdzv_configs={"rank": settings.node_rank, "timeout": int(settings.rdzv_timeout)},
                max_restarts=0,
                monitor_interval=0.1,
                start_method=start_method(),
                logs_specs=DefaultLogsSpecs(log_dir=logdir),
            )
            try:
                elastic_launch(config, worker_main)(init, None, None, None)
            except Exception as exc:  # the trial failed; node 0 records it, we wait for the next
                log.warning("trial %d failed here: %s", ann.seq, str(exc).splitlines()[0])
        joined += 1
    return joined


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.distributed.agent", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--trials", type=int, default=None, help="stop after N trials")
    parser.add_argument(
        "--wait", type=float, default=600.0, help="seconds to wait for node 0's control store"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s agent: %(message)s")
    joined = serve(node_settings(), args.trials, args.wait)
    log.info("took part in %d trial(s)", joined)
    return 0


if __name__ == "__main__":
    sys.exit(main())
