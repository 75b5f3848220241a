"""A request-body size limit for every transfer encoding, as a pure ASGI middleware.

Checking ``Content-Length`` alone lets ``Transfer-Encoding: chunked`` through: the framework
then reads (and JSON-decodes) a body of any size. :class:`BodyLimit` counts the bytes as
``receive()`` hands them over and answers 413 as soon as the count passes the limit, so at most
the limit plus one chunk is ever held in memory.

The 413 must reach a client that is still sending. A server that closes its socket with the
rest of the body unread makes the kernel answer with a reset, which may discard the 413 before
the client reads it (on a real network, or on systems where a reset drops received data). So
the 413 goes out whole at once (with its ``Content-Length``: readable before the exchange
ends), then the rest of the body is read and dropped, up to ``drain_bytes`` or
``drain_seconds``, whichever comes first, before the connection is closed. A client that said
``Expect: 100-continue`` was never told to send the body, so nothing is drained for it.

A body must also arrive in time: a client that announces more than it sends, or trickles it,
would hold its connection (and the app's wait for the body) open for as long as it likes. The
whole body has ``body_seconds`` from the request's start; past that the answer is 408 and the
connection closes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DRAIN_BYTES = 64 * 2**20  # read and drop at most this much of a refused body ...
DRAIN_SECONDS = 10.0  # ... for at most this long, then close whatever the client still sends
BODY_SECONDS = 60.0  # the whole request body, from the request's start


def too_large(size: int | None, max_bytes: int, max_batch: int) -> bytes:
    """The 413 body: how big the request was (when it said) and what fits."""
    of = f"of {size} bytes " if size is not None else ""
    return json.dumps({"detail": f"request body {of}is over {max_bytes} bytes; send at most "
                                 f"{max_batch} samples per request"}).encode()


async def drain(receive: Receive, max_bytes: int, seconds: float) -> int:
    """Read and drop the rest of a request body (at most ``max_bytes``, ``seconds``); returns
    the bytes dropped. Stops early at the body's end or the client's disconnect."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    dropped = 0
    while dropped < max_bytes:
        try:
            message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0))
        except TimeoutError:
            break
        if message["type"] != "http.request":
            break
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return dropped


def too_slow(seconds: float) -> bytes:
    """The 408 body."""
    return json.dumps({"detail": f"request body not received within {seconds:g} s"}).encode()


class BodyLimit:
    """Refuse an HTTP request body over ``max_bytes`` with 413, whether it announces its length
    (refused before the app sees it) or streams it in chunks (refused when the count passes),
    and one not received within ``body_seconds`` with 408."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_batch: int, *,
                 drain_bytes: int = DRAIN_BYTES, drain_seconds: float = DRAIN_SECONDS,
                 body_seconds: float = BODY_SECONDS) -> None:
        self.app, self.max_bytes, self.max_batch = app, max_bytes, max_batch
        self.drain_bytes, self.drain_seconds = drain_bytes, drain_seconds
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        # ASCII digits (bytes.isdigit); past 30 of them, too large to be worth int()
        size = int(length) if length.isdigit() and len(length) <= 30 else None
        if length.isdigit() and (size is None or size > self.max_bytes):
            await self.start_413(send, size)
            await self.finish_413(scope, receive, send)
            return
        await _Limited(self, send).run(scope, receive)

    async def start_413(self, send: Send, size: int | None) -> None:
        """The whole 413 response, with the exchange left open (see :meth:`finish_413`)."""
        await start_refusal(send, 413, too_large(size, self.max_bytes, self.max_batch))

    async def finish_413(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Drop what the client still sends (bounded), then end the response: the server then
        closes a connection with nothing left unread, and the client keeps its 413."""
        expect = dict(scope.get("headers") or []).get(b"expect", b"").lower()
        if expect != b"100-continue":
            await drain(receive, self.drain_bytes, self.drain_seconds)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def start_refusal(send: Send, status: int, body: bytes) -> None:
    """A whole refusal (its ``Content-Length`` said, the connection to close), with the exchange
    left open: the caller ends it."""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body, "more_body": True})


class _Limited:
    """One request's byte count and whether the 413 has gone out (then the app's own response
    is dropped: the app sees a disconnect and gives up on the body)."""

    def __init__(self, limit: BodyLimit, send: Send) -> None:
        self.limit, self.real_send = limit, send
        self.seen = 0
        self.refused = False  # the body passed the limit: the app sees a disconnect
        self.answered = False  # ... and the 413 went out (the app had not started a response)
        self.started = False
        self.late = False  # the body did not arrive in time: 408 (refused and answered too)
        self.body_done = False

    async def run(self, scope: Scope, receive: Receive) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limit.body_seconds

        async def limited_receive() -> Message:
            if self.refused:
                return {"type": "http.disconnect"}
            if self.body_done:  # after the body: the app waits for a disconnect, no deadline
                return await receive()
            try:
                # a floor: a message already there is taken even past the deadline
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.01))
            except TimeoutError:
                self.refused = self.late = True
                if not self.started:
                    self.answered = True
                    await start_refusal(self.real_send, 408, too_slow(self.limit.body_seconds))
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                self.body_done = not message.get("more_body", False)
                self.seen += len(message.get("body", b""))
                if self.seen > self.limit.max_bytes:
                    self.refused = True
                    if not self.started:  # the usual case: the app answers after reading
                        self.answered = True
                        await self.limit.start_413(self.real_send, None)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if self.refused:
                return
            if message["type"] == "http.response.start":
                self.started = True
            await self.real_send(message)

        try:
            await self.limit.app(scope, limited_receive, guarded_send)
        except Exception:
            if not self.answered:
                raise  # the app failing on a body it was cut off from is no error of its own
        if self.answered and self.late:  # nothing to drain from a client that stopped sending
            await self.real_send({"type": "http.response.body", "body": b"", "more_body": False})
        elif self.answered:  # once the app let go (a micro-batching ticket included)
            await self.limit.finish_413(scope, receive, self.real_send)
