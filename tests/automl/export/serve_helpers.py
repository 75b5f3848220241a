"""A real ``automl serve`` process for the serving tests, and its memory as Linux reports it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(bundle: Path, *args: str, timeout: float = 120,
                   ) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``automl serve BUNDLE --port P ARGS`` until ``/ready`` answers 200; its log goes to a
    file (a pipe nobody reads would fill up and stall the server)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "automl", "serve", str(bundle),
                                 "--port", str(port), *args], stdout=log,
                                stderr=subprocess.STDOUT, env=env)
        base = f"http://127.0.0.1:{port}"

        def output() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")[-3000:]

        try:
            deadline = time.monotonic() + timeout
            while True:
                assert proc.poll() is None, output()
                try:
                    if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"no /ready in {timeout} s:\n{output()}"
                time.sleep(0.2)
            yield proc, base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)


def status_kb(pid: int, field: str) -> int:
    """``VmRSS`` / ``VmHWM`` of ``pid`` in kB, from ``/proc/PID/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> None:
    """Start ``VmHWM`` again from the current RSS (Linux >= 4.0, same user)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def chunked_body(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """``total`` bytes of a JSON-looking body, as a generator: httpx sends it chunked."""
    yield b'{"inputs": ['
    sent = 12
    piece = b"0.5, " * (chunk // 5)
    while sent < total:
        yield piece
        sent += len(piece)
