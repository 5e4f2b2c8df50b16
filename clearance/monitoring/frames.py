"""The frames the server writes to its monitor process: request texts, in order.

A frame is a 4-byte big-endian length and that many bytes of JSON: a list of
``[request_id, text]`` pairs.
"""

from __future__ import annotations

import asyncio
import struct

import orjson

HEADER = struct.Struct(">I")
MAX_FRAME = 2**31
"""Larger than any frame the server writes (request bodies are bounded far below)."""


class BadFrame(ValueError):
    pass


def encode(texts: list[tuple[str, str]]) -> bytes:
    payload = orjson.dumps(texts)
    return HEADER.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> list[tuple[str, str]] | None:
    """The next frame's texts; None at the end of the input."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise BadFrame("the input ended inside a frame's header") from None
        return None
    (size,) = HEADER.unpack(header)
    if size >= MAX_FRAME:
        raise BadFrame(f"a frame of {size} bytes")
    try:
        payload = await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise BadFrame("the input ended inside a frame") from None
    try:
        found = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BadFrame(f"a frame that is not JSON: {exc}") from None
    if not isinstance(found, list) or not all(
        isinstance(pair, list)
        and len(pair) == 2
        and isinstance(pair[0], str)
        and isinstance(pair[1], str)
        for pair in found
    ):
        raise BadFrame("a frame that is not a list of [request_id, text] pairs")
    return [(pair[0], pair[1]) for pair in found]
