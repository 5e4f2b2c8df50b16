"""A TCP proxy a test controls, to take a service away and give it back.

Point the code under test at the proxy's port instead of the service's, then
:meth:`TcpProxy.cut` the service off and :meth:`TcpProxy.restore` it. Two kinds of
outage, because code meets them differently:

* ``cut()`` — the service went down: every open connection is closed and new ones
  are refused (``ECONNREFUSED``), so clients fail at once.
* ``cut(silently=True)`` — the network between went quiet (a partition): connections
  stay open and new ones are accepted, but no byte goes through either way, so
  clients wait for their own timeouts. ``restore()`` lets the held bytes through, as a
  healed partition would.

The proxy runs its own event loop on a thread, so synchronous tests (driving a
server in another process) and asyncio tests alike can use it::

    with TcpProxy("127.0.0.1", 5432) as proxy:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/test"
        ...
        proxy.cut()
        ...
        proxy.restore()
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

T = TypeVar("T")

CHUNK = 64 * 1024
CONTROL_TIMEOUT = 10.0
"""Seconds a control call (cut, restore…) may take on the proxy's loop."""


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target_host:target_port`` until cut."""

    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.port = 0
        """The port to connect to (chosen when the proxy starts, kept across cuts)."""
        self.accepted = 0
        """Connections accepted so far (a test can tell whether a client reconnected)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    # --- control, from any thread -------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="tcp-proxy", daemon=True)
        self._thread.start()
        self._call(self._start())

    def cut(self, silently: bool = False) -> None:
        """Take the service away: refuse (or, ``silently``, stall) every connection."""
        self._call(self._cut(silently))

    def restore(self) -> None:
        """Give the service back: listen again, and let stalled bytes through."""
        self._call(self._restore())

    def close(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._call(self._cut(silently=False))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CONTROL_TIMEOUT)
        self._loop.close()
        self._loop, self._thread = None, None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None, "start the proxy first"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CONTROL_TIMEOUT)

    # --- on the proxy's loop --------------------------------------------------------

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        await self._listen()

    async def _listen(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._accept, self.listen_host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self, silently: bool) -> None:
        assert self._flowing is not None
        if silently:
            self._flowing.clear()
            await self._listen()  # accept, then hold: a partition, not a stopped server
            return
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            _abort(writer)
        self._flowing.set()  # whatever a silent cut held now finds its connection gone
        if self._pipes:
            await asyncio.wait(set(self._pipes), timeout=CONTROL_TIMEOUT / 2)

    async def _restore(self) -> None:
        assert self._flowing is not None
        await self._listen()
        self._flowing.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        assert self._flowing is not None
        self._pipes.add(task)
        self._writers.add(writer)
        try:
            await self._flowing.wait()  # a silent cut holds new connections here
            if writer.transport.is_closing():
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                return  # the service itself is down: the client sees its connection close
            self._writers.add(up_writer)
            try:
                if writer.transport.is_closing():  # cut while connecting
                    return
                await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
            except OSError:
                pass  # either side broke off: the finally below breaks off the other
            finally:
                self._writers.discard(up_writer)
                _abort(up_writer)
        finally:
            self._pipes.discard(task)
            self._writers.discard(writer)
            _abort(writer)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Copy one direction until its end; a clean end is passed on as one (half
        close), a broken one breaks both directions (see ``_accept``)."""
        assert self._flowing is not None
        while chunk := await source.read(CHUNK):
            await self._flowing.wait()  # a silent cut holds the bytes here
            if sink.transport.is_closing():
                return
            sink.write(chunk)
            await sink.drain()
        await self._flowing.wait()
        if sink.can_write_eof() and not sink.transport.is_closing():
            sink.write_eof()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close at once, with a reset: as a server that went away leaves its clients."""
    transport = writer.transport
    if transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
