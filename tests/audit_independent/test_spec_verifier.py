"""Tests of the independent tlog verifier against hand-built logs and public vectors.

The tiny log writer below is written separately from ``spec_verifier`` on purpose, with
different algorithms (bottom-up Merkle hashing, string-based tile index encoding), so a
shared misreading of the specs is less likely to cancel out.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.support.data import DATA

from .spec_verifier import (
    EMPTY_ROOT,
    TileRef,
    VerificationError,
    check_prefix,
    entry_bundles_for_size,
    merkle_tree_hash,
    parse_checkpoint,
    parse_entry_bundle,
    parse_note,
    parse_vkey,
    tile_index_path,
    tiles_for_size,
    verify_consistency_with,
    verify_log,
    verify_note,
)

TESTDATA = DATA
SIGNED_NOTE_DIR = TESTDATA / "signed-note"
RFC9162_DIR = TESTDATA / "rfc9162"

ORIGIN = "example.com/audit-independent-test-log"
EM_DASH = "\u2014"

# --------------------------------------------------------------------------- tiny log writer


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _leaf(entry: bytes) -> bytes:
    return _sha256(b"\x00" + entry)


def _mth_bottom_up(leaf_hashes: list[bytes]) -> bytes:
    """RFC 9162 MTH computed bottom-up: pair neighbours, promote an odd last node unchanged.

    (Equivalent to the RFC's recursive largest-power-of-two split, but a different algorithm
    from the one in spec_verifier.)
    """
    if not leaf_hashes:
        return _sha256(b"")
    row = list(leaf_hashes)
    while len(row) > 1:
        nxt = [_sha256(b"\x01" + row[i] + row[i + 1]) for i in range(0, len(row) - 1, 2)]
        if len(row) % 2:
            nxt.append(row[-1])
        row = nxt
    return row[0]


def _index_elements(n: int) -> str:
    digits = str(n)
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey
    key_id: bytes
    vkey: str

    @classmethod
    def generate(cls, name: str) -> Signer:
        private_key = Ed25519PrivateKey.generate()
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        key_id = _sha256(name.encode() + b"\n\x01" + public)[:4]
        key_data = base64.b64encode(bytes([0x01]) + public).decode()
        vkey = f"{name}+{key_id.hex()}+{key_data}"
        return cls(name, private_key, key_id, vkey)

    def signature_line(self, text: str) -> str:
        sig = self.private_key.sign(text.encode())
        return f"{EM_DASH} {self.name} {base64.b64encode(self.key_id + sig).decode()}\n"


def make_checkpoint(
    size: int, root: bytes, signers: list[Signer], origin: str = ORIGIN, extensions: str = ""
) -> bytes:
    text = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n{extensions}"
    return (text + "\n" + "".join(s.signature_line(text) for s in signers)).encode()


def _bundle(entries: list[bytes]) -> bytes:
    out = b""
    for entry in entries:
        assert len(entry) <= 0xFFFF
        out += len(entry).to_bytes(2, "big") + entry
    return out


def _put_chunks(store: dict[str, bytes], prefix: str, items: list[bytes], *, hashes: bool) -> None:
    for start in range(0, len(items), 256):
        chunk = items[start : start + 256]
        name = f"{prefix}/{_index_elements(start // 256)}"
        if len(chunk) < 256:
            name += f".p/{len(chunk)}"
        store[name] = b"".join(chunk) if hashes else _bundle(chunk)


@dataclass
class HandLog:
    entries: list[bytes]
    leaves: list[bytes]
    root: bytes
    store: dict[str, bytes]


def build_log(entries: list[bytes], signer: Signer, origin: str = ORIGIN) -> HandLog:
    """Checkpoint + every tile (per the tlog-tiles MTH formula) + every entry bundle."""
    size = len(entries)
    leaves = [_leaf(e) for e in entries]
    store: dict[str, bytes] = {}
    level = 0
    while size >> (8 * level):
        span = 256**level
        # n-th hash at level l = MTH(D[n * 256**l : (n + 1) * 256**l])
        level_hashes = [
            _mth_bottom_up(leaves[i * span : (i + 1) * span]) for i in range(size // span)
        ]
        _put_chunks(store, f"tile/{level}", level_hashes, hashes=True)
        level += 1
    _put_chunks(store, "tile/entries", entries, hashes=False)
    root = _mth_bottom_up(leaves)
    store["checkpoint"] = make_checkpoint(size, root, [signer], origin)
    return HandLog(entries, leaves, root, store)


@dataclass
class FakeServer:
    store: dict[str, bytes]
    fetched: list[str] = field(default_factory=list)

    def __call__(self, path: str) -> bytes:
        self.fetched.append(path)
        try:
            return self.store[path]
        except KeyError:
            raise FileNotFoundError(f"404 Not Found: {path}") from None


LOG_KEY = Signer.generate("example.com/audit-independent-test-log")
OTHER_KEY = Signer.generate("example.com/someone-else")


def make_entries(size: int, tag: bytes = b"") -> list[bytes]:
    return [tag + f"entry {i}".encode() + bytes([i % 251]) * (i % 7) for i in range(size)]


@functools.cache
def cached_log(size: int, tag: bytes = b"") -> HandLog:
    return build_log(make_entries(size, tag), LOG_KEY)


def server_for(size: int) -> FakeServer:
    return FakeServer(dict(cached_log(size).store))


def rewrite_bundle(
    store: dict[str, bytes], path: str, count: int, edit: Callable[[list[bytes]], list[bytes]]
) -> None:
    entries = parse_entry_bundle(store[path], count)
    store[path] = _bundle(edit(entries))


def set_tile_hash(store: dict[str, bytes], path: str, position: int, value: bytes) -> None:
    data = bytearray(store[path])
    data[position * 32 : (position + 1) * 32] = value
    store[path] = bytes(data)


# --------------------------------------------------------------------------- Merkle KATs

# RFC 6962 reference tree leaves (as used by transparency-dev/merkle's test vectors).
REFERENCE_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]


def _rfc9162_known_roots() -> dict[int, bytes]:
    if not RFC9162_DIR.is_dir():
        pytest.skip(f"{RFC9162_DIR} not present")
    roots: dict[int, bytes] = {}
    for path in sorted(RFC9162_DIR.glob("inclusion/*/happy-path.json")):
        case = json.loads(path.read_text())
        roots[case["treeSize"]] = base64.b64decode(case["root"])
        assert base64.b64decode(case["leafHash"]) == _leaf(REFERENCE_LEAVES[case["leafIdx"]])
    for path in sorted(RFC9162_DIR.glob("consistency/*/happy-path.json")):
        case = json.loads(path.read_text())
        roots[case["size1"]] = base64.b64decode(case["root1"])
        roots[case["size2"]] = base64.b64decode(case["root2"])
    return roots


def test_merkle_tree_hash_matches_rfc9162_vectors() -> None:
    roots = _rfc9162_known_roots()
    assert len(roots) >= 5
    for size, root in roots.items():
        leaves = [_leaf(e) for e in REFERENCE_LEAVES[:size]]
        assert merkle_tree_hash(leaves) == root, size
        assert _mth_bottom_up(leaves) == root, size
        log = build_log(REFERENCE_LEAVES[:size], LOG_KEY)
        verified = verify_log(FakeServer(log.store), LOG_KEY.vkey)
        assert verified.root == root, size


def test_empty_tree_hash() -> None:
    assert merkle_tree_hash([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_mth_algorithms_agree() -> None:
    leaves = [_leaf(e) for e in make_entries(1100)]
    for n in [*range(70), 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 1100]:
        assert merkle_tree_hash(leaves[:n]) == _mth_bottom_up(leaves[:n]), n


# --------------------------------------------------------------------------- tile layout


@pytest.mark.parametrize(
    ("index", "path"),
    [(0, "000"), (5, "005"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_tile_index_path_spec_examples(index: int, path: str) -> None:
    assert tile_index_path(index) == path
    assert _index_elements(index) == path


def test_tile_index_path_matches_writer() -> None:
    for n in [*range(2100), 999_999, 1_000_000, 1_000_001, 123_456_789_012]:
        assert tile_index_path(n) == _index_elements(n)


def test_tiles_for_size_spec_example_70000() -> None:
    tiles = tiles_for_size(70_000)
    level0 = [t for t in tiles if t.level == 0]
    assert len(level0) == 274
    assert all(not t.is_partial for t in level0[:273])
    assert level0[-1] == TileRef(0, 273, 112)
    assert [t for t in tiles if t.level == 1] == [TileRef(1, 0, 256), TileRef(1, 1, 17)]
    assert [t for t in tiles if t.level == 2] == [TileRef(2, 0, 1)]
    assert {t.level for t in tiles} == {0, 1, 2}
    assert TileRef(1, 1, 17).path == "tile/1/001.p/17"
    assert TileRef(0, 273, 112).path == "tile/0/273.p/112"


def test_tiles_for_size_spec_example_256_and_empty() -> None:
    assert tiles_for_size(256) == [TileRef(0, 0, 256), TileRef(1, 0, 1)]
    assert [t.path for t in tiles_for_size(256)] == ["tile/0/000", "tile/1/000.p/1"]
    assert tiles_for_size(0) == []
    assert entry_bundles_for_size(0) == []
    assert [b.path for b in entry_bundles_for_size(257)] == [
        "tile/entries/000",
        "tile/entries/001.p/1",
    ]


# --------------------------------------------------------------------------- happy paths

SIZES = [0, 1, 2, 3, 7, 8, 255, 256, 257, 511, 512, 513, 65536, 65536 + 3]


@pytest.mark.parametrize("size", SIZES)
def test_verify_log_accepts_hand_built_log(size: int) -> None:
    log = cached_log(size)
    server = server_for(size)
    verified = verify_log(server, LOG_KEY.vkey, expected_origin=ORIGIN)
    assert verified.origin == ORIGIN
    assert verified.size == size
    assert verified.root == log.root
    assert verified.entries == log.entries
    # Every resource of the log was fetched exactly once, and nothing else was.
    assert sorted(server.fetched) == sorted(log.store)
    for old in {0, 1, size // 3, size // 2, size - 1, size}:
        if 0 <= old <= size:
            assert verified.root_at(old) == _mth_bottom_up(log.leaves[:old])


def test_empty_log_has_no_tiles() -> None:
    assert set(cached_log(0).store) == {"checkpoint"}
    verified = verify_log(server_for(0), LOG_KEY.vkey)
    assert verified.root == EMPTY_ROOT
    assert verified.entries == []


def test_empty_and_maximal_entries() -> None:
    entries = [b"", b"\xab" * 0xFFFF, b"\x00", b""]
    log = build_log(entries, LOG_KEY)
    assert verify_log(FakeServer(log.store), LOG_KEY.vkey).entries == entries


def test_checkpoint_with_extension_lines() -> None:
    log = cached_log(3)
    store = dict(log.store)
    store["checkpoint"] = make_checkpoint(3, log.root, [LOG_KEY], extensions="ext one\next two\n")
    verified = verify_log(FakeServer(store), LOG_KEY.vkey)
    assert verified.checkpoint.extensions == ("ext one", "ext two")


def test_unknown_signatures_are_ignored() -> None:
    log = cached_log(257)
    store = dict(log.store)
    same_name_other_key = Signer.generate(LOG_KEY.name)
    store["checkpoint"] = make_checkpoint(257, log.root, [OTHER_KEY, same_name_other_key, LOG_KEY])
    assert verify_log(FakeServer(store), LOG_KEY.vkey).root == log.root


# --------------------------------------------------------------------------- negative: entries


def test_flipped_byte_in_entry() -> None:
    server = server_for(513)

    def flip(entries: list[bytes]) -> list[bytes]:
        entries[44] = bytes([entries[44][0] ^ 0x01]) + entries[44][1:]
        return entries

    rewrite_bundle(server.store, "tile/entries/001", 256, flip)
    with pytest.raises(VerificationError, match=r"entry 300 \(in tile/entries/001\)"):
        verify_log(server, LOG_KEY.vkey)


def test_flipped_byte_in_raw_bundle_of_large_log() -> None:
    server = server_for(65539)
    data = bytearray(server.store["tile/entries/255"])
    data[-1] ^= 0x80  # last byte of the last entry (index 65535) of that bundle
    server.store["tile/entries/255"] = bytes(data)
    with pytest.raises(VerificationError, match=r"entry 65535 \(in tile/entries/255\)"):
        verify_log(server, LOG_KEY.vkey)


def test_dropped_entry_from_full_bundle() -> None:
    server = server_for(513)
    rewrite_bundle(server.store, "tile/entries/001", 256, lambda e: e[:10] + e[11:])
    with pytest.raises(
        VerificationError, match=r"tile/entries/001: contains 255 entries, expected 256"
    ):
        verify_log(server, LOG_KEY.vkey)


def test_dropped_entry_from_partial_bundle() -> None:
    server = server_for(513)
    server.store["tile/entries/002.p/1"] = b""
    with pytest.raises(VerificationError, match=r"tile/entries/002.p/1: contains 0 entries"):
        verify_log(server, LOG_KEY.vkey)


def test_missing_entry_bundle() -> None:
    server = server_for(513)
    del server.store["tile/entries/000"]
    with pytest.raises(VerificationError, match=r"fetching tile/entries/000 failed"):
        verify_log(server, LOG_KEY.vkey)


def test_reordered_entries_within_bundle() -> None:
    server = server_for(513)

    def swap(entries: list[bytes]) -> list[bytes]:
        entries[0], entries[1] = entries[1], entries[0]
        return entries

    rewrite_bundle(server.store, "tile/entries/001", 256, swap)
    with pytest.raises(VerificationError, match=r"entry 256 \(in tile/entries/001\)"):
        verify_log(server, LOG_KEY.vkey)


def test_reordered_bundles() -> None:
    server = server_for(513)
    store = server.store
    store["tile/entries/000"], store["tile/entries/001"] = (
        store["tile/entries/001"],
        store["tile/entries/000"],
    )
    with pytest.raises(VerificationError, match=r"entry 0 \(in tile/entries/000\)"):
        verify_log(server, LOG_KEY.vkey)


def test_trailing_garbage_in_bundle() -> None:
    server = server_for(3)
    server.store["tile/entries/000.p/3"] += b"\x00"
    with pytest.raises(VerificationError, match=r"tile/entries/000.p/3: truncated length prefix"):
        verify_log(server, LOG_KEY.vkey)


def test_overlong_length_prefix_in_bundle() -> None:
    server = server_for(3)
    server.store["tile/entries/000.p/3"] += b"\x00\x05ab"
    with pytest.raises(VerificationError, match=r"entry 3 claims 5 bytes but only 2 remain"):
        verify_log(server, LOG_KEY.vkey)


def test_rewritten_history_with_old_checkpoint() -> None:
    """Entry changed and every tile recomputed consistently, old signed checkpoint kept."""
    original = cached_log(513)
    entries = list(original.entries)
    entries[100] = b"forged"
    forged = build_log(entries, LOG_KEY)
    store = dict(forged.store)
    store["checkpoint"] = original.store["checkpoint"]
    with pytest.raises(VerificationError, match=r"root mismatch at size 513"):
        verify_log(FakeServer(store), LOG_KEY.vkey)


# --------------------------------------------------------------------------- negative: tiles


def test_level0_tile_hash_changed() -> None:
    server = server_for(513)
    set_tile_hash(server.store, "tile/0/001", 5, b"\x42" * 32)
    with pytest.raises(VerificationError, match=r"entry 261 .*hash 5 of level-0 tile tile/0/001"):
        verify_log(server, LOG_KEY.vkey)


def test_level1_tile_hash_changed() -> None:
    server = server_for(513)
    set_tile_hash(server.store, "tile/1/000.p/2", 1, b"\x42" * 32)
    with pytest.raises(
        VerificationError, match=r"tile tile/1/000.p/2: hash 1 \(entries \[256, 512\)\).*tile/0/001"
    ):
        verify_log(server, LOG_KEY.vkey)


def test_level2_tile_hash_changed() -> None:
    server = server_for(65539)
    set_tile_hash(server.store, "tile/2/000.p/1", 0, b"\x00" * 32)
    with pytest.raises(
        VerificationError, match=r"tile tile/2/000.p/1: hash 0 .*tile/1/000 at level 1"
    ):
        verify_log(server, LOG_KEY.vkey)


def test_level1_full_tile_hash_changed_in_large_log() -> None:
    server = server_for(65539)
    set_tile_hash(server.store, "tile/1/000", 200, b"\x01" * 32)
    with pytest.raises(
        VerificationError, match=r"tile tile/1/000: hash 200 .*tile/0/200 at level 0"
    ):
        verify_log(server, LOG_KEY.vkey)


def test_truncated_partial_tile() -> None:
    server = server_for(513)
    server.store["tile/0/002.p/1"] = server.store["tile/0/002.p/1"][:-1]
    with pytest.raises(
        VerificationError, match=r"tile tile/0/002.p/1: 31 bytes, expected 1 hashes"
    ):
        verify_log(server, LOG_KEY.vkey)


def test_full_tile_served_where_partial_expected() -> None:
    server = server_for(513)
    server.store["tile/1/000.p/2"] += b"\x00" * 32
    with pytest.raises(VerificationError, match=r"tile tile/1/000.p/2: 96 bytes"):
        verify_log(server, LOG_KEY.vkey)


def test_missing_upper_tile() -> None:
    server = server_for(513)
    del server.store["tile/1/000.p/2"]
    with pytest.raises(VerificationError, match=r"fetching tile/1/000.p/2 failed"):
        verify_log(server, LOG_KEY.vkey)


# --------------------------------------------------------------------------- negative: checkpoint


def test_checkpoint_size_changed_without_resigning() -> None:
    server = server_for(513)
    server.store["checkpoint"] = server.store["checkpoint"].replace(b"\n513\n", b"\n512\n", 1)
    with pytest.raises(VerificationError, match=r"checkpoint signature: signature by known key"):
        verify_log(server, LOG_KEY.vkey)


def test_checkpoint_size_shrunk_and_resigned() -> None:
    server = server_for(513)
    server.store["checkpoint"] = make_checkpoint(512, cached_log(513).root, [LOG_KEY])
    with pytest.raises(VerificationError, match=r"root mismatch at size 512"):
        verify_log(server, LOG_KEY.vkey)


def test_checkpoint_size_grown_and_resigned() -> None:
    server = server_for(513)
    server.store["checkpoint"] = make_checkpoint(514, cached_log(513).root, [LOG_KEY])
    with pytest.raises(VerificationError, match=r"fetching tile/0/002.p/2 failed"):
        verify_log(server, LOG_KEY.vkey)


def test_checkpoint_root_changed_and_resigned() -> None:
    server = server_for(257)
    server.store["checkpoint"] = make_checkpoint(257, b"\x07" * 32, [LOG_KEY])
    with pytest.raises(VerificationError, match=r"root mismatch at size 257: checkpoint says 0707"):
        verify_log(server, LOG_KEY.vkey)


def test_signature_by_another_key() -> None:
    server = server_for(257)
    server.store["checkpoint"] = make_checkpoint(257, cached_log(257).root, [OTHER_KEY])
    with pytest.raises(VerificationError, match=r"no valid signature by a known key"):
        verify_log(server, LOG_KEY.vkey)


def test_signature_by_key_with_same_name_but_other_key() -> None:
    impostor = Signer.generate(LOG_KEY.name)
    server = server_for(3)
    server.store["checkpoint"] = make_checkpoint(3, cached_log(3).root, [impostor])
    with pytest.raises(VerificationError, match=r"no valid signature by a known key"):
        verify_log(server, LOG_KEY.vkey)


def test_bad_signature_by_known_key_rejects_even_with_a_good_one() -> None:
    log = cached_log(3)
    good = make_checkpoint(3, log.root, [LOG_KEY]).decode()
    text, sig_line = good.rsplit("\n\n", 1)
    raw = bytearray(base64.b64decode(sig_line.split(" ")[2]))
    raw[10] ^= 0x01
    bad_line = f"{EM_DASH} {LOG_KEY.name} {base64.b64encode(bytes(raw)).decode()}\n"
    store = dict(log.store)
    store["checkpoint"] = f"{text}\n\n{sig_line}{bad_line}".encode()
    with pytest.raises(VerificationError, match=r"does not verify"):
        verify_log(FakeServer(store), LOG_KEY.vkey)


def test_unexpected_origin() -> None:
    with pytest.raises(VerificationError, match=r"origin .* != expected 'example.com/other'"):
        verify_log(server_for(1), LOG_KEY.vkey, expected_origin="example.com/other")


def test_vkey_with_wrong_key_id_is_rejected() -> None:
    name, key_id, key = LOG_KEY.vkey.split("+", 2)
    wrong = f"{int(key_id, 16) ^ 1:08x}"
    with pytest.raises(VerificationError, match=r"key ID .* does not match"):
        verify_log(server_for(1), f"{name}+{wrong}+{key}")


@pytest.mark.parametrize(
    "vkey",
    [
        "nokeyid",
        "name+0000000+AAAA",
        "name+zzzzzzzz+AAAA",
        "+00000000+AAAA",
        "name+00000000+not base64!",
        "name+00000000+" + base64.b64encode(b"\x02" + b"\x00" * 32).decode(),
        "name+00000000+" + base64.b64encode(b"\x01" + b"\x00" * 31).decode(),
    ],
)
def test_malformed_vkeys(vkey: str) -> None:
    with pytest.raises(VerificationError):
        parse_vkey(vkey)


def test_checkpoint_fetch_failure() -> None:
    with pytest.raises(VerificationError, match=r"fetching checkpoint failed"):
        verify_log(FakeServer({}), LOG_KEY.vkey)


ROOT_B64 = base64.b64encode(b"\x01" * 32).decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"o\n0513\n{ROOT_B64}\n", "leading zeroes"),
        (f"o\n+5\n{ROOT_B64}\n", "leading zeroes"),
        (f"o\n-1\n{ROOT_B64}\n", "leading zeroes"),
        (f"o\n\u0665\n{ROOT_B64}\n", "leading zeroes"),  # ARABIC-INDIC DIGIT FIVE
        (f"o\n{1 << 64}\n{ROOT_B64}\n", "64 bits"),
        ("o\n5\n", "at least 3"),
        (f"\n5\n{ROOT_B64}\n", "line 1 is empty"),
        (f"o\n5\n{ROOT_B64}\n\next\n", "line 4 is empty"),
        (f"o\n5\n{ROOT_B64}", "newline"),
        (f"o\n5\n{base64.b64encode(b'x' * 31).decode()}\n", "31 bytes"),
        ("o\n5\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQF=\n", "canonical"),
        ("o\n5\n!!!!\n", "invalid base64"),
    ],
)
def test_malformed_checkpoint_text(text: str, message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        parse_checkpoint(text)


def test_checkpoint_size_limit() -> None:
    server = FakeServer({"checkpoint": make_checkpoint(1 << 40, b"\x00" * 32, [LOG_KEY])})
    with pytest.raises(VerificationError, match=r"exceeds max_size"):
        verify_log(server, LOG_KEY.vkey)


# --------------------------------------------------------------------------- consistency


@pytest.mark.parametrize(
    ("size", "old_sizes"),
    [
        (513, [0, 1, 2, 3, 100, 255, 256, 257, 300, 511, 512, 513]),
        (65539, [1, 256, 4097, 65535, 65536, 65537, 65539]),
    ],
)
def test_consistency_with_true_prefix(size: int, old_sizes: list[int]) -> None:
    log = cached_log(size)
    for old in old_sizes:
        old_root = _mth_bottom_up(log.leaves[:old])
        verified = verify_consistency_with(old, old_root, server_for(size), LOG_KEY.vkey)
        assert verified.size == size


def test_consistency_every_prefix_small_log() -> None:
    log = cached_log(257)
    verified = verify_log(server_for(257), LOG_KEY.vkey)
    for old in range(258):
        check_prefix(verified, old, _mth_bottom_up(log.leaves[:old]))


def test_consistency_with_old_checkpoint_of_same_log() -> None:
    old = cached_log(300)
    assert old.entries == cached_log(513).entries[:300]
    verify_consistency_with(300, old.root, server_for(513), LOG_KEY.vkey)


def test_fork_detected() -> None:
    forked = cached_log(300, b"fork ")
    with pytest.raises(VerificationError, match=r"fork: root of the first 300 entries"):
        verify_consistency_with(300, forked.root, server_for(513), LOG_KEY.vkey)


def test_fork_in_single_entry_detected() -> None:
    entries = make_entries(513)
    entries[299] = b"different"
    forked_old_root = _mth_bottom_up([_leaf(e) for e in entries[:300]])
    with pytest.raises(VerificationError, match=r"fork"):
        verify_consistency_with(300, forked_old_root, server_for(513), LOG_KEY.vkey)


def test_rollback_detected() -> None:
    seen = cached_log(513)
    with pytest.raises(VerificationError, match=r"rollback: log size 300 is smaller than .* 513"):
        verify_consistency_with(513, seen.root, server_for(300), LOG_KEY.vkey)


def test_empty_old_tree_must_have_empty_root() -> None:
    verify_consistency_with(0, EMPTY_ROOT, server_for(3), LOG_KEY.vkey)
    with pytest.raises(VerificationError, match=r"fork"):
        verify_consistency_with(0, b"\x00" * 32, server_for(3), LOG_KEY.vkey)


# --------------------------------------------------------------------------- signed notes


def _note_vectors() -> list[dict[str, Any]]:
    path = SIGNED_NOTE_DIR / "vectors.json"
    if not path.is_file():
        return []
    cases: list[dict[str, Any]] = json.loads(path.read_text())
    return cases


@pytest.mark.skipif(not SIGNED_NOTE_DIR.is_dir(), reason="signed-note test data not present")
@pytest.mark.parametrize("case", _note_vectors(), ids=lambda c: str(c["desc"])[:60])
def test_signed_note_vectors(case: dict[str, Any]) -> None:
    data = (SIGNED_NOTE_DIR / case["file"]).read_bytes()
    if case["verify"]:
        if case["wantErr"]:
            with pytest.raises(VerificationError):
                verify_note(data, [parse_vkey(k) for k in case["vkeys"]])
            return
        opened = verify_note(data, [parse_vkey(k) for k in case["vkeys"]])
        assert list(opened.signers) == case["wantSigners"]
        text = opened.text
    else:
        assert not case["wantErr"]
        text = parse_note(data).text
    if "wantText" in case:
        assert text == case["wantText"]
    if case.get("checkpoint") is not None:
        checkpoint = parse_checkpoint(text)
        assert checkpoint.origin == case["checkpoint"]["origin"]
        assert checkpoint.size == case["checkpoint"]["size"]
        assert checkpoint.root == base64.b64decode(case["checkpoint"]["root"])


def test_signed_note_vectors_present() -> None:
    if not SIGNED_NOTE_DIR.is_dir():
        pytest.skip("signed-note test data not present")
    assert len(_note_vectors()) >= 10


def test_peterneumann_signature_is_reproducible() -> None:
    """Ed25519 is deterministic: the published test signer key reproduces the signature."""
    path = SIGNED_NOTE_DIR / "go-peterneumann.note"
    if not path.is_file():
        pytest.skip("signed-note test data not present")
    skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    seed = base64.b64decode(skey.split("+", 4)[4])
    assert seed[0] == 0x01
    private_key = Ed25519PrivateKey.from_private_bytes(seed[1:])
    note = parse_note(path.read_bytes())
    (sig,) = note.signatures
    assert private_key.sign(note.text.encode()) == sig.signature
    assert sig.key_id.hex() == "c74f20a3"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"text\n", "no blank line"),
        (b"text\n\n", "signature block"),
        (b"text\n\n\xe2\x80\x94 name AAAA\n", "too short"),
        (b"text\n\n- name AAAAAAAAAAAA\n", "does not start with"),
        (b"text\n\n\xe2\x80\x94 na+me AAAAAAAAAAAA\n", "malformed"),
        (b"text\n\n\xe2\x80\x94 nameAAAAAAAAAAAA\n", "malformed"),
        (b"text\n\n\xe2\x80\x94 name AAAAAAAAAAAA", "signature block"),
        (b"te\txt\n\n\xe2\x80\x94 name AAAAAAAAAAAA\n", "control character"),
        (b"te\xffxt\n\n\xe2\x80\x94 name AAAAAAAAAAAA\n", "UTF-8"),
        (b"text\n\n\xe2\x80\x94 name AAAA*AAAAAAA\n", "invalid base64"),
    ],
)
def test_malformed_notes(data: bytes, message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        parse_note(data)
