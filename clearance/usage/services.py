"""Writing usage records durably, with group commit.

A request's record must be on disk before its response is released, but one commit
per request would make the disk the gateway's speed limit. Concurrent requests hand
their records to one writer task, which commits whatever has queued up in a single
transaction and then releases every waiter: one fsync serves many requests. The same
transaction appends the batch's digest to the audit log (see ``usage.digest``).
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
import structlog

from clearance.audit.services import AuditLog
from clearance.db.database import Database
from clearance.identity import end_users
from clearance.identity.models import api_keys_table
from clearance.usage.digest import batch_entry
from clearance.usage.models import UsageRecord, usage_records_table

log = structlog.get_logger(__name__)

MAX_BATCH = 512
_KEY_USED = (
    sa.update(api_keys_table)
    .where(api_keys_table.c.id == sa.bindparam("key_id"))
    .values(last_used_at=sa.bindparam("at"), last_used_ip=sa.bindparam("ip"))
)

_Item = tuple[UsageRecord, "asyncio.Future[None]"]


class UsageRecorderClosed(RuntimeError):
    pass


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
        if self._closing:
            raise UsageRecorderClosed("the usage recorder is shutting down")
        self.start()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((record, done))
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
        try:
            records = [record for record, _ in batch]
            await self._db.run_sync(lambda conn: self._insert(conn, records))
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            log.error("usage_write_failed", error=str(exc), records=len(batch))
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    def _insert(self, conn: sa.Connection, records: list[UsageRecord]) -> None:
        (seq,) = self._audit.append_sync(conn, [batch_entry(records)])
        conn.execute(
            usage_records_table.insert(),
            [{**record.as_row(), "audit_seq": seq} for record in records],
        )
        # Last use of each key and end user, once per batch rather than per request.
        last: dict[str, UsageRecord] = {record.key_id: record for record in records}
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

    async def close(self) -> None:
        """Finish writing what is queued, then stop."""
        self._closing = True
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None


class UsageQueries:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def recent(self, org_id: str | None = None, limit: int = 100) -> list[UsageRecord]:
        query = sa.select(usage_records_table).order_by(usage_records_table.c.id.desc())
        if org_id is not None:
            query = query.where(usage_records_table.c.org_id == org_id)
        async with self._db.read() as conn:
            rows = await conn.execute(query.limit(limit))
            return [UsageRecord.from_row(row) for row in rows]
