"""A candidate's identity: the content hash that tells a repeated proposal from a new one."""

from __future__ import annotations

import hashlib
import json
from typing import Any

DUPLICATE = "duplicate of trial "  # reason prefix of a repeat answered from the stored result

# Settings that differ between trials without changing what is trained: the seed follows the
# trial number, and latency is measured by the search, not the trainer.
_PER_TRIAL = ("seed", "latency_repeats")


def candidate_key(arch: dict[str, Any], loss: dict[str, Any], hparams: dict[str, Any],
                  train_config: dict[str, Any], data_hash: str) -> str:
    """sha256 over everything that decides a candidate's result: architecture, loss,
    hyperparameters, training settings and the data."""
    train = {k: v for k, v in train_config.items() if k not in _PER_TRIAL}
    blob = json.dumps([arch, loss, hparams, train, data_hash], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
