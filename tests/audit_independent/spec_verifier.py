"""Independent verifier for a tiled transparency log, written from the public specs only.

Specs implemented (nothing here is derived from the project's own log code):

* RFC 9162 section 2.1 (= RFC 6962 section 2.1): Merkle Tree Hash over SHA-256,
  ``leaf = SHA-256(0x00 || data)``, ``node = SHA-256(0x01 || left || right)``,
  ``MTH({}) = SHA-256()``, split at the largest power of two smaller than ``n``.
* C2SP ``tlog-tiles``: ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``,
  256 hashes per full tile, level ``L`` tiles hold the Merkle Tree Hashes of
  ``256**L``-leaf subtrees, partial tile width ``floor(s / 256**L) mod 256``,
  entry bundles of big-endian uint16 length-prefixed entries.
* C2SP ``tlog-checkpoint``: origin line, decimal tree size, base64 root hash,
  optional non-empty extension lines.
* C2SP ``signed-note`` with Ed25519 (signature type 0x01) and the
  ``<name>+<hex key ID>+<base64(0x01 || public key)>`` verifier key encoding of
  ``golang.org/x/mod/sumdb/note``.

It is meant for tests: straightforward and obviously correct rather than fast.
Every failure raises :class:`VerificationError` with a message naming what failed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "TILE_WIDTH",
    "Checkpoint",
    "Fetch",
    "Note",
    "NoteSignature",
    "NoteVerifier",
    "TileRef",
    "VerificationError",
    "VerifiedLog",
    "VerifiedNote",
    "check_prefix",
    "ed25519_key_id",
    "entry_bundles_for_size",
    "leaf_hash",
    "merkle_tree_hash",
    "node_hash",
    "parse_checkpoint",
    "parse_entry_bundle",
    "parse_note",
    "parse_vkey",
    "tile_index_path",
    "tiles_for_size",
    "verify_checkpoint",
    "verify_consistency_with",
    "verify_log",
    "verify_note",
]

Fetch = Callable[[str], bytes]
"""``fetch(path)`` returns the bytes served at ``path`` relative to the log prefix, or raises."""

HASH_SIZE = 32
TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes per full tile
ED25519_SIGNATURE_TYPE = 0x01
ED25519_PUBLIC_KEY_SIZE = 32
ED25519_SIGNATURE_SIZE = 64
MAX_NOTE_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
MAX_ENTRY_SIZE = 0xFFFF  # uint16 length prefix
DEFAULT_MAX_SIZE = 1 << 24  # refuse absurd checkpoint sizes instead of trying to fetch them
EMPTY_ROOT = hashlib.sha256(b"").digest()

_SIZE_RE = re.compile(r"0|[1-9][0-9]*")
_HEX_KEY_ID_RE = re.compile(r"[0-9a-fA-F]{8}")
_EM_DASH_PREFIX = "\u2014 "


class VerificationError(Exception):
    """The log, checkpoint, note or key failed verification; the message says what failed."""


# --------------------------------------------------------------------------- RFC 9162 §2.1


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_smaller_than(n: int) -> int:
    """The k of RFC 9162 §2.1.1: the largest power of two with k < n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def merkle_tree_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 MTH over a list of already computed leaf hashes (recursive definition)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _largest_power_of_two_smaller_than(n)
    return node_hash(merkle_tree_hash(leaf_hashes[:k]), merkle_tree_hash(leaf_hashes[k:]))


# --------------------------------------------------------------------------- signed notes


def ed25519_key_id(name: str, public_key: bytes) -> bytes:
    """signed-note key ID: SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]."""
    return hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([ED25519_SIGNATURE_TYPE]) + public_key
    ).digest()[:4]


