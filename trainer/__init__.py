"""Single-candidate trainer: spec + data + config in, metrics out.

The trainer knows nothing of Optuna or the database: it reports each epoch through a callback
and returns a :class:`TrainResult`. It imports ``search_spaces`` only when no model/loss factory
is passed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from trainer.errors import (
    DeadlineStop,
    DistributedTrialError,
    NonFiniteLossError,
    TrialTimeoutError,
)
from trainer.types import (
    Costs,
    DataSplits,
    EpochCallback,
    EpochRecord,
    TrainConfig,
    TrainResult,
)

if TYPE_CHECKING:
    from trainer.core import TrainRequest
    from trainer.cost import (
        count_flops,
        count_params,
        measure_costs,
        measure_latency_ms,
        static_cost,
    )
    from trainer.distributed import NodeSettings, launch_trial, node_settings
    from trainer.factories import LossFactory, ModelFactory
    from trainer.memory import PeakMemoryMeter
    from trainer.memory_estimate import (
        MemoryEstimate,
        available_memory,
        estimate_training_memory,
    )
    from trainer.run import train

# torch-heavy names load on first use, so `from trainer.types import TrainConfig` (the CLI's
# config validation) does not pay for importing torch.
_LAZY = {
    "count_flops": "trainer.cost",
    "count_params": "trainer.cost",
    "measure_costs": "trainer.cost",
    "measure_latency_ms": "trainer.cost",
    "static_cost": "trainer.cost",
    "LossFactory": "trainer.factories",
    "ModelFactory": "trainer.factories",
    "PeakMemoryMeter": "trainer.memory",
    "MemoryEstimate": "trainer.memory_estimate",
    "estimate_training_memory": "trainer.memory_estimate",
    "available_memory": "trainer.memory_estimate",
    "train": "trainer.run",
    "TrainRequest": "trainer.core",
    "launch_trial": "trainer.distributed",
    "NodeSettings": "trainer.distributed",
    "node_settings": "trainer.distributed",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trainer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

__all__ = [
    "Costs",
    "DataSplits",
    "DeadlineStop",
    "DistributedTrialError",
    "EpochCallback",
    "EpochRecord",
    "LossFactory",
    "MemoryEstimate",
    "ModelFactory",
    "NodeSettings",
    "NonFiniteLossError",
    "PeakMemoryMeter",
    "TrainConfig",
    "TrainRequest",
    "TrainResult",
    "TrialTimeoutError",
    "available_memory",
    "count_flops",
    "count_params",
    "estimate_training_memory",
    "launch_trial",
    "measure_costs",
    "measure_latency_ms",
    "node_settings",
    "static_cost",
    "train",
]
