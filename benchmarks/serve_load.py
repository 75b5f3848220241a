"""Load test of ``automl serve``: requests/s, p50 and p99 latency at 1, 8 and 64 concurrent
clients, torch vs ONNX backends, with and without micro-batching; and the server's memory under a
50 MB chunked request body (refused with 413 by the body limit).

Each configuration runs in its own server process (``automl serve`` as a user starts it, one
worker unless ``--workers``); the clients are coroutines in this process, one keep-alive
connection each, sending one-sample requests back to back (closed loop). They speak HTTP/1.1 over
raw asyncio streams: ``httpx.AsyncClient`` (``--client httpx``) spent ~7 ms of client CPU per
request at 64 connections, so the client, not the server, set the figures. The anchor beside
each backend is the model alone: ``Predictor.predict_proba`` on one sample in this process.
Without ``--bundle`` a tiny digits model is searched and exported first (1 trial, 2 epochs).

    .venv/bin/python benchmarks/serve_load.py [--quick] [--bundle DIR] [--workers 1]
        [--json benchmarks/out/serve_load.json]

Goal (issue 11): p99 at 64 clients <= 3x p50 at 1 client, and 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere
from benchmarks.common import cpu_model, write_json  # noqa: E402

# The tests' own probes: the benchmark's memory figure and the test's bound measure alike.
sys.path.insert(0, str(REPO / "tests" / "automl" / "export"))
from serve_helpers import (  # noqa: E402
    chunked_body,
    reset_peak,
    running_server,
    status_kb,
)

OUT = REPO / "benchmarks" / "out" / "serve_load.json"


def cli(*args: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("AUTOML_STORAGE", None)
    proc = subprocess.run([sys.executable, "-m", "automl", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"automl {args[0]} failed: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def make_bundle(tmp: Path) -> Path:
    """A tiny cnn2d on digits, searched and exported through the CLI (about half a minute)."""
    cli("search", "--data", "digits", "--study", "serve-load", "--trials", "1", "--epochs", "2",
        "--quiet", "--set", "search.arch=cnn2d", "--set", "trainer.num_threads=1",
        "--set", "trainer.latency_repeats=3", cwd=tmp)
    cli("export", "serve-load", "--out", "bundle", cwd=tmp)
    return tmp / "bundle"


@contextmanager
def server(bundle: Path, *args: str) -> Iterator[tuple[int, str]]:
    """(pid, base URL) of ``automl serve BUNDLE ARGS`` once ``/ready`` answers 200 (the tests'
    own launcher)."""
    with running_server(bundle, *args, timeout=180) as (proc, base):
        yield proc.pid, base


async def raw_client(conn: Any, host: str, port: int, request: bytes, left: list[int],
                     latencies: list[float], errors: list[int]) -> None:
    """One keep-alive HTTP/1.1 connection sending ``request`` until ``left`` runs out: a few
    microseconds of client CPU per request, so that the server, not the client, is measured."""
    reader, writer = conn
    try:
        while left[0] > 0:
            left[0] -= 1
            t = time.perf_counter()
            ok = False
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length:")))
                body = await reader.readexactly(length)
                ok = head.startswith(b"HTTP/1.1 200") and body.startswith(b'{"labels"')
            except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError):
                reader, writer = await asyncio.open_connection(host, port)
            latencies.append(time.perf_counter() - t)
            errors[0] += not ok
    finally:
        writer.close()


async def httpx_client(client: Any, body: bytes, left: list[int], latencies: list[float],
                       errors: list[int]) -> None:
    import httpx

    while left[0] > 0:
        left[0] -= 1
        t = time.perf_counter()
        try:
            r = await client.post("/predict", content=body,
                                  headers={"content-type": "application/json"})
            ok = r.status_code == 200
        except httpx.HTTPError:
            ok = False
        latencies.append(time.perf_counter() - t)
        errors[0] += not ok


async def load(base: str, clients: int, requests: int, body: bytes,
               kind: str = "raw") -> dict[str, Any]:
    """``clients`` connections sending ``requests`` POST /predict in all, back to back."""
    import httpx

    latencies: list[float] = []
    errors, left = [0], [requests]
    url = httpx.URL(base)
    host, port = url.host, url.port or 80
    if kind == "raw":
        request = (f"POST /predict HTTP/1.1\r\nHost: {host}:{port}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                   ).encode() + body
        # Connections first: the clock measures requests, not 64 TCP handshakes.
        conns = await asyncio.gather(*(asyncio.open_connection(host, port)
                                       for _ in range(clients)))
        start = time.perf_counter()
        await asyncio.gather(*(raw_client(c, host, port, request, left, latencies, errors)
                               for c in conns))
    else:
        start = time.perf_counter()
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
            await asyncio.gather(*(httpx_client(client, body, left, latencies, errors)
                                   for _ in range(clients)))
    wall = time.perf_counter() - start
    ms = np.asarray(latencies) * 1e3
    return {"clients": clients, "requests": len(ms), "errors": errors[0],
            "rps": len(ms) / wall, "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max())}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (not of its worker children: use with 1 worker)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def model_ms(bundle: Path, backend: str, x: np.ndarray, repeats: int) -> float:
    """The anchor: median ms of ``predict_proba`` on one sample, no HTTP (same process)."""
    from automl.export.predictor import Predictor

    p = Predictor(bundle, backend, threads=1)
    for _ in range(20):
        p.predict_proba(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        p.predict_proba(x)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def chunked_rss(bundle: Path, body_mb: int) -> dict[str, Any]:
    """Server RSS idle, then its peak while a ``body_mb`` MB chunked body is sent and refused."""
    import httpx

    with server(bundle, "--backend", "onnx") as (pid, base):
        httpx.post(f"{base}/predict", json={"inputs": [[0.0] * 64]}, timeout=30)
        idle = status_kb(pid, "VmRSS")
        reset_peak(pid)
        t = time.perf_counter()
        r = httpx.post(f"{base}/predict", content=chunked_body(body_mb * 1_000_000),
                       headers={"content-type": "application/json"}, timeout=120)
        seconds = time.perf_counter() - t
        peak = status_kb(pid, "VmHWM")
    return {"body_mb": body_mb, "status": r.status_code, "idle_rss_mb": idle / 1024,
            "peak_rss_mb": peak / 1024, "growth_mb": (peak - idle) / 1024, "seconds": seconds}


def run(bundle: Path, args: argparse.Namespace) -> dict[str, Any]:
    x = np.random.default_rng(0).uniform(0, 16, size=(1, 64)).round(2)
    body = ('{"inputs": ' + str(x.tolist()) + "}").encode()
    rows, anchors = [], {}
    for backend in args.backends:
        anchors[backend] = model_ms(bundle, backend, x, 300 if args.quick else 2000)
        for wait in (None, args.batch_wait_ms):
            extra = [] if wait is None else ["--batch-wait-ms", str(wait)]
            with server(bundle, "--backend", backend, "--workers", str(args.workers),
                        *extra) as (pid, base):
                for clients in args.concurrency:
                    n = max(args.requests, 8 * clients)
                    asyncio.run(load(base, clients, max(20, clients), body, args.client))
                    cpu = cpu_seconds(pid)
                    row = asyncio.run(load(base, clients, n, body, args.client))
                    # The server's own CPU per request: what it costs, whatever else runs.
                    row["server_cpu_ms"] = (cpu_seconds(pid) - cpu) / n * 1e3
                    rows.append({"backend": backend, "batch_wait_ms": wait,
                                 "workers": args.workers, **row})
                    print(f"{backend:5} wait={wait!s:>4} c={clients:>3}: {row['rps']:7.0f} "
                          f"req/s  p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms  "
                          f"errors {row['errors']}", file=sys.stderr)
    from automl.export.predictor import Predictor

    spec = Predictor(bundle, "onnx").spec
    model = {"arch": spec["arch"].get("kind"), "params": spec["costs"].get("params"),
             "flops": spec["costs"].get("flops"), "input_shape": spec["input_shape"]}
    return {"rows": rows, "model_ms": anchors, "goals": goals(rows, args.concurrency),
            "model": model}


def goals(rows: list[dict[str, Any]], concurrency: list[int]) -> list[dict[str, Any]]:
    lo, hi = min(concurrency), max(concurrency)
    out = []
    for backend, wait in dict.fromkeys((r["backend"], r["batch_wait_ms"]) for r in rows):
        mine = {r["clients"]: r for r in rows
                if r["backend"] == backend and r["batch_wait_ms"] == wait}
        ratio = mine[hi]["p99_ms"] / mine[lo]["p50_ms"]
        errors = sum(r["errors"] for r in mine.values())
        out.append({"backend": backend, "batch_wait_ms": wait, "clients": hi, "ratio": ratio,
                    "errors": errors, "met": ratio <= 3 and errors == 0})
    return out


def table(result: dict[str, Any]) -> str:
    lines = ["| backend | micro-batching | clients | requests | req/s | p50 (ms) | p99 (ms) | "
             "server CPU ms/req | errors |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in result["rows"]:
        wait = "off" if r["batch_wait_ms"] is None else f"{r['batch_wait_ms']:g} ms"
        lines.append(f"| {r['backend']} | {wait} | {r['clients']} | {r['requests']} | "
                     f"{r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                     f"{r['server_cpu_ms']:.2f} | {r['errors']} |")
    lines.append("")
    for g in result["goals"]:
        wait = "off" if g["batch_wait_ms"] is None else f"{g['batch_wait_ms']:g} ms"
        lines.append(f"goal {g['backend']}, batching {wait}: p99@{g['clients']} / p50@1 = "
                     f"{g['ratio']:.1f}x (goal <= 3x), {g['errors']} errors -> "
                     f"{'met' if g['met'] else 'MISSED'}")
    m = result["model"]
    lines.append(f"model: {m['arch']}, {m['params']:,} parameters, {m['flops'] / 1e6:.2f} "
                 f"MFLOPs, input {m['input_shape']}; {result['machine']}, load average "
                 f"{', '.join(f'{x:.1f}' for x in result['load_average'])}, "
                 f"{result['wall_s']:.0f} s")
    for backend, ms in result["model_ms"].items():
        lines.append(f"anchor: {backend} predict_proba alone, 1 sample: {ms:.3f} ms (median)")
    c = result.get("chunked")
    if c:
        lines.append(f"{c['body_mb']} MB chunked body: HTTP {c['status']} after "
                     f"{c['seconds']:.2f} s; server RSS {c['idle_rss_mb']:.0f} MB idle, peak "
                     f"{c['peak_rss_mb']:.0f} MB (+{c['growth_mb']:.1f} MB; goal <= 10 MB)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="serve this bundle (default: make one)")
    parser.add_argument("--quick", action="store_true", help="fewer requests (iteration)")
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx"])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--requests", type=int, help="per level (default 300; quick 100)")
    parser.add_argument("--batch-wait-ms", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=1,
                        help="server CPU per request is only measured with 1")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw",
                        help="raw: asyncio keep-alive HTTP/1.1 (cheap); httpx: AsyncClient")
    parser.add_argument("--chunked-mb", type=int, default=50, help="0: skip")
    parser.add_argument("--json", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.requests = args.requests or (100 if args.quick else 300)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        bundle = args.bundle or make_bundle(Path(tmp))
        result = run(bundle, args)
        if args.chunked_mb:
            result["chunked"] = chunked_rss(bundle, args.chunked_mb)
    result.update(machine=f"{cpu_model()}, {os.cpu_count()} logical CPUs",
                  load_average=os.getloadavg(), quick=args.quick, workers=args.workers,
                  client=args.client, requests_per_level=args.requests,
                  wall_s=time.perf_counter() - started)
    write_json(args.json, result)
    print(table(result))


if __name__ == "__main__":
    main()
