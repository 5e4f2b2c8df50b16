"""Witness cosignatures (C2SP tlog-cosignature) on the log's checkpoints.

The log accepts a cosigned copy of one of its own checkpoints from a configured
witness, keeps each verified cosignature line, and serves them after its own signature
on ``/log/checkpoint`` — so an auditor who trusts a witness need not trust the log's
word that everyone sees the same tree.
"""

from __future__ import annotations

import sqlalchemy as sa

from clearance.audit.checkpoints import Checkpointer
from clearance.audit.models import audit_cosignatures_table
from clearance.audit.tlog.checkpoint import Checkpoint, CheckpointError
from clearance.audit.tlog.keys import CosignatureVerifier
from clearance.audit.tlog.note import NoteError, open_note, parse_note
from clearance.clock import Clock
from clearance.db.database import Database
from clearance.errors import InvalidInput, NotFound

_cosigs = audit_cosignatures_table.c
_INSERT = sa.text(
    "INSERT INTO audit_cosignatures (checkpoint_size, witness, line, signed_at, received_at) "
    "VALUES (:size, :witness, :line, :signed_at, :received_at) "
    "ON CONFLICT (checkpoint_size, witness) DO NOTHING"
).bindparams(sa.bindparam("received_at", type_=audit_cosignatures_table.c.received_at.type))


class Witnesses:
    def __init__(
        self,
        db: Database,
        checkpoints: Checkpointer,
        verifiers: list[CosignatureVerifier],
        clock: Clock,
    ) -> None:
        self._db = db
        self._checkpoints = checkpoints
        self._verifiers = verifiers
        self._clock = clock

    async def add(self, note: str) -> list[str]:
        """Store the configured witnesses' cosignatures found on ``note``, a copy of one
        of our checkpoints. Returns the witnesses (``name+hexid``) accepted."""
        if not self._verifiers:
            raise InvalidInput("no witnesses are configured (setting audit_witnesses)")
        try:
            text, _ = parse_note(note)
            checkpoint = Checkpoint.parse(text)
            opened = open_note(note, self._verifiers)
        except (NoteError, CheckpointError, ValueError) as exc:
            raise InvalidInput(f"not a cosigned checkpoint: {exc}", "note") from None
        ours = await self._checkpoints.at_size(checkpoint.size)
        if ours is None or parse_note(ours.note)[0] != text:
            raise NotFound(f"this log has no checkpoint with size {checkpoint.size} and that root")
        accepted = []
        async with self._db.transaction() as conn:
            for signature in opened.verified:
                await conn.execute(
                    _INSERT,
                    {
                        "size": checkpoint.size,
                        "witness": signature.identity,
                        "line": signature.to_line(),
                        "signed_at": signature.timestamp or 0,
                        "received_at": self._clock.now(),
                    },
                )
                accepted.append(signature.identity)
        return accepted

    async def lines(self, size: int) -> list[str]:
        async with self._db.read() as conn:
            rows = await conn.execute(
                sa.select(_cosigs.line)
                .where(_cosigs.checkpoint_size == size)
                .order_by(_cosigs.witness)
            )
            return [row.line for row in rows]
