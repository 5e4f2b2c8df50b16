"""Appending to and reading the audit log."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance.audit.events import AuditEvent
from clearance.audit.models import AuditEntry, audit_entries_table
from clearance.clock import Clock
from clearance.db.database import Database


class AuditLog:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def append(self, conn: AsyncConnection, event: AuditEvent) -> int:
        """Record ``event`` inside the caller's transaction, so the change and its
        audit entry commit together or not at all. Returns the entry's sequence number."""
        at = self._clock.now()
        result = await conn.execute(
            audit_entries_table.insert().values(
                recorded_at=at, kind=event.kind, actor=event.actor, body=event.encode(at)
            )
        )
        key = result.inserted_primary_key
        if key is None:
            raise RuntimeError("the database assigned no sequence number")
        return int(key[0])

    async def entries(self, after: int = 0, limit: int = 100) -> list[AuditEntry]:
        query = (
            sa.select(audit_entries_table)
            .where(audit_entries_table.c.seq > after)
            .order_by(audit_entries_table.c.seq)
            .limit(limit)
        )
        async with self._db.read() as conn:
            return [AuditEntry.from_row(row) for row in await conn.execute(query)]

    async def count(self) -> int:
        async with self._db.read() as conn:
            value = await conn.scalar(sa.select(sa.func.count()).select_from(audit_entries_table))
        return int(value or 0)
