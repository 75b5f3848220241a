"""Ctrl-C and SIGTERM during a search: held while the database is written, raised only where a
trial can be stopped cleanly.

Python raises ``KeyboardInterrupt`` between any two bytecodes, so a signal could land between
``study.ask()`` and the trial's first write (leaving it RUNNING after exit), or inside a commit
(breaking the session, so that the trial then failed with a storage error and counted as
finished). Inside :func:`deferring` (the search loop) the handler only records the signal; it is
raised

* on entry to, or anywhere inside, an :func:`interruptible` stretch (training, waiting), where
  the runner marks the trial interrupted and queues its candidate again, and
* at a :func:`checkpoint` (between trials, when no trial of this worker is open).

:func:`held` makes a short critical section inside an interruptible stretch (the per-epoch
writes). The handler acts in the main thread only, as Python delivers signals there.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (the running trial is marked interrupted and queued again)
    but ending with exit code 143."""


class _State:
    depth = 0  # nesting of deferring()
    open = 0  # > 0: inside an interruptible stretch (and not in a held() section)
    pending: int | None = None  # the signal held back, if any


def _exception(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def handler(signum: int, _frame: FrameType | None) -> None:
    """Raise now where that is safe, else remember the signal for the next safe point."""
    if _State.depth and not _State.open:
        if _State.pending is None or signum == signal.SIGTERM:  # SIGTERM decides the exit code
            _State.pending = signum
        return
    raise _exception(signum)


def checkpoint() -> None:
    """Raise a held signal now (call where stopping leaves nothing half-written)."""
    if _State.pending is not None:
        signum, _State.pending = _State.pending, None
        raise _exception(signum)


@contextlib.contextmanager
def deferring() -> Iterator[None]:
    """Hold SIGINT/SIGTERM inside (see the module docstring); a signal still held when the
    outermost block ends normally is raised then."""
    main = threading.current_thread() is threading.main_thread()
    previous: dict[int, object] = {}
    if main and _State.depth == 0:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    _State.depth += 1
    try:
        yield
    finally:
        _State.depth -= 1
        if _State.depth == 0:
            for signum, old in previous.items():
                signal.signal(signum, old)  # type: ignore[arg-type]
            if sys.exc_info()[0] is None:
                checkpoint()
            _State.pending = None


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """A stretch a signal may cut short at once (training, sleeping); a held one is raised on
    entry."""
    _State.open += 1
    try:
        checkpoint()
        yield
    finally:
        _State.open -= 1


@contextlib.contextmanager
def held() -> Iterator[None]:
    """A short critical section inside an interruptible stretch (a database write); a signal
    that arrives meanwhile is raised when it ends."""
    saved, _State.open = _State.open, 0
    try:
        yield
    finally:
        _State.open = saved
    if saved:
        checkpoint()
