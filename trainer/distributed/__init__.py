"""Multi-process trials: DDP over ``torch.distributed``, launched by the elastic agent.

``trainer.train`` comes here when ``cfg.nproc > 1`` or when torchrun already started the process
(``WORLD_SIZE`` > 1). See ``trainer/README.md`` for the options, the multi-machine set-up
(:mod:`trainer.distributed.nodes`) and what falls back on gloo.
"""

from __future__ import annotations

from trainer.distributed.job import RankOutput
from trainer.distributed.nodes import NodeSettings, node_settings
from trainer.distributed.trial import launch_trial
from trainer.errors import DistributedTrialError

__all__ = [
    "DistributedTrialError",
    "NodeSettings",
    "RankOutput",
    "launch_trial",
    "node_settings",
]
