"""What a client may send a real ``clearance serve`` before it has signed in: bodies,
request heads and time are all bounded (an outside probe found none of them were).

Raw sockets on 127.0.0.1, so the tests can send what no HTTP library would: a body
that keeps coming after the answer, a head that never ends, a request that stalls.
Every loop is bounded in bytes and in time.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.installation import Cli, Live, install, serve

HEADER_TIMEOUT = 1.0
BODY_READ_TIMEOUT = 1.0
MIB = 1024 * 1024

LIMITS = {
    "CLEARANCE_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
    "CLEARANCE_BODY_READ_TIMEOUT": str(BODY_READ_TIMEOUT),
    "CLEARANCE_MONITOR_ENABLED": "false",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """An installation with one model and key, served with one-second timeouts."""
    root = tmp_path_factory.mktemp("limits")

    def setup(cli: Cli) -> str:
        cli("models", "add", "m", "--upstream-url", "http://127.0.0.1:9/v1")
        cli("orgs", "add", "Acme Research", "--country", "US", "--reason", "test partner")
        cli("entitlements", "grant", "--org", "Acme Research", "--model", "m")
        key = json.loads(cli("keys", "create", "--org", "Acme Research", "--output", "json"))
        return str(key["key"])

    with serve(install(root, setup), root / "serve.log", env=LIMITS) as live:
        yield live


def connect(live: Live) -> socket.socket:
    port = int(live.base_url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setblocking(False)
    return sock


def read_answer(sock: socket.socket, wait: float) -> bytes:
    """Everything the server sends within ``wait`` seconds, until it closes."""
    received = b""
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            break
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received


def has_closed(sock: socket.socket) -> bool:
    """After ``read_answer``: whether the server closed the connection (rather than
    the wait running out with it open)."""
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def send_until_answered(
    sock: socket.socket, head: bytes, chunk: bytes, most: int, wait: float = 5.0
) -> tuple[int, bytes]:
    """Send ``head``, then ``chunk`` after ``chunk`` (at most ``most`` bytes in all)
    until the server answers: how many bytes went, and the answer."""
    pending, sent = head, 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        readable, writable, _ = select.select([sock], [sock] if sent < most else [], [], wait)
        if readable:
            return sent, read_answer(sock, wait)
        if not writable:
            break  # everything sent, and no answer within ``wait``
        try:
            sent += sock.send(pending)
        except (BrokenPipeError, ConnectionResetError):
            return sent, read_answer(sock, wait)
        pending = chunk
    return sent, b""


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


def error_code(answer: bytes) -> str:
    body = answer.split(b"\r\n\r\n", 1)[1]
    code: str = json.loads(body)["error"]["code"]
    return code


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def login_head(length: bytes | None = None) -> bytes:
    framing = b"content-length: " + length if length else b"transfer-encoding: chunked"
    return (
        b"POST /portal/v1/auth/login HTTP/1.1\r\nhost: test\r\nconnection: close\r\n"
        b"content-type: application/json\r\n" + framing + b"\r\n\r\n"
    )


def test_a_huge_declared_login_body_is_refused_before_it_is_sent(server: Live) -> None:
    with connect(server) as sock:
        sent, answer = send_until_answered(
            sock, login_head(b"%d" % (100 * MIB)), b"x" * 65536, 100 * MIB
        )
    assert status_of(answer) == 413
    assert error_code(answer) == "request_too_large"
    assert b"x-request-id:" in answer.lower()
    assert sent < 8 * MIB  # answered at the head, not after 100 MiB


def test_a_huge_streamed_login_body_is_cut_off_without_memory_growing(server: Live) -> None:
    before = resident_bytes(server.process.pid)
    piece = b"x" * 65536
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    with connect(server) as sock:
        sent, answer = send_until_answered(sock, login_head(), chunk, 100 * MIB)
    assert status_of(answer) == 413
    assert error_code(answer) == "request_too_large"
    assert sent < 16 * MIB  # reading stopped near the 16 KiB limit
    assert resident_bytes(server.process.pid) - before < 32 * MIB


def test_control_plane_bodies_are_limited_too(server: Live) -> None:
    response = httpx.post(
        f"{server.base_url}/admin/v1/orgs",
        headers=server.admin_headers(),
        content=b'{"name": "' + b"x" * (2 * MIB) + b'"}',
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "invalid_request_error"
    # Programs may be larger (up to the program's own 2 MiB rule).
    program = httpx.post(
        f"{server.base_url}/admin/v1/program?dry_run=true",
        headers=server.admin_headers(),
        content=b"models: {}\n# " + b"x" * (3 * MIB // 2) + b"\n",
    )
    assert program.status_code != 413


def test_a_header_without_end_gets_431(server: Live) -> None:
    """The probe's 1 MiB header, and more: it is refused once 64 KiB have come."""
    head = b"GET /healthz HTTP/1.1\r\nhost: test\r\nx-big: "
    with connect(server) as sock:
        sent, answer = send_until_answered(sock, head, b"a" * 65536, 64 * MIB)
    assert status_of(answer) == 431
    assert error_code(answer) == "headers_too_large"
    assert sent < 16 * MIB  # cut off early (the rest is what socket buffers took)


