"""What runs inside one launched job (a Slurm array task, a Ray task): a small supervisor around
the ordinary worker, ``python -m automl search ... --quiet``.

The worker loop itself is unchanged (see :mod:`automl.control.loop`): it claims trials from
the shared database under a lease and stops at the run's exact target. The supervisor only

* restarts a worker process that died (killed, out of memory) up to ``restarts`` times; the
  trial it was running is failed by its stale heartbeat and its candidate re-run by whichever
  worker claims next, so nothing is lost or counted twice;
* on preemption or the time limit (submitit calls :meth:`WorkerJob.checkpoint` on SIGUSR2),
  stops the worker with SIGTERM, which marks its trial interrupted and queues the candidate
  again, then hands submitit itself to requeue;
* ties the worker to the job: if the job process is killed, the worker gets SIGTERM.

It must stay picklable (submitit and Ray ship it to the job) and import nothing heavy.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

# Exit codes after which a worker is not started again: done, a user error (bad config, data or
# database: it would fail the same way), stopped by Ctrl-C / SIGTERM.
FINAL_CODES = (0, 2, 130, 143, -signal.SIGINT, -signal.SIGTERM)
STOP_WAIT_S = 60.0  # a stopped worker marks its trial interrupted within this


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM to the worker when the job process dies, however it dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class WorkerJob:
    """A callable job: run the worker command until the run is done (see the module doc)."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], cwd: str, restarts: int = 3,
                 index: int = 0) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.restarts = restarts
        self.index = index
        self.started = 0  # worker processes started so far (kept across a requeue)
        self._proc: subprocess.Popen[bytes] | None = None

    def __call__(self) -> int:
        while True:
            self.started += 1
            rc = self._run_once()
            if rc in FINAL_CODES or self.started > self.restarts:
                return rc
            sys.stderr.write(f"automl job {self.index}: worker exited with {rc}; starting it "
                             f"again ({self.started}/{self.restarts})\n")

    def _run_once(self) -> int:
        # The job's own interpreter: the same environment wherever the job landed.
        argv = [sys.executable, "-m", "automl", *self.argv]
        env = {**os.environ, **self.env}
        preexec = _die_with_parent if sys.platform.startswith("linux") else None
        self._proc = subprocess.Popen(argv, env=env, cwd=self.cwd, preexec_fn=preexec)
        try:
            rc = _wait(self._proc, None)
            assert rc is not None  # no timeout given
            return rc
        except BaseException:  # Ctrl-C, ray.cancel, submitit's exit: stop the worker cleanly
            self.stop()
            raise
        finally:
            self._proc = None

    def stop(self) -> None:
        """SIGTERM the worker and wait for it: its running trial is queued again."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        if _wait(proc, STOP_WAIT_S) is None:
            proc.kill()  # its trial's heartbeat goes stale; another worker re-runs it
            _wait(proc, None)

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """submitit's preemption / time-limit hook: stop the worker, requeue this job."""
        from submitit.helpers import DelayedSubmission

        self.stop()
        return DelayedSubmission(self, *args, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_proc"] = None  # a process does not travel; the requeued job starts its own
        return state


def _wait(proc: subprocess.Popen[bytes], timeout: float | None) -> int | None:
    """The exit code, or None after ``timeout``. Polls rather than ``proc.wait()``: a signal
    handler (submitit's checkpoint) that stops the worker may interrupt this very wait, and
    ``wait`` holds a lock the handler's own wait would then never get."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while (rc := proc.poll()) is None:
        if deadline is not None and time.monotonic() > deadline:
            return None
        time.sleep(0.2)
    return rc


def run_job(job: WorkerJob) -> int:
    """Module-level entry point (Ray ships functions by reference)."""
    return job()
