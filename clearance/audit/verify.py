"""Verifying a published log from the outside, trusting nothing the server says.

Given the log's URL and its verifier key, this fetches the signed checkpoint, every
hash tile and every entry bundle, and checks that

1. the checkpoint is signed by that key;
2. every entry hashes to the leaf hash the level-0 tiles commit to, at its index;
3. every hash in a higher tile is the root of the 256 hashes below it;
4. the hashes recompute to the checkpoint's root;
5. if a state file from an earlier run is given, the log still starts with exactly
   the tree verified then (a smaller log is a rollback, a different prefix a fork).

Each failure says what broke and where.

Without kept state, checks 1 to 4 only prove that *some* tree signed by the key is intact: a
server (or anyone holding its database and key) serving an older copy, or a different
history to each auditor, passes. So the first run with a state file pins the
checkpoint it saw, and every later run checks the log still extends it; a run with no
state says loudly what it could not check. Pinning does not help against the key
holder itself re-signing a forked tree for you alone from the start: only comparing
checkpoints with other auditors, and witnesses' cosignatures, do.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

import httpx
import orjson

from clearance.audit.tlog import merkle, tiles
from clearance.audit.tlog.checkpoint import Checkpoint, CheckpointError
from clearance.audit.tlog.keys import Verifier
from clearance.audit.tlog.note import NoteError, open_note
from clearance.audit.tlog.tiles import TILE_HEIGHT, TILE_WIDTH, TileError

Fetch = Callable[[str], Awaitable[bytes]]
CONCURRENCY = 8
WINDOW = 64
EVIDENCE = (
    " (the state file keeps the checkpoint verified before: it and the one served now "
    "are both signed by the log's key, proof that the log was rolled back or forked; "
    "the state file is left unchanged)"
)


class VerificationFailed(Exception):
    """The log does not verify; the message says exactly why."""


class StateKept(StrEnum):
    """What a run did with the auditor's state file."""

    NONE = "none"
    """No state file: rollbacks and forks went unchecked."""
    CREATED = "created"
    """First run: the verified checkpoint is now pinned in a new state file."""
    CHECKED = "checked"
    """The log extends the pinned checkpoint; the file now pins the new one."""


@dataclass(frozen=True)
class VerifiedLog:
    checkpoint: Checkpoint
    note: str
    previous_size: int | None
    """The size verified on the previous run (from the state file), if any."""
    state: StateKept = StateKept.NONE


@dataclass(frozen=True)
class SavedState:
    origin: str
    size: int
    root: bytes

    @classmethod
    def load(cls, path: Path) -> SavedState | None:
        """The pinned state, or None if ``path`` does not exist yet (a first run, which
        must be able to create it: checked now, not after a long verification)."""
        if not path.exists():
            if not path.parent.is_dir():
                raise VerificationFailed(
                    f"cannot create state file {path}: {path.parent} is not a directory"
                )
            return None
        try:
            data = orjson.loads(path.read_bytes())
            root = base64.b64decode(data["root"], validate=True)
            if len(root) != merkle.HASH_SIZE:
                raise ValueError(f"root is {len(root)} bytes, not {merkle.HASH_SIZE}")
            return cls(str(data["origin"]), int(data["size"]), root)
        except OSError as exc:
            raise VerificationFailed(f"cannot read state file {path}: {exc}") from None
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            raise VerificationFailed(f"state file {path} is unreadable: {exc}") from None

    def save(self, path: Path, note: str) -> None:
        document = {
            "origin": self.origin,
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "checkpoint": note,
        }
        temporary = path.with_suffix(path.suffix + ".tmp")
        try:
            temporary.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
            temporary.replace(path)
        except OSError as exc:
            raise VerificationFailed(
                f"the log verified, but the state file {path} could not be written: {exc}"
            ) from None


def http_fetcher(client: httpx.AsyncClient, base_url: str) -> Fetch:
    base = base_url.rstrip("/")

    async def fetch(path: str) -> bytes:
        try:
            response = await client.get(f"{base}/{path}")
        except httpx.HTTPError as exc:
            raise VerificationFailed(f"could not fetch {path}: {exc}") from None
        if response.status_code != 200:
            raise VerificationFailed(f"fetching {path} gave HTTP {response.status_code}")
        return response.content

    return fetch


def _level_tiles(count: int) -> list[tuple[int, int]]:
    """(index, width) of the tiles holding ``count`` hashes (or entries)."""
    full, rest = divmod(count, TILE_WIDTH)
    return [(i, TILE_WIDTH) for i in range(full)] + ([(full, rest)] if rest else [])


async def _gather(fetch: Fetch, paths: list[str]) -> list[bytes]:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(path: str) -> bytes:
        async with limit:
            return await fetch(path)

    return await asyncio.gather(*(one(path) for path in paths))


def _describe_mismatch(index: int, entry_hash: bytes, committed: list[bytes], first: int) -> str:
    where = f"entry {index} (in {tiles.tile_path(tiles.ENTRIES, index // TILE_WIDTH)})"
    if entry_hash in committed:
        moved = first + committed.index(entry_hash)
        return (
            f"{where} holds what the log committed as entry {moved}: "
            "entries were reordered, inserted or deleted"
        )
    return f"{where} does not match its leaf hash in the level-0 tile: the entry was altered"


