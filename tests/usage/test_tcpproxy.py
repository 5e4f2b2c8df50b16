"""The outage tests' TCP proxy (``tests.support.tcpproxy``) does what they rely on: it
forwards, a cut refuses and breaks connections, a silent cut holds bytes and
connections until restored, and the port stays the same throughout."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.support.tcpproxy import TcpProxy


@pytest.fixture
def echo() -> Iterator[int]:
    """A TCP echo server on 127.0.0.1; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the proxy resets its side when cut
            while data := conn.recv(4096):
                conn.sendall(data)

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    stopping.set()
    listener.close()


def connect(proxy: TcpProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=2)


def round_trip(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    return sock.recv(4096)


def test_a_cut_refuses_and_breaks_connections_until_restored(echo: int) -> None:
    with TcpProxy("127.0.0.1", echo) as proxy:
        port = proxy.port
        with connect(proxy) as sock:
            assert round_trip(sock, b"hello") == b"hello"
            proxy.cut()
            with pytest.raises(ConnectionResetError):  # as a server gone away leaves it
                round_trip(sock, b"again")
        with pytest.raises(ConnectionRefusedError):
            connect(proxy)
        proxy.restore()
        assert proxy.port == port
        with connect(proxy) as sock:
            assert round_trip(sock, b"back") == b"back"


def test_a_silent_cut_holds_bytes_and_connections_until_restored(echo: int) -> None:
    with TcpProxy("127.0.0.1", echo) as proxy, connect(proxy) as before:
        assert round_trip(before, b"one") == b"one"
        proxy.cut(silently=True)
        with connect(proxy) as during:  # accepted, but nothing passes
            for sock, data in ((before, b"held"), (during, b"waiting")):
                sock.settimeout(0.2)
                with pytest.raises(TimeoutError):
                    round_trip(sock, data)
            proxy.restore()
            for sock, data in ((before, b"held"), (during, b"waiting")):
                sock.settimeout(2)
                assert sock.recv(4096) == data