def _valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def _b64decode_strict(text: str) -> bytes:
    """Standard base64 (RFC 4648 §4) with padding; rejects characters outside the alphabet."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise VerificationError(f"invalid base64 {text!r}: {exc}") from exc


@dataclass(frozen=True)
class NoteVerifier:
    """An Ed25519 note verifier key (signature type 0x01)."""

    name: str
    key_id: bytes
    public_key: bytes

    @property
    def key_ref(self) -> str:
        """``name+hexkeyid``, as used for reporting which signers verified."""
        return f"{self.name}+{self.key_id.hex()}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != ED25519_SIGNATURE_SIZE:
            return False
        key = Ed25519PublicKey.from_public_bytes(self.public_key)
        try:
            key.verify(signature, text)
        except InvalidSignature:
            return False
        return True


def parse_vkey(vkey: str) -> NoteVerifier:
    """Parse ``<name>+<8 hex digits key ID>+<base64(0x01 || 32-byte Ed25519 public key)>``.

    The key ID must equal SHA-256(name || 0x0A || 0x01 || key)[:4].
    """
    parts = vkey.split("+", 2)  # the base64 key data may itself contain '+'
    if len(parts) != 3:
        raise VerificationError(f"vkey {vkey!r}: expected <name>+<keyid>+<keydata>")
    name, hex_id, key_b64 = parts
    if not _valid_key_name(name):
        raise VerificationError(f"vkey {vkey!r}: invalid key name {name!r}")
    if not _HEX_KEY_ID_RE.fullmatch(hex_id):
        raise VerificationError(f"vkey {vkey!r}: key ID {hex_id!r} is not 8 hex digits")
    key_data = _b64decode_strict(key_b64)
    if len(key_data) != 1 + ED25519_PUBLIC_KEY_SIZE:
        raise VerificationError(
            f"vkey {vkey!r}: key data is {len(key_data)} bytes, expected "
            f"{1 + ED25519_PUBLIC_KEY_SIZE} (type byte + Ed25519 key)"
        )
    if key_data[0] != ED25519_SIGNATURE_TYPE:
        raise VerificationError(
            f"vkey {vkey!r}: unsupported signature type 0x{key_data[0]:02x} (only Ed25519 0x01)"
        )
    public_key = key_data[1:]
    expected_id = ed25519_key_id(name, public_key)
    if bytes.fromhex(hex_id) != expected_id:
        raise VerificationError(
            f"vkey {vkey!r}: key ID {hex_id.lower()} does not match "
            f"SHA-256(name || 0x0A || 0x01 || key)[:4] = {expected_id.hex()}"
        )
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise VerificationError(f"vkey {vkey!r}: invalid Ed25519 public key: {exc}") from exc
    return NoteVerifier(name=name, key_id=expected_id, public_key=public_key)


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes  # the signature proper, without the 4-byte key ID


@dataclass(frozen=True)
class Note:
    text: str  # includes its final newline, excludes the separating blank line
    signatures: tuple[NoteSignature, ...]


@dataclass(frozen=True)
class VerifiedNote:
    text: str
    signers: tuple[str, ...]  # ``name+hexkeyid`` of each verified signature, in line order


def parse_note(data: bytes) -> Note:
    """Split a signed note into text and signature lines (no signature is checked here)."""
    try:
        note = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VerificationError(f"note is not valid UTF-8: {exc}") from exc
    for ch in note:
        if ch < " " and ch != "\n":
            raise VerificationError(f"note contains control character U+{ord(ch):04X}")
    split = note.rfind("\n\n")  # the text ends at the LAST blank line
    if split < 0:
        raise VerificationError("note has no blank line separating text and signatures")
    text = note[: split + 1]
    sig_block = note[split + 2 :]
    if not sig_block.endswith("\n"):
        raise VerificationError("note signature block is empty or does not end in a newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_NOTE_SIGNATURES:
        raise VerificationError(
            f"note has {len(lines)} signature lines (max {MAX_NOTE_SIGNATURES})"
        )
    signatures: list[NoteSignature] = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith(_EM_DASH_PREFIX):
            raise VerificationError(f"note signature line {number} does not start with '\u2014 '")
        name, sep, sig_b64 = line[len(_EM_DASH_PREFIX) :].partition(" ")
        if not sep or not _valid_key_name(name) or " " in sig_b64:
            raise VerificationError(f"note signature line {number} is malformed: {line!r}")
        raw = _b64decode_strict(sig_b64)
        if len(raw) < 5:
            raise VerificationError(f"note signature line {number}: signature too short")
        signatures.append(NoteSignature(name=name, key_id=raw[:4], signature=raw[4:]))
    return Note(text=text, signatures=tuple(signatures))


def verify_note(data: bytes, verifiers: Sequence[NoteVerifier]) -> VerifiedNote:
    """Open a signed note with the given trusted keys.

    Signatures whose (name, key ID) pair matches no trusted key are ignored. A signature
    from a trusted key that fails to verify rejects the whole note (the spec's SHOULD),
    and so does the absence of any verified signature from a trusted key (the spec's MUST).
    """
    note = parse_note(data)
    by_ref = {(v.name, v.key_id): v for v in verifiers}
    text_bytes = note.text.encode("utf-8")
    signers: list[str] = []
    for sig in note.signatures:
        verifier = by_ref.get((sig.name, sig.key_id))
        if verifier is None:
            continue  # unknown key (maybe same name or same ID, but not both): ignore
        if not verifier.verify(text_bytes, sig.signature):
            raise VerificationError(
                f"signature by known key {verifier.key_ref} does not verify over the note text"
            )
        signers.append(verifier.key_ref)
    if not signers:
        known = ", ".join(v.key_ref for v in verifiers) or "(none)"
        raise VerificationError(f"no valid signature by a known key ({known}) on the note")
    return VerifiedNote(text=note.text, signers=tuple(signers))


# --------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text: origin, size, base64 root hash, optional extension lines."""
    if not text.endswith("\n"):
        raise VerificationError("checkpoint text does not end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise VerificationError(f"checkpoint has {len(lines)} lines, expected at least 3")
    for number, line in enumerate(lines, start=1):
        if not line:
            raise VerificationError(f"checkpoint line {number} is empty")
    origin, size_text, root_text, *extensions = lines
    if not _SIZE_RE.fullmatch(size_text):
        raise VerificationError(
            f"checkpoint size {size_text!r} is not a decimal number without leading zeroes"
        )
    size = int(size_text)
    if size >= 1 << 64:
        raise VerificationError(f"checkpoint size {size} does not fit in 64 bits")
    root = _b64decode_strict(root_text)
    if len(root) != HASH_SIZE:
        raise VerificationError(f"checkpoint root hash is {len(root)} bytes, expected {HASH_SIZE}")
    if base64.b64encode(root).decode("ascii") != root_text:
        raise VerificationError(f"checkpoint root hash {root_text!r} is not canonical base64")
    return Checkpoint(origin=origin, size=size, root=root, extensions=tuple(extensions))


def verify_checkpoint(data: bytes, vkey: str | NoteVerifier) -> Checkpoint:
    """Verify a signed checkpoint against one log key and parse its body."""
    verifier = parse_vkey(vkey) if isinstance(vkey, str) else vkey
    try:
        note = verify_note(data, [verifier])
    except VerificationError as exc:
        raise VerificationError(f"checkpoint signature: {exc}") from exc
    return parse_checkpoint(note.text)


# --------------------------------------------------------------------------- tiles


def tile_index_path(index: int) -> str:
    """Encode a tile index as 3-digit path elements, all but the last prefixed by 'x'."""
    if index < 0:
        raise ValueError(f"negative tile index {index}")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index > 0:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


@dataclass(frozen=True)
class TileRef:
    """A hash tile (``level >= 0``) or, with ``level == -1``, an entry bundle."""

    level: int
    index: int
    width: int  # number of hashes / entries, 1..256; 256 means a full tile

    @property
    def is_partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def path(self) -> str:
        base = "tile/entries" if self.level < 0 else f"tile/{self.level}"
        suffix = f".p/{self.width}" if self.is_partial else ""
        return f"{base}/{tile_index_path(self.index)}{suffix}"


def _tiles_at_level(level: int, size: int) -> list[TileRef]:
    """Tiles holding the ``size >> 8*level`` hashes at tile level ``level`` (or entries, -1)."""
    count = size >> (TILE_HEIGHT * max(level, 0))  # complete 256**level-leaf subtrees
    refs = [TileRef(level, i, TILE_WIDTH) for i in range(count // TILE_WIDTH)]
    if count % TILE_WIDTH:
        refs.append(TileRef(level, count // TILE_WIDTH, count % TILE_WIDTH))
    return refs


def tiles_for_size(size: int) -> list[TileRef]:
    """Every hash tile (full and partial, every level) a tree of ``size`` leaves consists of.

    An empty tree has no tiles ("Empty tiles MUST NOT be served").
    """
    refs: list[TileRef] = []
    level = 0
    while size >> (TILE_HEIGHT * level) > 0:
        refs.extend(_tiles_at_level(level, size))
        level += 1
    return refs


def entry_bundles_for_size(size: int) -> list[TileRef]:
    """Every entry bundle (``level == -1``) of a tree of ``size`` leaves."""
    return _tiles_at_level(-1, size)


def parse_entry_bundle(data: bytes, expected_count: int, path: str = "entry bundle") -> list[bytes]:
    """Split a bundle of big-endian uint16 length-prefixed entries; demand exactly
    ``expected_count`` entries and no trailing bytes."""
    entries: list[bytes] = []
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise VerificationError(f"{path}: truncated length prefix at byte {offset}")
        (length,) = struct.unpack_from(">H", data, offset)
        offset += 2
        if offset + length > len(data):
            raise VerificationError(
                f"{path}: entry {len(entries)} claims {length} bytes but only "
                f"{len(data) - offset} remain"
            )
        entries.append(data[offset : offset + length])
        offset += length
    if len(entries) != expected_count:
        raise VerificationError(
            f"{path}: contains {len(entries)} entries, expected {expected_count}"
        )
    return entries


def _fetch(fetch: Fetch, path: str) -> bytes:
    try:
        data = fetch(path)
    except Exception as exc:
        raise VerificationError(f"fetching {path} failed: {exc!r}") from exc
    if not isinstance(data, bytes | bytearray | memoryview):
        raise VerificationError(f"fetching {path} returned {type(data).__name__}, not bytes")
    return bytes(data)


# --------------------------------------------------------------------------- the log


@dataclass(frozen=True)
class VerifiedLog:
    origin: str
    size: int
    root: bytes
    entries: list[bytes]
    checkpoint: Checkpoint
    # level_hashes[L][i] = MTH of leaves [i * 256**L, (i + 1) * 256**L), from the tiles
    level_hashes: tuple[tuple[bytes, ...], ...]

    def subtree_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) per RFC 9162, using a tile hash wherever the range is exactly
        one aligned ``256**L``-leaf subtree. Valid for the ranges the RFC recursion visits."""
        n = end - start
        if n <= 0:
            raise ValueError(f"empty range [{start}, {end})")
        for level in range(len(self.level_hashes) - 1, -1, -1):
            span = 1 << (TILE_HEIGHT * level)
            if n == span and start % span == 0:
                return self.level_hashes[level][start // span]
        k = _largest_power_of_two_smaller_than(n)
        return node_hash(self.subtree_hash(start, start + k), self.subtree_hash(start + k, end))

    def root_at(self, size: int) -> bytes:
        """Root hash of the first ``size`` leaves, recomputed from the tiles."""
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} outside [0, {self.size}]")
        return EMPTY_ROOT if size == 0 else self.subtree_hash(0, size)


def verify_log(
    fetch: Fetch,
    vkey: str,
    *,
    expected_origin: str | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
) -> VerifiedLog:
    """Fully verify a tiled log: signed checkpoint, every tile, root hash and every entry.

    Steps (each failure raises :class:`VerificationError` naming the failing item):

    1. parse ``vkey`` (key ID checked), fetch ``checkpoint``, require a valid Ed25519
       signature by that key (other signature lines are ignored), parse origin/size/root;
    2. fetch every hash tile of that size (full and partial, all levels) and check lengths;
    3. fetch every entry bundle, check it holds exactly the expected number of entries;
    4. check ``SHA-256(0x00 || entry)`` of entry *i* equals hash *i* of the level-0 tiles;
    5. check every hash of every level-L tile (L >= 1) equals the MTH of the
       corresponding full 256-hash tile at level L-1;
    6. recompute the root from the tiles (RFC 9162 recursion) and compare to the checkpoint.
    """
    verifier = parse_vkey(vkey)
    checkpoint = verify_checkpoint(_fetch(fetch, "checkpoint"), verifier)
    if expected_origin is not None and checkpoint.origin != expected_origin:
        raise VerificationError(
            f"checkpoint origin {checkpoint.origin!r} != expected {expected_origin!r}"
        )
    size = checkpoint.size
    if size > max_size:
        raise VerificationError(f"checkpoint size {size} exceeds max_size {max_size}")

    # 2. hash tiles
    level_hashes: list[list[bytes]] = []
    tile_of: list[list[TileRef]] = []  # tile_of[L][i]: the tile holding level_hashes[L][i]
    for ref in tiles_for_size(size):
        data = _fetch(fetch, ref.path)
        if len(data) != ref.width * HASH_SIZE:
            raise VerificationError(
                f"tile {ref.path}: {len(data)} bytes, expected {ref.width} hashes = "
                f"{ref.width * HASH_SIZE} bytes"
            )
        while len(level_hashes) <= ref.level:
            level_hashes.append([])
            tile_of.append([])
        if len(level_hashes[ref.level]) != ref.index * TILE_WIDTH:
            raise AssertionError("tiles_for_size returned tiles out of order")  # own bug
        for i in range(ref.width):
            level_hashes[ref.level].append(data[i * HASH_SIZE : (i + 1) * HASH_SIZE])
            tile_of[ref.level].append(ref)
    for level, hashes in enumerate(level_hashes):
        if len(hashes) != size >> (TILE_HEIGHT * level):
            raise AssertionError("tile bookkeeping error")  # own bug, not the log's

    # 3. entry bundles
    entries: list[bytes] = []
    bundle_of: list[TileRef] = []
    for ref in entry_bundles_for_size(size):
        data = _fetch(fetch, ref.path)
        bundle = parse_entry_bundle(data, ref.width, ref.path)
        entries.extend(bundle)
        bundle_of.extend([ref] * len(bundle))
    if len(entries) != size:
        raise AssertionError("entry bookkeeping error")  # own bug, not the log's

    # 4. entries against level-0 tiles
    for index, entry in enumerate(entries):
        if leaf_hash(entry) != level_hashes[0][index]:
            tile = tile_of[0][index]
            raise VerificationError(
                f"entry {index} (in {bundle_of[index].path}): leaf hash "
                f"{leaf_hash(entry).hex()} does not match hash {index % TILE_WIDTH} of "
                f"level-0 tile {tile.path} ({level_hashes[0][index].hex()})"
            )

    # 5. each upper-level hash against the full tile below it
    for level in range(1, len(level_hashes)):
        below = level_hashes[level - 1]
        for index, stored in enumerate(level_hashes[level]):
            group = below[index * TILE_WIDTH : (index + 1) * TILE_WIDTH]
            recomputed = merkle_tree_hash(group)
            if recomputed != stored:
                span = 1 << (TILE_HEIGHT * level)
                raise VerificationError(
                    f"tile {tile_of[level][index].path}: hash {index % TILE_WIDTH} "
                    f"(entries [{index * span}, {(index + 1) * span})) is {stored.hex()}, "
                    f"but the MTH of full tile {tile_of[level - 1][index * TILE_WIDTH].path} "
                    f"at level {level - 1} is {recomputed.hex()}"
                )

    log = VerifiedLog(
        origin=checkpoint.origin,
        size=size,
        root=checkpoint.root,
        entries=entries,
        checkpoint=checkpoint,
        level_hashes=tuple(tuple(h) for h in level_hashes),
    )

    # 6. root
    recomputed_root = log.root_at(size)
    if recomputed_root != checkpoint.root:
        raise VerificationError(
            f"root mismatch at size {size}: checkpoint says {checkpoint.root.hex()}, "
            f"tiles give {recomputed_root.hex()}"
        )
    # Belt and braces: the plain RFC 9162 recursion over the level-0 hashes must agree.
    if merkle_tree_hash(level_hashes[0] if level_hashes else []) != checkpoint.root:
        raise VerificationError(f"root mismatch at size {size}: level-0 MTH disagrees")
    return log


def check_prefix(log: VerifiedLog, old_size: int, old_root: bytes) -> None:
    """Check that a previously seen tree head (old_size, old_root) is a prefix of ``log``.

    Recomputes the root of the first ``old_size`` leaves from the verified tiles; a
    smaller current size is a rollback, a different root a fork.
    """
    if old_size < 0:
        raise VerificationError(f"previously seen size {old_size} is negative")
    if old_size > log.size:
        raise VerificationError(
            f"rollback: log size {log.size} is smaller than previously seen size {old_size}"
        )
    recomputed = log.root_at(old_size)
    if recomputed != old_root:
        raise VerificationError(
            f"fork: root of the first {old_size} entries recomputed from the current tiles is "
            f"{recomputed.hex()}, but the previously seen root is {old_root.hex()}"
        )


def verify_consistency_with(
    old_size: int,
    old_root: bytes,
    fetch: Fetch,
    vkey: str,
    *,
    expected_origin: str | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
) -> VerifiedLog:
    """Verify the current log (as :func:`verify_log`) and that (old_size, old_root) is a
    prefix of it. Returns the verified current log."""
    log = verify_log(fetch, vkey, expected_origin=expected_origin, max_size=max_size)
    check_prefix(log, old_size, old_root)
    return log
