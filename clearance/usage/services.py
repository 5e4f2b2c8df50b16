"""Reading usage back: the newest records, or one request's, each with its stream's
outcome folded in. (Writing is ``usage.recorder``.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import sqlalchemy as sa

from clearance.db.database import Database
from clearance.usage.models import UsageRecord, usage_outcomes_table, usage_records_table

_records = usage_records_table.c
_outcomes = usage_outcomes_table.c


class UsageQueries:
    def __init__(self, db: Database, flush: Callable[[], Awaitable[None]] | None = None) -> None:
        """``flush`` stores what this process has recorded but not yet stored, so its
        own queries always see it."""
        self._db = db
        self._flush = flush

    async def recent(
        self,
        org_id: str | None = None,
        limit: int = 100,
        *,
        key_id: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        since: datetime | None = None,
    ) -> list[UsageRecord]:
        """The newest records (of one organization, key or model, with one final
        status, started at ``since`` or later), each with its stream's outcome folded
        in. A stream's status is its outcome's once it has one."""
        query = (
            sa.select(
                usage_records_table, *[c.label(f"o_{c.name}") for c in usage_outcomes_table.c]
            )
            .outerjoin(usage_outcomes_table, _outcomes.request_id == _records.request_id)
            .order_by(_records.id.desc())
        )
        if org_id is not None:
            query = query.where(_records.org_id == org_id)
        if key_id is not None:
            query = query.where(_records.key_id == key_id)
        if model is not None:
            query = query.where(_records.model == model)
        if status_code is not None:
            final = sa.func.coalesce(_outcomes.status_code, _records.status_code)
            query = query.where(final == status_code)
        if since is not None:
            query = query.where(_records.started_at >= since)
        if self._flush is not None:
            await self._flush()
        async with self._db.read() as conn:
            rows = await conn.execute(query.limit(limit))
            return [_folded(row) for row in rows]

    async def get(self, request_id: str) -> UsageRecord | None:
        query = (
            sa.select(
                usage_records_table, *[c.label(f"o_{c.name}") for c in usage_outcomes_table.c]
            )
            .outerjoin(usage_outcomes_table, _outcomes.request_id == _records.request_id)
            .where(_records.request_id == request_id)
        )
        if self._flush is not None:
            await self._flush()
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return _folded(row) if row is not None else None


def _folded(row: sa.Row[tuple[object, ...]]) -> UsageRecord:
    record = UsageRecord.from_row(row)
    m = row._mapping
    if m["o_request_id"] is not None:
        for name in (
            "status_code",
            "error_code",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "latency_ms",
        ):
            setattr(record, name, m[f"o_{name}"])
    return record
