"""The line between the caller's process and the ranks: epoch records up, decisions down.

Only rank 0 reports epochs; the caller's thread that called ``train`` answers each with its
``on_epoch`` decision (so Optuna and the database are only ever touched there), and rank 0
broadcasts the answer to all ranks. Every local rank may send its exception up before it dies,
so the caller can re-raise the root cause with its type.
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import traceback
from dataclasses import dataclass
from typing import Any

from trainer.types import EpochRecord

ABORT = "abort"  # the caller's callback raised: rank 0 stops the trial


class TrialAborted(RuntimeError):
    """Raised in rank 0 when the caller's ``on_epoch`` failed."""


@dataclass
class RankError:
    """A rank's exception: the object when it pickles, always its type name and message."""

    rank: int
    type_name: str
    message: str
    exc: BaseException | None
    traceback: str = ""


class Channel:
    """Two spawn-context queues; pass it to the ranks as a launch argument."""

    def __init__(self, start_method: str = "spawn") -> None:
        ctx = multiprocessing.get_context(start_method)
        self.up: Any = ctx.Queue()
        self.down: Any = ctx.Queue()

    # -- rank side --
    def report(self, record: EpochRecord) -> bool:
        """Send one epoch's record and wait for the caller's stop decision."""
        self.up.put(("epoch", record))
        decision = self.down.get()
        if decision == ABORT:
            raise TrialAborted("the caller's on_epoch callback failed")
        return bool(decision)

    def send_error(self, rank: int, exc: BaseException) -> None:
        try:
            # trusted: a round trip of this rank's own exception, to test that it can travel
            payload: BaseException | None = pickle.loads(pickle.dumps(exc))  # trusted: own object
        except Exception:  # an exception that does not survive pickling travels as text
            payload = None
        text = "".join(traceback.format_exception(exc))
        self.up.put(("error", RankError(rank, type(exc).__name__, str(exc), payload, text)))

    # -- caller side --
    def poll(self, timeout: float) -> tuple[str, Any] | None:
        try:
            kind, value = self.up.get(timeout=timeout)
        except queue.Empty:
            return None
        return kind, value

    def answer(self, decision: bool | str) -> None:
        self.down.put(decision)

    def close(self) -> None:
        for q in (self.up, self.down):
            q.close()
            q.join_thread()
