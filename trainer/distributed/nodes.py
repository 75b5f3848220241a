"""Where the ranks of a trial run: this machine only, or several machines (``AUTOML_*`` env).

One machine needs nothing: the launcher picks a free local port per trial. For several
machines the search runs on node 0 and every other machine runs the node agent
(``python -m trainer.distributed.agent``) with the same settings:

* ``AUTOML_NNODES``: number of machines (default 1);
* ``AUTOML_NODE_RANK``: this machine's index, 0 on the machine that runs the search;
* ``AUTOML_RDZV_ENDPOINT``: ``host:port`` of node 0, reachable from every node; node 0 keeps a
  small control store there that announces each trial;
* ``AUTOML_RDZV_TIMEOUT``: seconds node 0 waits for the other nodes to join a trial (300).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class NodeSettings:
    """The multi-machine settings of this process (``nnodes == 1``: one machine)."""

    nnodes: int = 1
    node_rank: int = 0
    endpoint: str | None = None
    rdzv_timeout: float = 300.0

    @property
    def host(self) -> str:
        """Node 0's address as the other nodes reach it."""
        return split_endpoint(self.endpoint)[0] if self.endpoint else "127.0.0.1"

    @property
    def port(self) -> int:
        if not self.endpoint:
            raise ValueError("AUTOML_RDZV_ENDPOINT is not set")
        return split_endpoint(self.endpoint)[1]


def node_settings(environ: Mapping[str, str] | None = None) -> NodeSettings:
    """Read and check the ``AUTOML_*`` variables (``os.environ`` by default)."""
    env = os.environ if environ is None else environ
    try:
        nnodes = int(env.get("AUTOML_NNODES", "1"))
        node_rank = int(env.get("AUTOML_NODE_RANK", "0"))
        timeout = float(env.get("AUTOML_RDZV_TIMEOUT", "300"))
    except ValueError as exc:
        raise ValueError(f"AUTOML_NNODES/NODE_RANK/RDZV_TIMEOUT: {exc}") from None
    endpoint = env.get("AUTOML_RDZV_ENDPOINT") or None
    if nnodes < 1 or not 0 <= node_rank < nnodes:
        raise ValueError(
            f"AUTOML_NODE_RANK={node_rank} with AUTOML_NNODES={nnodes}: need 0 <= rank < nnodes"
        )
    if nnodes > 1 and endpoint is None:
        raise ValueError("AUTOML_NNODES > 1 needs AUTOML_RDZV_ENDPOINT=host:port of node 0")
    if endpoint is not None:
        split_endpoint(endpoint)  # fail here, not in the middle of a trial
    return NodeSettings(nnodes, node_rank, endpoint, timeout)


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """``"host:port"`` -> ``("host", port)``; IPv6 hosts go in brackets: ``[::1]:29500``."""
    host, sep, port = endpoint.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"AUTOML_RDZV_ENDPOINT={endpoint!r}: expected host:port")
    return host.strip("[]"), int(port)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now. Another process may take it before we bind it, so
    the launcher retries with a new port when binding fails (never a fixed port)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
