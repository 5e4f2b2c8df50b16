"""C2SP tlog-tiles layout: tile paths, tile coverage, partial tiles, entry bundles.

Implements c2sp.org/tlog-tiles, "Merkle Tree" (``tile/<L>/<N>[.p/<W>]`` paths,
what each tile holds, which partial tiles a tree size implies) and "Log entries"
(``tile/entries/<N>[.p/<W>]`` bundles of big-endian uint16 length-prefixed
entries). Tiles have height 8: a tile at level L holds up to 256 consecutive
hashes of Merkle tree level 8*L, i.e. the stored complete subtrees
``(8*L, i)`` of ``clearance.audit.tlog.merkle``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from clearance.audit.tlog.merkle import HASH_SIZE, MAX_UINT64

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_TILE_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF
ENTRIES: Literal["entries"] = "entries"

TileLevel = int | Literal["entries"]

# ASCII decimals with no additional leading zeroes, short enough to bound int().
_LEVEL_TEXT = re.compile(r"0|[1-9][0-9]?")
_WIDTH_TEXT = re.compile(r"[1-9][0-9]{0,2}")
_INDEX_PART = re.compile(r"x?[0-9]{3}")
_MAX_INDEX_PARTS = 7  # enough for any index below 2**64


class TileError(ValueError):
    """A tile path, tile or entry bundle is malformed."""


@dataclass(frozen=True, slots=True)
class Tile:
    """Tile ``index`` at ``level`` (or an entry bundle), holding ``width`` hashes/entries."""

    level: TileLevel
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        _check_tile(self.level, self.index, self.width)

    @property
    def is_partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def path(self) -> str:
        return tile_path(self.level, self.index, self.width)


class LevelTiles(NamedTuple):
    """The tiles of one level: ``full`` full tiles, then one partial tile if non-zero width."""

    level: int
    full: int
    partial_width: int


def tile_path(level: TileLevel, index: int, width: int = TILE_WIDTH) -> str:
    """Path of a tile (``level`` 0-63) or an entry bundle (``level == "entries"``)."""
    _check_tile(level, index, width)
    # Three-digit groups, all but the last prefixed with "x", so no file is also a directory.
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{'/'.join(reversed(groups))}{suffix}"


def parse_tile_path(path: str) -> Tile:
    """Parse a canonical tile or entry-bundle path, rejecting any other spelling."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TileError(f"{path!r} is not a tile path")
    level = _parse_level(parts[1], path)
    rest = parts[2:]
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        width = _parse_width(rest[-1], path)
        rest = [*rest[:-2], rest[-2].removesuffix(".p")]
    if len(rest) > _MAX_INDEX_PARTS or not all(_INDEX_PART.fullmatch(part) for part in rest):
        raise TileError(f"{path!r} has a malformed tile index")
    tile = Tile(level, int("".join(part.removeprefix("x") for part in rest)), width)
    # Re-encoding rejects misplaced "x" prefixes and redundant leading "x000" groups.
    if tile.path != path:
        raise TileError(f"{path!r} is not canonical, expected {tile.path!r}")
    return tile


def tile_hash_range(level: TileLevel, index: int, width: int = TILE_WIDTH) -> tuple[int, range]:
    """The Merkle tree level and node indices whose hashes the tile holds, in order.

    Level-L tile N holds nodes ``(8*L, N*256 + i)`` for ``i < width``; entry
    bundles cover the same leaf indices as level-0 tiles.
    """
    _check_tile(level, index, width)
    tree_level = 0 if level == ENTRIES else TILE_HEIGHT * level
    first = index * TILE_WIDTH
    return tree_level, range(first, first + width)


def tile_leaf_range(level: TileLevel, index: int, width: int = TILE_WIDTH) -> range:
    """The log entries ``D[start:end]`` a tile's hashes span (the spec's start/end index)."""
    tree_level, nodes = tile_hash_range(level, index, width)
    return range(nodes.start << tree_level, nodes.stop << tree_level)


