"""Multi-process trials: DDP over ``torch.distributed``, launched by the elastic agent.

``trainer.train`` comes here when ``cfg.nproc > 1`` or when torchrun already started the process
(``WORLD_SIZE`` > 1). See ``trainer/README.md`` for the options, the multi-machine set-up
(:mod:`trainer.distributed.nodes`) and what falls back on gloo.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from trainer.distributed.nodes import NodeSettings, node_settings
from trainer.errors import DistributedTrialError

if TYPE_CHECKING:
    from trainer.distributed.job import RankOutput
    from trainer.distributed.trial import launch_trial

# The launcher (the elastic agent, torch.distributed) loads on first use: a search process
# that reads the node settings and trains on one process never pays for it.
_LAZY = {"RankOutput": "trainer.distributed.job", "launch_trial": "trainer.distributed.trial"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "DistributedTrialError",
    "NodeSettings",
    "RankOutput",
    "launch_trial",
    "node_settings",
]
