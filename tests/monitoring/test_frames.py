"""The frames that carry request texts from the server to its monitor process."""

from __future__ import annotations

import asyncio

import pytest

from clearance.monitoring.frames import HEADER, BadFrame, encode, read_frame


def reader_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_texts_come_out_as_they_went_in_and_the_end_is_none() -> None:
    first = [("req_1", "hello"), ("req_2", 'quotes " and\nnewlines, ünïcode ✓')]
    reader = reader_of(encode(first) + encode([]) + encode([("req_3", "x" * 100_000)]))
    assert await read_frame(reader) == first
    assert await read_frame(reader) == []
    assert await read_frame(reader) == [("req_3", "x" * 100_000)]
    assert await read_frame(reader) is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x00", "inside a frame's header"),
        (HEADER.pack(10) + b"[]", "inside a frame"),
        (HEADER.pack(2**31), "a frame of"),
        (HEADER.pack(12) + b'[["a", 1]]  ', "not a list of"),
        (HEADER.pack(2) + b"{}", "not a list of"),
        (HEADER.pack(3) + b"[[x", "not JSON"),
    ],
)
async def test_a_broken_input_is_refused_by_name(data: bytes, reason: str) -> None:
    with pytest.raises(BadFrame, match=reason):
        await read_frame(reader_of(data))