def tiles_for_size(size: int) -> list[LevelTiles]:
    """Which tiles exist for a tree of ``size`` leaves, per level, lowest first.

    Level L has ``size // 256**L`` hashes: that many // 256 full tiles plus a
    partial tile of ``floor(size / 256**L) mod 256`` hashes if non-zero. Levels
    stop at the first one with no hashes. Entry bundles mirror level 0.
    """
    if size < 0:
        raise TileError(f"tree size {size} is negative")
    levels: list[LevelTiles] = []
    hashes = size
    while hashes:
        levels.append(LevelTiles(len(levels), hashes // TILE_WIDTH, hashes % TILE_WIDTH))
        hashes //= TILE_WIDTH
    return levels


def changed_tiles(old_size: int, new_size: int) -> list[Tile]:
    """Tiles to write when the tree grows from ``old_size`` to ``new_size``.

    Includes every new full tile and the new partial tiles; a tile partial at
    ``old_size`` reappears with its new width. Entry bundles mirror level 0.
    """
    if not 0 <= old_size <= new_size:
        raise TileError(f"tree sizes must satisfy 0 <= old <= new, got {old_size}, {new_size}")
    tiles: list[Tile] = []
    level, old_hashes, new_hashes = 0, old_size, new_size
    # Hashes at level L+1 depend only on full tiles at level L, so once a level is
    # unchanged every level above it is too.
    while new_hashes != old_hashes:
        for index in range(old_hashes // TILE_WIDTH, -(-new_hashes // TILE_WIDTH)):
            width = min(TILE_WIDTH, new_hashes - index * TILE_WIDTH)
            tiles.append(Tile(level, index, width))
        level += 1
        old_hashes //= TILE_WIDTH
        new_hashes //= TILE_WIDTH
    return tiles


def encode_hash_tile(hashes: Sequence[bytes]) -> bytes:
    """Concatenate 1 to 256 hashes into tile contents."""
    if not 1 <= len(hashes) <= TILE_WIDTH:
        raise TileError(f"a tile holds 1 to {TILE_WIDTH} hashes, got {len(hashes)}")
    if any(len(value) != HASH_SIZE for value in hashes):
        raise TileError(f"tile hashes must be {HASH_SIZE} bytes")
    return b"".join(hashes)


def decode_hash_tile(data: bytes, width: int | None = None) -> list[bytes]:
    """Split tile contents into hashes, optionally checking the expected width."""
    count, remainder = divmod(len(data), HASH_SIZE)
    if remainder or not 1 <= count <= TILE_WIDTH:
        raise TileError(f"tile of {len(data)} bytes is not 1 to {TILE_WIDTH} hashes")
    if width is not None and count != width:
        raise TileError(f"tile holds {count} hashes, expected {width}")
    return [data[offset : offset + HASH_SIZE] for offset in range(0, len(data), HASH_SIZE)]


def encode_entry_bundle(entries: Iterable[bytes]) -> bytes:
    """Encode entries as big-endian uint16 length-prefixed records."""
    chunks: list[bytes] = []
    for position, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise TileError(f"entry {position} is {len(entry)} bytes, over {MAX_ENTRY_SIZE}")
        chunks.append(len(entry).to_bytes(2, "big") + entry)
    if not 1 <= len(chunks) <= TILE_WIDTH:
        raise TileError(f"a bundle holds 1 to {TILE_WIDTH} entries, got {len(chunks)}")
    return b"".join(chunks)


def decode_entry_bundle(data: bytes, width: int | None = None) -> list[bytes]:
    """Decode an entry bundle, rejecting truncation and an unexpected entry count."""
    entries: list[bytes] = []
    offset = 0
    while offset < len(data):
        if len(entries) == TILE_WIDTH:
            raise TileError(f"bundle holds more than {TILE_WIDTH} entries")
        if offset + 2 > len(data):
            raise TileError("bundle ends inside a length prefix")
        end = offset + 2 + int.from_bytes(data[offset : offset + 2], "big")
        if end > len(data):
            raise TileError(f"bundle entry {len(entries)} is truncated")
        entries.append(data[offset + 2 : end])
        offset = end
    if not entries:
        raise TileError("bundle is empty")
    if width is not None and len(entries) != width:
        raise TileError(f"bundle holds {len(entries)} entries, expected {width}")
    return entries


def _check_tile(level: TileLevel, index: int, width: int) -> None:
    if level != ENTRIES and not (
        isinstance(level, int) and not isinstance(level, bool) and 0 <= level <= MAX_TILE_LEVEL
    ):
        raise TileError(f"tile level must be 0 to {MAX_TILE_LEVEL} or 'entries', got {level!r}")
    if not 0 <= index <= MAX_UINT64:
        raise TileError(f"tile index {index} is not an unsigned 64-bit integer")
    if not 1 <= width <= TILE_WIDTH:
        raise TileError(f"tile width must be 1 to {TILE_WIDTH}, got {width}")


def _parse_level(text: str, path: str) -> TileLevel:
    if text == ENTRIES:
        return ENTRIES
    if not _LEVEL_TEXT.fullmatch(text) or int(text) > MAX_TILE_LEVEL:
        raise TileError(f"{path!r} has an invalid tile level {text!r}")
    return int(text)


def _parse_width(text: str, path: str) -> int:
    if not _WIDTH_TEXT.fullmatch(text) or int(text) >= TILE_WIDTH:
        raise TileError(f"{path!r} has an invalid partial width {text!r}")
    return int(text)
