"""The body-size limit: the middleware on a stub app (how much it reads), a real Uvicorn
server whose 413 must reach a client still sending (raw sockets), then a real ``automl serve``
sent a 50 MB chunked body (its memory must not follow)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from serve_helpers import chunked_body, free_port, reset_peak, running_server, status_kb

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


def test_announced_length_over_the_limit_is_refused_before_the_app() -> None:
    app, seen = stub_app()
    sent, pulled = call(app, [b"x" * 100] * 200, [(b"content-length", b"20000")])
    body = (b'{"detail": "request body of 20000 bytes is over 10000 bytes; send at most 16 '
            b'samples per request"}')
    assert sent[0]["status"] == 413 and (b"content-length", b"98") in sent[0]["headers"]
    assert sent[1] == {"type": "http.response.body", "body": body, "more_body": True}
    # The whole 413 went out first; then the body was read and dropped, never held.
    assert sent[2] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert pulled == 200 and seen["calls"] == 0


def test_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit() -> None:
    app, seen = stub_app()
    chunks = [b"x" * 1000] * 1000  # 1 MB in 1 kB chunks, no content-length
    sent, pulled = call(app, chunks, [(b"transfer-encoding", b"chunked")])
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]
    assert sent[1]["body"] == (b'{"detail": "request body is over 10000 bytes; send at most '
                               b'16 samples per request"}')
    assert seen["bytes"] == LIMIT  # the app got up to the limit; the chunk past it was dropped
    assert pulled == 1000 and len(sent) == 3 and sent[2]["more_body"] is False


def test_draining_stops_at_its_byte_budget_and_never_for_expect_100() -> None:
    app, seen = stub_app()
    capped = BodyLimit(app.app, LIMIT, 16, drain_bytes=5000)
    _, pulled = call(capped, [b"x" * 1000] * 1000, [(b"transfer-encoding", b"chunked")])
    assert pulled == LIMIT // 1000 + 1 + 5  # one chunk past the limit, then 5000 bytes
    headers = [(b"content-length", b"20000"), (b"expect", b"100-continue")]
    sent, pulled = call(app, [b"x" * 100] * 200, headers)
    assert pulled == 0 and sent[0]["status"] == 413 and sent[-1]["more_body"] is False


def test_a_body_that_stops_arriving_gets_408_and_the_app_a_disconnect() -> None:
    """A client that announces more than it sends (or trickles it) must not hold the request
    open for as long as it likes."""
    app, seen = stub_app()
    slow = BodyLimit(app.app, LIMIT, 16, body_seconds=0.2)
    sent: list[Any] = []
    pulled = [0]

    async def receive() -> Any:
        pulled[0] += 1
        if pulled[0] == 1:
            return {"type": "http.request", "body": b"x" * 100, "more_body": True}
        await asyncio.sleep(3600)  # the rest never comes
        raise AssertionError("unreachable")

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/predict",
             "headers": [(b"content-length", b"5000")]}
    t = time.perf_counter()
    asyncio.run(slow(scope, receive, send))
    assert time.perf_counter() - t < 5
    assert sent[0]["status"] == 408 and sent[-1]["more_body"] is False
    assert json.loads(sent[1]["body"])["detail"] == "request body not received within 0.2 s"
    assert seen["calls"] == 1 and seen["bytes"] == 100  # the app saw a disconnect, not a hang


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


# -- a real Uvicorn server on 127.0.0.1: the 413 must reach a client that is still sending ---
BIG = 50_000_000  # announced; far over the ~67 kB limit of the app below
PIECE = b"0.5, " * 20_000  # 100 kB


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The real serving stack (metrics, body limit, FastAPI) of a 16-sample, 4-feature model
    whose bundle never loads: the limit answers before the model is needed."""
    import uvicorn

    from automl.serve import app as serve_app

    def no_model(cfg: Any) -> Any:
        raise RuntimeError("no model in this test")

    monkeypatch.setattr(serve_app, "load_predictor", no_model)
    app = serve_app.create_app("unused", max_batch=16, input_shape=(4,))
    number = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=number,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield number
    server.should_exit = True
    thread.join(20)


def post_head(chunked: bool, extra: bytes = b"") -> bytes:
    length = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % BIG
    return (b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            + length + b"\r\n" + extra + b"\r\n")


def body_piece(chunked: bool) -> bytes:
    return b"%x\r\n%s\r\n" % (len(PIECE), PIECE) if chunked else PIECE


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response read off ``sock``: complete by its Content-Length, without waiting
    for the connection to close."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = sock.recv(65536)
        assert got, f"connection closed before the headers: {data!r}"
        data += got
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    assert "content-length" in headers, f"a 413 the client cannot tell is complete: {headers}"
    while len(body) < int(headers["content-length"]):
        got = sock.recv(65536)
        assert got, "connection closed inside the body"
        body += got
    return int(status_line.split()[1]), headers, body


def detail(chunked: bool) -> str:
    size = "" if chunked else f"of {BIG} bytes "
    return f"request body {size}is over 67584 bytes; send at most 16 samples per request"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_413_is_readable_while_the_client_is_still_sending(port: int, chunked: bool) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(post_head(chunked) + body_piece(chunked) * 2)  # 200 kB of 50 MB
        status, headers, body = read_response(sock)  # and not one byte more sent
        assert status == 413 and headers["connection"] == "close"
        assert json.loads(body) == {"detail": detail(chunked)}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_client_that_sends_on_gets_the_413_and_a_clean_close(port: int, chunked: bool) -> None:
    # Closing with the body unread would answer the client's data with a reset: its sendall
    # fails and, on a real network, the 413 may be lost. The server drains instead.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(post_head(chunked))
        for _ in range(80):  # 8 MB, far past the limit
            sock.sendall(body_piece(chunked))
        sock.sendall(b"0\r\n\r\n" if chunked else b"")
        status, _, body = read_response(sock)
        assert status == 413 and json.loads(body) == {"detail": detail(chunked)}
        assert sock.recv(65536) == b""  # an orderly close, not a reset
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200


def test_expect_100_continue_gets_the_413_without_waiting_for_a_body(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(post_head(False, b"Expect: 100-continue\r\n"))
        status, _, body = read_response(sock)
        assert status == 413 and json.loads(body) == {"detail": detail(False)}
        assert sock.recv(65536) == b"" and time.monotonic() - started < 5


def test_httpx_reads_the_413_of_a_large_body(port: int) -> None:
    base = f"http://127.0.0.1:{port}/predict"
    r = httpx.post(base, content=b"0" * 8_000_000, timeout=30)
    assert r.status_code == 413 and r.json() == {"detail": "request body of 8000000 bytes is "
                                                 "over 67584 bytes; send at most 16 samples "
                                                 "per request"}
    r = httpx.post(base, content=iter([PIECE] * 80), timeout=30)  # chunked
    assert r.status_code == 413 and r.json() == {"detail": detail(True)}
