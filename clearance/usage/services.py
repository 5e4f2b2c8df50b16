"""Writing usage durably, with group commit; reading it back.

A request's record must be on disk before its response is released, but one commit
per request would make the disk the gateway's speed limit. Concurrent requests hand
their records (and streams' outcomes) to one writer task, which commits whatever has
queued up in a single transaction and then releases every waiter: one commit serves
many requests. The same transaction appends each batch's digest to the audit log
(see ``usage.digest``) and notes each key's and end user's last use.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import sqlalchemy as sa
import structlog

from clearance.audit.services import AuditLog
from clearance.db.database import Database
from clearance.identity import end_users
from clearance.identity.models import api_keys_table
from clearance.usage.digest import batch_entry, outcome_entry
from clearance.usage.models import (
    UsageOutcome,
    UsageRecord,
    usage_outcomes_table,
    usage_records_table,
)

log = structlog.get_logger(__name__)

MAX_BATCH = 512
_KEY_USED = (
    sa.update(api_keys_table)
    .where(api_keys_table.c.id == sa.bindparam("key_id"))
    .values(last_used_at=sa.bindparam("at"), last_used_ip=sa.bindparam("ip"))
)


class UsageRecorderClosed(RuntimeError):
    pass


@dataclass(slots=True)
class _Item:
    row: UsageRecord | UsageOutcome
    done: asyncio.Future[None]


class UsageRecorder:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-recorder")

    async def record(self, record: UsageRecord) -> None:
        """Return once ``record`` is committed; raise if it could not be."""
        await self._submit(record)

    async def finish(self, outcome: UsageOutcome) -> None:
        """Return once a stream's ``outcome`` is committed."""
        await self._submit(outcome)

    async def _submit(self, row: UsageRecord | UsageOutcome) -> None:
        if self._closing:
            raise UsageRecorderClosed("the usage recorder is shutting down")
        self.start()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(row, done))
        await done

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[_Item] = []
            item = await self._queue.get()
            while item is not None:
                batch.append(item)
                if len(batch) >= MAX_BATCH or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            stopping = item is None
            if batch:
                await self._write(batch)

    async def _write(self, batch: list[_Item]) -> None:
        records = [item.row for item in batch if isinstance(item.row, UsageRecord)]
        outcomes = sorted(
            (item.row for item in batch if isinstance(item.row, UsageOutcome)),
            key=lambda outcome: outcome.request_id,
        )
        try:
            await self._db.run_sync(lambda conn: self._insert(conn, records, outcomes))
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            log.error("usage_write_failed", error=str(exc), rows=len(batch))
            for item in batch:
                if not item.done.done():
                    item.done.set_exception(exc)
            return
        for item in batch:
            if not item.done.done():
                item.done.set_result(None)

    def _insert(
        self, conn: sa.Connection, records: list[UsageRecord], outcomes: list[UsageOutcome]
    ) -> None:
        if records:
            (seq,) = self._audit.append_sync(conn, [batch_entry(records)])
            conn.execute(
                usage_records_table.insert(),
                [{**record.as_row(), "audit_seq": seq} for record in records],
            )
            last = {record.key_id: record for record in records}
            conn.execute(
                _KEY_USED,
                [
                    {"key_id": key_id, "at": record.started_at, "ip": record.source_ip}
                    for key_id, record in last.items()
                ],
            )
            end_users.touch(
                conn,
                {
                    (record.org_id, record.end_user): record.started_at
                    for record in records
                    if record.end_user is not None
                },
            )
        if outcomes:
            (seq,) = self._audit.append_sync(conn, [outcome_entry(outcomes)])
            conn.execute(
                usage_outcomes_table.insert(),
                [{**outcome.as_row(), "audit_seq": seq} for outcome in outcomes],
            )

    async def close(self) -> None:
        """Finish writing what is queued, then stop."""
        self._closing = True
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None


_records = usage_records_table.c
_outcomes = usage_outcomes_table.c


class UsageQueries:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def recent(self, org_id: str | None = None, limit: int = 100) -> list[UsageRecord]:
        """The newest records, each with its stream's outcome folded in."""
        query = (
            sa.select(
                usage_records_table, *[c.label(f"o_{c.name}") for c in usage_outcomes_table.c]
            )
            .outerjoin(usage_outcomes_table, _outcomes.request_id == _records.request_id)
            .order_by(_records.id.desc())
        )
        if org_id is not None:
            query = query.where(_records.org_id == org_id)
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
