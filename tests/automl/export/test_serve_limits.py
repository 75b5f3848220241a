"""The body-size limit: the middleware on a stub app (how much it reads), then a real server
sent a 50 MB chunked body (its memory must not follow)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from serve_helpers import chunked_body, reset_peak, running_server, status_kb

from automl.serve.limits import BodyLimit

LIMIT = 10_000


def stub_app() -> tuple[Any, dict[str, int]]:
    """An ASGI app that reads the whole body, then answers 200 with its length."""
    seen = {"calls": 0, "bytes": 0}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["calls"] += 1
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            seen["bytes"] += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(seen["bytes"]).encode()})

    return BodyLimit(app, LIMIT, 16), seen


def call(app: Any, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[Any, int]:
    """Run ``app`` on one POST; returns (the messages it sent, receive() calls made)."""
    sent: list[Any] = []
    pulled = [0]

    async def receive() -> Any:
        i = pulled[0]
        pulled[0] += 1
        return {"type": "http.request", "body": chunks[i], "more_body": i + 1 < len(chunks)}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent, pulled[0]


def test_announced_length_over_the_limit_is_refused_unread() -> None:
    app, seen = stub_app()
    sent, pulled = call(app, [b"x" * 100] * 200, [(b"content-length", b"20000")])
    assert sent[0]["status"] == 413 and b"20000 bytes is over 10000" in sent[1]["body"]
    assert pulled == 0 and seen["calls"] == 0


def test_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit() -> None:
    app, seen = stub_app()
    chunks = [b"x" * 1000] * 1000  # 1 MB in 1 kB chunks, no content-length
    sent, pulled = call(app, chunks, [(b"transfer-encoding", b"chunked")])
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]
    assert b"over 10000" in sent[1]["body"]
    assert pulled == LIMIT // 1000 + 1  # one chunk past the limit, not one more


def test_a_body_within_the_limit_reaches_the_app() -> None:
    app, seen = stub_app()
    sent, _ = call(app, [b"x" * 1000] * 10, [])
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"10000"


@pytest.mark.slow
def test_real_server_refuses_a_50mb_chunked_body_without_growing(lab) -> None:  # noqa: ANN001
    with running_server(lab.best, "--backend", "onnx") as (proc, base):
        good = {"inputs": [[1.0] * 64]}
        assert httpx.post(f"{base}/predict", json=good, timeout=10).status_code == 200
        idle = status_kb(proc.pid, "VmRSS")
        reset_peak(proc.pid)
        r = httpx.post(f"{base}/predict", content=chunked_body(50_000_000),
                       headers={"content-type": "application/json"}, timeout=60)
        grown_mb = (status_kb(proc.pid, "VmHWM") - idle) / 1024
        # Parsing 50 MB of JSON would take ~600 MB; the limit (~2.2 MB here) keeps it flat.
        assert grown_mb < 40, f"server grew {grown_mb:.0f} MB under a 50 MB chunked body"
        assert r.status_code == 413 and "over" in r.json()["detail"]
        r = httpx.post(f"{base}/predict", content=b"0" * 3_000_000,
                       headers={"content-type": "application/json"}, timeout=30)
        assert r.status_code == 413 and "3000000 bytes" in r.json()["detail"]
        assert httpx.post(f"{base}/predict", json=good, timeout=10).status_code == 200
