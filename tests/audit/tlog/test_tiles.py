"""Tests for clearance.audit.tlog.tiles: C2SP tlog-tiles paths, coverage and entry bundles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.audit.tlog.merkle import TreeBuilder, leaf_hash, root_of
from clearance.audit.tlog.tiles import (
    ENTRIES,
    MAX_ENTRY_SIZE,
    TILE_WIDTH,
    LevelTiles,
    Tile,
    TileError,
    TileLevel,
    changed_tiles,
    decode_entry_bundle,
    decode_hash_tile,
    encode_entry_bundle,
    encode_hash_tile,
    parse_tile_path,
    tile_hash_range,
    tile_leaf_range,
    tile_path,
    tiles_for_size,
)


def _all_tiles(size: int) -> set[Tile]:
    tiles: set[Tile] = set()
    for level in tiles_for_size(size):
        tiles.update(Tile(level.level, index) for index in range(level.full))
        if level.partial_width:
            tiles.add(Tile(level.level, level.full, level.partial_width))
    return tiles


# --- paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "index", "width", "path"),
    [
        (0, 1234067, 256, "tile/0/x001/x234/067"),
        (0, 1234067, 8, "tile/0/x001/x234/067.p/8"),
        (ENTRIES, 1234067, 256, "tile/entries/x001/x234/067"),
        (ENTRIES, 0, 1, "tile/entries/000.p/1"),
        (0, 0, 256, "tile/0/000"),
        (1, 999, 255, "tile/1/999.p/255"),
        (2, 1000, 256, "tile/2/x001/000"),
        (63, 5, 17, "tile/63/005.p/17"),
        (0, 2**56 - 1, 256, "tile/0/x072/x057/x594/x037/x927/935"),
    ],
)
def test_tile_paths(level: TileLevel, index: int, width: int, path: str) -> None:
    assert tile_path(level, index, width) == path
    assert parse_tile_path(path) == Tile(level, index, width)
    assert Tile(level, index, width).path == path


@given(
    st.one_of(st.integers(0, 63), st.just(ENTRIES)),
    st.integers(0, 2**64 - 1),
    st.integers(1, TILE_WIDTH),
)
def test_tile_path_round_trip(level: TileLevel, index: int, width: int) -> None:
    assert parse_tile_path(tile_path(level, index, width)) == Tile(level, index, width)


@pytest.mark.parametrize(
    "path",
    [
        "tile/0",
        "tiles/0/000",
        "/tile/0/000",
        "tile/0/000/",
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/data/000",
        "tile/0/0",
        "tile/0/0000",
        "tile/0/x000/005",
        "tile/0/x001",
        "tile/0/001/000",
        "tile/0/xx01/000",
        "tile/0/x01/000",
        "tile/0/\u0661\u0662\u0663",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/08",
        "tile/0/000.p/+8",
        "tile/0/000.p",
        "tile/0/000.p/",
        "tile/0/000.p/8/9",
        "tile/0/x000.p/8",
        "tile/0/x001/x002/x003/x004/x005/x006/x007/008",
        "tile/entries/000.p/256",
    ],
)
def test_parse_rejects(path: str) -> None:
    with pytest.raises(TileError):
        parse_tile_path(path)


@pytest.mark.parametrize(
    ("level", "index", "width"),
    [
        (-1, 0, 256),
        (64, 0, 256),
        (True, 0, 256),
        ("data", 0, 256),
        (0, -1, 256),
        (0, 2**64, 256),
        (0, 0, 0),
        (0, 0, 257),
    ],
)
def test_tile_path_rejects(level: TileLevel, index: int, width: int) -> None:
    with pytest.raises(TileError):
        tile_path(level, index, width)
    with pytest.raises(TileError):
        Tile(level, index, width)


# --- which tiles exist ------------------------------------------------------------------


def test_tiles_for_size_spec_examples() -> None:
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0
    # tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one
    # partial level 2 tile of width 1" / "a tree of size 256 ... a full level 0 tile and a
    # partial level 1 tile of width 1".
    assert tiles_for_size(70_000) == [
        LevelTiles(0, 273, 112),
        LevelTiles(1, 1, 17),
        LevelTiles(2, 0, 1),
    ]
    assert tiles_for_size(256) == [LevelTiles(0, 1, 0), LevelTiles(1, 0, 1)]
    assert tiles_for_size(0) == []
    assert tiles_for_size(1) == [LevelTiles(0, 0, 1)]
    assert tiles_for_size(65_536) == [
        LevelTiles(0, 256, 0),
        LevelTiles(1, 1, 0),
        LevelTiles(2, 0, 1),
    ]
    assert len(tiles_for_size(2**64 - 1)) == 8
    with pytest.raises(TileError):
        tiles_for_size(-1)


def test_changed_tiles_examples() -> None:
    assert changed_tiles(0, 0) == []
    assert changed_tiles(5, 5) == []
    assert changed_tiles(0, 1) == [Tile(0, 0, 1)]
    assert changed_tiles(255, 256) == [Tile(0, 0), Tile(1, 0, 1)]
    assert changed_tiles(70_000, 70_001) == [Tile(0, 273, 113)]
    assert len(changed_tiles(0, 70_000)) == 273 + 1 + 1 + 1 + 1
    with pytest.raises(TileError):
        changed_tiles(2, 1)


@settings(max_examples=200)
@given(st.integers(0, 300_000), st.integers(0, 300_000))
def test_changed_tiles_is_the_set_difference(a: int, b: int) -> None:
    old, new = min(a, b), max(a, b)
    changed = changed_tiles(old, new)
    assert len(changed) == len(set(changed))
    assert set(changed) == _all_tiles(new) - _all_tiles(old)


# --- what tiles hold --------------------------------------------------------------------


def test_tile_hash_range() -> None:
    assert tile_hash_range(0, 3, 10) == (0, range(768, 778))
    assert tile_hash_range(ENTRIES, 3) == (0, range(768, 1024))
    assert tile_hash_range(2, 1, 1) == (16, range(256, 257))
    assert tile_leaf_range(0, 3, 10) == range(768, 778)
    assert tile_leaf_range(1, 2) == range(2 * 256**2, 3 * 256**2)
    assert tile_leaf_range(1, 2, 17) == range(2 * 256**2, (2 * 256 + 17) * 256)


def test_tiles_hold_the_spec_merkle_tree_hashes() -> None:
    # Tile n at level l holds MTH(D[(n*256 + i) * 256**l : (n*256 + i + 1) * 256**l]).
    size = 70_000
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    store = {(level, index): value for level, index, value in TreeBuilder().extend(leaves)}
    for tile in sorted(_all_tiles(size), key=lambda t: (str(t.level), t.index))[-6:]:
        assert isinstance(tile.level, int)
        tree_level, indices = tile_hash_range(tile.level, tile.index, tile.width)
        data = encode_hash_tile([store[tree_level, i] for i in indices])
        hashes = decode_hash_tile(data, tile.width)
        for i, value in enumerate(hashes):
            start = (tile.index * 256 + i) * 256**tile.level
            end = (tile.index * 256 + i + 1) * 256**tile.level
            assert value == root_of(leaves[start:end])


def test_hash_tile_encoding_rejects() -> None:
    with pytest.raises(TileError):
        encode_hash_tile([])
    with pytest.raises(TileError):
        encode_hash_tile([bytes(32)] * 257)
    with pytest.raises(TileError):
        encode_hash_tile([bytes(31)])
    for data in (b"", bytes(33), bytes(32 * 257)):
        with pytest.raises(TileError):
            decode_hash_tile(data)
    with pytest.raises(TileError, match="expected 2"):
        decode_hash_tile(bytes(96), 2)


# --- entry bundles ----------------------------------------------------------------------


def test_entry_bundle_round_trip() -> None:
    entries = [b"", b"a", bytes(MAX_ENTRY_SIZE), b"\x00\x01"]
    data = encode_entry_bundle(entries)
    assert data[:5] == b"\x00\x00\x00\x01a"
    assert decode_entry_bundle(data, 4) == entries
    assert decode_entry_bundle(encode_entry_bundle([b"x"] * 256)) == [b"x"] * 256


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=TILE_WIDTH))
def test_entry_bundle_property(entries: list[bytes]) -> None:
    assert decode_entry_bundle(encode_entry_bundle(entries), len(entries)) == entries


def test_entry_bundle_rejects() -> None:
    with pytest.raises(TileError, match="over"):
        encode_entry_bundle([bytes(MAX_ENTRY_SIZE + 1)])
    with pytest.raises(TileError, match="1 to 256"):
        encode_entry_bundle([])
    with pytest.raises(TileError, match="1 to 256"):
        encode_entry_bundle([b"x"] * 257)
    with pytest.raises(TileError, match="empty"):
        decode_entry_bundle(b"")
    with pytest.raises(TileError, match="length prefix"):
        decode_entry_bundle(b"\x00\x01a\x00")
    with pytest.raises(TileError, match="truncated"):
        decode_entry_bundle(b"\x00\x05abc")
    with pytest.raises(TileError, match="more than 256"):
        decode_entry_bundle(b"\x00\x00" * 257)
    with pytest.raises(TileError, match="expected 3"):
        decode_entry_bundle(b"\x00\x00" * 2, 3)
