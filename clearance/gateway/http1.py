"""A lean HTTP/1.1 client for calling upstreams.

Pooled keep-alive connections, the httptools parser (the one uvicorn serves with),
bodies read whole or streamed with back-pressure, a read timeout that counts only
while someone is waiting for bytes, and closing a response early to cancel the
upstream request. It speaks what the gateway needs and nothing more: one request
per connection at a time, no redirects, cookies, proxies or compression (it asks for
identity). On this hardware aiohttp spends ~150 µs of CPU a request; this ~40 µs."""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections import deque
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

HIGH_WATER = 256 * 1024
"""Buffered body bytes at which reading pauses (streams only), until the reader takes them."""
IDLE_SECONDS = 4.0
"""Idle connections are dropped after this long (before common server keep-alive
timeouts, so a reused connection is rarely one the server is closing)."""


class UpstreamTimeout(Exception):
    """No byte within the read timeout (or no connection within the connect timeout)."""


class UpstreamFailed(Exception):
    """The connection failed, closed early, or the reply was not HTTP."""


class _Stale(UpstreamFailed):
    """A reused connection closed before a single byte of the reply."""


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    @property
    def authority(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


@functools.lru_cache(maxsize=256)  # a few upstream URLs, on every request
def split_url(url: str) -> tuple[Origin, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UpstreamFailed(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    return Origin(parts.scheme, parts.hostname, port), target


class Response:
    """An upstream reply: status and headers now, the body whole or as it comes."""

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self.status = 0
        self.headers: dict[str, str] = {}
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._whole = False
        self._done = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    # The connection's side.

    def _feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if not self._whole and not self._paused and self._buffered > HIGH_WATER:
            self._paused = True
            self._conn.pause()
        self._wake()

    def _finish(self) -> None:
        self._done = True
        if self._paused:  # all arrived: the connection reads on (pooled, for the next)
            self._paused = False
            self._conn.resume()
        self._wake()

    def _fail(self, error: BaseException) -> None:
        if not self._done and self._error is None:
            self._error = error
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # The reader's side.

    async def _wait(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        self._conn.arm()
        try:
            await self._waiter
        finally:
            self._waiter = None
            self._conn.disarm()

    async def read(self) -> bytes:
        """The whole body."""
        self._whole = True
        if self._paused:
            self._paused = False
            self._conn.resume()
        while not self._done:
            if self._error is not None:
                raise self._error
            await self._wait()
        return b"".join(self._chunks)

    def chunks(self) -> _Chunks:
        """The body as it arrives."""
        return _Chunks(self)

    @property
    def ended(self) -> bool:
        """Nothing more will come: the reply is complete and all of it was read."""
        return self._done and not self._chunks

    def _next(self) -> bytes | None:
        """All that has arrived and was not read yet (the pieces of one read — an
        upstream's chunks, say — as one), or None."""
        chunks = self._chunks
        if not chunks:
            return None
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        if self._paused:
            self._paused = False
            self._conn.resume()
        return data

    def close(self) -> None:
        """Stop: an unfinished reply's connection is dropped, which cancels the
        request upstream."""
        if not self._done:
            self._conn.abort()


class _Chunks:
    def __init__(self, response: Response) -> None:
        self._response = response

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        response = self._response
        while True:
            chunk = response._next()
            if chunk is not None:
                return chunk
            if response._error is not None:
                raise response._error
            if response._done:
                raise StopAsyncIteration
            await response._wait()


def _ends_at_close(response: Response) -> bool:
    """A reply with neither a length nor chunks ends when the connection does."""
    headers = response.headers
    return "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", "")


class _Connection(asyncio.Protocol):
    def __init__(self, pool: Pool, origin: Origin) -> None:
        self._pool = pool
        self.origin = origin
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._response: Response | None = None
        self._head: asyncio.Future[Response] | None = None
        self._received = False
        self._timer: asyncio.TimerHandle | None = None
        self._waiting = False
        self._deadline = 0.0
        self.closed = False
        self.idle_since = 0.0
        self.reused = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._received = True
        if self._waiting:
            self._deadline = asyncio.get_running_loop().time() + self._pool.read_timeout
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._failed(UpstreamFailed(f"the upstream's reply is not valid HTTP: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.disarm()
        response = self._response
        if response is not None and self._head is None and _ends_at_close(response):
            self._response = None
            response._finish()
        if self._response is not None or self._head is not None:
            stale = isinstance(self._head, asyncio.Future) and not self._received
            error = _Stale if stale and self.reused else UpstreamFailed
            self._failed(error("the upstream closed the connection mid-reply"))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._response is not None
        self._response.headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        response, head = self._response, self._head
        assert response is not None
        response.status = self._parser.get_status_code()
        self._head = None
        self.disarm()  # from here the reader arms it while it waits
        if head is not None and not head.done():
            head.set_result(response)

    def on_body(self, body: bytes) -> None:
        if self._response is not None:
            self._response._feed(body)

    def on_message_complete(self) -> None:
        response = self._response
        self._response = None
        keep = self._parser.should_keep_alive()
        self.disarm()
        if response is not None:
            response._finish()
        if keep and not self.closed:
            self._pool._release(self)
        else:
            self.abort()

    # Used by the pool and the response.

    async def send(self, method: str, target: str, headers: str, body: bytes) -> Response:
        assert self._transport is not None
        loop = asyncio.get_running_loop()
        self._response = Response(self)
        head: asyncio.Future[Response] = loop.create_future()
        self._head = head
        self._received = False
        self._transport.write(
            f"{method} {target} HTTP/1.1\r\nhost: {self.origin.authority}\r\n{headers}"
            f"content-length: {len(body)}\r\n\r\n".encode("latin-1")
            + body
        )
        self.arm()
        try:
            return await head
        except BaseException:
            self.abort()
            raise

    def _failed(self, error: UpstreamFailed | UpstreamTimeout) -> None:
        head, response = self._head, self._response
        self._head = self._response = None
        if head is not None and not head.done():
            head.set_exception(error)
        if response is not None:
            response._fail(error)
        self.abort()

    # The read timeout, lazily: bytes arriving move a deadline along; one timer
    # checks it when due and sets itself again if the deadline moved (a streamed
    # reply of a thousand events costs a timer or two, not a thousand).

    def arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._waiting = True
        self._deadline = loop.time() + self._pool.read_timeout
        if self._timer is None:
            self._timer = loop.call_at(self._deadline, self._check_deadline)

    def disarm(self) -> None:
        self._waiting = False

    def _check_deadline(self) -> None:
        self._timer = None
        if not self._waiting or self.closed:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._deadline:
            self._timer = loop.call_at(self._deadline, self._check_deadline)
            return
        self._failed(UpstreamTimeout("the upstream did not answer in time"))

    def pause(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.pause_reading()

    def resume(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.resume_reading()

    def abort(self) -> None:
        self.closed = True
        self._waiting = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.abort()


class Pool:
    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: dict[Origin, list[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> Response:
        """Send the request; return once the reply's status and headers are in."""
        origin, target = split_url(url)
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"header {name!r} contains a line break")
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        while True:
            conn = self._take(origin)
            reused = conn is not None
            if conn is None:
                conn = await self._connect(origin)
            conn.reused = reused
            try:
                return await conn.send(method, target, lines, body)
            except _Stale:
                continue  # the server closed it while idle; never reached it

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < IDLE_SECONDS:
                return conn
            conn.abort()
        return None

    def _release(self, conn: _Connection) -> None:
        conn.idle_since = time.monotonic()
        self._idle.setdefault(conn.origin, []).append(conn)

    async def _connect(self, origin: Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = None
        if origin.scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self, origin),
                    origin.host,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls else None,
                )
        except TimeoutError as exc:
            raise UpstreamTimeout(f"no connection to {origin.authority} in time") from exc
        except OSError as exc:
            raise UpstreamFailed(f"cannot connect to {origin.authority}: {exc}") from exc
        return conn

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.abort()
        self._idle.clear()
