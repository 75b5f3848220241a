"""A rung decision of multi-objective successive halving, from the database (MO-ASHA).

The standings come from every trial of the study that reached the rung, whichever worker or
machine ran it (:func:`automl.storage.candidates.rung_entries`); the rule is
:func:`automl.policy.pruning.decide`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from automl.policy.pruning import ETA, RungEntry, decide

if TYPE_CHECKING:
    from automl.storage import Storage


def rung_verdict(storage: Storage, study: str, number: int, epoch: int, cost: str,
                 rungs: Sequence[int]) -> str | None:
    """None if trial ``number`` continues past the rung at ``epoch``, else why it stops."""
    from automl.storage.candidates import rung_entries

    rows = rung_entries(storage, study, epoch, cost)
    entries = [RungEntry(n, acc, c, kind) for n, acc, c, kind in rows]
    if all(e.number != number for e in entries):
        return None  # its row has no cost yet: nothing to compare on
    verdict = decide(number, entries, ETA)
    return None if verdict.promote else verdict.reason(list(rungs).index(epoch) + 1, epoch, ETA)
