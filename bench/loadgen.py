"""A lean HTTP/1.1 keep-alive load client and webhook receiver for the benchmarks.

The load generator is measurement tooling: on a two-core machine every
millisecond it spends is taken from the service under test. httpx costs
~0.6 ms of client CPU per request; this client costs a fraction of that, like
wrk: one pre-encoded request (the JSON body is encoded once), sent on
persistent connections with one request in flight each (no pipelining), the
answer parsed by ``httptools.HttpResponseParser`` (llhttp, in C) inside an
``asyncio.Protocol``: no streams, no header objects, no per-request encoding.

* :class:`LoadClient` -- a pool of connections to one ``host:port`` that grows
  (up to ``max_connections``) when every connection is busy; :meth:`LoadClient.post`
  sends the request and returns ``(status, first 200 bytes of the body)``;
  :meth:`LoadClient.submit` raises unless the status is the expected one.
* :func:`start_receiver` -- a loopback HTTP/1.1 server answering ``204 No Content``
  to every request, calling back once per complete request; keep-alive, and a
  request with ``Connection: close`` (or HTTP/1.0) is answered and then closed.

A connection the server closes while idle is dropped and replaced. One the
client left idle for longer than ``idle_timeout`` (below uvicorn's 5 s
keep-alive timeout) is closed by the client rather than reused, so that a
request is not sent into the server's own idle close. A connection that closes
with a request in flight, a malformed answer, or an answer slower than
``timeout`` raises :class:`LoadError`: a POST is not retried (it may have
created a job), so nothing is silently lost or counted twice.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httptools

BODY_HEAD = 200  # bytes of a body kept for error messages


class LoadError(RuntimeError):
    """A request that got no (valid) answer, or an unexpected status from :meth:`submit`."""


def encode_request(
    method: str, host: str, port: int, path: str, body: Any, headers: dict[str, str] | None = None
) -> bytes:
    """One HTTP/1.1 request with a JSON body, encoded once."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


