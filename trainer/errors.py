"""Errors that end one trial; the caller records them and moves on to the next."""

from __future__ import annotations

from typing import Any


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite (diverged: lr too high, unstable loss ...)."""

    def __init__(self, epoch: int, step: int, value: float) -> None:
        super().__init__(f"training loss is {value} at epoch {epoch}, step {step}")
        self.epoch = epoch
        self.step = step
        self.value = value

    def __reduce__(self) -> tuple[Any, ...]:
        # A distributed rank sends this error to the caller's process by pickling it; the
        # default reduction would call __init__ with the message alone.
        return (type(self), (self.epoch, self.step, self.value))


class TrialTimeoutError(RuntimeError):
    """Training ran longer than ``TrainConfig.trial_timeout`` seconds."""

    def __init__(self, limit: float, elapsed: float, epoch: int, step: int) -> None:
        super().__init__(
            f"training exceeded trial_timeout={limit:g}s ({elapsed:.1f}s elapsed) "
            f"before epoch {epoch}, step {step}"
        )
        self.limit = limit
        self.elapsed = elapsed
        self.epoch = epoch
        self.step = step

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.limit, self.elapsed, self.epoch, self.step))


class DeadlineStop(RuntimeError):
    """Training reached the caller's ``stop_at`` before its first epoch ended: nothing to keep."""

    def __init__(self, epoch: int, step: int) -> None:
        super().__init__(f"stopped at the deadline in epoch {epoch}, step {step}, before any "
                         "epoch ended")
        self.epoch = epoch
        self.step = step

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.epoch, self.step))


class DistributedTrialError(RuntimeError):
    """A rank of a multi-process trial failed (raised, was killed, or timed out).

    The message is one line: ``rank R: ExceptionType: message``. ``rank`` is the global rank
    that failed first (None when unknown), ``error_type`` the name of its exception and
    ``rank_traceback`` its traceback as formatted in that rank ("" when it died without one).
    """

    def __init__(
        self, rank: int | None, error_type: str, message: str, rank_traceback: str = ""
    ) -> None:
        where = f"rank {rank}" if rank is not None else "a rank"
        text = " ".join(f"{error_type}: {message}".split())  # one line for the trial record
        super().__init__(f"{where}: {text}")
        self.rank = rank
        self.error_type = error_type
        self.error_message = message
        self.rank_traceback = rank_traceback

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.rank, self.error_type, self.error_message, self.rank_traceback)
        return (type(self), args)
