"""Sequencing entries into the audit log, and reading them back.

An entry is appended inside the transaction of the change it records, so the change
and its entry commit together or not at all. Sequence numbers come from one locked
row: whichever transaction takes a number holds the row until it commits, so entries
become visible in sequence order with no gaps, on SQLite and PostgreSQL alike — the
tree builder can then integrate "everything below the head" without ever skipping a
number that commits later.

An event with private fields is stored as published (commitments in place of those
values, ``audit_entries``) with its opening beside it (``audit_openings``), in the same
transaction; reading entries back joins the two, so operators read them in clear and
checked. Events with nothing private (usage batches: the hot path) write no opening.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance.audit.events import AuditEvent
from clearance.audit.models import (
    AuditEntry,
    audit_entries_table,
    audit_head_table,
    audit_openings_table,
)
from clearance.audit.tlog.tiles import MAX_ENTRY_SIZE
from clearance.clock import Clock
from clearance.db.database import Database

_entries = audit_entries_table.c
_openings = audit_openings_table.c
_READ = sa.select(audit_entries_table, _openings.nonce, _openings.cleartext).select_from(
    audit_entries_table.outerjoin(audit_openings_table, _openings.seq == _entries.seq)
)
_TAKE = sa.text(
    "UPDATE audit_head SET next_seq = next_seq + :count WHERE id = 1 RETURNING next_seq"
)


class EntryTooLarge(ValueError):
    pass


class AuditLog:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def append(self, conn: AsyncConnection, event: AuditEvent) -> int:
        """Sequence ``event`` in the caller's transaction; returns its entry number."""
        (seq,) = await conn.run_sync(self.append_sync, [event])
        return seq

    async def append_many(self, conn: AsyncConnection, events: Sequence[AuditEvent]) -> list[int]:
        return await conn.run_sync(self.append_sync, events)

    def append_sync(self, conn: sa.Connection, events: Sequence[AuditEvent]) -> list[int]:
        """Sequence ``events`` in the caller's (synchronous) transaction."""
        if not events:
            return []
        at = self._clock.now()
        encoded = [event.encode_entry(at) for event in events]
        for event, (body, opening) in zip(events, encoded, strict=True):
            # The private values are bounded as the whole entry was before they moved out.
            size = max(len(body), len(opening.values) if opening is not None else 0)
            if size > MAX_ENTRY_SIZE:
                raise EntryTooLarge(f"audit entry {event.kind} is {size} bytes, over 65535")
        end = conn.scalar(_TAKE, {"count": len(events)})
        if end is None:
            raise RuntimeError("the audit log's head row is missing; run 'clearance db upgrade'")
        first = int(end) - len(events)
        conn.execute(
            audit_entries_table.insert(),
            [
                {
                    "seq": first + offset,
                    "recorded_at": at,
                    "kind": event.kind,
                    "actor": event.actor,
                    "body": body,
                }
                for offset, (event, (body, _)) in enumerate(zip(events, encoded, strict=True))
            ],
        )
        openings = [
            {"seq": first + offset, "nonce": opening.nonce, "cleartext": opening.values}
            for offset, (_, opening) in enumerate(encoded)
            if opening is not None
        ]
        if openings:
            conn.execute(audit_openings_table.insert(), openings)
        return list(range(first, first + len(events)))

    async def entries(
        self, after: int = -1, limit: int = 100, kind: str | None = None
    ) -> list[AuditEntry]:
        """Entries numbered above ``after``, oldest first, with their openings."""
        query = _READ.where(_entries.seq > after)
        if kind is not None:
            query = query.where(_entries.kind == kind)
        async with self._db.read() as conn:
            rows = await conn.execute(query.order_by(_entries.seq).limit(limit))
            return [AuditEntry.from_row(row) for row in rows]

    async def entry(self, seq: int) -> AuditEntry | None:
        """Entry ``seq`` with its opening: ``.body`` as published, ``.fields()`` in clear."""
        async with self._db.read() as conn:
            row = (await conn.execute(_READ.where(_entries.seq == seq))).first()
        return AuditEntry.from_row(row) if row is not None else None

    async def count(self) -> int:
        async with self._db.read() as conn:
            value = await conn.scalar(sa.select(audit_head_table.c.next_seq))
        return int(value or 0)
