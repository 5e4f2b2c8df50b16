"""Signing and storing checkpoints (C2SP tlog-checkpoint in a C2SP signed note).

A checkpoint is made when the integrated tree has grown by ``every_entries`` since the
last one, or ``every_seconds`` have passed and it has grown at all. Two processes
that race to sign the same size produce the same bytes (Ed25519 is deterministic), and
the second insert is dropped.
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
import structlog

from clearance.audit.models import StoredCheckpoint, audit_checkpoints_table
from clearance.audit.tlog.checkpoint import Checkpoint
from clearance.audit.tlog.keys import Signer
from clearance.audit.tlog.note import sign_note
from clearance.audit.tree import MerkleTree
from clearance.clock import Clock
from clearance.db.database import Database

log = structlog.get_logger(__name__)
_table = audit_checkpoints_table

_INSERT = sa.text(
    "INSERT INTO audit_checkpoints (size, root, note, created_at) "
    "VALUES (:size, :root, :note, :created_at) ON CONFLICT (size) DO NOTHING"
).bindparams(sa.bindparam("created_at", type_=audit_checkpoints_table.c.created_at.type))


class Checkpointer:
    def __init__(
        self,
        db: Database,
        tree: MerkleTree,
        signer: Signer,
        clock: Clock,
        every_entries: int,
        every_seconds: float,
    ) -> None:
        self._db = db
        self._tree = tree
        self._signer = signer
        self._clock = clock
        self._every_entries = every_entries
        self._every_seconds = every_seconds
        self._recent: tuple[float, StoredCheckpoint | None] | None = None

    @property
    def origin(self) -> str:
        return self._signer.name

    async def latest(self) -> StoredCheckpoint | None:
        return await self._one(sa.select(_table).order_by(_table.c.size.desc()).limit(1))

    async def at_size(self, size: int) -> StoredCheckpoint | None:
        return await self._one(sa.select(_table).where(_table.c.size == size))

    async def recent(self, max_age: float = 1.0, fresh: bool = False) -> StoredCheckpoint | None:
        """The latest checkpoint as of at most ``max_age`` seconds ago (or now, if
        ``fresh``): what serving tiles needs, without a database read per tile."""
        now = self._clock.monotonic()
        if fresh or self._recent is None or now - self._recent[0] > max_age:
            self._recent = (now, await self.latest())
        return self._recent[1]

    async def _one(self, query: sa.Select[Any]) -> StoredCheckpoint | None:
        row = await self._db.read_sync(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        return StoredCheckpoint(int(row.size), bytes(row.root), row.note, row.created_at)

    async def update(self, force: bool = False) -> StoredCheckpoint | None:
        """Integrate what is sequenced; sign a new checkpoint if one is due (or
        ``force``d and the tree grew). Returns the new checkpoint, if any."""
        state = await self._tree.integrate()
        while True:  # drain a backlog larger than one integration batch
            grown = await self._tree.integrate()
            if grown.size == state.size:
                break
            state = grown
        latest = await self.latest()
        if latest is not None and latest.size >= state.size:
            return None
        if latest is not None and not force:
            age = (self._clock.now() - latest.created_at).total_seconds()
            if state.size - latest.size < self._every_entries and age < self._every_seconds:
                return None
        text = Checkpoint(self.origin, state.size, state.root).to_text()
        stored = StoredCheckpoint(
            state.size, state.root, sign_note(text, [self._signer]), self._clock.now()
        )
        async with self._db.transaction() as conn:
            await conn.execute(
                _INSERT,
                {
                    "size": stored.size,
                    "root": stored.root,
                    "note": stored.note,
                    "created_at": stored.created_at,
                },
            )
        return stored

    async def run(self, interval: float) -> None:
        """Integrate and checkpoint forever; a failed round is logged and retried."""
        while True:
            try:
                await self.update()
            except Exception:  # a supervisor loop: log every failure, keep the log moving
                log.exception("audit_checkpoint_failed")
            await asyncio.sleep(interval)
