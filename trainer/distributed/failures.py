"""Turn a failed launch into one exception that names the failing rank and its error.

A rank that raises sends its exception up the channel before it dies; that is the root cause.
The others then fail in collectives ("connection closed by peer") or are terminated by the
elastic agent, which is noise. A rank killed by a signal (or by the OOM killer, or ``os._exit``)
sends nothing: the agent records only the first process it saw fail, often a peer that lost
its connection, so when every report is such a consequence the rank that stayed silent is the
one that died.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from typing import Any

import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

from trainer.distributed.channel import RankError, TrialAborted
from trainer.errors import (
    DeadlineStop,
    DistributedTrialError,
    NonFiniteLossError,
    TrialTimeoutError,
)

# Raised in the ranks and re-raised in the caller as they are: the controller prunes on them.
PASS_THROUGH = (NonFiniteLossError, TrialTimeoutError, DeadlineStop)


def root_cause(errors: Sequence[RankError]) -> RankError | None:
    """The first error that is not a consequence of another rank's failure."""
    secondary = (dist.DistError, TrialAborted)
    for err in errors:
        if not isinstance(err.exc, secondary) and not _looks_secondary(err.message):
            return err
    return None


def _looks_secondary(message: str) -> bool:
    # gloo reports a dead peer as a plain RuntimeError on some paths.
    text = message.lower()
    return "connection closed by peer" in text or "connection reset by peer" in text


def to_exception(
    launch_error: BaseException, errors: Sequence[RankError], ranks: Sequence[int]
) -> BaseException:
    """The exception the caller sees for a failed launch of the global ``ranks`` here."""
    root = root_cause(errors)
    if root is not None:
        if isinstance(root.exc, PASS_THROUGH):
            return root.exc
        return DistributedTrialError(root.rank, root.type_name, root.message, root.traceback)
    if isinstance(launch_error, ChildFailedError):
        rank, failure = _first_real_failure(launch_error)
        if not _is_secondary(failure):
            return DistributedTrialError(rank, *_describe(failure.exitcode, failure.message))
    silent = sorted(set(ranks) - {e.rank for e in errors})
    if errors and silent:
        return DistributedTrialError(
            silent[0], "ProcessDied",
            "the rank's process ended without an exception (a signal, the OOM killer or "
            f"os._exit); rank {errors[0].rank} then lost its connection to it",
        )  # fmt: skip
    if errors:
        first = errors[0]
        return DistributedTrialError(first.rank, first.type_name, first.message, first.traceback)
    return DistributedTrialError(None, type(launch_error).__name__, str(launch_error))


def _first_real_failure(error: ChildFailedError) -> tuple[int, Any]:
    return min(error.failures.items(), key=lambda kv: (_is_secondary(kv[1]), kv[1].timestamp))


def _is_secondary(failure: Any) -> bool:
    # The agent's SIGTERM teardown and dead-peer errors follow from another rank's failure.
    return failure.exitcode == -signal.SIGTERM or _looks_secondary(_text(failure.message))


def _text(message: Any) -> str:
    if isinstance(message, dict):
        message = message.get("message", "")
    return str(message or "")


def _describe(exitcode: int, message: Any) -> tuple[str, str]:
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return "ProcessKilled", f"the rank's process was killed by {name}"
    text = _text(message)
    if ": " in text and " " not in text.split(": ", 1)[0]:
        type_name, detail = text.split(": ", 1)
        return type_name, detail
    return "ProcessExited", f"exit code {exitcode}" + (f": {text}" if text else "")


def is_port_clash(exc: BaseException) -> bool:
    """The rendezvous port was taken between choosing and binding it: retry with another."""
    return "address already in use" in str(exc).lower() or "eaddrinuse" in str(exc).lower()
