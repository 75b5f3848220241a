"""Dynamic micro-batching for ``automl serve --batch-wait-ms``.

Requests that arrive within the wait of the first one are stacked into one forward pass of at
most ``max_batch`` samples, run on the one inference thread of the process, and each caller gets
back exactly its own rows. A request that would overflow the pass waits for the next one, so no
request is ever split and a pass never exceeds ``max_batch``.

With ``adaptive=True`` the server announces each request as it arrives (:meth:`expect`, before
its body is even read) and the wait ends as soon as every announced request is in the pass: a
lone request runs at once instead of waiting out the window for company that is not coming.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Run = Callable[[np.ndarray], np.ndarray]


@dataclass
class _Job:
    x: np.ndarray
    future: Future[np.ndarray] = field(default_factory=Future)


_WAKE = _Job(np.empty(0))  # "an expected request will not come": look again


class Ticket:
    """One expected request: :meth:`done` once it is submitted or has given up (idempotent)."""

    def __init__(self, batcher: MicroBatcher) -> None:
        self._batcher: MicroBatcher | None = batcher

    def done(self) -> None:
        batcher, self._batcher = self._batcher, None
        if batcher is not None:
            batcher._arrived()


class MicroBatcher:
    """``submit(x)`` -> a future of ``run(x)``, where ``run`` (rows in, rows out) sees the rows
    of several submissions at once. ``on_batch(n)`` is told each pass's size (for metrics)."""

    def __init__(self, run: Run, max_batch: int, wait_s: float,
                 on_batch: Callable[[int], None] | None = None, *,
                 adaptive: bool = False) -> None:
        if max_batch < 1 or not wait_s >= 0:
            raise ValueError("max_batch must be >= 1 and wait_s >= 0")
        self.run, self.max_batch, self.wait_s = run, max_batch, wait_s
        self.on_batch, self.adaptive = on_batch, adaptive
        self._expected = 0
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="automl-inference", daemon=True)
        self._thread.start()

    def expect(self) -> Ticket:
        """Announce a request on its way (adaptive mode): passes wait for it until its ticket
        is done (or the wait runs out)."""
        with self._lock:
            self._expected += 1
        return Ticket(self)

    def _arrived(self) -> None:
        with self._lock:
            self._expected -= 1
        self._queue.put(_WAKE)  # a pass waiting on the count looks again

    def submit(self, x: np.ndarray, ticket: Ticket | None = None) -> Future[np.ndarray]:
        """Queue ``x`` (``(n, ...)``, ``1 <= n <= max_batch``) for the next pass."""
        if not 1 <= len(x) <= self.max_batch:
            raise ValueError(f"a submission holds 1..{self.max_batch} rows, not {len(x)}")
        job = _Job(x)
        self._queue.put(job)
        if ticket is not None:  # after the put: the pass never sees "nothing expected" first
            ticket.done()
        return job.future

    def _nothing_coming(self) -> bool:
        return self.adaptive and self._expected == 0 and self._queue.empty()

    def close(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop the inference thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        held: _Job | None = None
        while True:
            first = held or self._queue.get()
            held = None
            if first is None:
                return
            if first is _WAKE:
                continue
            jobs, rows = [first], len(first.x)
            deadline = time.monotonic() + self.wait_s
            while rows < self.max_batch and not self._nothing_coming():
                left = deadline - time.monotonic()
                try:
                    nxt = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _WAKE:
                    continue
                if nxt is None:  # closing: run this pass, then stop
                    self._queue.put(None)
                    break
                if rows + len(nxt.x) > self.max_batch:
                    held = nxt  # first in the next pass: arrival order is kept
                    break
                jobs.append(nxt)
                rows += len(nxt.x)
            self._pass(jobs)

    def _pass(self, jobs: list[_Job]) -> None:
        # A caller that went away (its future cancelled) costs nothing.
        jobs = [j for j in jobs if j.future.set_running_or_notify_cancel()]
        if not jobs:
            return
        try:
            x = jobs[0].x if len(jobs) == 1 else np.concatenate([j.x for j in jobs])
            if self.on_batch is not None:
                self.on_batch(len(x))
            out = self.run(x)
        except Exception as exc:  # every caller of the pass hears of it; the thread lives
            for j in jobs:
                j.future.set_exception(exc)
            return
        start = 0
        for j in jobs:
            j.future.set_result(out[start : start + len(j.x)])
            start += len(j.x)


TICKET = "automl.batch_ticket"


class ExpectRequests:
    """ASGI middleware: announce each ``POST /predict`` to the batcher as soon as it arrives
    (its ticket rides in the scope to the handler, which hands it to :meth:`submit`); a request
    that ends without a prediction (413, 422, a disconnect) gives its ticket up here."""

    def __init__(self, app: Any, batcher: Callable[[], MicroBatcher | None]) -> None:
        self.app, self.batcher = app, batcher

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        batcher = self.batcher() if scope["type"] == "http" else None
        if batcher is None or scope.get("method") != "POST" or scope.get("path") != "/predict":
            await self.app(scope, receive, send)
            return
        ticket = scope[TICKET] = batcher.expect()
        try:
            await self.app(scope, receive, send)
        finally:
            ticket.done()
