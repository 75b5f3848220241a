"""A request-body size limit for every transfer encoding, as a pure ASGI middleware.

Checking ``Content-Length`` alone lets ``Transfer-Encoding: chunked`` through: the framework
then reads (and JSON-decodes) a body of any size. :class:`BodyLimit` counts the bytes as
``receive()`` hands them over and answers 413 as soon as the count passes the limit, so at most
the limit plus one chunk is ever held in memory.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def too_large(size: str, max_bytes: int, max_batch: int) -> bytes:
    """The 413 body: how big the request was (or "over N") and what fits."""
    return json.dumps({"detail": f"request body of {size} bytes is over {max_bytes}; send at "
                                 f"most {max_batch} samples per request"}).encode()


class BodyLimit:
    """Refuse an HTTP request body over ``max_bytes`` with 413, whether it announces its length
    (refused before a byte is read) or streams it in chunks (refused when the count passes)."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_batch: int) -> None:
        self.app, self.max_bytes, self.max_batch = app, max_bytes, max_batch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await self.refuse(send, length.decode())
            return
        await _Limited(self, send).run(scope, receive)

    async def refuse(self, send: Send, size: str) -> None:
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body",
                    "body": too_large(size, self.max_bytes, self.max_batch)})


class _Limited:
    """One request's byte count and whether the 413 has gone out (then the app's own response
    is dropped: the app sees a disconnect and gives up on the body)."""

    def __init__(self, limit: BodyLimit, send: Send) -> None:
        self.limit, self.real_send = limit, send
        self.seen = 0
        self.refused = False
        self.started = False

    async def run(self, scope: Scope, receive: Receive) -> None:
        async def limited_receive() -> Message:
            if self.refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self.seen += len(message.get("body", b""))
                if self.seen > self.limit.max_bytes:
                    self.refused = True
                    if not self.started:  # never true for our app: it answers after reading
                        await self.limit.refuse(self.real_send, f"over {self.limit.max_bytes}")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if self.refused:
                return
            if message["type"] == "http.response.start":
                self.started = True
            await self.real_send(message)

        await self.limit.app(scope, limited_receive, guarded_send)