def test_two_thousand_headers_get_431(server: Live) -> None:
    fields = b"".join(b"x-h%d: v\r\n" % n for n in range(2000))
    with connect(server) as sock:
        _, answer = send_until_answered(
            sock, b"GET /healthz HTTP/1.1\r\nhost: test\r\n" + fields + b"\r\n", b"", 1
        )
    assert status_of(answer) == 431


def test_ordinary_heads_still_pass(server: Live) -> None:
    headers = {f"x-h{n}": "v" for n in range(60)}
    headers["cookie"] = "c=" + "x" * 8000
    with httpx.Client(base_url=server.base_url) as client:  # one kept-alive connection
        for _ in range(3):
            assert client.get("/healthz", headers=headers).status_code == 200


def test_a_head_that_stalls_is_answered_408_and_closed(server: Live) -> None:
    with connect(server) as sock:
        sock.send(b"GET /healthz HTTP/1.1\r\nhost: te")
        answer = read_answer(sock, HEADER_TIMEOUT + 30)
        closed = has_closed(sock)
    assert status_of(answer) == 408
    assert closed


def test_a_head_dribbled_byte_by_byte_is_cut_off_at_its_deadline(server: Live) -> None:
    head = b"GET /healthz HTTP/1.1\r\nhost: test\r\nx-slow: " + b"a" * 100
    answer = b""
    sent = 0
    with connect(server) as sock:
        for byte in head:  # one byte every 0.1 s: 10 s for all, if let
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable:
                answer = read_answer(sock, 30)
                break
            sock.send(bytes([byte]))
            sent += 1
    assert status_of(answer) == 408
    assert sent < len(head)  # cut off before the head was complete


def test_a_stalled_head_after_a_kept_alive_request_is_answered_408(server: Live) -> None:
    with connect(server) as sock:
        sock.send(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
        first = b""
        deadline = time.monotonic() + 5
        while b'{"status":"ok"}' not in first and time.monotonic() < deadline:
            if select.select([sock], [], [], 0.5)[0]:
                first += sock.recv(65536)
        assert status_of(first) == 200
        sock.send(b"GET /healthz HTTP/1.1\r\nho")
        answer = read_answer(sock, HEADER_TIMEOUT + 30)
        closed = has_closed(sock)
    assert status_of(answer) == 408
    assert closed


def test_a_connection_that_sends_nothing_is_closed(server: Live) -> None:
    with connect(server) as sock:
        answer = read_answer(sock, HEADER_TIMEOUT + 30)
        closed = has_closed(sock)
    assert answer == b""
    assert closed


@pytest.mark.parametrize("path", ["/portal/v1/auth/login", "/v1/chat/completions"])
def test_a_body_that_stalls_is_answered_408_and_closed(server: Live, path: str) -> None:
    head = (
        f"POST {path} HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {server.api_key}\r\n"
        "content-type: application/json\r\ncontent-length: 100\r\n\r\n"
    ).encode()
    with connect(server) as sock:
        sock.send(head + b'{"model": ')
        answer = read_answer(sock, BODY_READ_TIMEOUT + 30)
        closed = has_closed(sock)
    assert status_of(answer) == 408
    assert error_code(answer) == "request_timeout"
    assert closed


def test_a_slow_body_that_keeps_coming_is_not_cut_off(server: Live) -> None:
    body = b'{"name": "ada@example.com", "password": "wrong-password", "totp": "000000"}'
    head = login_head(b"%d" % len(body))
    with connect(server) as sock:
        sock.send(head)
        for start in range(0, len(body), 25):  # 3 pieces, 0.6 s apart: 1.2 s in all
            time.sleep(0.6)
            sock.send(body[start : start + 25])
        answer = read_answer(sock, 10)
    assert status_of(answer) != 408
