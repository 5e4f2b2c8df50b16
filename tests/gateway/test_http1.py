"""The upstream HTTP/1.1 client against hand-written servers on 127.0.0.1, byte by
byte: keep-alive reuse, chunked and close-delimited bodies, stale connections,
replies cut short or not HTTP at all, timeouts, back-pressure and cancelling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from clearance.gateway import http1

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A server running ``handler`` per connection; yields its URL and a list that
    grows by one for every connection accepted."""
    accepted: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1/x", accepted
    finally:
        srv.close()
        await srv.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


def reply(body: bytes, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n".encode()
        + extra
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )


async def test_requests_reuse_one_connection_and_send_what_was_given() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            seen.append(await read_request(reader))
            writer.write(reply(b'{"ok": true}', extra=b"retry-after: 3\r\n"))

    async with server(handler) as (url, accepted):
        pool = http1.Pool(1, 1)
        for _ in range(3):
            response = await pool.request("POST", url, {"x-api-key": "k"}, b'{"a": 1}')
            assert (response.status, await response.read()) == (200, b'{"ok": true}')
            assert response.headers["retry-after"] == "3"
        pool.close()
    assert len(accepted) == 1
    assert seen[0].startswith(b"POST /v1/x HTTP/1.1\r\nhost: 127.0.0.1:")
    assert b"\r\nx-api-key: k\r\n" in seen[0]
    assert seen[0].endswith(b'content-length: 8\r\n\r\n{"a": 1}')


async def test_chunked_and_close_delimited_bodies() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for part in (b"data: 1\n\n", b"data: 2\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")

    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it")

    pool = http1.Pool(1, 1)
    async with server(chunked) as (url, _):
        response = await pool.request("POST", url, {}, b"{}")
        assert [chunk async for chunk in response.chunks()] == [b"data: 1\n\n", b"data: 2\n\n"]
    async with server(until_close) as (url, _):
        response = await pool.request("POST", url, {}, b"{}")
        assert await response.read() == b"all of it"
    pool.close()


async def test_a_stale_idle_connection_is_replaced_without_failing() -> None:
    async def one_reply_then_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(reader)
        writer.write(reply(b"{}"))
        await writer.drain()
        # The server drops the kept-alive connection; the client has not noticed yet.

    async with server(one_reply_then_close) as (url, accepted):
        pool = http1.Pool(1, 1)
        assert (await pool.request("POST", url, {}, b"{}")).status == 200
        await asyncio.sleep(0.05)
        assert (await pool.request("POST", url, {}, b"{}")).status == 200
        pool.close()
    assert len(accepted) == 2


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial", http1.UpstreamFailed),
        (b"<html>hello</html>", http1.UpstreamFailed),
        (b"", http1.UpstreamFailed),
    ],
)
async def test_replies_cut_short_or_not_http_fail_cleanly(
    sent: bytes, expected: type[Exception]
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(sent)
        await writer.drain()

    async with server(handler) as (url, _):
        pool = http1.Pool(1, 1)

        async def call() -> bytes:
            return await (await pool.request("POST", url, {}, b"{}")).read()

        with pytest.raises(expected):
            await call()
        pool.close()


async def test_silence_times_out_while_waiting_for_headers_or_body() -> None:
    async def silent_after_headers(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\ndata\r\n")
        await asyncio.sleep(5)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    pool = http1.Pool(1, 0.2)
    async with server(silent) as (url, _):
        with pytest.raises(http1.UpstreamTimeout):
            await pool.request("POST", url, {}, b"{}")
    async with server(silent_after_headers) as (url, _):
        response = await pool.request("POST", url, {}, b"{}")
        chunks = response.chunks()
        assert await anext(chunks) == b"data"
        with pytest.raises(http1.UpstreamTimeout):
            await anext(chunks)
    pool.close()


async def test_nothing_listening_fails_to_connect() -> None:
    async with server(read_request) as (url, _):
        pass  # closed again: the port is free
    with pytest.raises(http1.UpstreamFailed, match="cannot connect"):
        await http1.Pool(1, 1).request("POST", url, {}, b"{}")


async def test_a_slow_reader_pauses_the_upstream_and_closing_cancels_it() -> None:
    sent = 0
    finished = asyncio.Event()

    async def firehose(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        block = b"x" * 65536
        try:
            for _ in range(400):  # 25 MiB, far more than any buffer
                writer.write(b"%x\r\n%s\r\n" % (len(block), block))
                await writer.drain()
                sent += len(block)
        finally:
            finished.set()

    async with server(firehose) as (url, _):
        pool = http1.Pool(1, 5)
        response = await pool.request("POST", url, {}, b"{}")
        chunks = response.chunks()
        await anext(chunks)
        await asyncio.sleep(0.3)
        assert sent < 12 * 1024 * 1024  # held back, not read into memory
        response.close()
        await asyncio.wait_for(finished.wait(), 5)  # the upstream saw the connection go
        assert sent < 12 * 1024 * 1024
        pool.close()


async def test_header_values_with_line_breaks_are_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        await http1.Pool(1, 1).request("POST", "http://127.0.0.1:9/v1", {"x": "a\r\nevil: 1"}, b"")


async def test_a_reply_complete_while_its_reader_lags_leaves_a_connection_that_reads_on() -> None:
    """A reply ends in the very read that takes its unread body past the high-water
    mark (reading pauses): the connection goes back to the pool reading, and the next
    request on it is answered while the first reply is still unread."""
    large = b"x" * (http1.HIGH_WATER + 1000)

    async def twice(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(reply(large))
        await writer.drain()
        await read_request(reader)
        writer.write(reply(b'{"second": true}'))
        await writer.drain()
        await reader.read()

    async with server(twice) as (url, accepted):
        pool = http1.Pool(1, 2)
        first = await pool.request("POST", url, {}, b"{}")
        chunks = first.chunks()
        await asyncio.sleep(0.3)  # all of it arrives; nothing is read yet
        second = await pool.request("POST", url, {}, b"{}")
        assert await second.read() == b'{"second": true}'
        assert len(accepted) == 1  # the same connection, reused
        assert b"".join([chunk async for chunk in chunks]) == large
        pool.close()