async def _check_entries(fetch: Fetch, size: int) -> list[bytes]:
    """Fetch every bundle and level-0 tile; return the verified leaf hashes."""
    layout = _level_tiles(size)
    leaves: list[bytes] = []
    # A window at a time, so memory holds a few MB of entries however long the log is.
    for start in range(0, len(layout), WINDOW):
        window = layout[start : start + WINDOW]
        bundles = await _gather(fetch, [tiles.tile_path(tiles.ENTRIES, i, w) for i, w in window])
        level0 = await _gather(fetch, [tiles.tile_path(0, i, w) for i, w in window])
        for (index, width), bundle, tile in zip(window, bundles, level0, strict=True):
            leaves.extend(_check_bundle(index, width, bundle, tile))
    return leaves


def _check_bundle(index: int, width: int, bundle: bytes, tile: bytes) -> list[bytes]:
    bundle_path = tiles.tile_path(tiles.ENTRIES, index, width)
    tile_path = tiles.tile_path(0, index, width)
    if len(tile) != width * merkle.HASH_SIZE:
        raise VerificationFailed(f"{tile_path} has {len(tile)} bytes, expected {width * 32}")
    committed = [tile[i : i + 32] for i in range(0, len(tile), 32)]
    try:
        entries = tiles.decode_entry_bundle(bundle)
    except TileError as exc:
        raise VerificationFailed(f"{bundle_path} is malformed: {exc}") from None
    if len(entries) != width:
        raise VerificationFailed(
            f"{bundle_path} holds {len(entries)} entries where the tree has {width}: "
            f"entries were {'deleted' if len(entries) < width else 'inserted'}"
        )
    first = index * TILE_WIDTH
    for offset, entry in enumerate(entries):
        entry_hash = merkle.leaf_hash(entry)
        if entry_hash != committed[offset]:
            raise VerificationFailed(
                _describe_mismatch(first + offset, entry_hash, committed, first)
            )
    return committed


async def _check_upper_tiles(fetch: Fetch, leaves: list[bytes]) -> None:
    """Each level's tiles must hold the roots of the full tiles below them."""
    below = leaves
    level = 1
    while len(below) >= TILE_WIDTH:
        expected = [
            merkle.root_of(below[i : i + TILE_WIDTH])
            for i in range(0, len(below) - TILE_WIDTH + 1, TILE_WIDTH)
        ]
        layout = _level_tiles(len(expected))
        fetched = await _gather(fetch, [tiles.tile_path(level, i, w) for i, w in layout])
        for (index, width), tile in zip(layout, fetched, strict=True):
            want = b"".join(expected[index * TILE_WIDTH : index * TILE_WIDTH + width])
            if tile != want:
                raise VerificationFailed(
                    f"{tiles.tile_path(level, index, width)} does not hold the hashes of the "
                    f"level-{(level - 1) * TILE_HEIGHT} tiles below it: the tree was altered"
                )
        below = expected
        level += 1


async def verify(fetch: Fetch, vkey: str, state: SavedState | None = None) -> VerifiedLog:
    try:
        verifier = Verifier.from_vkey(vkey)
    except NoteError as exc:
        raise VerificationFailed(f"bad verifier key: {exc}") from None
    note_bytes = await fetch("checkpoint")
    try:
        opened = open_note(note_bytes, [verifier])
        checkpoint = Checkpoint.parse(opened.text)
    except (NoteError, CheckpointError) as exc:
        raise VerificationFailed(f"the checkpoint does not verify with {vkey}: {exc}") from None
    if checkpoint.origin != verifier.name:
        raise VerificationFailed(
            f"the checkpoint is for log {checkpoint.origin!r}, but the key is {verifier.name!r}"
        )
    if state is not None and state.origin != checkpoint.origin:
        raise VerificationFailed(
            f"the state file is for log {state.origin!r}, not {checkpoint.origin!r}"
        )
    if state is not None and checkpoint.size < state.size:
        raise VerificationFailed(
            f"rollback: the log now has {checkpoint.size} entries, fewer than the "
            f"{state.size} verified before{EVIDENCE}"
        )
    if state is not None and checkpoint.size == state.size and checkpoint.root != state.root:
        raise VerificationFailed(
            f"fork: the log's checkpoint of {checkpoint.size} entries has a different root "
            f"from the one of the same size verified before{EVIDENCE}"
        )
    leaves = await _check_entries(fetch, checkpoint.size)
    await _check_upper_tiles(fetch, leaves)
    if merkle.root_of(leaves) != checkpoint.root:
        raise VerificationFailed(
            f"the {checkpoint.size} entries do not hash to the checkpoint's root: "
            "the log was rewritten after it was signed"
        )
    if state is not None and merkle.root_of(leaves[: state.size]) != state.root:
        raise VerificationFailed(
            f"fork: the log's first {state.size} entries no longer hash to the root "
            f"verified before; history was rewritten{EVIDENCE}"
        )
    return VerifiedLog(
        checkpoint=checkpoint,
        note=note_bytes.decode(),
        previous_size=state.size if state is not None else None,
    )


async def verify_url(url: str, vkey: str, state_file: Path | None = None) -> VerifiedLog:
    """Verify the log at ``url`` (the ``/log`` base); pin its checkpoint in
    ``state_file`` on success (creating the file on a first run)."""
    state = SavedState.load(state_file) if state_file is not None else None
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        result = await verify(http_fetcher(client, url), vkey, state)
    if state_file is None:
        return result
    checkpoint = result.checkpoint
    SavedState(checkpoint.origin, checkpoint.size, checkpoint.root).save(state_file, result.note)
    kept = StateKept.CREATED if state is None else StateKept.CHECKED
    return replace(result, state=kept)
