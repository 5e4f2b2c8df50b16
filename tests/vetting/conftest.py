"""Real local servers for the proofs: DNS (dnslib), HTTP (asyncio) and SMTP (aiosmtpd)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord  # type: ignore[import-untyped]
from dnslib.server import BaseResolver, DNSServer  # type: ignore[import-untyped]

from tests.support.receivers import LocalSmtp, local_smtp

# --- DNS -------------------------------------------------------------------------------


class TxtZone(BaseResolver):  # type: ignore[misc]
    """Answers TXT queries from ``records``: name -> list of TXT RRs, each a list of
    character-strings. A name that is absent is NXDOMAIN; an empty list, no answer."""

    def __init__(self) -> None:
        self.records: dict[str, list[list[str]]] = {}
        self.queries: list[str] = []

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        self.queries.append(name)
        if name not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for strings in self.records[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(strings), ttl=60))
        return reply


class QuietLogger:
    """dnslib's logger interface, silent (its default prints every packet)."""

    def log_recv(self, *args: Any) -> None: ...
    def log_send(self, *args: Any) -> None: ...
    def log_request(self, *args: Any) -> None: ...
    def log_reply(self, *args: Any) -> None: ...
    def log_truncated(self, *args: Any) -> None: ...
    def log_error(self, *args: Any) -> None: ...
    def log_data(self, *args: Any) -> None: ...


@dataclass
class LocalDns:
    zone: TxtZone
    port: int


@pytest.fixture
def dns_server() -> Iterator[LocalDns]:
    zone = TxtZone()
    server = DNSServer(zone, address="127.0.0.1", port=0, logger=QuietLogger())
    thread = threading.Thread(target=server.server.serve_forever, args=(0.02,), daemon=True)
    thread.start()  # not server.start_thread(): its 0.5 s poll makes every stop slow
    try:
        yield LocalDns(zone, server.server.server_address[1])
    finally:
        server.stop()
        server.server.server_close()
        thread.join(timeout=5)


# --- HTTP ------------------------------------------------------------------------------

HANG = object()
"""A route that never answers (until the client goes away)."""


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    length: bool = True  # send Content-Length (else the body ends when the connection does)


@dataclass
class LocalHttp:
    port: int
    routes: dict[str, Reply | object] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def _serve(
    site: LocalHttp, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
        site.requests.append(path)
        route = site.routes.get(path, Reply(404, b"not found\n"))
        if route is HANG:
            await reader.read()  # until the client closes
            return
        assert isinstance(route, Reply)
        lines = [f"HTTP/1.1 {route.status} X", "Connection: close"]
        if route.length:
            lines.append(f"Content-Length: {len(route.body)}")
        lines += [f"{name}: {value}" for name, value in route.headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + route.body)
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # the client hung up (as it should on an oversized body)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def local_http() -> AsyncIterator[LocalHttp]:
    tasks: set[asyncio.Task[None]] = set()
    site = LocalHttp(port=0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        await _serve(site, reader, writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    site.port = server.sockets[0].getsockname()[1]
    try:
        yield site
    finally:
        server.close()
        await server.wait_closed()
        _done, pending = await asyncio.wait(tasks, timeout=2) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


@pytest.fixture
async def http_site() -> AsyncIterator[LocalHttp]:
    async with local_http() as site:
        yield site


@pytest.fixture
async def other_site() -> AsyncIterator[LocalHttp]:
    async with local_http() as site:
        yield site


# --- SMTP ------------------------------------------------------------------------------


@pytest.fixture
def smtp_server() -> Iterator[LocalSmtp]:
    with local_smtp() as server:
        yield server
