"""Trial announcements between machines: node 0 posts, the other nodes' agents follow.

Every trial gets a fresh rendezvous port and run id, so a node that finishes one trial can never
join the store of the previous one while node 0 tears it down. Node 0 keeps one small
``TCPStore`` at ``AUTOML_RDZV_ENDPOINT`` for the whole search; the key ``automl/trial`` holds
the latest :class:`Announcement`, ``automl/done/<seq>`` marks a finished trial.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import torch.distributed as dist

from trainer.distributed.job import InitArgs
from trainer.distributed.nodes import NodeSettings, free_port

_TRIAL_KEY = "automl/trial"
_stores: dict[str, dist.TCPStore] = {}


@dataclass(frozen=True)
class Announcement:
    """What a node needs to join trial ``seq``: its rendezvous port and the launch settings."""

    seq: int
    port: int
    nproc: int
    init: InitArgs  # what this node's ranks need before they join the trial's process group

    @property
    def run_id(self) -> str:
        return f"automl-trial-{self.seq}"

    def encode(self) -> str:
        i = self.init
        fields = (self.seq, self.port, self.nproc, i.backend, i.timeout, i.num_threads, i.device)
        return " ".join(str(f) for f in fields)

    @classmethod
    def decode(cls, raw: bytes | str) -> Announcement:
        text = raw.decode() if isinstance(raw, bytes) else raw
        seq, port, nproc, backend, timeout, threads, device = text.split()
        init = InitArgs(backend, float(timeout), int(threads), device)
        return cls(int(seq), int(port), int(nproc), init)


def _server(settings: NodeSettings) -> dist.TCPStore:
    # One store per endpoint and process, alive until the process exits: the agents of the other
    # nodes poll it between trials.
    key = str(settings.endpoint)
    if key not in _stores:
        _stores[key] = dist.TCPStore(
            settings.host, settings.port, is_master=True, wait_for_workers=False,
            multi_tenant=True, timeout=timedelta(seconds=30),
        )
    return _stores[key]


def announce(settings: NodeSettings, nproc: int, init: InitArgs) -> Announcement:
    """On node 0: post the next trial and return it (with a free port for its rendezvous)."""
    store = _server(settings)
    seq = int(store.add("automl/seq", 1))
    ann = Announcement(seq, free_port(""), nproc, init)
    store.set(_TRIAL_KEY, ann.encode())
    return ann


def finish(settings: NodeSettings, ann: Announcement) -> None:
    """On node 0: mark the trial over, so a late agent does not try to join it."""
    _server(settings).set(f"automl/done/{ann.seq}", "1")


def connect(settings: NodeSettings, wait: float) -> dist.TCPStore:
    """On another node: a client of node 0's control store, retried for ``wait`` seconds."""
    return dist.TCPStore(
        settings.host, settings.port, is_master=False, timeout=timedelta(seconds=wait)
    )


def next_trial(store: dist.Store, after: int, poll: float = 0.2) -> Announcement:
    """On another node: block until a trial newer than ``after`` is announced and not over."""
    while True:
        if store.check([_TRIAL_KEY]):
            ann = Announcement.decode(store.get(_TRIAL_KEY))
            if ann.seq > after and not store.check([f"automl/done/{ann.seq}"]):
                return ann
        time.sleep(poll)