class _Connection(asyncio.Protocol):
    """One keep-alive client connection: one request in flight at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.body = bytearray()
        self.closed = False
        self.keep_alive = True
        self.sent_at = 0.0
        self.idle_since = 0.0
        self.requests = 0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(LoadError(f"malformed HTTP answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(
                LoadError(
                    "the server closed the connection with a request in flight "
                    f"(request {self.requests + 1} on this connection"
                    + (f": {exc!r})" if exc else ")")
                )
            )

    # httptools callbacks (only the ones defined here are called)

    def on_body(self, body: bytes) -> None:
        if len(self.body) < BODY_HEAD:
            self.body += body

    def on_message_complete(self) -> None:
        waiter = self.waiter
        if waiter is None:
            self.fail(LoadError("an HTTP answer to no request"))
            return
        self.waiter = None
        self.requests += 1
        self.keep_alive = self.parser.should_keep_alive()
        body = bytes(self.body[:BODY_HEAD])
        self.body.clear()
        if not waiter.done():
            waiter.set_result((self.parser.get_status_code(), body))

    # the client's side

    def request(self, payload: bytes) -> asyncio.Future[tuple[int, bytes]]:
        waiter = self.loop.create_future()
        self.waiter = waiter
        self.sent_at = self.loop.time()
        assert self.transport is not None
        self.transport.write(payload)
        return waiter

    def fail(self, exc: Exception) -> None:
        """Fail the request in flight (if any) and drop the connection."""
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class LoadClient:
    """Keep-alive connections to ``host:port`` sending one pre-encoded request.

    ``async with LoadClient(...) as client: status, head = await client.post()``.
    The pool opens a connection when every open one is busy, up to
    ``max_connections``; beyond that callers wait for a free one.
    """

    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        body: Any,
        *,
        method: str = "POST",
        max_connections: int = 256,
        timeout: float = 30.0,
        idle_timeout: float = 2.0,
    ) -> None:
        self.host, self.port = host, port
        self.payload = encode_request(method, host, port, path, body)
        self.label = f"{method} {path}"
        self.max_connections = max_connections
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self.opened = 0  # connections opened over the client's life
        self._loop = asyncio.get_running_loop()
        self._free: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._watchdog: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> LoadClient:
        self._watchdog = self._loop.call_later(1.0, self._watch)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for conn in list(self._all):
            conn.fail(LoadError("client closed"))
        self._all.clear()
        self._free.clear()
        await asyncio.sleep(0)  # let the transports run their close callbacks

    async def warm(self) -> None:
        """Open one connection ahead of the first request."""
        if not self._free and len(self._all) < self.max_connections:
            self._release(await self._connect())

    async def post(self) -> tuple[int, bytes]:
        """Send the request once; ``(status, first bytes of the body)``."""
        conn = await self._acquire()
        try:
            answer = await conn.request(self.payload)
        except BaseException:  # cancelled or failed mid-request: the connection is unusable
            self._drop(conn)
            conn.close()
            raise
        self._release(conn)
        return answer

    async def submit(self, expect: int = 202) -> None:
        """Send the request once; raise :class:`LoadError` unless the status is ``expect``."""
        status, head = await self.post()
        if status != expect:
            text = head.decode("utf-8", "replace")
            raise LoadError(f"{self.label}: {status} {text}")

    # the pool

    async def _acquire(self) -> _Connection:
        free = self._free
        while True:
            if free:
                stale = self._loop.time() - self.idle_timeout
                while free:
                    conn = free.pop()
                    if conn.closed:  # the server closed it while idle
                        self._drop(conn)
                    elif conn.idle_since < stale:  # about to be closed by the server
                        self._drop(conn)
                        conn.close()
                    else:
                        return conn
            if len(self._all) < self.max_connections:
                return await self._connect()
            waiter: asyncio.Future[None] = self._loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # pass the wake-up on
                else:
                    self._waiters.remove(waiter)
                raise

    async def _connect(self) -> _Connection:
        conn = _Connection(self._loop)
        self._all.add(conn)  # holds its place in the pool while connecting
        try:
            await self._loop.create_connection(lambda: conn, self.host, self.port)
        except BaseException:
            self._drop(conn)
            raise
        self.opened += 1
        return conn

    def _release(self, conn: _Connection) -> None:
        if conn.closed or not conn.keep_alive:
            self._drop(conn)
            conn.close()
        else:
            conn.idle_since = self._loop.time()
            self._free.append(conn)
            if self._waiters:
                self._wake()

    def _drop(self, conn: _Connection) -> None:
        self._all.discard(conn)
        if self._waiters:
            self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _watch(self) -> None:
        """Once a second: fail requests older than ``timeout``."""
        now = self._loop.time()
        for conn in list(self._all):
            if conn.waiter is not None and now - conn.sent_at > self.timeout:
                conn.fail(LoadError(f"{self.label}: no answer within {self.timeout:g} s"))
        self._watchdog = self._loop.call_later(1.0, self._watch)


# --- the webhook receiver ----------------------------------------------------------------------

NO_CONTENT = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"
NO_CONTENT_CLOSE = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class _Receiver(asyncio.Protocol):
    """One server-side connection: every complete request gets a 204."""

    def __init__(self, on_request: Callable[[], None]) -> None:
        self.on_request = on_request
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            if not self.transport.is_closing():
                self.transport.write(BAD_REQUEST)
                self.transport.close()

    def on_message_complete(self) -> None:
        transport = self.transport
        assert transport is not None
        if transport.is_closing():  # a request pipelined after a Connection: close one
            return
        self.on_request()
        if self.parser.should_keep_alive():
            transport.write(NO_CONTENT)
        else:  # Connection: close, or HTTP/1.0 without keep-alive: answer, then close
            transport.write(NO_CONTENT_CLOSE)
            transport.close()


async def start_receiver(
    on_request: Callable[[], None], host: str = "127.0.0.1", port: int = 0
) -> asyncio.Server:
    """A loopback server answering 204 to every request; ``on_request()`` once per request."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _Receiver(on_request), host, port)
